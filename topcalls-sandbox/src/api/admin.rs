//! The sandbox's own endpoints, under `/_sandbox` (a path the TopCalls API
//! never uses), for whoever runs the binary rather than embeds the library:
//!
//! - `POST /_sandbox/advance` with `{"seconds": n}` (0 to 86400) moves the
//!   sandbox clock forward, as [`crate::Sandbox::advance`] does; the way to
//!   move a `--clock manual` sandbox.
//! - `POST /_sandbox/settle` waits until every webhook delivery due at the
//!   current sandbox time has been attempted, as [`crate::Sandbox::settle`].
//!
//! Both answer `{"now": "<sandbox time>"}` (RFC 3339). Only the sandbox's
//! full key (the first account's, `TOPCALLS_API_KEY`) may call them: without
//! a key or with an unknown one the answer is 401, with any other key 403.
//! They pass none of the `/v1` gates: no faults, rate limits or idempotency.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use serde_json::json;

use crate::api::gates::bearer_key;
use crate::app::App;
use crate::problem::ApiProblem;

/// The longest step one `POST /_sandbox/advance` takes: a day of sandbox time.
pub(crate) const MAX_ADVANCE_SECONDS: f64 = 86_400.0;

/// The refusal of a request without the full key: 401 without a known
/// key, 403 for any other key; `None` for the full key.
fn refusal(app: &App, headers: &HeaderMap) -> Option<Response> {
    let key = bearer_key(headers);
    if key == Some(app.admin_key.as_str()) {
        return None;
    }
    let known = key.is_some_and(|key| crate::app::lock(&app.world).keys.contains_key(key));
    if known {
        return Some(
            ApiProblem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "only the sandbox's full key (TOPCALLS_API_KEY) may use /_sandbox",
            )
            .into_response(),
        );
    }
    let mut response = ApiProblem::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "send the sandbox's full key: `Authorization: Bearer <TOPCALLS_API_KEY>`",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer realm="topcalls-sandbox""#),
    );
    Some(response)
}

fn now(app: &App) -> Response {
    let now = app.clock.now().to_rfc3339_opts(SecondsFormat::AutoSi, true);
    (StatusCode::OK, Json(json!({ "now": now }))).into_response()
}

/// `POST /_sandbox/advance` with `{"seconds": n}`.
pub(crate) async fn advance(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refusal(&app, &headers) {
        return refused;
    }
    let seconds = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|body| body.get("seconds").and_then(serde_json::Value::as_f64))
        .filter(|s| (0.0..=MAX_ADVANCE_SECONDS).contains(s));
    let Some(seconds) = seconds else {
        return ApiProblem::field(
            "seconds",
            "send {\"seconds\": n} with n from 0 to 86400 (sandbox seconds)",
        )
        .into_response();
    };
    app.advance(Duration::from_secs_f64(seconds));
    now(&app)
}

/// `POST /_sandbox/settle`.
pub(crate) async fn settle(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(refused) = refusal(&app, &headers) {
        return refused;
    }
    crate::delivery::settle(&app).await;
    now(&app)
}
