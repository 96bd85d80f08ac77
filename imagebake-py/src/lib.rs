//! The imagebake Python package. Binding work is tracked in issue 7; nothing is exposed yet.
