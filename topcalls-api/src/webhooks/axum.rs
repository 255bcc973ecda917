//! An axum extractor for verified deliveries (feature `axum`).

use std::fmt;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{Delivery, Verifier, WebhookError};

/// An axum extractor for a verified, parsed delivery (feature `axum`).
///
/// The state provides the [`Verifier`] (`Verifier: FromRef<S>`; a state
/// that is a `Verifier` does). Reads the raw body, verifies it and
/// parses the event. Rejects with 401 for a signature that does not
/// match or a timestamp out of tolerance, with 400 for a missing or
/// unreadable header or a body that is not an event, each with a short
/// plain-text reason.
///
/// ```
/// use axum::{Router, routing::post};
/// use topcalls_api::webhooks::{VerifiedWebhook, Verifier, WebhookSecret};
///
/// async fn receive(VerifiedWebhook(delivery): VerifiedWebhook) {
///     println!("{} {}", delivery.id, delivery.event.name());
/// }
///
/// # fn app(secret: WebhookSecret) -> Router {
/// Router::new()
///     .route("/webhooks/topcalls", post(receive))
///     .with_state(Verifier::new(secret))
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedWebhook(pub Delivery);

/// Why [`VerifiedWebhook`] rejected a request: a status and a short reason,
/// answered as plain text.
#[derive(Debug)]
pub struct WebhookRejection {
    status: StatusCode,
    reason: String,
}

impl WebhookRejection {
    /// 400 or 401 (or the body extractor's own status, such as 413).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason sent as the body.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.reason)
    }
}

impl From<WebhookError> for WebhookRejection {
    fn from(error: WebhookError) -> Self {
        let status = match error {
            WebhookError::BadSignature
            | WebhookError::TimestampTooOld
            | WebhookError::TimestampInFuture => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        Self {
            status,
            reason: error.to_string(),
        }
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        (self.status, self.reason).into_response()
    }
}

impl<S> FromRequest<S> for VerifiedWebhook
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|e| WebhookRejection {
                status: e.status(),
                reason: e.body_text(),
            })?;
        Ok(Self(verifier.verify_and_parse(&headers, &body)?))
    }
}
