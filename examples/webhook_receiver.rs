//! Receive TopCalls webhooks: verify each delivery's signature on the raw
//! body, skip repeats, and print the typed event.
//!
//! Run from the workspace root:
//!
//! ```sh
//! cargo run --example webhook_receiver
//! ```
//!
//! With no `TOPCALLS_WEBHOOK_SECRET` it starts the embedded sandbox, places a
//! call whose webhook points at this receiver, and prints the events the
//! sandbox delivers (`call.queued`, `call.started`, `call.completed`), then
//! exits. With `TOPCALLS_WEBHOOK_SECRET` (`whsec_…`) it only listens, on
//! `127.0.0.1:${PORT:-3000}/webhooks/topcalls`, until Ctrl-C.

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::post;
use tokio::sync::mpsc;
use topcalls_api::webhooks::{
    Deduplicator, VerifiedWebhook, Verifier, WebhookEvent, WebhookSecret,
};
use topcalls_api::{Client, NewCall};

#[derive(Clone)]
struct AppState {
    verifier: Verifier,
    seen: Arc<Deduplicator>,
    events: mpsc::UnboundedSender<String>,
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
    let line = match &delivery.event {
        WebhookEvent::CallQueued(e) => format!("{} {} queued", e.event, e.call_id),
        WebhookEvent::CallStarted(e) => format!("{} {} started", e.event, e.call_id),
        WebhookEvent::CallCompleted(e) => format!(
            "{} {}: {}",
            e.event,
            e.call_id,
            e.call_summary.as_deref().unwrap_or("(no summary)")
        ),
        WebhookEvent::CallFailed(e) => format!(
            "{} {}: {}",
            e.event,
            e.call_id,
            e.error_message.as_deref().unwrap_or("")
        ),
        other => other.name().to_string(),
    };
    println!("verified {}: {line}", delivery.id);
    let _ = state.events.send(delivery.event.name().to_string());
    StatusCode::OK
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let configured = std::env::var("TOPCALLS_WEBHOOK_SECRET")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let sandbox = match configured {
        Some(_) => None,
        None => Some(topcalls_sandbox::Sandbox::start().await?),
    };
    let secret = sandbox
        .as_ref()
        .map(|s| s.webhook_secret().to_string())
        .or(configured)
        .unwrap_or_default();
    let (events, mut received) = mpsc::unbounded_channel();
    let state = AppState {
        verifier: Verifier::new(WebhookSecret::new(&secret)?),
        seen: Arc::new(Deduplicator::new(10_000)),
        events,
    };
    let app = axum::Router::new()
        .route("/webhooks/topcalls", post(receive))
        .with_state(state);
    let port = if sandbox.is_some() {
        0
    } else {
        std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(3000)
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let url = format!("http://{}/webhooks/topcalls", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("Receiving webhooks at {url}");

    let Some(sandbox) = sandbox else {
        tokio::signal::ctrl_c().await?;
        return Ok(());
    };
    println!(
        "No TOPCALLS_WEBHOOK_SECRET set: the embedded sandbox at {} will deliver to it",
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
                .webhook(&url, []),
        )
        .await?;
    println!("Placed call {}", placed.call_id);
    while let Some(name) = received.recv().await {
        if name.starts_with("call.completed") || name == "call.failed" {
            break;
        }
    }
    Ok(())
}
