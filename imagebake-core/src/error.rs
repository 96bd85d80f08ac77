use std::time::Duration;

use imagebake_http::WaitError;
pub use imagebake_http::{Chain, ErrorMeta, chain};

/// A boxed error from another crate (a cloud client, the SSH library).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a step, an undo or a communicator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The build's cancellation token fired.
    #[error("cancelled: {what}")]
    Cancelled {
        /// What was interrupted.
        what: String,
    },
    /// Something did not finish in time.
    #[error("timed out after {after:?}: {what}{}", last_state(.last))]
    Timeout {
        /// What was waited on.
        what: String,
        /// The time limit that passed.
        after: Duration,
        /// The last state seen, when waiting on a state.
        last: Option<String>,
    },
    /// A resource reached a state from which the wanted one cannot be reached.
    #[error("{what} reached failed state: {state}")]
    Failed {
        /// The resource.
        what: String,
        /// The state (and reason, when known).
        state: String,
    },
    /// A command exited with a status that is not accepted.
    #[error("command `{command}` exited with status {status}{}", stderr_tail_text(.stderr_tail))]
    CommandFailed {
        /// The command, with environment values left out.
        command: String,
        /// Its exit status.
        status: i32,
        /// The last lines it wrote to stderr.
        stderr_tail: Vec<String>,
    },
    /// A command was killed by a signal.
    #[error("command `{command}` was killed by signal {signal}")]
    Signal {
        /// The command.
        command: String,
        /// The signal number (or name for SSH, mapped to its number when known).
        signal: i32,
    },
    /// The connection to the machine was lost (expected after a reboot or
    /// power-off, see [`crate::Communicator::exec_expect_disconnect`]).
    #[error("connection lost: {what}")]
    Disconnected {
        /// What was going on.
        what: String,
        /// The transport error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The server's host key is not the one trusted for it (a possible
    /// man in the middle); never retried.
    #[error("host key of {host} is not trusted: expected {expected}, got {got}")]
    HostKey {
        /// The host (`host:port`).
        host: String,
        /// What the host key policy trusts (fingerprints, or a missing entry).
        expected: String,
        /// The key the server presented (`ssh-ed25519 SHA256:…`).
        got: String,
    },
    /// A local or in-root file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// The operation and path.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration of a step or provisioner is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A configuration value is invalid at a known key: the key is kept as
    /// data ([`Error::config_key`]) for the Python binding and the command,
    /// which never read it back from the message.
    #[error("invalid configuration: {message}")]
    ConfigKey {
        /// The key's path as the user wrote it (`ssh_port`, `filter.name`,
        /// `source_machine_image_filter.type`).
        key: String,
        /// The whole message, naming the builder or provisioner and the key.
        message: String,
    },
    /// A cloud API call failed.
    #[error("{what}: {source}")]
    Provider {
        /// The operation and resource ("deleting machine 7f3e…").
        what: String,
        /// The client's error.
        #[source]
        source: BoxError,
    },
    /// The communicator's transport failed (SSH protocol, authentication…).
    #[error("{what}: {source}")]
    Communicator {
        /// The operation.
        what: String,
        /// The transport's error.
        #[source]
        source: BoxError,
    },
    /// Looking at a resource while waiting on it failed.
    #[error("while waiting for {what}: {source}")]
    Wait {
        /// What was waited on.
        what: String,
        /// The error from the look.
        #[source]
        source: BoxError,
    },
    /// A step or an undo panicked; the panic was contained.
    #[error("{what} panicked")]
    Panicked {
        /// The step or undo.
        what: String,
    },
    /// Any other error.
    #[error(transparent)]
    Other(BoxError),
}

impl Error {
    /// Builds [`Error::Io`].
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    /// Builds [`Error::Provider`] from a cloud client's error.
    pub fn provider(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Provider {
            what: what.into(),
            source: Box::new(source),
        }
    }

    /// Builds [`Error::Communicator`] from a transport's error.
    pub fn communicator(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Communicator {
            what: what.into(),
            source: Box::new(source),
        }
    }

    /// Builds [`Error::Cancelled`].
    pub fn cancelled(what: impl Into<String>) -> Self {
        Self::Cancelled { what: what.into() }
    }

    /// Whether this error means the build was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled { .. })
    }

    /// Builds [`Error::ConfigKey`]: `message` about the value at `key`.
    pub fn config_at(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::ConfigKey {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The configuration key an [`Error::ConfigKey`] is about (its path,
    /// like `filter.name`); `None` for other errors.
    pub fn config_key(&self) -> Option<&str> {
        match self {
            Self::ConfigKey { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Whether this is a configuration error ([`Error::Config`] or
    /// [`Error::ConfigKey`]).
    pub fn is_config(&self) -> bool {
        matches!(self, Self::Config(_) | Self::ConfigKey { .. })
    }
}

/// The first cloud API error in `error`'s cause chain, read through the
/// shared contract ([`ErrorMeta`]: status, cloud code, message, request id,
/// retryable). The Python binding and the command use this; nothing reads
/// a client's message text.
pub fn api_error_meta<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a dyn ErrorMeta> {
    let mut cur = Some(error);
    while let Some(e) = cur {
        #[cfg(feature = "triton")]
        if let Some(t) = e.downcast_ref::<triton_client::Error>() {
            return Some(t);
        }
        #[cfg(feature = "oxide")]
        if let Some(o) = e.downcast_ref::<oxide_client::Error>() {
            return Some(o);
        }
        #[cfg(feature = "osc")]
        if let Some(o) = e.downcast_ref::<osc_client::Error>() {
            return Some(o);
        }
        cur = e.source();
    }
    None
}

impl<E> From<WaitError<E>> for Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(e: WaitError<E>) -> Self {
        match e {
            WaitError::Failed { what, state } => Self::Failed { what, state },
            WaitError::Timeout { what, after, last } => Self::Timeout {
                what,
                after,
                last: Some(last),
            },
            WaitError::Cancelled { what } => Self::Cancelled { what },
            WaitError::Poll { what, source } => Self::Wait {
                what,
                source: Box::new(source),
            },
        }
    }
}

fn last_state(last: &Option<String>) -> String {
    match last {
        Some(s) => format!(" (last state: {s})"),
        None => String::new(),
    }
}

fn stderr_tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; last stderr lines:\n  {}", tail.join("\n  "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_failed_shows_status_and_stderr_tail() {
        let e = Error::CommandFailed {
            command: "sh /tmp/x.sh".into(),
            status: 7,
            stderr_tail: vec!["one".into(), "boom".into()],
        };
        let s = e.to_string();
        assert!(s.contains("status 7"), "{s}");
        assert!(s.ends_with("one\n  boom"), "{s}");
    }

    #[test]
    fn config_key_is_data_not_read_from_the_message() {
        let e = Error::config_at("a.b", "builder t: the value at a.b is wrong");
        assert_eq!(e.config_key(), Some("a.b"));
        assert_eq!(
            e.to_string(),
            "invalid configuration: builder t: the value at a.b is wrong"
        );
        // A message that merely mentions a key carries none.
        let e = Error::Config("builder triton: unknown key `ssh_pty`".into());
        assert_eq!(e.config_key(), None);
        assert!(e.is_config());
        assert_eq!(Error::cancelled("x").config_key(), None);
    }

    #[test]
    fn wait_errors_map_to_variants() {
        let e: Error = WaitError::<std::io::Error>::Timeout {
            what: "vm".into(),
            after: Duration::from_secs(1),
            last: "provisioning".into(),
        }
        .into();
        assert!(e.to_string().contains("last state: provisioning"), "{e}");
        let e: Error = WaitError::<std::io::Error>::Cancelled { what: "vm".into() }.into();
        assert!(e.is_cancelled());
    }
}
