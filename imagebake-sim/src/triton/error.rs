//! Replies and CloudAPI error bodies (`{"code","message"}`, restify's status
//! per code).

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A successful (or 410 Gone) answer, before the common headers are added.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Body,
    pub headers: Vec<(HeaderName, String)>,
}

/// What a reply carries.
#[derive(Debug)]
pub(crate) enum Body {
    Json(Value),
    Text(String),
    Empty,
}

impl Reply {
    pub fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body: Body::Json(body),
            headers: Vec::new(),
        }
    }

    pub fn ok(body: Value) -> Self {
        Self::json(StatusCode::OK, body)
    }

    pub fn empty(status: StatusCode) -> Self {
        Self {
            status,
            body: Body::Empty,
            headers: Vec::new(),
        }
    }

    pub fn text(body: String) -> Self {
        Self {
            status: StatusCode::OK,
            body: Body::Text(body),
            headers: Vec::new(),
        }
    }

    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Body::Json(v) => (
                self.status,
                [(header::CONTENT_TYPE, "application/json")],
                v.to_string(),
            )
                .into_response(),
            Body::Text(t) => {
                (self.status, [(header::CONTENT_TYPE, "text/plain")], t).into_response()
            }
            Body::Empty => self.status.into_response(),
        };
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

/// A failed request: an error body, or CloudAPI's 410 Gone with the deleted
/// machine as body.
#[derive(Debug)]
pub(crate) enum ApiError {
    Error {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// Any status with a body of its own (410 Gone with the machine, or an
    /// error body with extra fields).
    Raw { status: StatusCode, body: Value },
}

pub(crate) type ApiResult = Result<Reply, ApiError>;

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self::Error {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
        }
    }

    /// 410 Gone with the deleted machine as body.
    pub fn gone(machine: Value) -> Self {
        Self::Raw {
            status: StatusCode::GONE,
            body: machine,
        }
    }

    /// 400 `InvalidHeader` "Authorization header invalid: ...".
    pub fn invalid_header(detail: impl std::fmt::Display) -> Self {
        Self::new(
            400,
            "InvalidHeader",
            format!("Authorization header invalid: {detail}"),
        )
    }

    /// 401 `InvalidCredentials` with `message`.
    pub fn credentials(message: impl Into<String>) -> Self {
        Self::new(401, "InvalidCredentials", message)
    }

    /// 401 for an unknown account, user or key, or a bad signature.
    pub fn bad_credentials() -> Self {
        Self::credentials("Invalid authorization credentials supplied")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "ResourceNotFound", message)
    }

    pub fn missing(param: &str) -> Self {
        Self::new(
            409,
            "MissingParameter",
            format!("{param} is a required argument"),
        )
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(409, "InvalidArgument", message)
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(409, "InvalidState", message)
    }

    pub fn not_authorized(message: impl Into<String>) -> Self {
        Self::new(403, "NotAuthorized", message)
    }

    /// The answer to an injected `Fault::Status(status)`: restify's code for it.
    pub fn for_status(status: u16) -> Self {
        let code = match status {
            400 => "BadRequest",
            401 => "InvalidCredentials",
            403 => "NotAuthorized",
            404 => "ResourceNotFound",
            405 => "BadMethod",
            409 => "InvalidArgument",
            420 | 429 => "RequestThrottled",
            502 => "BadGateway",
            503 => "ServiceUnavailable",
            504 => "GatewayTimeout",
            s if s < 500 => "BadRequest",
            _ => "InternalError",
        };
        let message = match status {
            503 => "service unavailable (injected fault)".to_owned(),
            s => format!("injected fault: HTTP {s}"),
        };
        Self::new(status, code, message)
    }

    /// restify's throttle answer: 429, no Retry-After.
    pub fn throttled() -> Self {
        Self::new(
            429,
            "RequestThrottled",
            "You have exceeded your request rate of 10 r/s.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Error {
                status,
                code,
                message,
            } => Reply::json(status, json!({ "code": code, "message": message })).into_response(),
            Self::Raw { status, body } => Reply::json(status, body).into_response(),
        }
    }
}
