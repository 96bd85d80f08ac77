//! The imagebake step engine, communicators and provisioners.
//!
//! A build is a sequence of typed [`Step`]s run by a [`Runner`]. A step that
//! creates a resource sends the create with [`StepCx::create`]: the resource
//! is the build's from the moment the request is sent (a Ctrl-C before the
//! answer looks it up, removes it and still awaits the answer), and its undo
//! holds the real id once the answer comes. Undos run in reverse order when
//! the build fails or is cancelled, and those registered with
//! [`StepCx::defer`] (temporary machine, temporary key) also run when it
//! succeeds. Every build result, good
//! or bad, carries a [`CleanupReport`].
//!
//! Steps talk to the machine being baked through a [`Communicator`] (SSH, or
//! [`ChrootCommunicator`] for chroot builds), and the provisioners
//! ([`provision::Shell`], [`provision::Upload`], [`provision::Flush`]) are
//! ordinary steps. Everything that happens is reported as an [`Event`] to the
//! [`Observer`]s of the runner.
//!
//! Templates are evaluated by [`template::plan`] into a [`template::Plan`];
//! [`bake::run`] runs its builds as `packer build` does (the `imagebake`
//! command, the examples and the Python package all go through it).
//!
//! ```no_run
//! use std::sync::Arc;
//! use imagebake_core::{
//!     CancellationToken, ChrootCommunicator, Comm, Runner, TracingObserver,
//!     provision::{Flush, Shell},
//! };
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let comm = Comm::new(ChrootCommunicator::new("/mnt/root")?);
//! let runner = Runner::new().observer(Arc::new(TracingObserver));
//! let built = runner
//!     .run("demo", CancellationToken::new(), |cx| async move {
//!         let comm = cx.step(&Shell::inline(["apk add curl"]), comm).await?;
//!         cx.step(&Flush::sync_only(), comm).await
//!     })
//!     .await?;
//! println!("{}", built.cleanup);
//! # Ok(())
//! # }
//! ```

pub mod bake;
mod build_id;
pub mod builders;
pub mod comm;
mod engine;
mod error;
mod events;
pub mod journal;
pub mod origin;
pub mod packer_template;
pub mod postprocess;
pub mod provision;
mod quote;
pub mod spec;
pub mod steps;
pub mod template;

pub use build_id::{BuildId, InvalidBuildId};
pub use comm::{
    ChrootCommunicator, Comm, Communicator, Ended, ExitOutput, OutputStream, RemoteCommand,
};
pub use engine::{
    BuildError, Built, Cleanup, CleanupEntry, CleanupOutcome, CleanupReport, Create, Created,
    FnStep, OnError, Removal, Resource, Runner, Step, StepCx, SweepFilter, SweepReport, Sweeper,
    UndoCx, UndoHandle, UndoWhen, WaitHistory, from_fn, unknown_kind,
};
pub use error::{BoxError, Chain, Error, ErrorMeta, Result, api_error_meta, chain};
pub use events::{
    ChannelObserver, Event, Events, FnObserver, Observer, StepOutcome, TracingObserver, UndoOutcome,
};
pub use imagebake_http::{CancellationToken, Expectation, Poll, WaitKey, WaitOptions, wait_for};
/// The Outscale API client the `osc-chroot` builder uses (feature `osc`).
#[cfg(feature = "osc")]
pub use osc_client;
/// The Oxide API client the `oxide-instance` builder uses (feature `oxide`).
#[cfg(feature = "oxide")]
pub use oxide_client;
pub use quote::shell_quote;
/// The Triton CloudAPI client the `triton` builder uses (feature `triton`).
#[cfg(feature = "triton")]
pub use triton_client;
