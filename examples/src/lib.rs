//! Helpers shared by the imagebake examples: the quickstart's bakes
//! ([`quickstart`], also run by a test), the wait benchmarks' harness
//! ([`bench`]) and the other benchmarks' measures ([`measure`]). The bake
//! runner itself lives in `imagebake_core::bake`.

pub mod bench;
pub mod measure;
pub mod quickstart;
