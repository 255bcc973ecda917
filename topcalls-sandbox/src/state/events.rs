//! Webhook events, as pure functions of the world: which events a call
//! emits as it moves, and who receives each (its own webhook, the account's
//! matching subscriptions), as deliveries to send. Sending them is
//! `crate::delivery`.

use std::collections::HashMap;

use chrono::{DateTime, Duration as Span, Utc};
use serde_json::{Map, Value};
use topcalls_types::{
    Call, CallCompletedEvent, CallFailedEvent, CallGatewayStatus, CallQueuedEvent,
    CallStartedEvent, WebhookSubscription,
};

/// A completed call's event goes out once its recording is ready.
const COMPLETED_DELAY_SECONDS: i64 = 15;

/// The shape of webhook bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebhookPayloads {
    /// The event's object plus `"event": "<name>"`, so receivers can tell
    /// events apart by name (the default).
    #[default]
    Named,
    /// The event's object alone, with no `event` member: the shape of the
    /// `call.completed` payload the TopCalls docs publish. Receivers have to
    /// classify bodies by what they hold.
    Documented,
}

/// An event a call emitted, with its per-call webhook (if any).
pub(crate) struct Emitted {
    name: String,
    payload: Map<String, Value>,
    call_webhook: Option<(String, Vec<String>)>,
    disposition: Option<String>,
    campaign_id: Option<String>,
}

/// One delivery to one URL, and what happened to it.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) id: String,
    /// The account (index) whose secret signs it.
    pub(crate) account: usize,
    pub(crate) url: String,
    pub(crate) event: String,
    pub(crate) body: Vec<u8>,
    pub(crate) next_at: DateTime<Utc>,
    pub(crate) attempts: Vec<Option<u16>>,
    pub(crate) delivered: bool,
    pub(crate) failed: bool,
    pub(crate) in_flight: bool,
}

impl Outgoing {
    /// Due for an attempt at `now`, or being attempted: what `settle` waits out.
    pub(crate) fn unsettled(&self, now: DateTime<Utc>) -> bool {
        !self.delivered && !self.failed && (self.in_flight || self.next_at <= now)
    }
}

/// A delivery as the handle reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryInfo {
    /// `webhook-id`, the same on every attempt.
    pub id: String,
    /// Where it goes.
    pub url: String,
    /// The event name.
    pub event: String,
    /// Each attempt's HTTP status (`None`: no answer).
    pub attempts: Vec<Option<u16>>,
    /// A 2xx arrived.
    pub delivered: bool,
    /// Every retry failed.
    pub failed: bool,
}

impl From<&Outgoing> for DeliveryInfo {
    fn from(o: &Outgoing) -> Self {
        Self {
            id: o.id.clone(),
            url: o.url.clone(),
            event: o.event.clone(),
            attempts: o.attempts.clone(),
            delivered: o.delivered,
            failed: o.failed,
        }
    }
}

fn payload<T: serde::Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The lifecycle phase `call` has reached: 1 queued, 2 started, 3 final.
pub(crate) fn phase(call: &Call) -> u8 {
    match call.status {
        CallGatewayStatus::Completed | CallGatewayStatus::Failed | CallGatewayStatus::Cancelled => {
            3
        }
        CallGatewayStatus::InProgress => 2,
        _ => 1,
    }
}

/// The lifecycle events `call` has reached but not yet emitted, given the
/// `emitted` phases so far (0 none, 1 queued, 2 started, 3 final; moved on
/// here), each with the call's own webhook.
pub(crate) fn lifecycle_events(
    call: &Call,
    emitted: &mut u8,
    call_webhook: Option<&(String, Vec<String>)>,
) -> Vec<Emitted> {
    let phase = phase(call);
    let mut out = Vec::new();
    while *emitted < phase {
        *emitted += 1;
        let (name, body) = match *emitted {
            1 => (
                "call.queued",
                payload(&CallQueuedEvent {
                    event: None,
                    call_id: call.id.clone(),
                    phone_number: call.phone_number.clone(),
                    from_phone_number: call.from_phone_number.clone(),
                    status: Some(CallGatewayStatus::Queued),
                    campaign_id: call.campaign_id.clone(),
                    lead_id: call.lead_id.clone(),
                    created_at: Some(call.created_at),
                    metadata: call.metadata.clone(),
                }),
            ),
            2 => {
                if call.started_at.is_none() {
                    continue;
                }
                (
                    "call.started",
                    payload(&CallStartedEvent {
                        event: None,
                        call_id: call.id.clone(),
                        phone_number: call.phone_number.clone(),
                        from_phone_number: call.from_phone_number.clone(),
                        status: Some(CallGatewayStatus::InProgress),
                        call_status: call.call_status.clone(),
                        campaign_id: call.campaign_id.clone(),
                        lead_id: call.lead_id.clone(),
                        created_at: Some(call.created_at),
                        started_at: call.started_at,
                        metadata: call.metadata.clone(),
                    }),
                )
            }
            _ if call.status == CallGatewayStatus::Completed => (
                "call.completed",
                payload(&CallCompletedEvent {
                    event: None,
                    call_id: call.id.clone(),
                    account_id: call.account_id.clone(),
                    phone_number: call.phone_number.clone(),
                    from_phone_number: call.from_phone_number.clone(),
                    status: Some(call.status.clone()),
                    call_status: call.call_status.clone(),
                    duration: call.duration,
                    transcript: call.transcript.clone(),
                    recording_url: call.recording_url.clone(),
                    call_summary: call.call_summary.clone(),
                    answered_by: call.answered_by.clone(),
                    campaign_id: call.campaign_id.clone(),
                    lead_id: call.lead_id.clone(),
                    disposition: call.disposition.clone(),
                    is_conversion: None,
                    error_message: None,
                    created_at: Some(call.created_at),
                    started_at: call.started_at,
                    end_at: call.end_at,
                    metadata: call.metadata.clone(),
                }),
            ),
            _ => (
                "call.failed",
                payload(&CallFailedEvent {
                    event: None,
                    call_id: call.id.clone(),
                    phone_number: call.phone_number.clone(),
                    from_phone_number: call.from_phone_number.clone(),
                    status: Some(call.status.clone()),
                    call_status: call.call_status.clone(),
                    duration: call.duration,
                    error_message: call.error_message.clone(),
                    campaign_id: call.campaign_id.clone(),
                    lead_id: call.lead_id.clone(),
                    created_at: Some(call.created_at),
                    started_at: call.started_at,
                    end_at: call.end_at,
                    metadata: call.metadata.clone(),
                }),
            ),
        };
        out.push(Emitted {
            name: name.to_string(),
            payload: body,
            call_webhook: call_webhook.cloned(),
            disposition: call.disposition.clone(),
            campaign_id: call.campaign_id.clone(),
        });
    }
    out
}

/// Deliveries for one event: the call's own webhook, then every matching
/// subscription, with bodies shaped as `payloads` says.
pub(crate) fn route(
    event: Emitted,
    account: usize,
    subscriptions: &[WebhookSubscription],
    conversions: &HashMap<String, Vec<String>>,
    payloads: WebhookPayloads,
    now: DateTime<Utc>,
) -> Vec<Outgoing> {
    let Emitted {
        name,
        mut payload,
        call_webhook,
        disposition,
        campaign_id,
    } = event;
    if name == "call.completed" {
        let converted = match (
            &disposition,
            campaign_id.as_ref().and_then(|c| conversions.get(c)),
        ) {
            (Some(d), Some(outcomes)) => outcomes.contains(d),
            _ => false,
        };
        payload.insert("is_conversion".into(), Value::Bool(converted));
    }
    let at = if name == "call.completed" {
        now + Span::seconds(COMPLETED_DELAY_SECONDS)
    } else {
        now
    };
    let outgoing = |url: &str, event: &str, payload: &Map<String, Value>| {
        let mut body = payload.clone();
        if payloads == WebhookPayloads::Named {
            body.insert("event".into(), Value::String(event.to_string()));
        }
        Outgoing {
            id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
            account,
            url: url.to_string(),
            event: event.to_string(),
            body: serde_json::to_vec(&body).unwrap_or_default(),
            next_at: at,
            attempts: Vec::new(),
            delivered: false,
            failed: false,
            in_flight: false,
        }
    };
    let mut out = Vec::new();
    if let Some((url, wanted)) = call_webhook
        && (wanted.is_empty() || wanted.contains(&name))
    {
        out.push(outgoing(&url, &name, &payload));
    }
    let with_disposition = disposition.as_ref().map(|d| format!("{name}.{d}"));
    for sub in subscriptions.iter().filter(|s| s.deleted_at.is_none()) {
        let event = if sub.event == name {
            name.clone()
        } else if Some(&sub.event) == with_disposition.as_ref() && name == "call.completed" {
            sub.event.clone()
        } else {
            continue;
        };
        if sub
            .filters
            .as_ref()
            .is_none_or(|filters| matches_filters(filters, &payload))
        {
            out.push(outgoing(&sub.url, &event, &payload));
        }
    }
    out
}

/// Every filter must hold: an array is any-of, a string with `%` or `_` is
/// a SQL LIKE pattern, anything else is an exact match.
pub(crate) fn matches_filters(filters: &Map<String, Value>, payload: &Map<String, Value>) -> bool {
    filters.iter().all(|(key, wanted)| {
        let actual = payload.get(key).unwrap_or(&Value::Null);
        match wanted {
            Value::Array(options) => options.contains(actual),
            Value::String(pattern) if pattern.contains('%') || pattern.contains('_') => {
                actual.as_str().is_some_and(|a| like(pattern, a))
            }
            exact => exact == actual,
        }
    })
}

/// SQL LIKE: `%` any run, `_` one character.
fn like(pattern: &str, text: &str) -> bool {
    like_counting(pattern, text, &mut 0)
}

/// [`like`], adding the loop's steps to `steps`.
///
/// Greedy with one backtrack point (the last `%`), so a pattern full of `%`
/// costs O(pattern × text) steps rather than exponentially many.
fn like_counting(pattern: &str, text: &str, steps: &mut u64) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // After the last `%` seen: where the pattern resumes, and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        *steps += 1;
        match pattern.get(p) {
            Some('%') => {
                p += 1;
                star = Some((p, t));
            }
            Some(&c) if c == '_' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((resume, tried)) => {
                    p = resume;
                    t = tried + 1;
                    star = Some((resume, tried + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued_call() -> Call {
        let created = "2025-12-22T10:30:00Z".parse().unwrap();
        let mut record = crate::state::new_call(
            "acct_1",
            "+15551234567",
            Some("+15550001111".into()),
            "Confirm the appointment.",
            10.0,
            created,
        );
        record.edit().id = "call_1".into();
        std::sync::Arc::unwrap_or_clone(record.call)
    }

    fn names(events: &[Emitted]) -> Vec<&str> {
        events.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn a_call_emits_each_phase_once_in_order() {
        let mut call = queued_call();
        let mut emitted = 0;
        assert_eq!(
            names(&lifecycle_events(&call, &mut emitted, None)),
            ["call.queued"]
        );
        assert!(lifecycle_events(&call, &mut emitted, None).is_empty());
        call.status = CallGatewayStatus::InProgress;
        call.started_at = Some(call.created_at + Span::seconds(3));
        assert_eq!(
            names(&lifecycle_events(&call, &mut emitted, None)),
            ["call.started"]
        );
        call.status = CallGatewayStatus::Completed;
        let events = lifecycle_events(&call, &mut emitted, None);
        assert_eq!(names(&events), ["call.completed"]);
        assert_eq!(events[0].payload["call_id"], "call_1");
        assert_eq!(emitted, 3);
        assert!(lifecycle_events(&call, &mut emitted, None).is_empty());
    }

    #[test]
    fn a_call_that_never_started_emits_no_started_event() {
        let mut call = queued_call();
        call.status = CallGatewayStatus::Failed;
        let mut emitted = 0;
        let webhook = ("http://hooks.test/call".to_string(), Vec::new());
        let events = lifecycle_events(&call, &mut emitted, Some(&webhook));
        assert_eq!(names(&events), ["call.queued", "call.failed"]);
        assert!(
            events
                .iter()
                .all(|e| e.call_webhook.as_ref() == Some(&webhook))
        );
    }

    fn subscription(event: &str, url: &str, filters: Option<Value>) -> WebhookSubscription {
        WebhookSubscription {
            id: format!("sub_{url}"),
            account_id: None,
            event: event.into(),
            url: url.into(),
            filters: filters.and_then(|f| f.as_object().cloned()),
            deleted_at: None,
            created_by_api_key_id: None,
            created_at: None,
        }
    }

    #[test]
    fn an_event_goes_to_the_call_webhook_and_the_matching_subscriptions() {
        let mut call = queued_call();
        call.status = CallGatewayStatus::Completed;
        call.campaign_id = Some("camp_1".into());
        call.disposition = Some("confirmed".into());
        let mut emitted = 2;
        let webhook = (
            "http://hooks.test/call".to_string(),
            vec!["call.completed".to_string()],
        );
        let event = lifecycle_events(&call, &mut emitted, Some(&webhook)).remove(0);
        let subscriptions = [
            subscription("call.completed", "http://hooks.test/all", None),
            subscription(
                "call.completed.confirmed",
                "http://hooks.test/confirmed",
                None,
            ),
            subscription("call.completed.no_answer", "http://hooks.test/other", None),
            subscription(
                "call.completed",
                "http://hooks.test/uk",
                Some(serde_json::json!({"phone_number": "+44%"})),
            ),
            subscription(
                "call.completed",
                "http://hooks.test/us",
                Some(serde_json::json!({"phone_number": "+1555%", "is_conversion": true})),
            ),
        ];
        let conversions = HashMap::from([("camp_1".to_string(), vec!["confirmed".to_string()])]);
        let now: DateTime<Utc> = "2025-12-22T10:40:00Z".parse().unwrap();
        let out = route(
            event,
            0,
            &subscriptions,
            &conversions,
            WebhookPayloads::Named,
            now,
        );
        let sent: Vec<(&str, &str)> = out
            .iter()
            .map(|o| (o.url.as_str(), o.event.as_str()))
            .collect();
        assert_eq!(
            sent,
            [
                ("http://hooks.test/call", "call.completed"),
                ("http://hooks.test/all", "call.completed"),
                ("http://hooks.test/confirmed", "call.completed.confirmed"),
                ("http://hooks.test/us", "call.completed"),
            ]
        );
        for outgoing in &out {
            // The recording is ready 15 s after the call ends.
            assert_eq!(
                outgoing.next_at,
                now + Span::seconds(COMPLETED_DELAY_SECONDS)
            );
            let body: Value = serde_json::from_slice(&outgoing.body).unwrap();
            assert_eq!(body["event"], outgoing.event.as_str());
            assert_eq!(body["is_conversion"], true);
        }
    }

    #[test]
    fn documented_payloads_carry_no_event_and_other_events_go_out_at_once() {
        let call = queued_call();
        let mut emitted = 0;
        let event = lifecycle_events(&call, &mut emitted, None).remove(0);
        let subscriptions = [subscription("call.queued", "http://hooks.test/q", None)];
        let now: DateTime<Utc> = "2025-12-22T10:30:00Z".parse().unwrap();
        let out = route(
            event,
            1,
            &subscriptions,
            &HashMap::new(),
            WebhookPayloads::Documented,
            now,
        );
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].account, out[0].next_at), (1, now));
        let body: Value = serde_json::from_slice(&out[0].body).unwrap();
        assert!(body.get("event").is_none(), "{body}");
        assert_eq!(body["call_id"], "call_1");
    }

    #[test]
    fn like_patterns() {
        assert!(like("+1555%", "+15551234567"));
        assert!(!like("+1555%", "+14151234567"));
        assert!(like("%567", "+15551234567"));
        assert!(like("+1_55%", "+15551234567"));
        assert!(!like("+1_", "+155"));
        assert!(like("", ""));
        assert!(!like("", "x"));
        assert!(like("%", ""));
        assert!(like("a%b%c", "aXbYc"));
        assert!(!like("a%b%c", "aXbY"));
        assert!(like("%a", "aaa"));
    }

    /// The textbook recursive definition, exponential but obviously right.
    fn like_reference(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('%', rest)) => (0..=text.len()).any(|i| like_reference(rest, &text[i..])),
            Some(('_', rest)) => !text.is_empty() && like_reference(rest, &text[1..]),
            Some((c, rest)) => text.first() == Some(c) && like_reference(rest, &text[1..]),
        }
    }

    /// Every string of length 0..=max over `alphabet`.
    fn strings(alphabet: &[char], max: usize) -> Vec<Vec<char>> {
        let mut all = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..max {
            last = last
                .iter()
                .flat_map(|s| {
                    alphabet.iter().map(move |&c| {
                        let mut next = s.clone();
                        next.push(c);
                        next
                    })
                })
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    #[test]
    fn like_agrees_with_the_reference_on_every_small_case() {
        for pattern in strings(&['a', 'é', '%', '_'], 4) {
            for text in strings(&['a', 'é'], 4) {
                let (p, t): (String, String) = (pattern.iter().collect(), text.iter().collect());
                assert_eq!(
                    like(&p, &t),
                    like_reference(&pattern, &text),
                    "{t:?} LIKE {p:?}"
                );
            }
        }
    }

    #[test]
    fn like_takes_at_most_pattern_times_text_steps_on_patterns_full_of_wildcards() {
        let pattern = format!("{}x", "%_".repeat(200));
        let text = "+1555".repeat(200);
        let mut steps = 0;
        assert!(!like_counting(&pattern, &text, &mut steps));
        let bound = (pattern.len() as u64 + 1) * (text.len() as u64 + 1);
        assert!(steps <= bound, "{steps} steps for {bound}");
    }
}
