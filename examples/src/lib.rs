//! Helpers shared by the imagebake examples: the quickstart's bakes
//! ([`quickstart`], also run by a test), the wait benchmarks' harness
//! ([`bench`]), the other benchmarks' measures ([`measure`]) and the load
//! runs ([`load`], the `load` example and test). The bake runner itself
//! lives in `imagebake_core::bake`.

pub mod bench;
pub mod load;
pub mod measure;
pub mod quickstart;
