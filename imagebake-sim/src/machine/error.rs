//! The error type of simulated machines.

use std::io;

use uuid::Uuid;

/// Why a simulated machine could not be set up, booted or captured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MachineError {
    /// Simulated machines with SSH cannot run here; says what is missing.
    #[error("simulated machines with SSH are unavailable: {}", .missing.join("; "))]
    Unavailable {
        /// Each missing requirement, as a sentence.
        missing: Vec<String>,
    },
    /// A file operation failed.
    #[error("{what}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A host command (`mount`, `cp`, `ldd`, ...) failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// The end of its standard error.
        stderr: String,
    },
    /// A host command (`mount`, `cp`, `ldd`, ...) failed or timed out.
    #[error(transparent)]
    Host(imagebake_host::process::Error),
    /// A machine's sshd exited or never accepted connections.
    #[error("machine {vm}: sshd did not start; its log ends with: {log}")]
    Sshd {
        /// The machine.
        vm: Uuid,
        /// The last lines sshd wrote.
        log: String,
    },
    /// The image (or snapshot) a machine boots from could not be captured.
    #[error("image {image} has no contents: capturing it failed: {why}")]
    Capture {
        /// The image or snapshot.
        image: Uuid,
        /// Why the capture failed.
        why: String,
    },
    /// No such machine.
    #[error("unknown simulated machine {0}")]
    UnknownMachine(Uuid),
    /// A path is not usable (symbolic link where none may be, `:` or `,` in
    /// an overlay path, ...).
    #[error("unusable path {path}: {why}")]
    Path {
        /// The path.
        path: String,
        /// Why.
        why: &'static str,
    },
    /// Making a host key failed.
    #[error("making a host key")]
    HostKey(#[source] ssh_key::Error),
    /// The simulator was shut down.
    #[error("the simulator's machines were shut down")]
    ShutDown,
}

impl MachineError {
    /// An I/O error with what was being done.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

impl From<MachineError> for io::Error {
    fn from(e: MachineError) -> Self {
        io::Error::other(e)
    }
}
