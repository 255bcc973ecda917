//! The HTTP side: connection handling (so a fault can drop a connection
//! after its request took effect, and a slow client cannot hold one open)
//! and the whole request body read before anything answers. The gates
//! behind it (keys, scopes, faults, idempotency) are `api::gates`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use crate::app::App;
use crate::problem::ApiProblem;

/// The largest request body read (1 MiB); larger ones are a 400 problem.
pub(crate) const MAX_BODY: usize = 1 << 20;

/// Closes the connection a request arrived on, without an answer.
#[derive(Clone)]
pub(crate) struct Hangup(Arc<Notify>);

impl Hangup {
    /// Closes the connection now; the answer being prepared never leaves.
    pub(crate) fn hang_up(&self) {
        self.0.notify_one();
    }
}

/// Serves `router` on `listener` until `stop` turns true: HTTP/1.1, with
/// keep-alive, and at most `header_timeout` to receive a request's headers.
pub(crate) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The timer runs from the moment the connection waits for a request: a
    // client that connects and sends nothing, or drips its headers, is cut off.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let hangup = Hangup(Arc::new(Notify::new()));
        let service = router.clone().map_request({
            let hangup = hangup.clone();
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(hangup.clone());
                request
            }
        });
        let mut stop = stop.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let connection =
                builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            tokio::select! {
                _ = connection => {}
                () = hangup.0.notified() => {}
                _ = stop.changed() => {}
            }
        });
    }
}

/// A request body that could not be read whole: over [`MAX_BODY`], or cut
/// off. The rest of it is still on the connection, which therefore closes
/// after the answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnreadBody;

/// Reads the whole request body before any gate or route answers (see the
/// module documentation).
///
/// An answer sent while part of the body is still on its way leaves those
/// bytes on the connection; hyper then closes a keep-alive connection after
/// the answer, without saying so, and a client that sends its next request
/// on it sees the connection reset. Reading first (bounded in size and
/// time) keeps every early answer — 400, 401, 403, 404, 405, 415 — on a
/// connection that stays usable.
pub(crate) async fn buffer_body(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let read = if declared.is_some_and(|length| length > MAX_BODY as u64) {
        // Not worth reading: it will be refused, and the connection closed.
        None
    } else {
        let timeout = app.read_timeouts.body;
        match tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_BODY)).await {
            Ok(read) => read.ok(),
            Err(_) => {
                let mut response = ApiProblem::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!(
                        "the request body did not arrive within {} ms",
                        timeout.as_millis()
                    ),
                )
                .into_response();
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return response;
            }
        }
    };
    match read {
        Some(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        None => {
            parts.extensions.insert(UnreadBody);
            let mut response = next.run(Request::from_parts(parts, Body::empty())).await;
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}
