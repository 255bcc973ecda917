//! What a later API version may send must not break decoding: unknown enum
//! values (kept and re-serialized unchanged), unknown fields, absent
//! optional fields, ids that are not UUIDs.
#![allow(clippy::unwrap_used)]

use httpmock::prelude::*;
use serde_json::json;
use topcalls_api::types::{
    AnsweredBy, CallGatewayStatus, CallMode, CallTelephonyStatus, CampaignStatus, CarrierTrunkType,
    ModelMode, PhoneNumberSource, PhoneNumberStatus, TranscriptSpeaker, VoiceMode, VoiceType,
};
use topcalls_api::{Client, RetryPolicy};
use topcalls_contract_tests::Spec;

/// Checks one received enum against the spec's values and an unknown one.
fn check<T>(name: &str, spec: &Spec) -> String
where
    T: serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Display
        + std::str::FromStr
        + std::fmt::Debug
        + PartialEq,
    <T as std::str::FromStr>::Err: std::fmt::Debug,
{
    let values = spec.doc()["components"]["schemas"][name]["enum"]
        .as_array()
        .unwrap();
    for value in values {
        let value = value.as_str().unwrap();
        let decoded: T = serde_json::from_value(json!(value)).unwrap();
        assert!(
            !format!("{decoded:?}").starts_with("UnknownValue"),
            "{name}: known value {value} decoded as unknown"
        );
        assert_eq!(
            serde_json::to_value(&decoded).unwrap(),
            json!(value),
            "{name}"
        );
        assert_eq!(decoded.to_string(), value, "{name}");
    }
    let future = "zz_added_in_a_later_version";
    let decoded: T =
        serde_json::from_value(json!(future)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        format!("{decoded:?}"),
        format!("UnknownValue({future:?})"),
        "{name}"
    );
    assert_eq!(
        serde_json::to_value(&decoded).unwrap(),
        json!(future),
        "{name}: unknown value must round-trip"
    );
    assert_eq!(decoded.to_string(), future, "{name}");
    assert_eq!(future.parse::<T>().unwrap(), decoded, "{name}");
    name.to_string()
}

#[test]
fn every_received_enum_keeps_unknown_values() {
    let spec = Spec::load();
    let checked = vec![
        check::<AnsweredBy>("AnsweredBy", &spec),
        check::<CallGatewayStatus>("CallGatewayStatus", &spec),
        check::<CallTelephonyStatus>("CallTelephonyStatus", &spec),
        check::<CampaignStatus>("CampaignStatus", &spec),
        check::<CarrierTrunkType>("CarrierTrunkType", &spec),
        check::<ModelMode>("ModelMode", &spec),
        check::<PhoneNumberSource>("PhoneNumberSource", &spec),
        check::<PhoneNumberStatus>("PhoneNumberStatus", &spec),
        check::<TranscriptSpeaker>("TranscriptSpeaker", &spec),
        check::<VoiceMode>("VoiceMode", &spec),
        check::<VoiceType>("VoiceType", &spec),
    ];
    // A new response enum in the spec must be added here.
    assert_eq!(checked, spec.received_enums());
}

#[test]
fn enums_only_sent_stay_strict() {
    assert!(serde_json::from_value::<CallMode>(json!("zz_unknown")).is_err());
    assert!("zz_unknown".parse::<CallMode>().is_err());
}

#[tokio::test]
async fn a_call_from_a_later_api_version_decodes() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v1/calls/camp_abc123_call_1");
            then.status(200).json_body(json!({
                "id": "camp_abc123_call_1",
                "status": "ringing",
                "call_status": "screening",
                "answered_by": "fax_machine",
                "created_at": "2025-12-22T10:30:00Z",
                "transcript": [{"id": 1, "user": "supervisor", "text": "Joining.", "created_at": "2025-12-22T10:30:05Z", "sentiment": "neutral"}],
                "sentiment_score": 0.93,
                "metadata": {"anything": ["goes", 1, null]}
            }));
        })
        .await;
    let client = Client::builder()
        .api_key("tc_test_k")
        .base_url(server.base_url())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let call = client.calls().get("camp_abc123_call_1").await.unwrap();
    assert_eq!(call.id, "camp_abc123_call_1");
    assert_eq!(
        call.status,
        CallGatewayStatus::UnknownValue("ringing".into())
    );
    assert_eq!(
        call.call_status
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("screening")
    );
    assert_eq!(
        call.answered_by,
        Some(AnsweredBy::UnknownValue("fax_machine".into()))
    );
    let transcript = call.transcript.unwrap();
    assert_eq!(
        transcript[0]
            .user
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("supervisor")
    );
    assert!(!topcalls_api::is_finished(&call_with_status(
        CallGatewayStatus::UnknownValue("ringing".into())
    )));
}

fn call_with_status(status: CallGatewayStatus) -> topcalls_api::types::Call {
    serde_json::from_value(
        json!({"id": "c", "status": status, "created_at": "2025-12-22T10:30:00Z"}),
    )
    .unwrap()
}
