//! Helpers shared by the imagebake examples: running a Packer JSON
//! template's builds ([`bake`], the `bake` example's logic, also called by
//! the tests) and one-line descriptions of build events ([`progress`]).

pub mod bake;
pub mod progress;
