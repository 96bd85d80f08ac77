//! Integration tests of imagebake-core: the step engine (with a mocked
//! cloud), and the chroot communicator and provisioners run for real, as
//! root, in a busybox root filesystem.

mod chroot;
mod create;
mod engine;
mod image_spec;
mod journal;
mod postprocess;
mod provision;
mod ssh;
mod sshd;
mod support;
