//! Helpers shared by the imagebake examples: the quickstart's bakes
//! ([`quickstart`], also run by a test) and the benchmarks' measures
//! ([`bench`]). The bake runner itself lives in `imagebake_core::bake`.

pub mod bench;
pub mod quickstart;
