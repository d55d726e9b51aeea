//! The one error type handlers return: a status and a short JSON `{"message": ...}` for the
//! client; causes go to the log, never stack traces to the client.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::balancers::LookupError;
use crate::request::RequestId;

#[derive(Debug)]
pub enum AppError {
    Unauthorized,
    /// Too many failed authentications from this address; locked out for this long.
    TooManyFailures(std::time::Duration),
    Status(StatusCode, String),
    /// AWS refused a call: the detail (codes, ARNs, the account id) goes to the log under the
    /// request's id, never to the caller.
    Aws(String),
    /// AWS denied the API's role the call (AccessDenied): 403, detail logged as for `Aws`.
    Denied(String),
    /// An answer that must look exactly like another (another environment's load balancer
    /// answers as an unknown one): the status and message of that other answer for the
    /// caller, the real reason in the log under the request's id.
    Disguised {
        status: StatusCode,
        message: String,
        detail: String,
    },
}

impl AppError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self::Status(status, message.into())
    }

    /// The answer past the concurrency limit.
    pub fn overloaded(limit: usize) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the API is answering its limit of {limit} requests at once; retry shortly"),
        )
    }
}

impl From<LookupError> for AppError {
    fn from(error: LookupError) -> Self {
        let status = match &error {
            LookupError::NotFound(_) | LookupError::InstanceNotFound(_) | LookupError::NotRegistered { .. } => {
                StatusCode::NOT_FOUND
            }
            LookupError::IpTargets(_) => StatusCode::CONFLICT,
            LookupError::Throttled | LookupError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            // Not ours: the same answer as for a name or id that does not exist, so a caller
            // cannot tell another environment's resources from missing ones.
            LookupError::Foreign { balancer, .. } => {
                return Self::disguised(LookupError::NotFound(balancer.clone()), &error);
            }
            LookupError::WrongVpc { instance, .. } | LookupError::ForeignInstance { instance, .. } => {
                return Self::disguised(LookupError::InstanceNotFound(instance.clone()), &error);
            }
            LookupError::Denied(detail) => return Self::Denied(detail.clone()),
            LookupError::Aws(detail) => return Self::Aws(detail.clone()),
        };
        Self::Status(status, error.to_string())
    }
}

impl AppError {
    fn disguised(shown: LookupError, real: &LookupError) -> Self {
        match Self::from(shown) {
            Self::Status(status, message) => Self::Disguised {
                status,
                message,
                detail: real.to_string(),
            },
            other => other,
        }
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
            Self::TooManyFailures(left) => {
                let seconds = left.as_secs().max(1);
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({"message": format!(
                        "too many failed authentications from your address; try again in {seconds} s"
                    )})),
                )
                    .into_response();
                if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            Self::Status(status, message) => (status, Json(json!({ "message": message }))).into_response(),
            Self::Aws(detail) => logged(StatusCode::BAD_GATEWAY, "AWS refused the request", &detail),
            Self::Denied(detail) => logged(StatusCode::FORBIDDEN, "AWS does not allow this API to do that", &detail),
            Self::Disguised {
                status,
                message,
                detail,
            } => {
                log_detail(&format!("answered {} `{message}`", status.as_u16()), &detail);
                (status, Json(json!({ "message": message }))).into_response()
            }
        }
    }
}

/// `summary: detail` in the API's error log under the request's id, which it returns.
fn log_detail(summary: &str, detail: &str) -> RequestId {
    let id = crate::request::current_id();
    // The API's error log, read by its operators only.
    #[allow(clippy::print_stderr)]
    {
        eprintln!("request {id}: {summary}: {detail}");
    }
    id
}

/// An answer naming only the request id; `detail` goes to the API's error log under it.
fn logged(status: StatusCode, summary: &str, detail: &str) -> Response {
    let id = log_detail(summary, detail);
    (
        status,
        Json(json!({
            "message": format!("{summary}; the API's log has the details under request id {id}"),
            "requestId": id.to_string(),
        })),
    )
        .into_response()
}
