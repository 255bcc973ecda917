//! Webhooks against the contract: every event of `openapi.yaml`'s callback
//! examples parses into its typed variant after a signed round trip, and the
//! axum extractor answers 200/400/401 as documented.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;
use topcalls_api::types::WebhookEventName;
use topcalls_api::webhooks::{Verifier, WebhookEvent, WebhookSecret, sign_headers};

const NOW: i64 = 1_766_400_000;

/// The spec's webhook examples, by example name (`call.queued`, …), gathered
/// from every operation's `callbacks` with their `$ref`s resolved.
fn callback_examples() -> BTreeMap<String, Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let spec: Value = serde_yaml_ng::from_str(&text).unwrap();
    let resolve = |value: &Value| -> Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#').unwrap();
                spec.pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling {reference}"))
                    .clone()
            }
            None => value.clone(),
        }
    };
    let mut examples = BTreeMap::new();
    let operations = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values());
    for operation in operations {
        let Some(callbacks) = operation.get("callbacks").and_then(Value::as_object) else {
            continue;
        };
        for callback in callbacks.values() {
            for expression in callback.as_object().unwrap().values() {
                for delivery in expression.as_object().unwrap().values() {
                    let content = &delivery["requestBody"]["content"]["application/json"];
                    for (name, example) in content["examples"].as_object().unwrap() {
                        let value = resolve(example)["value"].clone();
                        assert!(value.is_object(), "{name} has no value");
                        examples.insert(name.clone(), value);
                    }
                }
            }
        }
    }
    examples
}

/// Signs `payload` as TopCalls would, then verifies and parses it.
fn deliver(payload: &Value) -> WebhookEvent {
    let secret = WebhookSecret::generate();
    let body = serde_json::to_vec(payload).unwrap();
    let headers = sign_headers(&secret, "msg_spec", NOW, &body);
    Verifier::new(secret)
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW.unsigned_abs()))
        .verify_and_parse(&headers, &body)
        .unwrap()
        .event
}

fn relabel(payload: &Value, event: &str) -> Value {
    let mut payload = payload.clone();
    payload["event"] = Value::from(event);
    payload
}

fn wire_name(kind: WebhookEventName) -> String {
    serde_json::to_value(kind)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// Every event kind, listed by an exhaustive match so that a new variant in
/// the generated enum fails to compile here until it is tested.
fn every_kind() -> Vec<WebhookEventName> {
    use WebhookEventName as K;
    let all = [
        K::CallQueued,
        K::CallStarted,
        K::CallCompleted,
        K::CallFailed,
        K::CallTransferred,
        K::CampaignStarted,
        K::CampaignPaused,
        K::CampaignResumed,
        K::CampaignCompleted,
        K::CampaignStopped,
    ];
    for kind in all {
        match kind {
            K::CallQueued
            | K::CallStarted
            | K::CallCompleted
            | K::CallFailed
            | K::CallTransferred
            | K::CampaignStarted
            | K::CampaignPaused
            | K::CampaignResumed
            | K::CampaignCompleted
            | K::CampaignStopped => {}
        }
    }
    all.to_vec()
}

#[test]
fn every_callback_example_parses_into_its_typed_event() {
    let examples = callback_examples();
    assert!(examples.len() >= 6, "{:?}", examples.keys());
    for (name, payload) in &examples {
        let event = deliver(payload);
        assert_eq!(event.name(), name);
        let kind = event
            .kind()
            .unwrap_or_else(|| panic!("{name} parsed as Unknown"));
        assert_eq!(wire_name(kind), *name);
    }
}

#[test]
fn every_event_kind_parses_from_the_spec_examples() {
    let examples = callback_examples();
    let campaign = examples
        .values()
        .find(|p| {
            p["event"]
                .as_str()
                .is_some_and(|e| e.starts_with("campaign."))
        })
        .expect("a campaign example");
    for kind in every_kind() {
        let name = wire_name(kind);
        // The five campaign events share one payload and one example.
        let payload = examples
            .get(&name)
            .cloned()
            .unwrap_or_else(|| relabel(campaign, &name));
        let event = deliver(&payload);
        assert_eq!(event.kind(), Some(kind), "{name}");
        assert_eq!(event.name(), name);
        let matches_variant = match (&event, kind) {
            (WebhookEvent::CallQueued(e), WebhookEventName::CallQueued) => {
                e.call_id == payload["call_id"]
            }
            (WebhookEvent::CallStarted(e), WebhookEventName::CallStarted) => e.started_at.is_some(),
            (WebhookEvent::CallCompleted(e), WebhookEventName::CallCompleted) => {
                e.transcript.as_ref().is_some_and(|t| t.len() == 2)
                    && e.call_summary.is_some()
                    && e.recording_url.is_some()
            }
            (WebhookEvent::CallFailed(e), WebhookEventName::CallFailed) => {
                e.error_message.is_some()
            }
            (WebhookEvent::CallTransferred(e), WebhookEventName::CallTransferred) => {
                e.transferred_to.as_deref() == Some("+15559876543")
            }
            (WebhookEvent::CampaignStarted(e), WebhookEventName::CampaignStarted)
            | (WebhookEvent::CampaignPaused(e), WebhookEventName::CampaignPaused)
            | (WebhookEvent::CampaignResumed(e), WebhookEventName::CampaignResumed)
            | (WebhookEvent::CampaignCompleted(e), WebhookEventName::CampaignCompleted)
            | (WebhookEvent::CampaignStopped(e), WebhookEventName::CampaignStopped) => {
                e.campaign_id == payload["campaign_id"] && e.stats.is_some()
            }
            _ => false,
        };
        assert!(matches_variant, "{name} → {event:?}");
    }
}

#[test]
fn a_completed_call_with_a_disposition_in_its_name_is_a_completed_call() {
    let examples = callback_examples();
    let completed = &examples["call.completed"];
    let event = deliver(&relabel(completed, "call.completed.no_show"));
    assert!(matches!(event, WebhookEvent::CallCompleted(_)));
    assert_eq!(event.name(), "call.completed.no_show");
    assert_eq!(event.kind(), Some(WebhookEventName::CallCompleted));
    assert_eq!(event.disposition(), Some("no_show"));
    // A `disposition` member wins over the name.
    let mut with_member = relabel(completed, "call.completed.no_show");
    with_member["disposition"] = Value::from("confirmed");
    assert_eq!(deliver(&with_member).disposition(), Some("confirmed"));
}

#[test]
fn the_documented_payload_without_event_verifies_and_parses_as_a_completed_call() {
    let examples = callback_examples();
    let documented = &examples["call.completed"];
    assert!(
        documented.get("event").is_none(),
        "the example has the docs' shape"
    );
    let event = deliver(documented);
    let WebhookEvent::CallCompleted(completed) = &event else {
        panic!("expected a completed call, got {event:?}");
    };
    assert_eq!(completed.call_id, documented["call_id"]);
    assert_eq!(completed.lead_id.as_deref(), Some("lead_xyz789"));
    assert_eq!(event.name(), "call.completed");
    // With the disposition a subscription filters on, the name carries it.
    let mut confirmed = documented.clone();
    confirmed["disposition"] = Value::from("confirmed");
    let event = deliver(&confirmed);
    assert_eq!(event.name(), "call.completed.confirmed");
    assert_eq!(event.disposition(), Some("confirmed"));
    // A failed call without `event` is a finished call too.
    let mut failed = documented.clone();
    failed["status"] = Value::from("failed");
    failed["call_status"] = Value::from("no-answer");
    assert_eq!(
        deliver(&failed).kind(),
        Some(WebhookEventName::CallCompleted)
    );
}

#[test]
fn an_unknown_event_keeps_its_raw_json() {
    let examples = callback_examples();
    let payload = relabel(&examples["call.completed"], "call.summarized");
    match deliver(&payload) {
        WebhookEvent::UnknownValue {
            event,
            payload: raw,
        } => {
            assert_eq!(event, "call.summarized");
            assert_eq!(raw, payload);
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
}

#[cfg(feature = "axum")]
mod extractor {
    use std::time::{Duration, UNIX_EPOCH};

    use axum::body::Body;
    use axum::extract::FromRef;
    use axum::http::{HeaderMap, HeaderValue, Request};
    use axum::routing::post;
    use topcalls_api::webhooks::{
        Deduplicator, VerifiedWebhook, Verifier, WebhookSecret, sign_headers,
    };
    use tower::ServiceExt as _;

    use super::NOW;

    #[derive(Clone)]
    struct AppState {
        verifier: Verifier,
        seen: std::sync::Arc<Deduplicator>,
    }

    impl FromRef<AppState> for Verifier {
        fn from_ref(state: &AppState) -> Verifier {
            state.verifier.clone()
        }
    }

    async fn receive(
        axum::extract::State(state): axum::extract::State<AppState>,
        VerifiedWebhook(delivery): VerifiedWebhook,
    ) -> String {
        let repeat = if state.seen.first_seen(&delivery.id) {
            ""
        } else {
            " (repeat)"
        };
        format!("{} {}{repeat}", delivery.id, delivery.event.name())
    }

    async fn post_to(secret: &WebhookSecret, headers: HeaderMap, body: &[u8]) -> (u16, String) {
        let state = AppState {
            verifier: Verifier::new(secret.clone())
                .clock(|| UNIX_EPOCH + Duration::from_secs(NOW.unsigned_abs())),
            seen: std::sync::Arc::default(),
        };
        post_with(state, headers, body).await
    }

    async fn post_with(state: AppState, headers: HeaderMap, body: &[u8]) -> (u16, String) {
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(state);
        let mut request = Request::post("/hook")
            .body(Body::from(body.to_vec()))
            .unwrap();
        *request.headers_mut() = headers;
        let response = app.oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn answers_200_401_and_400_with_a_short_reason() {
        let secret = WebhookSecret::generate();
        let body = br#"{"event":"call.queued","call_id":"c_1"}"#;
        let ok = |s: &str| (200, s.to_string());
        let reason = |status: u16, s: &str| (status, s.to_string());

        assert_eq!(
            post_to(&secret, sign_headers(&secret, "msg_1", NOW, body), body).await,
            ok("msg_1 call.queued")
        );
        assert_eq!(
            post_to(
                &secret,
                sign_headers(&WebhookSecret::generate(), "msg_1", NOW, body),
                body
            )
            .await,
            reason(401, "no signature matches")
        );
        let mut tampered = body.to_vec();
        tampered[30] ^= 1;
        assert_eq!(
            post_to(
                &secret,
                sign_headers(&secret, "msg_1", NOW, body),
                &tampered
            )
            .await,
            reason(401, "no signature matches")
        );
        assert_eq!(
            post_to(
                &secret,
                sign_headers(&secret, "msg_1", NOW - 301, body),
                body
            )
            .await,
            reason(401, "timestamp too old")
        );
        assert_eq!(
            post_to(
                &secret,
                sign_headers(&secret, "msg_1", NOW + 301, body),
                body
            )
            .await,
            reason(401, "timestamp in the future")
        );
        for header in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let mut headers = sign_headers(&secret, "msg_1", NOW, body);
            headers.remove(header);
            assert_eq!(
                post_to(&secret, headers, body).await,
                reason(400, &format!("missing `{header}` header"))
            );
        }
        let mut headers = sign_headers(&secret, "msg_1", NOW, body);
        headers.insert("webhook-timestamp", HeaderValue::from_static("soon"));
        assert_eq!(
            post_to(&secret, headers, body).await,
            reason(400, "invalid `webhook-timestamp` header")
        );
        let junk = b"not json";
        assert_eq!(
            post_to(&secret, sign_headers(&secret, "msg_2", NOW, junk), junk).await,
            reason(400, "invalid event payload")
        );
        // Any JSON body that verifies reaches the handler, `event` or not.
        for (body, name) in [
            (
                &br#"{"call_id":"c_1","status":"completed","disposition":"confirmed"}"#[..],
                "call.completed.confirmed",
            ),
            (br#"{"call_id":"c_1","status":"queued"}"#, ""),
            (br#"{"event":"call.queued"}"#, "call.queued"),
            (b"[]", ""),
        ] {
            assert_eq!(
                post_to(&secret, sign_headers(&secret, "msg_3", NOW, body), body).await,
                ok(&format!("msg_3 {name}"))
            );
        }
    }

    #[tokio::test]
    async fn a_retried_delivery_reaches_the_handler_marked_as_a_repeat() {
        let secret = WebhookSecret::generate();
        let state = AppState {
            verifier: Verifier::new(secret.clone()).tolerance(Duration::from_secs(u64::MAX)),
            seen: std::sync::Arc::new(Deduplicator::new(10)),
        };
        let body = br#"{"event":"campaign.paused","campaign_id":"camp_1"}"#;
        let headers = sign_headers(&secret, "msg_7", 1, body);
        assert_eq!(
            post_with(state.clone(), headers.clone(), body).await,
            (200, "msg_7 campaign.paused".to_string())
        );
        assert_eq!(
            post_with(state, headers, body).await,
            (200, "msg_7 campaign.paused (repeat)".to_string())
        );
    }
}
