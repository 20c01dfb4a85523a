//! Every error the API returns, as one stable JSON shape: `{code, message, type, field?}`.
//!
//! `code` is a stable machine-readable identifier, `type` groups codes (`invalid_request`,
//! `not_found`, `conflict`, `internal`, `unavailable`), `field` names the offending input where
//! there is one. Causes are logged in full; clients never see internals.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchboard_domain::ParseError;
use switchboard_domain::registry::Invalid;
use switchboard_store::StoreError;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable identifier of the error, for programs.
    #[schema(example = "invalid_field")]
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// The family of the error.
    #[serde(rename = "type")]
    #[schema(example = "invalid_request")]
    pub kind: &'static str,
    /// The input field at fault, as a path into the request (`phones[1]`), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem, when a request has several (a batch of records: one per bad field).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Problem>>)]
    pub errors: Option<Box<[Problem]>>,
}

/// One problem of a request with several.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// The field at fault, as a path into the request (`upserts[3].given_name`).
    pub field: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Seconds for a `Retry-After` header (rate limits).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        kind: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
                kind,
                field: None,
                errors: None,
            },
            retry_after: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.body.field = Some(field.into());
        self
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "invalid_request", message)
    }

    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid("invalid_field", message).with_field(field)
    }

    pub fn from_parse(field: &str, e: ParseError) -> Self {
        Self::invalid_field(field, e.to_string())
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "conflict", message)
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            "unavailable",
            message,
        )
    }

    /// A failure of ours: the detail goes to the log, a generic message to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal",
            "something went wrong on our side; it has been logged",
        )
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        Self::invalid("rule_violation", e.message).with_field(e.field)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, id } => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "not_found",
                format!("{entity} {id} not found"),
            ),
            StoreError::Conflict { field, message } => {
                Self::conflict("already_exists", message).with_field(field)
            }
            StoreError::Stale { entity, since, .. } => Self::conflict(
                "version_conflict",
                format!("the {entity} changed since {since}; fetch it again and retry"),
            ),
            StoreError::MissingReference { field, entity } => {
                Self::invalid("unknown_reference", format!("no such {entity}")).with_field(field)
            }
            e @ (StoreError::Corrupt { .. } | StoreError::Backend(_)) => {
                tracing::error!(error = ?e, "storage failure");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "unavailable",
                    "the database could not complete the request; retry shortly",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = axum::http::HeaderValue::from_str(&s.to_string())
        {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
