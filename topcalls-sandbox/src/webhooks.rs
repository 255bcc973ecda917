//! Webhook events: which a call emits, who receives them (per-call URL and
//! account subscriptions with filters), and signed delivery with retries.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};
use serde_json::{Map, Value};
use topcalls_api::webhooks::sign_headers;
use topcalls_types::{
    CallCompletedEvent, CallFailedEvent, CallGatewayStatus, CallQueuedEvent, CallStartedEvent,
    WebhookSubscription,
};

use crate::server::{App, lock};
use crate::state::CallRecord;

/// Waits after a failed attempt (1 min, 5 min, 15 min, 1 h), counted from the
/// sandbox time at which that attempt was sent, then the delivery is failed.
const RETRY_SCHEDULE: [i64; 4] = [60, 5 * 60, 15 * 60, 60 * 60];
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
    account: usize,
    pub(crate) url: String,
    pub(crate) event: String,
    pub(crate) body: Vec<u8>,
    pub(crate) next_at: DateTime<Utc>,
    pub(crate) attempts: Vec<Option<u16>>,
    pub(crate) delivered: bool,
    pub(crate) failed: bool,
    in_flight: bool,
}

impl Outgoing {
    /// Due for an attempt at `now`, or being attempted: what [`Signals`] waits out.
    fn unsettled(&self, now: DateTime<Utc>) -> bool {
        !self.delivered && !self.failed && (self.in_flight || self.next_at <= now)
    }
}

/// What the delivery loop and `Sandbox::settle` tell each other.
#[derive(Debug)]
pub(crate) struct Signals {
    /// Wakes the delivery loop: the clock moved or someone waits for it.
    wake: tokio::sync::Notify,
    /// Bumped each time an attempt's outcome is recorded.
    recorded: tokio::sync::watch::Sender<u64>,
}

impl Default for Signals {
    fn default() -> Self {
        Self {
            wake: tokio::sync::Notify::new(),
            recorded: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl Signals {
    /// Asks the delivery loop to look for due deliveries now.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Waits until no delivery is due at the current sandbox time or in flight:
/// every attempt due so far has been made and its outcome recorded.
pub(crate) async fn settle(app: &App) {
    let mut recorded = app.deliveries.recorded.subscribe();
    loop {
        // Mark the current count seen before looking, so that an attempt
        // recorded after the look still wakes us.
        recorded.borrow_and_update();
        let unsettled = {
            let world = app.world();
            let now = app.clock.now();
            world.deliveries.iter().any(|d| d.unsettled(now))
        };
        if !unsettled {
            return;
        }
        app.deliveries.wake();
        if recorded.changed().await.is_err() {
            return;
        }
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

/// The lifecycle events `record` has reached but not yet emitted.
pub(crate) fn lifecycle_events(record: &mut CallRecord) -> Vec<Emitted> {
    let call = &record.call;
    let phase = match call.status {
        CallGatewayStatus::Completed | CallGatewayStatus::Failed | CallGatewayStatus::Cancelled => {
            3
        }
        CallGatewayStatus::InProgress => 2,
        _ => 1,
    };
    let mut out = Vec::new();
    while record.emitted < phase {
        record.emitted += 1;
        let call = &record.call;
        let (name, body) = match record.emitted {
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
            call_webhook: record.webhook.clone(),
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

/// Waits until `done` holds for the deliveries, looking again after each
/// recorded attempt; returns the deliveries it held for.
pub(crate) async fn wait_for(
    app: &App,
    done: impl Fn(&[DeliveryInfo]) -> bool,
) -> Vec<DeliveryInfo> {
    let mut recorded = app.deliveries.recorded.subscribe();
    loop {
        recorded.borrow_and_update();
        let deliveries: Vec<DeliveryInfo> = app
            .world()
            .deliveries
            .iter()
            .map(DeliveryInfo::from)
            .collect();
        if done(&deliveries) || recorded.changed().await.is_err() {
            return deliveries;
        }
    }
}

/// Sends due deliveries until `stop`, and records each attempt.
///
/// Each receiver gets its deliveries in order, one at a time; receivers are
/// served side by side, so a slow or dead one holds up no other. Each
/// delivery is signed with its account's secret. An attempt without an
/// answer within `timeout` (real time) counts as failed.
pub(crate) async fn deliver(
    app: Arc<App>,
    timeout: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    // Only ever the URL given: no redirects followed, no proxy in between.
    let http = match reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
    {
        Ok(http) => http,
        Err(_) => return,
    };
    // An automatic clock makes deliveries due without telling anyone: look
    // every 20 ms. A manual clock, and `settle`, wake the loop at once.
    let mut every = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = app.deliveries.wake.notified() => {}
            _ = stop.changed() => return,
        }
        let now = app.clock.now();
        let mut due: BTreeMap<String, Vec<Due>> = BTreeMap::new();
        {
            let mut world = app.world();
            let busy: HashSet<String> = world
                .deliveries
                .iter()
                .filter(|d| d.in_flight)
                .map(|d| d.url.clone())
                .collect();
            for (index, d) in world.deliveries.iter_mut().enumerate() {
                if !d.delivered
                    && !d.failed
                    && !d.in_flight
                    && d.next_at <= now
                    && !busy.contains(&d.url)
                {
                    d.in_flight = true;
                    due.entry(d.url.clone()).or_default().push(Due {
                        index,
                        account: d.account,
                        id: d.id.clone(),
                        body: d.body.clone(),
                    });
                }
            }
        }
        for (url, batch) in due {
            tokio::spawn(send_in_order(app.clone(), http.clone(), url, batch));
        }
    }
}

/// A delivery due for an attempt.
struct Due {
    /// Its index in `World::deliveries`.
    index: usize,
    account: usize,
    id: String,
    body: Vec<u8>,
}

/// One attempt for each of `batch` (deliveries to `url`), in order.
async fn send_in_order(app: Arc<App>, http: reqwest::Client, url: String, batch: Vec<Due>) {
    for Due {
        index,
        account,
        id,
        body,
    } in batch
    {
        // The retry schedule counts from when the attempt was sent, whatever the
        // clock does while its answer is on the way.
        let sent_at = app.clock.now();
        // Wall-clock time, not sandbox time: receivers check it against their own
        // clock (5 minutes' tolerance), and the sandbox clock runs ahead of it.
        let timestamp = Utc::now().timestamp();
        // Every account has a secret; were one missing, the attempt fails
        // (and is recorded) rather than going out unsigned.
        let status = match app.webhook_secrets.get(account) {
            Some(secret) => http
                .post(&url)
                .headers(sign_headers(secret, &id, timestamp, &body))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .ok()
                .map(|r| r.status().as_u16()),
            None => None,
        };
        if let Some(delivery) = lock(&app.world).deliveries.get_mut(index) {
            delivery.in_flight = false;
            delivery.attempts.push(status);
            if status.is_some_and(|s| (200..300).contains(&s)) {
                delivery.delivered = true;
            } else if let Some(wait) = RETRY_SCHEDULE.get(delivery.attempts.len() - 1) {
                delivery.next_at = sent_at + Span::seconds(*wait);
            } else {
                delivery.failed = true;
            }
        }
        // After the world's lock is released: whoever wakes sees the outcome.
        app.deliveries.recorded.send_modify(|count| *count += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
