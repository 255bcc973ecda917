//! The spec's `pattern`s, as the generated types check them (with
//! `regex-lite`; see step 7 of `xtask/src/postprocess.rs`): what each accepts
//! and refuses.

use topcalls_types::{
    CreateWebhookSubscriptionRequestEvent, E164PhoneNumber, IdempotencyKey, SipGatewayInputIpv4,
};

fn accepts<T: std::str::FromStr>(values: &[&str]) {
    for value in values {
        assert!(value.parse::<T>().is_ok(), "{value:?} should be accepted");
    }
}

fn refuses<T: std::str::FromStr>(values: &[&str]) {
    for value in values {
        assert!(value.parse::<T>().is_err(), "{value:?} should be refused");
    }
}

#[test]
fn e164_numbers() {
    accepts::<E164PhoneNumber>(&["+15551234567", "+12", "+123456789012345"]);
    refuses::<E164PhoneNumber>(&[
        "15551234567",
        "+05551234567",
        "+1",
        "+1234567890123456",
        "+1555 123 4567",
        "+1555١٢٣٤",
        "+15551234567\n",
    ]);
}

#[test]
fn idempotency_keys() {
    accepts::<IdempotencyKey>(&["order-4711", "AZaz09_-xy"]);
    refuses::<IdempotencyKey>(&["short", "has space in it", "ünïcode-key", "semi;colon1"]);
}

#[test]
fn webhook_events() {
    accepts::<CreateWebhookSubscriptionRequestEvent>(&[
        "call.completed",
        "call.completed.confirmed",
        "lead.status_changed",
        "campaign.activated",
        "campaign.paused",
    ]);
    refuses::<CreateWebhookSubscriptionRequestEvent>(&[
        "call.completedX",
        "call.completed.",
        "call.started",
        "campaign.resumed",
        "xcall.completed",
    ]);
}

#[test]
fn sip_gateway_addresses() {
    accepts::<SipGatewayInputIpv4>(&["192.0.2.10", "255.255.255.255", "sip.example.com", "pbx-1"]);
    refuses::<SipGatewayInputIpv4>(&["256.1.1.1", "-bad.example.com", "a..b", "sip example", ""]);
}
