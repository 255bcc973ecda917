//! Problem+JSON (RFC 7807) answers, and the request id they carry in
//! `instance` (the same as the `X-Request-Id` of every answer).

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use topcalls_types::{Problem, ProblemFieldError};

/// An error answer: status, machine code, human detail and field errors.
#[derive(Debug, Clone)]
pub(crate) struct ApiProblem {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) detail: String,
    pub(crate) errors: Vec<ProblemFieldError>,
    /// The free-form `details` member, when the answer has one.
    pub(crate) details: Option<serde_json::Value>,
    pub(crate) retry_after: Option<u64>,
}

impl ApiProblem {
    pub(crate) fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            details: None,
            retry_after: None,
        }
    }

    /// A 400 naming the offending field.
    pub(crate) fn field(path: impl Into<String>, message: impl Into<String>) -> Self {
        let (path, message) = (path.into(), message.into());
        let mut problem = Self::new(
            StatusCode::BAD_REQUEST,
            "validation_error",
            format!("{path}: {message}"),
        );
        problem.errors.push(ProblemFieldError {
            path: Some(path),
            message: Some(message),
            code: Some("invalid".into()),
        });
        problem
    }

    /// A 400 for a broken rule of [`topcalls_types::rules`]: the words the
    /// client uses for it, at the member it names.
    pub(crate) fn rule(violation: &topcalls_types::rules::Violation) -> Self {
        let message = violation.to_string();
        let mut problem = Self::new(StatusCode::BAD_REQUEST, "validation_error", message.clone());
        problem.errors.push(ProblemFieldError {
            path: Some(violation.path().to_string()),
            message: Some(message),
            code: Some("invalid".into()),
        });
        problem
    }

    pub(crate) fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub(crate) fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// The body, with `instance` set to the request id.
    pub(crate) fn body(&self, request_id: &str) -> Problem {
        Problem {
            type_: Some(format!("https://api.topcalls.ai/errors/{}", self.code)),
            title: Some(
                self.status
                    .canonical_reason()
                    .unwrap_or("Error")
                    .to_string(),
            ),
            status: Some(i64::from(self.status.as_u16())),
            detail: Some(self.detail.clone()),
            instance: Some(request_id.to_string()),
            errors: self.errors.clone(),
            details: self.details.clone(),
        }
    }
}

impl IntoResponse for ApiProblem {
    fn into_response(self) -> Response {
        let request_id = current_request_id();
        let body = serde_json::to_vec(&self.body(&request_id)).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The header every answer carries its request id in.
pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being answered (empty outside a request).
pub(crate) fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// Gives every request an id (`X-Request-Id`, and `instance` in problems).
///
/// A replayed answer keeps the id of the request that produced it, so that
/// `instance` and `X-Request-Id` still agree.
pub(crate) async fn request_id(request: Request, next: Next) -> Response {
    let id = format!("req_{}", uuid::Uuid::new_v4().simple());
    let mut response = REQUEST_ID.scope(id.clone(), next.run(request)).await;
    if let Ok(value) = HeaderValue::try_from(id) {
        response
            .headers_mut()
            .entry(REQUEST_ID_HEADER)
            .or_insert(value);
    }
    response
}
