//! Receive TopCalls webhooks: verify each delivery's signature on the raw
//! body, skip repeats, and print the typed event.
//!
//! Run from the workspace root:
//!
//! ```sh
//! cargo run --example webhook_receiver
//! ```
//!
//! With no `TOPCALLS_WEBHOOK_SECRET` it starts the embedded sandbox with
//! bodies exactly as the TopCalls docs show them (no `event` member), places a
//! call whose webhook asks for `call.completed` and `call.failed` (as the
//! docs' example does), prints the delivery it gets (`verified msg_…:
//! call.completed.confirmed <call id>: <summary>`), then exits. With
//! `TOPCALLS_WEBHOOK_SECRET` (`whsec_…`) it only listens, on
//! `127.0.0.1:${PORT:-3000}/webhooks/topcalls`, until Ctrl-C.

use std::error::Error;
use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::post;
use tokio::sync::mpsc;
use topcalls_api::types::CallWebhookEvent;
use topcalls_api::webhooks::{
    Deduplicator, VerifiedWebhook, Verifier, WebhookEvent, WebhookSecret,
};
use topcalls_api::{Client, NewCall};
use topcalls_sandbox::{Sandbox, WebhookPayloads};

#[derive(Clone)]
struct AppState {
    verifier: Verifier,
    seen: Arc<Deduplicator>,
    handled: mpsc::UnboundedSender<WebhookEvent>,
}

impl FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Verifier {
        state.verifier.clone()
    }
}

async fn receive(
    State(state): State<AppState>,
    VerifiedWebhook(delivery): VerifiedWebhook,
) -> StatusCode {
    // Retries carry the same id: handle each delivery once, answer 2xx quickly.
    if !state.seen.first_seen(&delivery.id) {
        return StatusCode::OK;
    }
    // The name is the body's `event`, or what a body without one was
    // classified as (a finished call is `call.completed[.<disposition>]`).
    let name = delivery.event.name();
    let line = match &delivery.event {
        WebhookEvent::CallQueued(e) => format!("{name} {}", e.call_id),
        WebhookEvent::CallStarted(e) => format!("{name} {}", e.call_id),
        WebhookEvent::CallCompleted(e) => format!(
            "{name} {}: {}",
            e.call_id,
            e.call_summary
                .as_deref()
                .or(e.error_message.as_deref())
                .unwrap_or("(no summary)")
        ),
        WebhookEvent::CallFailed(e) => format!(
            "{name} {}: {}",
            e.call_id,
            e.error_message.as_deref().unwrap_or("")
        ),
        WebhookEvent::Unnamed { payload } => format!("a body without `event`: {payload}"),
        other => other.name().to_string(),
    };
    println!("verified {}: {line}", delivery.id);
    let _ = state.handled.send(delivery.event);
    StatusCode::OK
}

/// The receiver: `POST /webhooks/topcalls`, each delivery verified with
/// `verifier`, handled once, and reported on `handled`.
fn receiver(verifier: Verifier, handled: mpsc::UnboundedSender<WebhookEvent>) -> axum::Router {
    let state = AppState {
        verifier,
        seen: Arc::new(Deduplicator::new(10_000)),
        handled,
    };
    axum::Router::new()
        .route("/webhooks/topcalls", post(receive))
        .with_state(state)
}

/// The embedded sandbox the demo runs against: it delivers bodies in the
/// shape the TopCalls docs publish, without an `event` member.
pub(crate) async fn documented_sandbox() -> std::io::Result<Sandbox> {
    Sandbox::builder()
        .webhook_payloads(WebhookPayloads::Documented)
        .start()
        .await
}

/// Starts the receiver on a free port, places a call on `sandbox` whose
/// webhook points at it, and returns the event that ended the call.
pub(crate) async fn demo(sandbox: &Sandbox) -> Result<WebhookEvent, Box<dyn Error>> {
    let (handled, mut received) = mpsc::unbounded_channel();
    let verifier = Verifier::new(WebhookSecret::new(sandbox.webhook_secret())?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}/webhooks/topcalls", listener.local_addr()?);
    let app = receiver(verifier, handled);
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!(
        "Receiving webhooks at {url}, delivered by the embedded sandbox at {}",
        sandbox.base_url()
    );

    let client = Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .build()?;
    let placed = client
        .calls()
        .create(
            NewCall::to("+15551234567")
                .task("Confirm tomorrow's 10:00 appointment.")
                .webhook(
                    &url,
                    [
                        CallWebhookEvent::CallCompleted,
                        CallWebhookEvent::CallFailed,
                    ],
                ),
        )
        .await?;
    println!("Placed call {}", placed.call_id);
    while let Some(event) = received.recv().await {
        if matches!(
            event,
            WebhookEvent::CallCompleted(_) | WebhookEvent::CallFailed(_)
        ) {
            return Ok(event);
        }
    }
    Err("the receiver stopped before the call ended".into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let configured = std::env::var("TOPCALLS_WEBHOOK_SECRET")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let Some(secret) = configured else {
        println!("No TOPCALLS_WEBHOOK_SECRET set: running against the embedded sandbox");
        let sandbox = documented_sandbox().await?;
        demo(&sandbox).await?;
        return Ok(());
    };
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let (handled, mut received) = mpsc::unbounded_channel();
    let app = receiver(Verifier::new(WebhookSecret::new(&secret)?), handled);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "Receiving webhooks at http://{}/webhooks/topcalls (Ctrl-C stops)",
        listener.local_addr()?
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    // Events are printed as they arrive; nothing else to do with them here.
    tokio::spawn(async move { while received.recv().await.is_some() {} });
    tokio::signal::ctrl_c().await?;
    Ok(())
}
