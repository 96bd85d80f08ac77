//! The one error type of this crate.

use std::path::PathBuf;
use std::time::Duration;

use imagebake_http::{ErrorMeta, Failure};

/// Everything that can go wrong talking to an Oxide rack.
///
/// No variant ever carries the API token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The rack answered with an error body (`{request_id, message, error_code}`).
    #[error("{operation}: {status} {}: {message} (request {})",
        error_code.as_deref().unwrap_or("-"), request_id.as_deref().unwrap_or("-"))]
    Api {
        /// The API operation (`instance_create`, ...).
        operation: &'static str,
        /// HTTP status code.
        status: u16,
        /// The rack's `error_code` (`ObjectNotFound`, `InvalidRequest`, ...), when given.
        error_code: Option<String>,
        /// The rack's `message`.
        message: String,
        /// The rack's `request_id`, for support requests.
        request_id: Option<String>,
        /// The delay the rack asked for (`Retry-After`), if any.
        retry_after: Option<Duration>,
    },
    /// The rack does not support the API version this client was written for
    /// (it is older than [`crate::API_VERSION`]).
    #[error(
        "{operation}: the rack does not support API version {client_version} \
         (this client needs a rack at least that new): {message}"
    )]
    UnsupportedApiVersion {
        /// The API operation.
        operation: &'static str,
        /// The version this client sends in the `api-version` header.
        client_version: &'static str,
        /// The rack's message.
        message: String,
        /// The rack's `request_id`.
        request_id: Option<String>,
    },
    /// The request could not be sent or its answer not read.
    #[error("{operation}: request failed: {source}")]
    Transport {
        /// The API operation.
        operation: &'static str,
        /// Whether the connection could not even be made (so the request was
        /// certainly not processed); otherwise its answer was lost.
        connect: bool,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The answer did not have the expected shape.
    #[error("{operation}: cannot decode the answer at `{path}`: {source}")]
    Decode {
        /// The API operation.
        operation: &'static str,
        /// JSON path of the field that failed.
        path: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A request body could not be serialised.
    #[error("{operation}: cannot encode the request body: {source}")]
    Encode {
        /// The API operation.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A name (or hostname) given to the client breaks the API's rules;
    /// nothing was sent.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidName {
        /// Which field (`name`, `boot_disk.name`, `project`, ...).
        field: &'static str,
        /// The value given.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The request is invalid for another reason; nothing was sent.
    #[error("{operation}: invalid request: {reason}")]
    InvalidRequest {
        /// The API operation.
        operation: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// `OXIDE_HOST` and `OXIDE_PROFILE` are both set.
    #[error("OXIDE_HOST and OXIDE_PROFILE are both set; use only one")]
    HostProfileConflict,
    /// `OXIDE_TOKEN` is set but `OXIDE_HOST` is not.
    #[error("OXIDE_TOKEN is set but OXIDE_HOST is not")]
    MissingHost,
    /// `OXIDE_HOST` names a host no profile in the credentials file has.
    #[error("no profile in {path} has host {host} (and OXIDE_TOKEN is not set)")]
    MissingToken {
        /// The host asked for.
        host: String,
        /// The credentials file.
        path: PathBuf,
    },
    /// No credentials file: the user never ran `oxide auth login`.
    #[error("no credentials: {path} does not exist and OXIDE_TOKEN is not set")]
    NoAuthenticatedHosts {
        /// The credentials file looked for.
        path: PathBuf,
    },
    /// No profile was named and the config file has no `default-profile`.
    #[error("no profile given and no default-profile in {path}")]
    NoDefaultProfile {
        /// The config file looked at.
        path: PathBuf,
    },
    /// The named profile is not in the credentials file.
    #[error("profile {profile:?} not found in {path}")]
    NoProfile {
        /// The profile asked for.
        profile: String,
        /// The credentials file.
        path: PathBuf,
    },
    /// No home directory to find `~/.config/oxide` in.
    #[error("cannot find the home directory (HOME is not set)")]
    NoHomeDir,
    /// A configuration file could not be read.
    #[error("cannot read {path}: {source}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A configuration file is not valid TOML of the expected shape.
    ///
    /// Only the parser's message and line are kept: the parser's own error
    /// quotes the offending input, which may be a token.
    #[error("cannot parse {path} (line {line:?}): {message}")]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// The parser's message (without quoted input).
        message: String,
    },
    /// The host is not an `http://` or `https://` URL.
    #[error("invalid host {host:?}: expected an http:// or https:// URL")]
    InvalidHost {
        /// The host given.
        host: String,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

impl Error {
    /// The HTTP status, for errors the rack answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::UnsupportedApiVersion { .. } => Some(400),
            _ => None,
        }
    }

    /// Whether the rack said the resource does not exist (404). Undo code
    /// treats this as "already gone".
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// The rack's `error_code`, when it gave one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Error::Api { error_code, .. } => error_code.as_deref(),
            _ => None,
        }
    }

    /// The rack's `request_id`, when it gave one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. } | Error::UnsupportedApiVersion { request_id, .. } => {
                request_id.as_deref()
            }
            _ => None,
        }
    }
}

impl ErrorMeta for Error {
    fn status(&self) -> Option<u16> {
        Error::status(self)
    }

    fn code(&self) -> Option<&str> {
        self.error_code()
    }

    fn message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. } | Error::UnsupportedApiVersion { message, .. } => {
                Some(message)
            }
            _ => None,
        }
    }

    fn request_id(&self) -> Option<&str> {
        Error::request_id(self)
    }

    fn failure(&self) -> Option<Failure> {
        match self {
            Error::Api {
                status,
                retry_after,
                ..
            } => Some(Failure::status(*status, false, *retry_after)),
            Error::Transport { connect, .. } => Some(Failure::transport(*connect)),
            _ => None,
        }
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
