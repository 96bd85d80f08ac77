//! OAPI error answers: `{"Errors":[{"Code","Type","Details"}],"ResponseContext":{"RequestId"}}`.

use axum::http::StatusCode;

/// One error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OscError {
    pub status: StatusCode,
    pub code: &'static str,
    pub kind: &'static str,
    pub details: String,
}

impl OscError {
    pub fn new(
        status: u16,
        code: &'static str,
        kind: &'static str,
        details: impl Into<String>,
    ) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            kind,
            details: details.into(),
        }
    }

    /// 401: the signature or the access key was refused.
    pub fn access_denied(details: impl Into<String>) -> Self {
        Self::new(401, "1", "AccessDenied", details)
    }

    /// 400 4095: the body does not match the request schema.
    pub fn validation(details: impl Into<String>) -> Self {
        Self::new(400, "4095", "InvalidParameterValue", details)
    }

    /// 400 7000: a required parameter is missing.
    pub fn missing(param: &str) -> Self {
        Self::new(
            400,
            "7000",
            "MissingParameter",
            format!("{param} is required"),
        )
    }

    /// 400 4047 invalid-parameter-value.
    pub fn invalid_value(details: impl Into<String>) -> Self {
        Self::new(400, "4047", "InvalidParameterValue", details)
    }

    /// 400 with a specific InvalidParameterValue code.
    pub fn invalid(code: &'static str, details: impl Into<String>) -> Self {
        Self::new(400, code, "InvalidParameterValue", details)
    }

    /// 400 InvalidResource for a missing id, by its prefix.
    pub fn not_found(id: &str) -> Self {
        let code = match id.split('-').next().unwrap_or("") {
            "vol" => "5064",
            "snap" => "5054",
            "ami" => "5023",
            "i" => "5063",
            _ => "5044",
        };
        Self::new(400, code, "InvalidResource", format!("{id} does not exist"))
    }

    /// 400 InvalidState.
    pub fn state(code: &'static str, details: impl Into<String>) -> Self {
        Self::new(400, code, "InvalidState", details)
    }

    /// 409 ResourceConflict.
    pub fn conflict(code: &'static str, details: impl Into<String>) -> Self {
        Self::new(409, code, "ResourceConflict", details)
    }

    /// 404 for a path or action the gateway does not know.
    pub fn no_such_call(what: &str) -> Self {
        Self::new(
            404,
            "5011",
            "InvalidResource",
            format!("no-such-call: {what}"),
        )
    }

    /// 429 code 25, per-call throttling.
    pub fn throttled() -> Self {
        Self::new(
            429,
            "25",
            "ErrorOperationThrottledPerCall",
            "Request rate exceeded",
        )
    }

    /// The usual error for a bare status (fault injection).
    pub fn for_status(status: u16) -> Self {
        match status {
            503 => Self::new(
                503,
                "6",
                "ErrorOperationThrottledWholePlatform",
                "Request rate exceeded",
            ),
            429 => Self::new(
                429,
                "24",
                "ErrorOperationThrottledPerAccount",
                "Request rate exceeded",
            ),
            401 => Self::access_denied("injected"),
            s if s >= 500 => Self::new(s, "2000", "InternalError", "injected server error"),
            s => Self::new(s, "4047", "InvalidParameterValue", "injected error"),
        }
    }

    /// 500: the simulator itself could not do the work (I/O, losetup, ...).
    pub fn internal(details: impl Into<String>) -> Self {
        Self::new(500, "2000", "InternalError", details)
    }

    pub fn body(&self, request_id: &str) -> serde_json::Value {
        serde_json::json!({
            "Errors": [{"Code": self.code, "Type": self.kind, "Details": self.details}],
            "ResponseContext": {"RequestId": request_id},
        })
    }
}

/// Result of an action handler.
pub(crate) type OscResult<T = serde_json::Value> = Result<T, OscError>;
