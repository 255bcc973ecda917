//! Tests of signing, verification, events and deduplication.

use proptest::prelude::*;

use super::signature::{HmacSha256, unix_seconds};
use super::*;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::Mac as _;
use hmac::digest::KeyInit;
use http::{HeaderMap, HeaderValue};
use serde_json::Value;

use crate::types::WebhookEventName;

fn headers(id: &str, ts: i64, signature: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ID_HEADER, HeaderValue::try_from(id).unwrap());
    h.insert(TIMESTAMP_HEADER, HeaderValue::from(ts));
    h.insert(SIGNATURE_HEADER, HeaderValue::try_from(signature).unwrap());
    h
}

#[test]
fn standard_webhooks_known_answer() {
    // The example published with the Standard Webhooks specification.
    let secret = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let (id, ts, body) = (
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1_614_265_330,
        br#"{"test": 2432232314}"#,
    );
    let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert_eq!(sign(&secret, id, ts, body), expected);
    assert_eq!(
        WebhookSecret::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
        secret,
        "the prefix is optional"
    );
    let verifier = Verifier::new(secret);
    let meta = verifier
        .verify_at(&headers(id, ts, expected), body, ts)
        .unwrap();
    assert_eq!(
        meta,
        WebhookMeta {
            id: id.to_string(),
            timestamp: ts
        }
    );
}

#[test]
fn every_kind_of_bad_delivery_has_its_error() {
    let secret = WebhookSecret::generate();
    let body = br#"{"event":"call.queued","call_id":"c"}"#;
    let now = 1_700_000_000;
    let good = sign_headers(&secret, "msg_1", now, body);
    let verifier = Verifier::new(secret.clone());
    assert!(verifier.verify_at(&good, body, now).is_ok());
    assert!(matches!(
        verifier.verify_at(&good, br#"{"event":"call.queued","call_id":"d"}"#, now),
        Err(WebhookError::BadSignature)
    ));
    let wrong = Verifier::new(WebhookSecret::generate());
    assert!(matches!(
        wrong.verify_at(&good, body, now),
        Err(WebhookError::BadSignature)
    ));
    // Exactly the tolerance either way is accepted, one second more is not.
    assert!(verifier.verify_at(&good, body, now + 300).is_ok());
    assert!(verifier.verify_at(&good, body, now - 300).is_ok());
    assert!(matches!(
        verifier.verify_at(&good, body, now + 301),
        Err(WebhookError::TimestampTooOld)
    ));
    assert!(matches!(
        verifier.verify_at(&good, body, now - 301),
        Err(WebhookError::TimestampInFuture)
    ));
    for missing in [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER] {
        let mut h = good.clone();
        h.remove(missing);
        assert!(
            matches!(verifier.verify_at(&h, body, now), Err(WebhookError::MissingHeader(m)) if m == missing)
        );
    }
    for (name, value) in [
        (TIMESTAMP_HEADER, &b"yesterday"[..]),
        (TIMESTAMP_HEADER, b"1.7e9"),
        (ID_HEADER, b"msg_\xff"),
        (ID_HEADER, b""),
        (ID_HEADER, b"  "),
        (SIGNATURE_HEADER, b"v1,\xff"),
    ] {
        let mut h = good.clone();
        h.insert(name, HeaderValue::from_bytes(value).unwrap());
        assert!(
            matches!(verifier.verify_at(&h, body, now), Err(WebhookError::InvalidHeader(n)) if n == name),
            "{name}: {value:?}"
        );
    }
    // An empty id is malformed even when the signature over it is right.
    for blank in ["", " "] {
        let signed = sign_headers(&secret, blank, now, body);
        assert!(
            matches!(verifier.verify_at(&signed, body, now), Err(WebhookError::InvalidHeader(n)) if n == ID_HEADER),
            "{blank:?}"
        );
    }
    // Signatures that are not v1, not base64 or not 32 bytes never match.
    let valid = sign(&secret, "msg_1", now, body);
    let tag = valid.strip_prefix("v1,").unwrap();
    for junk in [
        "",
        tag,
        &format!("v2,{tag}"),
        &format!("v1a,{tag}"),
        "v1,***",
        "v1,",
        &format!("v1,{}", BASE64.encode([0u8; 31])),
        &format!("v1,{}", &tag[..20]),
    ] {
        assert!(
            matches!(
                verifier.verify_at(&headers("msg_1", now, junk), body, now),
                Err(WebhookError::BadSignature)
            ),
            "{junk:?}"
        );
    }
    // The id and the timestamp are signed too.
    assert!(matches!(
        verifier.verify_at(&headers("msg_2", now, &valid), body, now),
        Err(WebhookError::BadSignature)
    ));
    assert!(matches!(
        verifier.verify_at(&headers("msg_1", now + 1, &valid), body, now),
        Err(WebhookError::BadSignature)
    ));
}

#[test]
fn malformed_secrets_are_rejected_and_never_shown() {
    for bad in ["whsec_***", "whsec_", "", "   ", "whsec_MfKQ9r8G KYqr"] {
        assert!(
            matches!(WebhookSecret::new(bad), Err(WebhookError::MalformedSecret)),
            "{bad:?}"
        );
    }
    let secret = WebhookSecret::generate();
    let text = secret.as_str();
    assert!(text.starts_with("whsec_"));
    assert_eq!(BASE64.decode(&text[6..]).unwrap().len(), 32);
    assert_eq!(text.parse::<WebhookSecret>().unwrap(), secret);
    assert_ne!(WebhookSecret::generate(), secret);
    for shown in [
        format!("{secret:?}"),
        format!("{:?}", Verifier::new(secret.clone())),
    ] {
        assert!(!shown.contains(&text[6..]), "{shown}");
        assert!(!shown.contains(&text[6..12]), "{shown}");
    }
    assert_eq!(
        WebhookError::MalformedSecret.to_string(),
        "malformed webhook secret"
    );
}

#[test]
fn rotation_and_several_signatures() {
    let (old, new) = (WebhookSecret::generate(), WebhookSecret::generate());
    let body = b"{}";
    let both = format!("v1,bm9wZQ== {}  v2,whatever", sign(&new, "m", 10, body));
    let verifier = Verifier::new(old.clone()).with_secret(new.clone());
    assert!(
        verifier
            .verify_at(&headers("m", 10, &both), body, 10)
            .is_ok()
    );
    assert!(
        verifier
            .verify_at(&headers("m", 10, &sign(&old, "m", 10, body)), body, 10)
            .is_ok()
    );
    // Only the new secret left: signatures with the old one stop working.
    let rotated = Verifier::new(new);
    assert!(matches!(
        rotated.verify_at(&headers("m", 10, &sign(&old, "m", 10, body)), body, 10),
        Err(WebhookError::BadSignature)
    ));
    assert!(
        rotated
            .verify_at(&headers("m", 10, &both), body, 10)
            .is_ok()
    );
}

#[test]
fn the_clock_and_the_tolerance_are_configurable() {
    let secret = WebhookSecret::generate();
    let signed_at = 1_766_400_000;
    let h = sign_headers(&secret, "msg_1", signed_at, b"{}");
    let at = |secs: i64| move || UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs());
    let verifier = Verifier::new(secret.clone());
    assert!(matches!(
        verifier.verify(&h, b"{}"),
        Err(WebhookError::TimestampTooOld)
    ));
    let verifier = verifier.clock(at(signed_at + 299));
    assert!(verifier.verify(&h, b"{}").is_ok());
    let strict = verifier.clone().tolerance(Duration::from_secs(60));
    assert!(matches!(
        strict.verify(&h, b"{}"),
        Err(WebhookError::TimestampTooOld)
    ));
    let lenient = strict
        .tolerance(Duration::from_secs(3600))
        .clock(at(signed_at - 3599));
    assert!(lenient.verify(&h, b"{}").is_ok());
    assert!(format!("{lenient:?}").contains("custom"));
    // A huge tolerance does not overflow.
    let forever = Verifier::new(secret).tolerance(Duration::MAX);
    assert!(forever.verify_at(&h, b"{}", i64::MAX).is_ok());
    assert!(forever.verify_at(&h, b"{}", i64::MIN).is_ok());
    assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(5)), -5);
}

#[test]
fn events_parse_typed_or_unknown() {
    let completed = WebhookEvent::parse(
        br#"{"event":"call.completed.confirmed","call_id":"c","status":"completed"}"#,
    )
    .unwrap();
    assert!(matches!(completed, WebhookEvent::CallCompleted(_)));
    assert_eq!(completed.name(), "call.completed.confirmed");
    assert_eq!(completed.kind(), Some(WebhookEventName::CallCompleted));
    assert_eq!(completed.disposition(), Some("confirmed"));
    let with_field = WebhookEvent::parse(
        br#"{"event":"call.completed","call_id":"c","disposition":"voicemail"}"#,
    )
    .unwrap();
    assert_eq!(with_field.disposition(), Some("voicemail"));
    let plain = WebhookEvent::parse(br#"{"event":"call.completed","call_id":"c"}"#).unwrap();
    assert_eq!(plain.disposition(), None);

    // Unknown fields and enum values are kept, not fatal.
    let started = WebhookEvent::parse(
        br#"{"event":"call.started","call_id":"c","status":"ringing","sentiment":1}"#,
    )
    .unwrap();
    assert!(matches!(started, WebhookEvent::CallStarted(_)));
    assert_eq!(started.disposition(), None);

    let future = WebhookEvent::parse(br#"{"event":"call.sentiment_scored","score":0.9}"#).unwrap();
    assert!(
        matches!(&future, WebhookEvent::UnknownValue { event, payload } if event == "call.sentiment_scored" && payload["score"] == 0.9)
    );
    assert_eq!(future.name(), "call.sentiment_scored");
    assert_eq!(future.kind(), None);
    // `call.completedx` is not a completed call.
    assert!(matches!(
        WebhookEvent::parse(br#"{"event":"call.completedx"}"#).unwrap(),
        WebhookEvent::UnknownValue { .. }
    ));

    // A known name whose body does not match its schema keeps its JSON.
    for (body, name) in [
        (&br#"{"event":"call.queued"}"#[..], "call.queued"),
        (
            br#"{"event":"campaign.paused","campaign_id":5}"#,
            "campaign.paused",
        ),
        (
            br#"{"event":"call.completed","call_id":"c","duration":"long"}"#,
            "call.completed",
        ),
    ] {
        match WebhookEvent::parse(body).unwrap() {
            WebhookEvent::UnknownValue { event, payload } => {
                assert_eq!(event, name);
                assert_eq!(payload, serde_json::from_slice::<Value>(body).unwrap());
            }
            other => panic!("{name}: {other:?}"),
        }
    }

    // Only a body that is not JSON is an error.
    for bad in [&b"not json"[..], b"", b"{\"call_id\":", b"\xff"] {
        assert!(
            matches!(
                WebhookEvent::parse(bad),
                Err(WebhookError::InvalidPayload(_))
            ),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn bodies_without_an_event_are_classified_from_what_they_hold() {
    let completed = |body: &[u8]| match WebhookEvent::parse(body).unwrap() {
        WebhookEvent::CallCompleted(event) => *event,
        other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
    };
    // The docs' own shape: no `event`, a finished call.
    let docs = br#"{"call_id":"c_1","phone_number":"+14155551234","status":"completed",
        "call_status":"completed","duration":2.5,"transcript":[{"id":1,"user":"assistant",
        "text":"Hi","created_at":"2025-12-22T10:30:05Z"}],"call_summary":"Confirmed.",
        "answered_by":"human","campaign_id":"camp_abc123","lead_id":"lead_xyz789",
        "created_at":"2025-12-22T10:30:00Z","started_at":"2025-12-22T10:30:05Z"}"#;
    let event = completed(docs);
    assert_eq!(event.call_id, "c_1");
    assert_eq!(event.campaign_id.as_deref(), Some("camp_abc123"));
    let parsed = WebhookEvent::parse(docs).unwrap();
    assert_eq!(parsed.name(), "call.completed");
    assert_eq!(parsed.kind(), Some(WebhookEventName::CallCompleted));
    assert_eq!(parsed.disposition(), None);

    // Its disposition becomes the suffix, as a subscription would name it.
    let with_disposition = WebhookEvent::parse(
        br#"{"call_id":"c","status":"completed","disposition":"booked_callback"}"#,
    )
    .unwrap();
    assert_eq!(with_disposition.name(), "call.completed.booked_callback");
    assert_eq!(with_disposition.disposition(), Some("booked_callback"));
    // A disposition that cannot be a name suffix stays a member only.
    let spaced =
        WebhookEvent::parse(br#"{"call_id":"c","status":"completed","disposition":"Call back"}"#)
            .unwrap();
    assert_eq!(spaced.name(), "call.completed");
    assert_eq!(spaced.disposition(), Some("Call back"));

    // Every sign of a finished call counts, unknown members and values included.
    for body in [
        &br#"{"call_id":"c","status":"failed","call_status":"no-answer"}"#[..],
        br#"{"call_id":"c","status":"cancelled"}"#,
        br#"{"call_id":"c","call_status":"busy"}"#,
        br#"{"call_id":"c","status":"ringing","end_at":"2025-12-22T10:32:33Z"}"#,
        br#"{"call_id":"c","status":"completed","sentiment":{"score":0.9}}"#,
    ] {
        assert_eq!(completed(body).call_id, "c");
    }

    // Anything else is kept, never rejected.
    for body in [
        &br#"{"call_id":"c","status":"queued"}"#[..],
        br#"{"call_id":"c","status":"in_progress","call_status":"in-progress"}"#,
        br#"{"call_id":"c","call_status":"ringing"}"#,
        br#"{"status":"completed"}"#,
        br#"{"call_id":7,"status":"completed"}"#,
        br#"{"call_id":"c","status":"completed","duration":"long"}"#,
        br#"{"campaign_id":"camp_1","status":"paused"}"#,
        br#"{"event":7,"call_id":"c"}"#,
        b"{}",
        b"[]",
        b"null",
        br#""call.completed""#,
    ] {
        match WebhookEvent::parse(body).unwrap() {
            WebhookEvent::Unnamed { payload } => {
                assert_eq!(payload, serde_json::from_slice::<Value>(body).unwrap());
            }
            other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
        }
    }
    let unnamed = WebhookEvent::parse(b"{}").unwrap();
    assert_eq!(
        (unnamed.name(), unnamed.kind(), unnamed.disposition()),
        ("", None, None)
    );
}

#[test]
fn the_deduplicator_forgets_the_oldest() {
    let dedup = Deduplicator::new(2);
    assert!(dedup.first_seen("a"));
    assert!(!dedup.first_seen("a"));
    assert!(dedup.first_seen("b"));
    assert!(dedup.first_seen("c"));
    assert!(dedup.first_seen("a"), "a was evicted");
    assert!(!dedup.first_seen("c"));
}

#[test]
fn the_deduplicator_forgets_after_the_ttl_and_on_request() {
    let dedup = Deduplicator::new(100).ttl(Duration::from_secs(60));
    let t0 = Instant::now();
    assert!(dedup.first_seen_at("a", t0));
    assert!(dedup.first_seen_at("b", t0 + Duration::from_secs(30)));
    assert!(!dedup.first_seen_at("a", t0 + Duration::from_secs(59)));
    assert!(dedup.first_seen_at("a", t0 + Duration::from_secs(60)));
    assert!(!dedup.first_seen_at("b", t0 + Duration::from_secs(89)));
    assert!(!dedup.first_seen_at("a", t0 + Duration::from_secs(90)));

    dedup.forget("a");
    assert!(dedup.first_seen_at("a", t0 + Duration::from_secs(91)));
    assert!(!dedup.first_seen_at("a", t0 + Duration::from_secs(92)));
}

#[test]
fn the_deduplicator_stays_bounded_when_ids_are_forgotten() {
    let dedup = Deduplicator::new(3);
    assert!(dedup.first_seen("kept"));
    for i in 0..1000 {
        let id = format!("m{}", i % 5);
        dedup.first_seen(&id);
        dedup.forget(&id);
    }
    assert!(!dedup.first_seen("kept"), "forgotten ids evict nothing");
    let seen = dedup.seen.lock().unwrap();
    assert!(seen.ids.len() <= 3 && seen.order.len() <= 6);
}

#[test]
fn the_deduplicator_is_shared_between_threads() {
    let dedup = Arc::new(Deduplicator::new(10_000));
    let firsts: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let dedup = Arc::clone(&dedup);
                scope.spawn(move || {
                    (0..500)
                        .filter(|i| dedup.first_seen(&format!("msg_{i}")))
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(firsts, 500, "each id is first exactly once");
}

proptest! {
    #[test]
    fn signatures_verify_and_any_changed_byte_fails(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        key in proptest::collection::vec(any::<u8>(), 1..160),
        id in "[a-zA-Z0-9_]{1,40}",
        timestamp in 0i64..4_000_000_000,
        flip in any::<proptest::sample::Index>(),
        bit in 0u8..8,
    ) {
        let secret = WebhookSecret::new(&BASE64.encode(&key)).unwrap();
        let headers = sign_headers(&secret, &id, timestamp, &body);
        let verifier = Verifier::new(secret.clone());
        prop_assert!(verifier.verify_at(&headers, &body, timestamp).is_ok());

        // Keys of every length, longer than a block included, sign as HMAC does.
        let mut reference = <HmacSha256 as KeyInit>::new_from_slice(&key).unwrap();
        reference.update(format!("{id}.{timestamp}.").as_bytes());
        reference.update(&body);
        let reference = format!("v1,{}", BASE64.encode(reference.finalize().into_bytes()));
        prop_assert_eq!(sign(&secret, &id, timestamp, &body), reference);

        if !body.is_empty() {
            let mut tampered = body.clone();
            let i = flip.index(tampered.len());
            tampered[i] ^= 1 << bit;
            prop_assert!(matches!(
                verifier.verify_at(&headers, &tampered, timestamp),
                Err(WebhookError::BadSignature)
            ));
        }
        let mut longer = body.clone();
        longer.push(b' ');
        prop_assert!(matches!(
            verifier.verify_at(&headers, &longer, timestamp),
            Err(WebhookError::BadSignature)
        ));
    }

    #[test]
    fn a_wrong_secret_never_verifies(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        // Same length: HMAC pads short keys with zeros, so `k` and `k\0` are one key.
        a in any::<[u8; 32]>(),
        b in any::<[u8; 32]>(),
    ) {
        prop_assume!(a != b);
        let signer = WebhookSecret::new(&BASE64.encode(a)).unwrap();
        let other = WebhookSecret::new(&BASE64.encode(b)).unwrap();
        let headers = sign_headers(&signer, "msg", 1, &body);
        prop_assert!(matches!(
            Verifier::new(other).verify_at(&headers, &body, 1),
            Err(WebhookError::BadSignature)
        ));
    }
}
