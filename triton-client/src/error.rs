//! The crate's one error type.

use std::path::PathBuf;
use std::time::Duration;

use imagebake_http::{ErrorMeta, Failure};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to CloudAPI, Manta or an IMGAPI
/// repository.
///
/// Errors name the CloudAPI operation (`GetMachine`, ...) they come from.
/// Key material and passphrases never appear in them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// CloudAPI answered with an error status and (usually) a
    /// `{"code", "message"}` body.
    #[error("{operation}: {service} answered {status} {code}: {message}{}", request_id_suffix(.request_id))]
    Api {
        /// The service that answered.
        service: Service,
        /// The service's operation name (`GetMachine`, `PutObject`, ...).
        operation: &'static str,
        /// HTTP status.
        status: u16,
        /// CloudAPI error `code` (`ResourceNotFound`, `InvalidCredentials`, ...);
        /// the HTTP reason phrase when the body had none.
        code: String,
        /// CloudAPI error `message`.
        message: String,
        /// The `Request-Id` response header, when present.
        request_id: Option<String>,
        /// The delay CloudAPI asked for (`Retry-After`), if any.
        retry_after: Option<Duration>,
    },
    /// The request could not be sent, or no complete answer came back.
    #[error("{operation}: {}: {source}", transport_kind(.connect))]
    Transport {
        /// CloudAPI operation name.
        operation: &'static str,
        /// Whether the connection could not even be made (so the request was
        /// certainly not processed).
        connect: bool,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The answer's body did not have the expected shape.
    #[error("{operation}: cannot decode the response: {source}")]
    Decode {
        /// CloudAPI operation name.
        operation: &'static str,
        /// The decode error, with the JSON path of the offending field.
        #[source]
        source: serde_path_to_error::Error<serde_json::Error>,
    },
    /// A request could not be built from the given values.
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong.
        reason: String,
    },
    /// The configuration is missing a value or has a wrong one.
    #[error("configuration: {reason}")]
    Config {
        /// What is missing or wrong, naming the variable, profile field or file.
        reason: String,
    },
    /// A configuration file could not be read.
    #[error("configuration: cannot read {}: {source}", .path.display())]
    ConfigIo {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A configuration file is not valid JSON of the expected shape.
    #[error("configuration: {} is invalid: {source}", .path.display())]
    ConfigJson {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The HTTP client could not be set up (TLS backend).
    #[error("cannot set up the HTTP client: {source}")]
    HttpClient {
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// A private key file could not be read.
    #[error("cannot read key file {}: {source}", .path.display())]
    KeyIo {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A private key could not be parsed or decrypted.
    #[error("key {key}: {reason}")]
    Key {
        /// Which key (file path or "in-memory key").
        key: String,
        /// What is wrong.
        reason: String,
        /// The parser's error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The key is encrypted and no passphrase was given.
    #[error("key {key} is encrypted: a passphrase is required")]
    PassphraseRequired {
        /// Which key.
        key: String,
    },
    /// The key type or the signing algorithm is not usable with CloudAPI.
    #[error("unsupported signing algorithm {algorithm}: {reason}")]
    UnsupportedAlgorithm {
        /// Key type or algorithm name.
        algorithm: String,
        /// Why.
        reason: String,
    },
    /// No key matching the configured fingerprint was found.
    #[error("no private key with fingerprint {fingerprint} found (looked in: {searched})")]
    KeyNotFound {
        /// The configured key id.
        fingerprint: String,
        /// Where the client looked.
        searched: String,
    },
    /// Talking to the ssh-agent failed.
    #[error("ssh-agent: {reason}")]
    Agent {
        /// What failed.
        reason: String,
        /// The agent client's error, if any.
        #[source]
        source: Option<russh::keys::Error>,
    },
    /// A local file being uploaded or downloaded could not be read or
    /// written.
    #[error("{operation}: {}: {source}", .path.display())]
    LocalFile {
        /// The operation (`PutObject`, `GetObject`, `AddImageFile`).
        operation: &'static str,
        /// The local file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// What came back does not match what was sent or announced (a checksum
    /// or size).
    #[error("{operation}: {reason}")]
    Integrity {
        /// The operation.
        operation: &'static str,
        /// What differs, with both values.
        reason: String,
    },
    /// Signing failed.
    #[error("signing failed: {reason}")]
    Sign {
        /// What failed.
        reason: String,
    },
}

/// The service an [`Error::Api`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    /// Triton CloudAPI.
    CloudApi,
    /// Manta, the object store.
    Manta,
    /// An IMGAPI image repository.
    Imgapi,
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Service::CloudApi => "CloudAPI",
            Service::Manta => "Manta",
            Service::Imgapi => "IMGAPI",
        })
    }
}

fn request_id_suffix(id: &Option<String>) -> String {
    id.as_deref()
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

fn transport_kind(connect: &bool) -> &'static str {
    if *connect {
        "cannot connect"
    } else {
        "no complete answer"
    }
}

impl Error {
    /// The HTTP status CloudAPI answered with, if the error is an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::Transport { source, .. } => source.status().map(|s| s.as_u16()),
            _ => None,
        }
    }

    /// The CloudAPI error `code`, if the error is an answer.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The `Request-Id` of the failed request, when CloudAPI sent one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// Whether the resource does not exist (404 or `ResourceNotFound`), or is
    /// gone (410).
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Api { status, code, .. } => {
                *status == 404 || *status == 410 || code == "ResourceNotFound"
            }
            _ => false,
        }
    }

    /// Whether the same request may succeed later without having been
    /// processed this time ([`ErrorMeta::is_retryable`]): throttling (420,
    /// 429), 503 or a connection that could not be made. Which other failures a
    /// request is repeated after depends on the request (the client decides
    /// with [`imagebake_http::classify`]).
    pub fn is_retryable(&self) -> bool {
        ErrorMeta::is_retryable(self)
    }
}

impl ErrorMeta for Error {
    fn status(&self) -> Option<u16> {
        Error::status(self)
    }

    fn code(&self) -> Option<&str> {
        Error::code(self)
    }

    fn message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. } => Some(message),
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

    fn is_not_found(&self) -> bool {
        Error::is_not_found(self)
    }
}
