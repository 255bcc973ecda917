//! The `webhook_receiver` example, run as it runs on its own: against the
//! embedded sandbox delivering bodies exactly as the TopCalls docs show them
//! (no `event` member). Every delivery must verify and parse, and the call's
//! final delivery reach the handler as a completed call.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use topcalls_api::webhooks::WebhookEvent;

#[path = "../webhook_receiver.rs"]
#[allow(dead_code, reason = "the example's `main` is not called here")]
mod webhook_receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_example_reads_the_documented_payloads_of_the_sandbox() {
    let sandbox = webhook_receiver::documented_sandbox().await.unwrap();
    // The receiver signals the final event; the bound only turns a hang
    // (a delivery the receiver rejected, retried a minute later) into a failure.
    let event = tokio::time::timeout(Duration::from_secs(120), webhook_receiver::demo(&sandbox))
        .await
        .expect("the call's final delivery reached the handler")
        .unwrap();
    let WebhookEvent::CallCompleted(completed) = &event else {
        panic!("expected a completed call, got {event:?}");
    };
    // Classified from the body: the sandbox's person-answered calls end `confirmed`.
    assert_eq!(event.name(), "call.completed.confirmed");
    assert_eq!(event.disposition(), Some("confirmed"));
    assert!(completed.call_summary.is_some());
    assert!(completed.transcript.as_ref().is_some_and(|t| !t.is_empty()));
    // Every delivery made so far went to the receiver, and none was refused.
    let deliveries = sandbox.deliveries();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert!(
        deliveries[0]
            .attempts
            .iter()
            .all(|a| *a != Some(400) && *a != Some(401)),
        "{deliveries:?}"
    );
}
