//! The platform's one error type and the one place it becomes an HTTP response.
//!
//! Handlers return `Result<_, ApiError>`; [`ApiError::status`] and [`ApiError::code`] decide the
//! status line and the machine-readable code; the body is always
//! `{"error":{"code":"…","message":"…"}}` (plus `field` when one input field is at fault).
//! Internal failures are logged with detail and answered with a generic message, so nothing
//! about storage or bindings leaks to clients.

use serde_json::json;

/// Every failure a platform request can end in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The body is not the JSON the endpoint expects.
    InvalidJson(String),
    /// One input field is invalid.
    InvalidField {
        field: &'static str,
        message: String,
    },
    /// Any other bad request (bad query parameter, bad path).
    BadRequest(String),
    /// Missing, invalid, expired or revoked credentials.
    Unauthorized(String),
    /// The resource does not exist or belongs to someone else.
    NotFound(String),
    /// No such route.
    NoRoute(String),
    /// The route exists but not for this method.
    MethodNotAllowed {
        method: String,
        allowed: &'static str,
    },
    /// A uniqueness rule was violated.
    Conflict(String),
    /// Well-formed, but not acceptable in this state (an `Idempotency-Key` reused for another
    /// request).
    Unprocessable(String),
    /// The body exceeds the endpoint's limit.
    PayloadTooLarge { limit: usize },
    /// The content type is not JSON.
    UnsupportedMediaType(String),
    /// The content (not the body) is larger than a configured limit; the message names both sizes.
    ContentTooLarge(String),
    /// A rate limit was hit: answered with 429 and `Retry-After`.
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The credentials are valid but do not allow this request (an API token without the scope
    /// the method needs); the message names what is missing.
    Forbidden(String),
    /// A count quota (projects per user, versions per project) is used up: waiting does not help,
    /// deleting something or a higher limit does.
    QuotaExceeded(String),
    /// A setting is missing or wrong. The message names the setting (never its value when it is a
    /// secret) and is shown, so an operator sees the fix at once.
    Misconfigured(String),
    /// A dependency (a Queue, a binding) is not available right now and nothing was done, or what
    /// was done is recorded; the message says what to do.
    Unavailable(String),
    /// A binding or platform failure; the detail is logged, not returned.
    Internal(String),
}

impl ApiError {
    /// A field-level validation error.
    pub fn invalid_field(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            message: message.into(),
        }
    }

    /// Wraps an internal failure, keeping its detail for the log.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidJson(_) | Self::InvalidField { .. } | Self::BadRequest(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::QuotaExceeded(_) | Self::Forbidden(_) => 403,
            Self::NotFound(_) | Self::NoRoute(_) => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::Conflict(_) => 409,
            Self::Unprocessable(_) => 422,
            Self::PayloadTooLarge { .. } | Self::ContentTooLarge(_) => 413,
            Self::UnsupportedMediaType(_) => 415,
            Self::RateLimited { .. } => 429,
            Self::Misconfigured(_) | Self::Internal(_) => 500,
            Self::Unavailable(_) => 503,
        }
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::InvalidField { .. } => "invalid_field",
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::NoRoute(_) => "no_route",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::Unprocessable(_) => "unprocessable",
            Self::PayloadTooLarge { .. } | Self::ContentTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::QuotaExceeded(_) => "quota_exceeded",
            Self::Forbidden(_) => "forbidden",
            Self::Misconfigured(_) => "misconfigured",
            Self::Internal(_) => "internal",
            Self::Unavailable(_) => "unavailable",
        }
    }

    /// The message shown to the client.
    pub fn message(&self) -> String {
        match self {
            Self::InvalidJson(m)
            | Self::BadRequest(m)
            | Self::Unauthorized(m)
            | Self::NotFound(m)
            | Self::Conflict(m)
            | Self::Unprocessable(m)
            | Self::Misconfigured(m)
            | Self::ContentTooLarge(m)
            | Self::QuotaExceeded(m)
            | Self::Forbidden(m)
            | Self::Unavailable(m)
            | Self::RateLimited { message: m, .. }
            | Self::UnsupportedMediaType(m) => m.clone(),
            Self::InvalidField { message, .. } => message.clone(),
            Self::NoRoute(path) => format!("no route for '{path}'; see README for the API"),
            Self::MethodNotAllowed { method, allowed } => {
                format!("method {method} is not allowed here; use {allowed}")
            }
            Self::PayloadTooLarge { limit } => {
                format!("request body is larger than the {limit}-byte limit; send less data")
            }
            Self::Internal(_) => "internal error; the request was not completed, try again".into(),
        }
    }

    /// Seconds a client should wait before retrying (the `Retry-After` header), if waiting helps.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The offending field, if one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidField { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The JSON error body.
    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({ "code": self.code(), "message": self.message() });
        if let Some(field) = self.field() {
            error["field"] = json!(field);
        }
        json!({ "error": error })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Internal(detail) => write!(f, "internal: {detail}"),
            other => write!(f, "{}: {}", other.code(), other.message()),
        }
    }
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<worker::kv::KvError> for ApiError {
    fn from(e: worker::kv::KvError) -> Self {
        Self::Internal(format!("kv: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_their_detail() {
        let e = ApiError::internal("D1_ERROR: no such table: users");
        assert_eq!(e.status(), 500);
        assert!(!e.body().to_string().contains("users"));
    }

    #[test]
    fn field_errors_name_the_field() {
        let e = ApiError::invalid_field("email", "email is required");
        assert_eq!(e.status(), 400);
        assert_eq!(e.body()["error"]["field"], "email");
        assert_eq!(e.body()["error"]["code"], "invalid_field");
    }

    #[test]
    fn rates_are_429_with_a_retry_after_and_quotas_are_403_without() {
        let rate = ApiError::RateLimited {
            message: "too many builds".into(),
            retry_after_secs: 7,
        };
        assert_eq!((rate.status(), rate.code()), (429, "rate_limited"));
        assert_eq!(rate.retry_after_secs(), Some(7));
        assert_eq!(rate.body()["error"]["message"], "too many builds");
        let quota = ApiError::QuotaExceeded("50 projects".into());
        assert_eq!((quota.status(), quota.code()), (403, "quota_exceeded"));
        assert_eq!(quota.retry_after_secs(), None);
    }
}
