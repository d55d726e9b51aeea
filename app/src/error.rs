//! The one error type handlers return: a status and a short JSON `{"message": ...}` for the
//! client; causes go to the log, never stack traces to the client.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::balancers::LookupError;

#[derive(Debug)]
pub enum AppError {
    Unauthorized,
    Status(StatusCode, String),
}

impl AppError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self::Status(status, message.into())
    }
}

impl From<LookupError> for AppError {
    fn from(error: LookupError) -> Self {
        let status = match &error {
            LookupError::NotFound(_) | LookupError::InstanceNotFound(_) | LookupError::NotRegistered { .. } => {
                StatusCode::NOT_FOUND
            }
            LookupError::WrongVpc { .. } | LookupError::IpTargets(_) => StatusCode::CONFLICT,
            LookupError::Throttled | LookupError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            LookupError::Aws(_) => StatusCode::BAD_GATEWAY,
        };
        Self::Status(status, error.to_string())
    }
}

impl From<JsonRejection> for AppError {
    /// Keeps axum's statuses (400 malformed JSON, 415 wrong content type, 422 wrong shape) but
    /// answers in the API's own shape.
    fn from(rejection: JsonRejection) -> Self {
        Self::Status(rejection.status(), rejection.body_text())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => {
                let mut response = (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"message": "authentication required"})),
                )
                    .into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"deployer\""),
                );
                response
            }
            Self::Status(status, message) => (status, Json(json!({ "message": message }))).into_response(),
        }
    }
}
