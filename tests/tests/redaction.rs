//! Secrets planted in requests (SIP passwords of carriers: registration
//! and inbound digest credentials) never show in `Debug` of any request
//! type, in TRACE events of request or error bodies, or in errors.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use topcalls_api::types::{self, builder};
use topcalls_api::{Client, RetryPolicy};
use topcalls_contract_tests::Spec;
use topcalls_contract_tests::logs;
use topcalls_contract_tests::server::{Action, ScriptedServer};

const REGISTRATION_PASSWORD: &str = "planted-REG-pa55word";
const DIGEST_PASSWORD: &str = "planted-DIGEST-pa55word";
const PLANTED: [&str; 2] = [REGISTRATION_PASSWORD, DIGEST_PASSWORD];

fn assert_hidden(what: &str, text: &str) {
    for secret in PLANTED {
        assert!(!text.contains(secret), "{what} shows {secret}: {text}");
        assert!(
            !text.contains("pa55word"),
            "{what} shows part of a secret: {text}"
        );
    }
}

/// The example body of every operation that takes one, by schema name.
fn request_examples() -> Vec<(String, Value)> {
    let mut examples = Vec::new();
    for operation in Spec::load().operations() {
        let Some(schema) = &operation.request_schema else {
            continue;
        };
        let name = schema["$ref"]
            .as_str()
            .and_then(|r| r.rsplit('/').next())
            .unwrap()
            .to_string();
        examples.extend(
            operation
                .request_examples
                .into_iter()
                .map(|body| (name.clone(), body)),
        );
    }
    examples
}

/// `body` with both kinds of SIP credentials, carrying the planted passwords.
fn with_planted_credentials(mut body: Value) -> Value {
    body["registration"] = json!({"username": "acme", "password": REGISTRATION_PASSWORD});
    body["inbound_auth"] = json!({"username": "acme-in", "password": DIGEST_PASSWORD});
    body
}

/// `Debug` of the request type named `schema` made from `body`, of its
/// generated builder, and of the secret-holding types inside. `None` for a
/// schema this test does not know: add it here.
fn debug_of(schema: &str, body: &Value) -> Option<Vec<String>> {
    Some(match schema {
        "CreateCallRequest" => {
            let value: types::CreateCallRequest = serde_json::from_value(body.clone()).unwrap();
            vec![
                format!("{value:?}"),
                format!("{:?}", builder::CreateCallRequest::from(value)),
            ]
        }
        "CreatePhoneNumberRequest" => {
            let value: types::CreatePhoneNumberRequest =
                serde_json::from_value(body.clone()).unwrap();
            vec![
                format!("{value:?}"),
                format!("{:?}", builder::CreatePhoneNumberRequest::from(value)),
            ]
        }
        "CreateWebhookSubscriptionRequest" => {
            let value: types::CreateWebhookSubscriptionRequest =
                serde_json::from_value(body.clone()).unwrap();
            vec![
                format!("{value:?}"),
                format!(
                    "{:?}",
                    builder::CreateWebhookSubscriptionRequest::from(value)
                ),
            ]
        }
        "CreateCarrierRequest" => {
            let value: types::CreateCarrierRequest = serde_json::from_value(body.clone()).unwrap();
            let registration = value.registration.clone().unwrap();
            let inbound = value.inbound_auth.clone().unwrap();
            vec![
                format!("{value:?}"),
                format!("{value:#?}"),
                format!("{:?}", builder::CreateCarrierRequest::from(value)),
                format!("{registration:?}"),
                format!("{:?}", builder::SipRegistration::from(registration.clone())),
                format!("{:?}", registration.password),
                format!("{inbound:?}"),
                format!("{:?}", builder::SipInboundAuth::from(inbound.clone())),
                format!("{:?}", inbound.password),
            ]
        }
        _ => return None,
    })
}

#[test]
fn no_request_type_shows_a_planted_secret_in_debug() {
    let mut covered = BTreeSet::new();
    for (schema, example) in request_examples() {
        let body = if schema == "CreateCarrierRequest" {
            with_planted_credentials(example)
        } else {
            example
        };
        let Some(shown) = debug_of(&schema, &body) else {
            panic!("request type {schema} is not covered: add it to `debug_of`");
        };
        for text in &shown {
            assert_hidden(&schema, text);
        }
        covered.insert(schema);
    }
    assert!(covered.contains("CreateCarrierRequest"), "{covered:?}");
    // The secrets were there to find: serialization still sends them.
    let carrier = carrier_request();
    let sent = serde_json::to_string(&carrier).unwrap();
    assert!(PLANTED.iter().all(|secret| sent.contains(secret)), "{sent}");
    let shown = format!("{carrier:?}");
    assert!(
        shown.contains("[redacted]") && shown.contains("acme-in"),
        "{shown}"
    );
}

fn carrier_request() -> types::CreateCarrierRequest {
    let example = request_examples()
        .into_iter()
        .find(|(schema, _)| schema == "CreateCarrierRequest")
        .unwrap()
        .1;
    serde_json::from_value(with_planted_credentials(example)).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn trace_output_never_shows_a_planted_secret() {
    let (captured, _guard) = logs::capture(tracing::Level::TRACE);

    let carrier = json!({"id": "car_1", "voip_carrier_sid": "sid_1", "carrier_name": "Acme SIP"});
    // A retried create, a create through the generated builder, and a
    // hostile server whose error body echoes the request, secrets and all.
    let server = ScriptedServer::start(move |n, request| match n {
        0 => Action::json(503, json!({"title": "unavailable", "status": 503})),
        1 | 2 => Action::json(201, carrier.clone()),
        _ => {
            let echoed: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            Action::json(
                400,
                json!({"title": "bad carrier", "status": 400, "request": echoed}),
            )
        }
    })
    .await;
    let client = Client::builder()
        .api_key("tc_test_redaction")
        .base_url(server.url())
        .retry(RetryPolicy::default().base_delay(Duration::from_millis(1)))
        .build()
        .unwrap();

    client
        .phone_numbers()
        .carriers()
        .create(carrier_request())
        .await
        .unwrap();
    client
        .send(client.raw().create_carrier().body(carrier_request()))
        .await
        .unwrap();
    let error = client
        .phone_numbers()
        .carriers()
        .create(carrier_request())
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(400));
    assert_hidden("the error", &format!("{error} {error:?}"));
    // The server really echoed them: the raw body is the caller's to read.
    assert!(
        error
            .as_api()
            .unwrap()
            .body_text()
            .contains(DIGEST_PASSWORD)
    );

    // Every request reached the server with its secrets.
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    for request in &requests {
        let body = String::from_utf8_lossy(&request.body);
        assert!(PLANTED.iter().all(|secret| body.contains(secret)), "{body}");
    }

    let logs = captured.text();
    assert_eq!(
        logs.matches("request body").count(),
        4,
        "each attempt traces its body: {logs}"
    );
    assert!(logs.contains("error response body"), "{logs}");
    assert!(
        logs.contains("[redacted]") && logs.contains("acme-in"),
        "{logs}"
    );
    assert_hidden("TRACE output", &logs);
}
