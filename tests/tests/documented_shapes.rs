//! The SDK with the shapes the TopCalls docs publish: a hostname SIP
//! gateway, a 402 Problem with `details`, the calls cursor as a timestamp,
//! a 403 naming its scope, and members sent as `null` or left out.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::num::NonZeroU64;
use std::time::Duration;

use futures::TryStreamExt;
use httpmock::prelude::*;
use serde_json::{Value, json};
use topcalls_api::types::{CreateCarrierRequest, SipGatewayInput, TrunkType};
use topcalls_api::{Client, Error, NewCall, RetryPolicy};
use topcalls_sandbox::{ClockMode, Sandbox};

fn client(sandbox: &Sandbox) -> Client {
    client_with_key(sandbox, sandbox.api_key())
}

fn client_with_key(sandbox: &Sandbox, key: &str) -> Client {
    Client::builder()
        .api_key(key)
        .base_url(sandbox.base_url())
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

async fn manual() -> Sandbox {
    Sandbox::builder()
        .clock(ClockMode::Manual)
        .start()
        .await
        .unwrap()
}

/// The docs' carrier example with the gateway outbound only: the one place
/// the docs allow a hostname.
fn hostname_carrier(inbound: bool) -> topcalls_api::types::builder::CreateCarrierRequest {
    CreateCarrierRequest::builder()
        .carrier_name("My VoIP Provider")
        .trunk_type(Some(TrunkType::StaticIp))
        .sip_gateway(
            SipGatewayInput::builder()
                .ipv4("sip.myprovider.com")
                .port(NonZeroU64::new(5060))
                .inbound(Some(inbound))
                .outbound(Some(true)),
        )
}

#[tokio::test]
async fn a_hostname_gateway_builds_round_trips_and_is_created() {
    let body = CreateCarrierRequest::try_from(hostname_carrier(false)).unwrap();
    let json = serde_json::to_value(&body).unwrap();
    assert_eq!(
        json,
        json!({"carrier_name": "My VoIP Provider", "trunk_type": "static_ip",
               "sip_gateway": {"ipv4": "sip.myprovider.com", "port": 5060, "inbound": false, "outbound": true}})
    );
    let back: CreateCarrierRequest = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), json);
    // An IPv4 address is still a valid value; text that is no host name is not.
    assert!(
        SipGatewayInput::builder()
            .ipv4("203.0.113.10")
            .try_into()
            .is_ok_and(|g: SipGatewayInput| g.ipv4.as_str() == "203.0.113.10")
    );
    for bad in [
        "",
        "sip..example.com",
        "sip example.com",
        "-sip.example.com",
    ] {
        assert!(
            CreateCarrierRequest::try_from(
                hostname_carrier(false).sip_gateway(SipGatewayInput::builder().ipv4(bad))
            )
            .is_err(),
            "{bad:?}"
        );
    }

    let sandbox = manual().await;
    let client = client(&sandbox);
    let created = client
        .phone_numbers()
        .carriers()
        .create(hostname_carrier(false))
        .await
        .unwrap();
    let listed = client.phone_numbers().carriers().list().await.unwrap();
    let gateway = listed
        .data
        .iter()
        .find(|c| c.id == created.id)
        .and_then(|c| c.sip_gateway.clone())
        .unwrap();
    assert_eq!(gateway.ipv4.as_deref(), Some("sip.myprovider.com"));
    assert_eq!(gateway.inbound, Some(false));

    // An inbound gateway must be an IPv4 address: refused before sending.
    let before = listed.data.len();
    let refused = client
        .phone_numbers()
        .carriers()
        .create(hostname_carrier(true))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, Error::InvalidRequest(m) if m.contains("sip_gateway.ipv4")),
        "{refused:?}"
    );
    let after = client.phone_numbers().carriers().list().await.unwrap();
    assert_eq!(after.data.len(), before, "nothing was sent");
}

#[tokio::test]
async fn a_402_with_details_keeps_them() {
    // From the sandbox: deleting a carrier with no call minutes left.
    let sandbox = Sandbox::builder()
        .clock(ClockMode::Manual)
        .balance_minutes(0.0)
        .start()
        .await
        .unwrap();
    let client = client(&sandbox);
    let carrier = client.phone_numbers().carriers().list().await.unwrap().data[0]
        .id
        .clone();
    let error = client
        .phone_numbers()
        .carriers()
        .delete(&carrier)
        .await
        .unwrap_err();
    assert!(error.is_insufficient_quota(), "{error:?}");
    let api = error.as_api().unwrap();
    assert_eq!(api.code(), Some("insufficient_quota"));
    let details = api.details().and_then(Value::as_str).unwrap();
    assert!(details.contains("minutes"), "{details}");
    assert_eq!(
        api.problem().unwrap().details.as_ref(),
        Some(&Value::from(details))
    );

    // From a server that sends the docs' example as it is, `details` of any
    // JSON type is kept.
    let server = MockServer::start_async().await;
    for details in [json!("<string>"), json!({"needed": 5, "remaining": 3.5})] {
        let mock = server
            .mock_async(|when, then| {
                when.method(DELETE)
                    .path("/v1/phone-numbers/carriers/carrier_1");
                then.status(402)
                    .header("content-type", "application/problem+json")
                    .json_body(json!({
                        "title": "Insufficient Quota", "status": 402,
                        "type": "https://api.topcalls.ai/errors/insufficient_quota",
                        "detail": "You need 5 minutes but have 3.5 remaining",
                        "instance": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
                        "errors": [{"path": "<string>", "message": "<string>", "code": "<string>"}],
                        "details": details.clone(),
                    }));
            })
            .await;
        let client = Client::builder()
            .api_key("tc_test_key")
            .base_url(server.base_url())
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        let error = client
            .phone_numbers()
            .carriers()
            .delete("carrier_1")
            .await
            .unwrap_err();
        let api = error.as_api().unwrap();
        assert_eq!(api.details(), Some(&details));
        assert_eq!(api.field_errors().len(), 1);
        assert_eq!(mock.calls_async().await, 1);
        mock.delete_async().await;
    }
}

#[tokio::test]
async fn the_timestamp_cursor_pages_through_calls_with_no_repeats_or_gaps() {
    let sandbox = manual().await;
    let client = client(&sandbox);
    let mut placed = Vec::new();
    // Ten calls in one instant, then five a second later.
    for batch in [10, 5] {
        for _ in 0..batch {
            let call = NewCall::to("+15551234567").task("Confirm tomorrow's appointment with Sam.");
            placed.push(client.calls().create(call).await.unwrap().call_id);
        }
        sandbox.advance(Duration::from_secs(1));
    }
    placed.reverse();

    // Page by page: each cursor is a timestamp, the last call's `created_at`.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let list = client.calls().list().limit(4);
        let list = match &cursor {
            Some(c) => list.cursor(c.clone()),
            None => list,
        };
        let page = list.page().await.unwrap();
        seen.extend(page.data.iter().map(|c| c.id.clone()));
        match page.next_cursor {
            Some(next) => {
                let last = page.data.last().unwrap().created_at;
                assert_eq!(
                    serde_json::to_value(last).unwrap(),
                    Value::from(next.clone())
                );
                cursor = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(seen, placed);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 15);

    // The stream follows the same cursors.
    let streamed: Vec<String> = client
        .calls()
        .list()
        .limit(3)
        .stream()
        .map_ok(|c| c.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, placed);
}

#[tokio::test]
async fn a_403_names_the_missing_scope_as_the_docs_spell_it() {
    let sandbox = manual().await;
    let error = client_with_key(&sandbox, sandbox.read_only_key())
        .calls()
        .create(NewCall::to("+15551234567").task("Confirm tomorrow's appointment with Sam."))
        .await
        .unwrap_err();
    assert!(error.is_forbidden());
    assert_eq!(
        error.as_api().unwrap().detail(),
        Some("This API key does not have the calls:write scope.")
    );
}

#[tokio::test]
async fn documented_nulls_decode_and_so_do_absent_members() {
    let server = MockServer::start_async().await;
    let nulls = json!({
        "id": "564d4fd4-03bc-400a-abe0-05540fbeff88", "created_at": "2025-12-22T10:30:00Z",
        "phone_number": "+14155551234", "from_phone_number": "+18005551234",
        "status": "completed", "call_status": "completed", "duration": 2.5,
        "campaign_id": null, "lead_id": null, "error_message": null, "answered_by": "human"
    });
    let absent = json!({"id": "c_2", "status": "queued", "created_at": "2025-12-22T10:31:00Z"});
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v1/calls");
            then.status(200).json_body(
                json!({"data": [nulls.clone(), absent.clone()], "next_cursor": "2025-12-22T10:29:00Z"}),
            );
        })
        .await;
    let client = Client::builder()
        .api_key("tc_test_key")
        .base_url(server.base_url())
        .build()
        .unwrap();
    let page = client.calls().list().page().await.unwrap();
    assert_eq!(page.data[0].campaign_id, None);
    assert_eq!(page.data[1].call_status, None);
    assert_eq!(page.next_cursor.as_deref(), Some("2025-12-22T10:29:00Z"));
    // Serialized again, the documented nullable members come back as `null`.
    let again = serde_json::to_value(&page.data[1]).unwrap();
    for member in ["campaign_id", "lead_id", "error_message", "call_status"] {
        assert_eq!(again.get(member), Some(&Value::Null), "{member}: {again}");
    }
}
