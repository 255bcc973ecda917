//! Holds the client to openapi.yaml: for every operation, what the client
//! sends is checked against the spec, and every response example the spec
//! declares is served and must decode: as written, with fields added by a
//! later API version, and with every optional field left out.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use httpmock::prelude::*;
use serde_json::{Value, json};
use topcalls_api::types::{CallOutcomeFilter, VoiceModeFilter};
use topcalls_api::{Client, NewCall, NewPhoneNumber, NewWebhookSubscription, RetryPolicy};
use topcalls_contract_tests::{Spec, normalize, with_extra_fields};

const KEY: &str = "tc_test_contract_key";

/// One operation exercised through the hand-written client.
struct Case {
    operation: &'static str,
    /// The concrete path the client must request.
    path: &'static str,
    /// Query parameters the client must send.
    query: &'static [(&'static str, &'static str)],
    /// Calls the client; the decoded success body as JSON.
    call: fn(Client) -> BoxFuture<'static, topcalls_api::Result<Value>>,
}

fn json_of<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap()
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            operation: "list_calls",
            path: "/v1/calls",
            query: &[
                ("limit", "25"),
                ("cursor", "2025-12-22T10:30:00Z"),
                ("status", "no-answer"),
                ("campaign_id", "camp_abc123"),
            ],
            call: |c| {
                async move {
                    c.calls()
                        .list()
                        .limit(25)
                        .cursor("2025-12-22T10:30:00Z")
                        .status(CallOutcomeFilter::NoAnswer)
                        .campaign_id("camp_abc123")
                        .page()
                        .await
                        .map(json_of)
                }
                .boxed()
            },
        },
        Case {
            operation: "create_call",
            path: "/v1/calls",
            query: &[],
            call: |c| {
                async move {
                    let call = NewCall::to("+15551234567")
                        .task("Confirm tomorrow's 10:00 dentist appointment with Sam.")
                        .from_number("+15557654321")
                        .first_sentence("Hi, this is the clinic calling.")
                        .voice("alloy")
                        .model("gpt-realtime-mini-2025-12-15")
                        .temperature(0.7)
                        .max_duration_minutes(5.0)
                        .background_audio("office", "medium")
                        .knowledge_base_ids(["kb_1"])
                        .variable("patient", "Sam")
                        .webhook(
                            "https://example.com/hooks",
                            [topcalls_api::types::CallWebhookEvent::CallCompleted],
                        );
                    c.calls().create(call).await.map(json_of)
                }
                .boxed()
            },
        },
        Case {
            operation: "get_call",
            path: "/v1/calls/3f0c4a9e-2b7d-4f1a-9c3e-5d6b7a8f9012",
            query: &[],
            call: |c| {
                async move {
                    c.calls()
                        .get("3f0c4a9e-2b7d-4f1a-9c3e-5d6b7a8f9012")
                        .await
                        .map(json_of)
                }
                .boxed()
            },
        },
        Case {
            operation: "stop_call",
            path: "/v1/calls/call_1/stop",
            query: &[],
            call: |c| async move { c.calls().stop("call_1").await.map(json_of) }.boxed(),
        },
        Case {
            operation: "cancel_call",
            path: "/v1/calls/call_1/cancel",
            query: &[],
            call: |c| async move { c.calls().cancel("call_1").await.map(json_of) }.boxed(),
        },
        Case {
            operation: "list_campaigns",
            path: "/v1/campaigns",
            query: &[("limit", "10")],
            call: |c| {
                async move { c.campaigns().list().limit(10).page().await.map(json_of) }.boxed()
            },
        },
        Case {
            operation: "get_campaign",
            path: "/v1/campaigns/camp_abc123",
            query: &[],
            call: |c| async move { c.campaigns().get("camp_abc123").await.map(json_of) }.boxed(),
        },
        Case {
            operation: "start_campaign",
            path: "/v1/campaigns/camp_abc123/start",
            query: &[],
            call: |c| async move { c.campaigns().start("camp_abc123").await.map(json_of) }.boxed(),
        },
        Case {
            operation: "pause_campaign",
            path: "/v1/campaigns/camp_abc123/pause",
            query: &[],
            call: |c| async move { c.campaigns().pause("camp_abc123").await.map(json_of) }.boxed(),
        },
        Case {
            operation: "list_carriers",
            path: "/v1/phone-numbers/carriers",
            query: &[],
            call: |c| async move { c.phone_numbers().carriers().list().await.map(json_of) }.boxed(),
        },
        Case {
            operation: "create_carrier",
            path: "/v1/phone-numbers/carriers",
            query: &[],
            call: |c| {
                async move {
                    let body = topcalls_api::types::CreateCarrierRequest::builder()
                        .carrier_name("Acme SIP")
                        .sip_gateway(
                            topcalls_api::types::SipGatewayInput::builder()
                                .ipv4("203.0.113.10")
                                .port(std::num::NonZeroU64::new(5060))
                                .inbound(Some(true))
                                .outbound(Some(true)),
                        )
                        .trunk_type(Some(topcalls_api::types::TrunkType::StaticIp));
                    c.phone_numbers().carriers().create(body).await.map(json_of)
                }
                .boxed()
            },
        },
        Case {
            operation: "delete_carrier",
            path: "/v1/phone-numbers/carriers/carrier_1",
            query: &[],
            call: |c| {
                async move {
                    c.phone_numbers()
                        .carriers()
                        .delete("carrier_1")
                        .await
                        .map(json_of)
                }
                .boxed()
            },
        },
        Case {
            operation: "list_phone_numbers",
            path: "/v1/phone-numbers",
            query: &[("limit", "200"), ("cursor", "opaque-cursor")],
            call: |c| {
                async move {
                    c.phone_numbers()
                        .list()
                        .limit(200)
                        .cursor("opaque-cursor")
                        .page()
                        .await
                        .map(json_of)
                }
                .boxed()
            },
        },
        Case {
            operation: "create_phone_number",
            path: "/v1/phone-numbers",
            query: &[],
            call: |c| {
                async move {
                    let number = NewPhoneNumber::new("+15557654321")
                        .voip_carrier_sid("7b1e6c52-8d0f-4e3a-a1b2-c3d4e5f60718")
                        .label("Support line");
                    c.phone_numbers().create(number).await.map(json_of)
                }
                .boxed()
            },
        },
        Case {
            operation: "get_phone_number",
            path: "/v1/phone-numbers/pn_1",
            query: &[],
            call: |c| async move { c.phone_numbers().get("pn_1").await.map(json_of) }.boxed(),
        },
        Case {
            operation: "delete_phone_number",
            path: "/v1/phone-numbers/pn_1",
            query: &[],
            call: |c| async move { c.phone_numbers().delete("pn_1").await.map(json_of) }.boxed(),
        },
        Case {
            operation: "list_models",
            path: "/v1/models",
            query: &[],
            call: |c| async move { c.models().await.map(json_of) }.boxed(),
        },
        Case {
            operation: "list_builtin_voices",
            path: "/v1/voices/builtin",
            query: &[
                ("mode", "realtime"),
                ("provider", "openai"),
                ("gender", "female"),
                ("language", "en"),
            ],
            call: |c| {
                async move {
                    c.builtin_voices()
                        .mode(VoiceModeFilter::Realtime)
                        .provider("openai")
                        .gender("female")
                        .language("en")
                        .await
                        .map(json_of)
                }
                .boxed()
            },
        },
        Case {
            operation: "list_voices",
            path: "/v1/voices",
            query: &[],
            call: |c| async move { c.voices().await.map(json_of) }.boxed(),
        },
        Case {
            operation: "get_balance",
            path: "/v1/balance",
            query: &[],
            call: |c| async move { c.balance().await.map(json_of) }.boxed(),
        },
        Case {
            operation: "create_webhook_subscription",
            path: "/v1/webhooks",
            query: &[],
            call: |c| {
                async move {
                    let sub = NewWebhookSubscription::new(
                        "call.completed",
                        "https://example.com/hooks/topcalls",
                    )
                    .filter("phone_number", "+1555%")
                    .filter("disposition", json!(["confirmed", "rescheduled"]))
                    .filter("is_conversion", true);
                    c.webhook_subscriptions().create(sub).await.map(json_of)
                }
                .boxed()
            },
        },
    ]
}

fn client(server: &MockServer) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

#[test]
fn every_operation_has_a_contract_case() {
    let spec = Spec::load();
    let in_spec: BTreeSet<String> = spec.operations().into_iter().map(|op| op.id).collect();
    let covered: BTreeSet<String> = cases().iter().map(|c| c.operation.to_string()).collect();
    let missing: Vec<_> = in_spec.difference(&covered).collect();
    let unknown: Vec<_> = covered.difference(&in_spec).collect();
    assert!(
        missing.is_empty(),
        "operations without a contract case: {missing:?}; add one to `cases()` in tests/tests/contract.rs \
         (see \"When the API changes\" in README.md)"
    );
    assert!(
        unknown.is_empty(),
        "contract cases for operations not in openapi.yaml: {unknown:?}; remove them from \
         `cases()` in tests/tests/contract.rs, or add the operation to openapi.yaml first"
    );
}

/// The three ways one success example is served.
#[derive(Debug, Clone, Copy)]
enum Variant {
    AsWritten,
    ExtraFields,
    OnlyRequired,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_sends_what_the_spec_says_and_decodes_every_example() {
    let spec = Spec::load();
    let mut checked = 0;
    for case in cases() {
        let op = spec.operation(case.operation);
        assert!(!op.responses.is_empty(), "{}: no responses", op.id);
        for response in &op.responses {
            let bodies: Vec<Option<Value>> = if response.examples.is_empty() {
                assert!(
                    response.media_type.is_none(),
                    "{} {}: a body without an example",
                    op.id,
                    response.status
                );
                vec![None]
            } else {
                response.examples.iter().cloned().map(Some).collect()
            };
            for body in bodies {
                let variants: &[Variant] =
                    if (200..300).contains(&response.status) && body.is_some() {
                        &[
                            Variant::AsWritten,
                            Variant::ExtraFields,
                            Variant::OnlyRequired,
                        ]
                    } else {
                        &[Variant::AsWritten]
                    };
                for &variant in variants {
                    check_exchange(&spec, &case, &op, response, body.as_ref(), variant).await;
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 100, "only {checked} exchanges checked");
}

async fn check_exchange(
    spec: &Spec,
    case: &Case,
    op: &topcalls_contract_tests::Operation,
    response: &topcalls_contract_tests::Response,
    example: Option<&Value>,
    variant: Variant,
) {
    let label = format!("{} {} {:?}", op.id, response.status, variant);
    let served = example.map(|example| match variant {
        Variant::AsWritten => example.clone(),
        Variant::ExtraFields => with_extra_fields(example),
        Variant::OnlyRequired => spec.only_required(response.schema.as_ref().unwrap(), example),
    });
    if let (Some(schema), Some(body), Variant::AsWritten | Variant::OnlyRequired) =
        (&response.schema, &served, variant)
    {
        let validator = spec.validator(schema);
        let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{label}: the spec's own example is invalid: {errors:?}"
        );
    }

    let server = MockServer::start_async().await;
    let request_validator = op.request_schema.as_ref().map(|s| spec.validator(s));
    let is_post = op.method == "POST";
    let mock = server
        .mock_async(|when, then| {
            let mut when = when
                .method(op.method.as_str())
                .path(case.path)
                .header("authorization", format!("Bearer {KEY}"))
                .header("accept", "application/json")
                .is_true(|req| {
                    req.headers()
                        .get("user-agent")
                        .is_some_and(|ua| ua.as_bytes().starts_with(b"topcalls-rs/"))
                });
            for (name, value) in case.query {
                when = when.query_param(*name, *value);
            }
            // Nothing the spec does not declare.
            let declared: Vec<String> = case.query.iter().map(|(k, _)| k.to_string()).collect();
            when = when.is_true(move |req| {
                req.uri()
                    .query()
                    .unwrap_or("")
                    .split('&')
                    .filter(|p| !p.is_empty())
                    .all(|pair| {
                        declared
                            .iter()
                            .any(|d| pair.split('=').next() == Some(d.as_str()))
                    })
            });
            if is_post {
                when = when.is_true(|req| {
                    req.headers()
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|key| {
                            (8..=255).contains(&key.len())
                                && key
                                    .bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                        })
                });
            }
            if let Some(validator) = request_validator {
                when.header("content-type", "application/json")
                    .is_true(move |req| {
                        serde_json::from_slice::<Value>(req.body_ref())
                            .is_ok_and(|body| validator.is_valid(&body))
                    });
            } else {
                when.is_true(|req| req.body_ref().is_empty());
            }
            let mut then = then
                .status(response.status)
                .header("x-request-id", "req_contract_1");
            if let (Some(media), Some(body)) = (&response.media_type, &served) {
                then = then
                    .header("content-type", media.as_str())
                    .body(serde_json::to_vec(body).unwrap());
            }
            if response.status == 429 {
                then.header("retry-after", "7");
            }
        })
        .await;

    let result = (case.call)(client(&server)).await;
    assert_eq!(
        mock.calls_async().await,
        1,
        "{label}: the request did not match what the spec says (or was sent more than once)"
    );

    match (response.status, result) {
        (200..=299, Ok(decoded)) => {
            if let (Some(served), Variant::AsWritten | Variant::OnlyRequired) = (&served, variant) {
                assert_eq!(
                    normalize(&decoded),
                    normalize(served),
                    "{label}: decoded body differs from the example"
                );
            }
        }
        (200..=299, Err(error)) => {
            panic!("{label}: a declared success did not decode: {error} ({error:?})")
        }
        (status, Ok(value)) => panic!("{label}: error status {status} decoded as success: {value}"),
        (status, Err(error)) => {
            let api = error
                .as_api()
                .unwrap_or_else(|| panic!("{label}: not an API error: {error:?}"));
            assert_eq!(api.status().as_u16(), status, "{label}");
            assert_eq!(error.request_id(), Some("req_contract_1"), "{label}");
            let example = served.as_ref().unwrap();
            assert_eq!(api.title(), example["title"].as_str(), "{label}");
            assert_eq!(api.detail(), example["detail"].as_str(), "{label}");
            assert_eq!(api.problem_type(), example["type"].as_str(), "{label}");
            assert_eq!(api.instance(), example["instance"].as_str(), "{label}");
            assert_eq!(api.details(), example.get("details"), "{label}");
            let errors = example["errors"].as_array().cloned().unwrap_or_default();
            assert_eq!(api.field_errors().len(), errors.len(), "{label}");
            for (got, want) in api.field_errors().iter().zip(&errors) {
                assert_eq!(normalize(&json_of(got)), normalize(want), "{label}");
            }
            if status == 429 {
                assert_eq!(
                    api.retry_after(),
                    Some(std::time::Duration::from_secs(7)),
                    "{label}"
                );
            }
        }
    }
}

#[tokio::test]
async fn pagination_stream_follows_cursors_and_stops_on_null() {
    let server = MockServer::start_async().await;
    let call =
        |id: &str| json!({"id": id, "status": "completed", "created_at": "2025-12-22T10:30:00Z"});
    let first = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/calls")
                .query_param_missing("cursor");
            then.status(200)
                .json_body(json!({"data": [call("a"), call("b")], "next_cursor": "c1"}));
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/calls")
                .query_param("cursor", "c1");
            then.status(200)
                .json_body(json!({"data": [call("c")], "next_cursor": null}));
        })
        .await;
    let client = client(&server);
    let ids: Vec<String> = client
        .calls()
        .list()
        .stream()
        .map(|c| c.unwrap().id)
        .collect()
        .await;
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(first.calls_async().await, 1);
    assert_eq!(second.calls_async().await, 1);

    // Taking fewer items than a page holds fetches one page.
    let taken: Vec<_> = client.calls().list().stream().take(1).collect().await;
    assert_eq!(taken.len(), 1);
    assert_eq!(first.calls_async().await, 2);
    assert_eq!(second.calls_async().await, 1);
}
