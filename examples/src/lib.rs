//! Helpers shared by the imagebake examples: the quickstart's bakes
//! ([`quickstart`], also run by a test) and the load runs ([`load`], the
//! `load` example and test). The bake runner itself lives in
//! `imagebake_core::bake`.

pub mod load;
pub mod quickstart;
