//! Helpers shared by the imagebake examples.
