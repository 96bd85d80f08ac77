//! The crate's error type.

use std::fmt;

use imagebake_http::{ErrorMeta, Failure};
use serde::Deserialize;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to the Outscale API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error status and (usually) an `Errors[]` body.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The request never got a complete answer (connection, TLS, timeout).
    #[error("{action}: transport error: {source}")]
    Transport {
        /// The OAPI action.
        action: &'static str,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The answer was not the JSON the action documents.
    #[error("{action}: cannot decode the response: {source}")]
    Decode {
        /// The OAPI action.
        action: &'static str,
        /// The cause, with the JSON path that failed.
        #[source]
        source: serde_path_to_error::Error<serde_json::Error>,
    },
    /// A request body could not be encoded.
    #[error("{action}: cannot encode the request: {source}")]
    Encode {
        /// The OAPI action.
        action: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The configuration is incomplete or unreadable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server answered something the client cannot use (e.g. a create
    /// response without the created resource).
    #[error("{action}: unexpected response: {what}")]
    Unexpected {
        /// The OAPI action (or metadata key).
        action: &'static str,
        /// What was wrong.
        what: String,
    },
}

/// Why a configuration could not be resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No access key / secret key pair was found anywhere.
    #[error(
        "no Outscale credentials: set OSC_ACCESS_KEY and OSC_SECRET_KEY or a profile in {file}"
    )]
    MissingCredentials {
        /// The profile file that was looked at.
        file: String,
    },
    /// The profile file exists but cannot be read or parsed.
    #[error("cannot read the Outscale profile file {file}")]
    File {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The profile file is not valid JSON of the expected shape.
    #[error("cannot parse the Outscale profile file {file}")]
    Parse {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A profile was asked for by name and is not in the file.
    #[error("profile {profile:?} is not in {file}")]
    UnknownProfile {
        /// The profile name.
        profile: String,
        /// The file.
        file: String,
    },
    /// The endpoint is not a usable URL.
    #[error("invalid endpoint {endpoint:?}")]
    Endpoint {
        /// The endpoint given.
        endpoint: String,
        /// The cause.
        #[source]
        source: url::ParseError,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    Http(#[source] reqwest::Error),
}

/// One entry of an OAPI `Errors[]` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct ErrorEntry {
    /// Numeric code as a string (`"4019"`, `"24"`).
    pub code: String,
    /// Category (`InvalidParameterValue`, `InvalidResource`, ...).
    #[serde(rename = "Type")]
    pub kind: String,
    /// Free text.
    pub details: String,
}

/// An error status from the API, with its decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The OAPI action that failed.
    pub action: &'static str,
    /// HTTP status.
    pub status: u16,
    /// The `Errors[]` entries (may be empty when the body was not OAPI-shaped).
    pub errors: Vec<ErrorEntry>,
    /// `ResponseContext.RequestId`, when present.
    pub request_id: Option<String>,
}

impl ApiError {
    /// Decodes an error body leniently: an OAPI `ErrorResponse`, a bare JSON
    /// string, or anything else (kept as the details of one entry).
    pub fn from_body(action: &'static str, status: u16, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Body {
            #[serde(default)]
            errors: Vec<ErrorEntry>,
            #[serde(default)]
            response_context: Option<Ctx>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Ctx {
            #[serde(default)]
            request_id: Option<String>,
        }
        let (errors, request_id) = match serde_json::from_slice::<Body>(body) {
            Ok(b) => (b.errors, b.response_context.and_then(|c| c.request_id)),
            Err(_) => {
                let text = serde_json::from_slice::<String>(body)
                    .unwrap_or_else(|_| String::from_utf8_lossy(body).trim().to_owned());
                let errors = if text.is_empty() {
                    Vec::new()
                } else {
                    vec![ErrorEntry {
                        details: text,
                        ..ErrorEntry::default()
                    }]
                };
                (errors, None)
            }
        };
        Self {
            action,
            status,
            errors,
            request_id,
        }
    }

    /// The first entry's code, if any.
    pub fn code(&self) -> Option<&str> {
        self.errors
            .first()
            .map(|e| e.code.as_str())
            .filter(|c| !c.is_empty())
    }

    /// Whether any entry has this code.
    pub fn has_code(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }

    /// Throttling: 503 code 6, 429 codes 24 and 25 (bare 429/503 too).
    pub fn is_throttled(&self) -> bool {
        match self.status {
            503 => self.errors.is_empty() || self.has_code("6"),
            429 => self.errors.is_empty() || self.has_code("24") || self.has_code("25"),
            _ => false,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: HTTP {}", self.action, self.status)?;
        for e in &self.errors {
            write!(f, "; ")?;
            if !e.code.is_empty() {
                write!(f, "code {} ", e.code)?;
            }
            if !e.kind.is_empty() {
                write!(f, "{} ", e.kind)?;
            }
            if !e.details.is_empty() {
                write!(f, "({})", e.details)?;
            }
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// Codes the gateway uses for missing resources (`no-such-*`, InvalidResource).
const NOT_FOUND_CODES: &[&str] = &["5023", "5044", "5054", "5063", "5064"];

impl Error {
    /// The API error, if this is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(e) => Some(e),
            _ => None,
        }
    }

    /// HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        self.api().map(|e| e.status)
    }

    /// First `Errors[].Code` of an API error.
    pub fn code(&self) -> Option<&str> {
        self.api().and_then(ApiError::code)
    }

    /// `ResponseContext.RequestId` of an API error.
    pub fn request_id(&self) -> Option<&str> {
        self.api().and_then(|e| e.request_id.as_deref())
    }

    /// Whether the resource named in the request does not exist (undo code
    /// treats this as success on delete).
    pub fn is_not_found(&self) -> bool {
        self.api()
            .is_some_and(|e| e.status == 404 || NOT_FOUND_CODES.iter().any(|c| e.has_code(c)))
    }

    /// Whether the signature or credentials were refused (HTTP 401).
    pub fn is_auth(&self) -> bool {
        self.status() == Some(401)
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
        self.api()
            .and_then(|e| e.errors.first())
            .map(|e| e.details.as_str())
            .filter(|d| !d.is_empty())
    }

    fn request_id(&self) -> Option<&str> {
        Error::request_id(self)
    }

    fn failure(&self) -> Option<Failure> {
        match self {
            Self::Api(e) => Some(Failure::status(e.status, e.is_throttled(), None)),
            Self::Transport { source, .. } => Some(Failure::transport(source.is_connect())),
            _ => None,
        }
    }

    fn is_not_found(&self) -> bool {
        Error::is_not_found(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_oapi_error_bodies() {
        let body = br#"{"Errors":[{"Code":"4019","Type":"InvalidParameterValue","Details":"bad device"}],"ResponseContext":{"RequestId":"r-1"}}"#;
        let e = ApiError::from_body("LinkVolume", 400, body);
        assert_eq!(e.code(), Some("4019"));
        assert_eq!(e.errors[0].kind, "InvalidParameterValue");
        assert_eq!(e.request_id.as_deref(), Some("r-1"));
        assert_eq!(
            e.to_string(),
            "LinkVolume: HTTP 400; code 4019 InvalidParameterValue (bad device) [request r-1]"
        );
    }

    #[test]
    fn decodes_bare_strings_and_empty_bodies() {
        let e = ApiError::from_body("ReadVms", 401, br#""Unknow user""#);
        assert_eq!(e.errors[0].details, "Unknow user");
        assert_eq!(e.code(), None);
        let e = ApiError::from_body("ReadVms", 404, b"");
        assert!(e.errors.is_empty());
    }

    #[test]
    fn throttling_codes_are_retryable_others_not() {
        let t = |status, code: &str| {
            let body = format!(r#"{{"Errors":[{{"Code":"{code}"}}]}}"#);
            Error::Api(Box::new(ApiError::from_body("X", status, body.as_bytes())))
                .failure()
                .is_some_and(|f| f.verdict(imagebake_http::Idempotency::Create).is_retry())
        };
        assert!(t(503, "6"));
        assert!(t(429, "24"));
        assert!(t(429, "25"));
        assert!(!t(400, "4019"));
        assert!(!t(503, "2000"));
        assert!(!t(500, ""));
        assert!(!t(409, "9003"));
    }

    #[tokio::test]
    async fn a_transport_error_is_printed_with_its_cause() {
        // Nothing listens on a port just released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let source = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/api/v1/ReadVms"))
            .send()
            .await
            .expect_err("nothing listens");
        let e = Error::Transport {
            action: "ReadVms",
            source,
        };
        let shown = imagebake_http::chain(&e).to_string();
        assert!(shown.starts_with("ReadVms: transport error: "), "{shown}");
        assert!(shown.contains("error sending request"), "{shown}");
        assert!(e.to_string().contains("error sending request"), "{e}");
        assert_eq!(e.failure(), Some(Failure::Connect));
    }
}
