//! Accounts and everything they own, in memory, and the rules that move it.
//! The webhook events a call emits, and who receives them, are [`events`].

pub(crate) mod events;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration as Span, Utc};
use serde_json::Map;
use topcalls_types::{
    AnsweredBy, Call, CallGatewayStatus, CallTelephonyStatus, Campaign, CampaignStats,
    CampaignStatus, Carrier, PhoneNumber, TranscriptEntry, TranscriptSpeaker,
};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    CallsRead,
    CallsWrite,
    CampaignsRead,
    CampaignsWrite,
    NumbersRead,
    NumbersWrite,
    /// Any valid key (models, voices).
    Any,
}

impl Scope {
    /// The scope as the TopCalls docs spell it (`calls:write`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scope::CallsRead => "calls:read",
            Scope::CallsWrite => "calls:write",
            Scope::CampaignsRead => "campaigns:read",
            Scope::CampaignsWrite => "campaigns:write",
            Scope::NumbersRead => "phone_numbers:read",
            Scope::NumbersWrite => "phone_numbers:write",
            Scope::Any => "any",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ApiKey {
    pub(crate) id: String,
    pub(crate) account: usize,
    pub(crate) scopes: Vec<Scope>,
}

/// Destination numbers with a fixed outcome, like test card numbers.
pub(crate) fn outcome_for(number: &str) -> Outcome {
    match number {
        "+15550000001" => Outcome::Busy,
        "+15550000002" => Outcome::NoAnswer,
        "+15550000003" => Outcome::Failed,
        "+15550000004" => Outcome::Rejected,
        "+15550000005" => Outcome::Voicemail,
        "+15550000006" => Outcome::DispatchTimeout,
        _ => Outcome::Human,
    }
}

/// Numbers the sandbox refuses as not dialable: the shared rule
/// ([`topcalls_types::rules::dialable`]; country code +999, unassigned).
pub(crate) fn is_dialable(number: &str) -> bool {
    topcalls_types::rules::dialable(number).is_ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Human,
    Voicemail,
    Busy,
    NoAnswer,
    Failed,
    Rejected,
    DispatchTimeout,
}

/// Sandbox seconds a connected call lasts (90 s = 1.5 minutes).
const TALK_SECONDS: i64 = 90;
/// Sandbox seconds a failed attempt takes.
const FAIL_SECONDS: i64 = 20;

#[derive(Debug, Clone)]
pub(crate) struct CallRecord {
    /// Shared, so that a request copies a pointer out of the world and
    /// encodes the call after the lock is released; changed through
    /// [`CallRecord::edit`] (copy on write while a request still encodes it).
    pub(crate) call: Arc<Call>,
    pub(crate) task: String,
    pub(crate) outcome: Outcome,
    pub(crate) reserved: f64,
    pub(crate) settled: bool,
    /// Per-call webhook: URL and the events it wants (empty: every call event).
    pub(crate) webhook: Option<(String, Vec<String>)>,
    /// Lifecycle events already emitted: 0 none, 1 queued, 2 started, 3 final.
    pub(crate) emitted: u8,
}

impl CallRecord {
    /// The call, to change.
    pub(crate) fn edit(&mut self) -> &mut Call {
        Arc::make_mut(&mut self.call)
    }

    /// The lifecycle events the call has reached since the last look, for
    /// its own webhook and, when the account has any, its `subscriptions`.
    /// With neither, nobody receives them: they are marked as emitted
    /// without being built.
    pub(crate) fn take_events(&mut self, subscriptions: bool) -> Vec<events::Emitted> {
        if !subscriptions && self.webhook.is_none() {
            self.emitted = self.emitted.max(events::phase(&self.call));
            return Vec::new();
        }
        events::lifecycle_events(&self.call, &mut self.emitted, self.webhook.as_ref())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CampaignRecord {
    pub(crate) seq: u64,
    pub(crate) campaign: Campaign,
    /// Destination numbers of leads not yet called, with their lead ids.
    pub(crate) pending_leads: Vec<(String, String)>,
    pub(crate) total_leads: i64,
    pub(crate) task: String,
}

#[derive(Debug, Clone)]
pub(crate) struct NumberRecord {
    pub(crate) seq: u64,
    pub(crate) number: PhoneNumber,
}

#[derive(Debug, Clone)]
pub(crate) struct CarrierRecord {
    pub(crate) carrier: Carrier,
    pub(crate) deleted: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Account {
    pub(crate) id: String,
    /// Oldest first, with strictly growing `created_at` (see
    /// [`Account::call_created_at`]): a position is found by binary search.
    /// Calls change only through [`Account::update`], which keeps the
    /// indexes below in step.
    pub(crate) calls: Vec<CallRecord>,
    pub(crate) campaigns: Vec<CampaignRecord>,
    pub(crate) numbers: Vec<NumberRecord>,
    pub(crate) carriers: Vec<CarrierRecord>,
    pub(crate) subscriptions: Vec<topcalls_types::WebhookSubscription>,
    /// Calls that will still change or have events to emit, as (the sandbox
    /// time they are next due, index into `calls`), soonest first: a tick
    /// looks only at the calls due, not at every call in flight.
    active: BTreeSet<(DateTime<Utc>, usize)>,
    /// Index into `calls` by call id (a UUID; 16 bytes rather than a string).
    by_id: HashMap<uuid::Uuid, usize>,
    /// Indexes into `calls` by campaign id, oldest first.
    pub(crate) by_campaign: HashMap<String, Vec<usize>>,
    /// Indexes into `calls` by telephony status (`call_status`), for the
    /// list's `status` filter.
    by_status: HashMap<CallTelephonyStatus, BTreeSet<usize>>,
    /// The same, per campaign, for `campaign_id` and `status` together.
    by_campaign_status: HashMap<String, HashMap<CallTelephonyStatus, BTreeSet<usize>>>,
    pub(crate) plan_minutes: f64,
    pub(crate) bonus_minutes: f64,
    pub(crate) used_minutes: f64,
    pub(crate) reserved_minutes: f64,
}

impl Account {
    /// An account with no calls or anything else.
    pub(crate) fn new(id: String) -> Self {
        Self {
            id,
            ..Self::default()
        }
    }

    /// Adds a call newer than every call of the account (its `created_at`
    /// from [`Account::call_created_at`]); `active` unless it is final and
    /// has emitted its events.
    pub(crate) fn add_call(&mut self, record: CallRecord) {
        let index = self.calls.len();
        if let Ok(id) = record.call.id.parse() {
            self.by_id.insert(id, index);
        }
        if let Some(campaign) = &record.call.campaign_id {
            self.by_campaign
                .entry(campaign.clone())
                .or_default()
                .push(index);
        }
        if !(is_final(&record.call.status) && record.emitted >= 3) {
            self.active.insert((record.call.created_at, index));
        }
        self.calls.push(record);
        self.reindex(index, None);
    }

    /// Changes the call at `index` with `change`, keeping the status
    /// indexes in step; `None` when there is no such call.
    pub(crate) fn update<R>(
        &mut self,
        index: usize,
        change: impl FnOnce(&mut CallRecord) -> R,
    ) -> Option<R> {
        let record = self.calls.get_mut(index)?;
        let before = record.call.call_status.clone();
        let out = change(record);
        if self.calls[index].call.call_status != before {
            self.reindex(index, before);
        }
        Some(out)
    }

    /// Moves the call at `index` from the status indexes of `before` to
    /// those of its current status.
    fn reindex(&mut self, index: usize, before: Option<CallTelephonyStatus>) {
        let Some(record) = self.calls.get(index) else {
            return;
        };
        let after = record.call.call_status.clone();
        let campaign = record.call.campaign_id.clone();
        let mut sets = vec![&mut self.by_status];
        if let Some(campaign) = campaign {
            sets.push(self.by_campaign_status.entry(campaign).or_default());
        }
        for set in sets {
            if let Some(before) = &before
                && let Some(indexes) = set.get_mut(before)
            {
                indexes.remove(&index);
            }
            if let Some(after) = &after {
                set.entry(after.clone()).or_default().insert(index);
            }
        }
    }

    /// Has the next tick look at the call at `index` (it changed outside
    /// its timeline, e.g. it was cancelled, and has events to emit).
    pub(crate) fn wake(&mut self, index: usize, now: DateTime<Utc>) {
        self.active.insert((now, index));
    }

    /// The position of a call in `calls`, by id.
    pub(crate) fn call_index(&self, id: &str) -> Option<usize> {
        self.by_id.get(&id.parse().ok()?).copied()
    }

    /// The calls created before `before` (every call when `None`), newest
    /// first, of `campaign` and with telephony `status` when given.
    ///
    /// Costs O(log n) to start and O(1) per call it yields, whatever the
    /// filters match: the cursor is found by binary search (calls are
    /// stored oldest first with strictly growing `created_at`) and each
    /// filter reads its own index, so a request never scans the calls.
    pub(crate) fn calls_before<'a>(
        &'a self,
        before: Option<DateTime<Utc>>,
        campaign: Option<&str>,
        status: Option<&CallTelephonyStatus>,
    ) -> impl Iterator<Item = &'a CallRecord> + 'a {
        let cut = before.map_or(self.calls.len(), |before| {
            self.calls.partition_point(|c| c.call.created_at < before)
        });
        let indexes: Box<dyn Iterator<Item = usize> + 'a> = match (campaign, status) {
            (None, None) => Box::new((0..cut).rev()),
            (Some(campaign), None) => {
                let all = self
                    .by_campaign
                    .get(campaign)
                    .map_or(&[][..], Vec::as_slice);
                let end = all.partition_point(|&index| index < cut);
                Box::new(all[..end].iter().rev().copied())
            }
            (None, Some(status)) => Box::new(
                self.by_status
                    .get(status)
                    .into_iter()
                    .flat_map(move |set| set.range(..cut).rev().copied()),
            ),
            (Some(campaign), Some(status)) => Box::new(
                self.by_campaign_status
                    .get(campaign)
                    .and_then(|by_status| by_status.get(status))
                    .into_iter()
                    .flat_map(move |set| set.range(..cut).rev().copied()),
            ),
        };
        indexes.filter_map(|index| self.calls.get(index))
    }

    /// The `created_at` of a call created at `now`: `now`, or a microsecond
    /// after the account's newest call when that is not earlier. So no two
    /// calls of an account share a creation time, and the calls cursor (a
    /// timestamp: "created before this") pages through them with no repeats
    /// and no gaps, even for calls created in the same instant.
    pub(crate) fn call_created_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self.calls.last() {
            Some(newest) if newest.call.created_at >= now => {
                newest.call.created_at + Span::microseconds(1)
            }
            _ => now,
        }
    }

    /// Whether any webhook subscription is live.
    pub(crate) fn has_subscriptions(&self) -> bool {
        self.subscriptions.iter().any(|s| s.deleted_at.is_none())
    }

    /// The caller id of a call created without `from_number`: the account's
    /// oldest active number (TopCalls falls back to a default it configures).
    pub(crate) fn default_caller_id(&self) -> Option<String> {
        self.numbers
            .iter()
            .find(|n| n.number.status == Some(topcalls_types::PhoneNumberStatus::Active))
            .map(|n| n.number.number.clone())
    }

    pub(crate) fn total_minutes(&self) -> f64 {
        self.plan_minutes + self.bonus_minutes
    }
    pub(crate) fn remaining_minutes(&self) -> f64 {
        (self.total_minutes() - self.used_minutes).max(0.0)
    }
    /// Minutes available for a new call.
    pub(crate) fn available_minutes(&self) -> f64 {
        (self.remaining_minutes() - self.reserved_minutes).max(0.0)
    }
}

/// The whole sandbox world.
#[derive(Debug, Default)]
pub(crate) struct World {
    pub(crate) accounts: Vec<Account>,
    pub(crate) keys: HashMap<String, ApiKey>,
    pub(crate) next_seq: u64,
    /// Webhook deliveries, in the order they were queued.
    pub(crate) deliveries: Vec<events::Outgoing>,
    /// Sandbox time of the last [`World::tick`].
    pub(crate) last_tick: Option<DateTime<Utc>>,
    /// How long a new call waits in `queued` before it rings.
    pub(crate) queue_time: Span,
    /// Whether webhook bodies carry `event`.
    pub(crate) webhook_payloads: events::WebhookPayloads,
}

impl World {
    pub(crate) fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Moves every call and campaign forward to `now`.
    pub(crate) fn tick(&mut self, now: DateTime<Utc>) {
        let queue_time = self.queue_time;
        for index in 0..self.accounts.len() {
            self.dispatch_campaigns(index, now);
            let account = &mut self.accounts[index];
            let mut settle = Vec::new();
            let mut events = Vec::new();
            let mut touched = std::collections::HashSet::new();
            let subscriptions = account.has_subscriptions();
            while let Some(&(due, index)) = account.active.first()
                && due <= now
            {
                account.active.pop_first();
                let Some((next, emitted, campaign)) = account.update(index, |record| {
                    let next = advance_call(record, queue_time, now);
                    if next == Next::Final && !record.settled {
                        record.settled = true;
                        let billed = record.call.duration.unwrap_or(0.0);
                        settle.push((record.reserved, billed));
                    }
                    events.extend(record.take_events(subscriptions));
                    (next, record.emitted, record.call.campaign_id.clone())
                }) else {
                    continue;
                };
                if let Some(campaign) = campaign {
                    touched.insert(campaign);
                }
                match next {
                    Next::At(at) => {
                        account.active.insert((at, index));
                    }
                    // Events of the last phase are emitted above, so a final call is done.
                    Next::Final if emitted < 3 => {
                        account.active.insert((now, index));
                    }
                    Next::Final | Next::Never => {}
                }
            }
            self.route_events(index, events, now);
            let account = &mut self.accounts[index];
            for (reserved, billed) in settle {
                account.reserved_minutes = (account.reserved_minutes - reserved).max(0.0);
                account.used_minutes += billed;
            }
            refresh_campaign_stats(account, &touched, now);
        }
        self.last_tick = Some(now);
    }

    /// Turns emitted events into deliveries: the call's webhook and matching subscriptions.
    pub(crate) fn route_events(
        &mut self,
        index: usize,
        events: Vec<events::Emitted>,
        now: DateTime<Utc>,
    ) {
        if events.is_empty() {
            return;
        }
        let account = &self.accounts[index];
        let conversions: HashMap<String, Vec<String>> = account
            .campaigns
            .iter()
            .map(|c| {
                (
                    c.campaign.id.clone(),
                    c.campaign.conversion_outcomes.clone(),
                )
            })
            .collect();
        for event in events {
            let outgoing = events::route(
                event,
                index,
                &account.subscriptions,
                &conversions,
                self.webhook_payloads,
                now,
            );
            self.deliveries.extend(outgoing);
        }
    }

    /// Queues campaign leads as calls, within the campaign's rate and concurrency.
    fn dispatch_campaigns(&mut self, index: usize, now: DateTime<Utc>) {
        let mut new_calls = Vec::new();
        {
            let account = &mut self.accounts[index];
            for campaign in &mut account.campaigns {
                if campaign.campaign.status != CampaignStatus::Running
                    || campaign.pending_leads.is_empty()
                {
                    continue;
                }
                let id = campaign.campaign.id.clone();
                let calls = || campaign_calls(&account.calls, &account.by_campaign, &id);
                let active = calls().filter(|c| !is_final(&c.call.status)).count() as i64;
                let last_minute = calls()
                    .rev()
                    .take_while(|c| now - c.call.created_at < Span::minutes(1))
                    .count() as i64;
                let per_minute = campaign.campaign.max_calls_per_minute.unwrap_or(10).max(1);
                let concurrent = campaign.campaign.max_concurrent_calls.unwrap_or(2).max(1);
                let room = (per_minute - last_minute).min(concurrent - active).max(0) as usize;
                for _ in 0..room.min(campaign.pending_leads.len()) {
                    let (number, lead) = campaign.pending_leads.remove(0);
                    new_calls.push((number, lead, id.clone(), campaign.task.clone()));
                }
            }
        }
        for (number, lead, campaign_id, task) in new_calls {
            let account = &mut self.accounts[index];
            let created = account.call_created_at(now);
            let from = account.default_caller_id();
            let mut record = new_call(&account.id, &number, from, &task, 0.0, created);
            let call = record.edit();
            call.campaign_id = Some(campaign_id);
            call.lead_id = Some(lead);
            account.add_call(record);
        }
    }
}

/// The calls of one campaign, oldest first (by field, for callers that hold
/// other parts of the account mutably).
fn campaign_calls<'a>(
    calls: &'a [CallRecord],
    by_campaign: &'a HashMap<String, Vec<usize>>,
    campaign: &str,
) -> impl DoubleEndedIterator<Item = &'a CallRecord> + 'a {
    by_campaign
        .get(campaign)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|&index| calls.get(index))
}

pub(crate) fn is_final(status: &CallGatewayStatus) -> bool {
    matches!(
        status,
        CallGatewayStatus::Completed | CallGatewayStatus::Failed | CallGatewayStatus::Cancelled
    )
}

/// A new queued call, created at `created` (see [`Account::call_created_at`]).
pub(crate) fn new_call(
    account_id: &str,
    to: &str,
    from: Option<String>,
    task: &str,
    reserved: f64,
    created: DateTime<Utc>,
) -> CallRecord {
    let id = uuid::Uuid::new_v4().to_string();
    CallRecord {
        task: task.to_string(),
        outcome: outcome_for(to),
        reserved,
        settled: false,
        webhook: None,
        emitted: 0,
        call: Arc::new(Call {
            id: id.clone(),
            account_id: Some(account_id.to_string()),
            phone_number: Some(to.to_string()),
            from_phone_number: from,
            status: CallGatewayStatus::Queued,
            call_status: None,
            external_call_id: Some(format!("sbx_{}", &id[..8])),
            duration: None,
            actual_duration_billed: None,
            transcript: Some(Vec::new()),
            recording_url: None,
            call_summary: None,
            error_message: None,
            answered_by: None,
            campaign_id: None,
            lead_id: None,
            completed: Some(false),
            disposition: None,
            created_at: created,
            started_at: None,
            end_at: None,
            metadata: Some(Map::new()),
        }),
    }
}

/// When a call changes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// At this sandbox time.
    At(DateTime<Utc>),
    /// Never again: it is final.
    Final,
    /// Never on its own: it stays queued (a queue time past the end of the calendar).
    Never,
}

/// Moves one call along its timeline (`queue_time` queued, then ringing and
/// talking) to `now`, and says when it changes next.
pub(crate) fn advance_call(record: &mut CallRecord, queue_time: Span, now: DateTime<Utc>) -> Next {
    if is_final(&record.call.status) {
        return Next::Final;
    }
    // A queue time past the end of the calendar keeps the call queued.
    let Some(connect_at) = record.call.created_at.checked_add_signed(queue_time) else {
        return Next::Never;
    };
    let talks = matches!(record.outcome, Outcome::Human | Outcome::Voicemail);
    if !talks {
        let fail_at = connect_at + Span::seconds(FAIL_SECONDS);
        if now < fail_at {
            return Next::At(fail_at);
        }
        let (telephony, message) = match record.outcome {
            Outcome::Busy => (CallTelephonyStatus::Busy, "The line was busy."),
            Outcome::NoAnswer => (CallTelephonyStatus::NoAnswer, "Nobody answered."),
            Outcome::Rejected => (
                CallTelephonyStatus::Rejected,
                "The callee rejected the call.",
            ),
            Outcome::DispatchTimeout => (
                CallTelephonyStatus::DispatchTimeout,
                "No agent could be dispatched in time.",
            ),
            _ => (
                CallTelephonyStatus::Failed,
                "The carrier reported a failure.",
            ),
        };
        // Needed no more: a failed call has no transcript or summary.
        record.task = String::new();
        let call = record.edit();
        call.status = CallGatewayStatus::Failed;
        call.call_status = Some(telephony);
        call.error_message = Some(message.to_string());
        call.end_at = Some(connect_at + Span::seconds(FAIL_SECONDS));
        call.duration = Some(0.0);
        call.actual_duration_billed = Some(0.0);
        call.completed = Some(true);
        return Next::Final;
    }
    if now < connect_at {
        return Next::At(connect_at);
    }
    let end_at = connect_at + Span::seconds(TALK_SECONDS);
    if now < end_at {
        if record.call.status != CallGatewayStatus::InProgress {
            let call = record.edit();
            call.started_at = Some(connect_at);
            call.status = CallGatewayStatus::InProgress;
            call.call_status = Some(CallTelephonyStatus::InProgress);
        }
        return Next::At(end_at);
    }
    let voicemail = record.outcome == Outcome::Voicemail;
    // Needed no more once it is in the transcript and summary.
    let task = std::mem::take(&mut record.task);
    let call = record.edit();
    call.started_at = Some(connect_at);
    let minutes = if voicemail {
        0.5
    } else {
        TALK_SECONDS as f64 / 60.0
    };
    call.status = CallGatewayStatus::Completed;
    call.call_status = Some(CallTelephonyStatus::Completed);
    call.answered_by = Some(if voicemail {
        AnsweredBy::Voicemail
    } else {
        AnsweredBy::Human
    });
    call.end_at = Some(connect_at + Span::seconds((minutes * 60.0) as i64));
    call.duration = Some(minutes);
    call.actual_duration_billed = Some(minutes.ceil());
    call.recording_url = Some(format!(
        "https://recordings.sandbox.topcalls.local/{}.mp3",
        call.id
    ));
    call.transcript = Some(transcript(&task, voicemail, connect_at));
    call.call_summary = Some(if voicemail {
        format!("Reached voicemail and left a message about: {task}")
    } else {
        format!("The agent completed the task with the person who answered: {task}")
    });
    call.disposition = Some(if voicemail { "voicemail" } else { "confirmed" }.to_string());
    call.completed = Some(true);
    Next::Final
}

fn transcript(task: &str, voicemail: bool, start: DateTime<Utc>) -> Vec<TranscriptEntry> {
    let lines: Vec<(TranscriptSpeaker, String)> = if voicemail {
        vec![
            (
                TranscriptSpeaker::User,
                "You have reached the voicemail box. Please leave a message.".into(),
            ),
            (
                TranscriptSpeaker::Assistant,
                format!(
                    "Hello, this is an automated assistant calling about: {task} Please call us back."
                ),
            ),
        ]
    } else {
        vec![
            (
                TranscriptSpeaker::Assistant,
                "Hi, this is the TopCalls assistant. Do you have a minute?".into(),
            ),
            (TranscriptSpeaker::User, "Yes, go ahead.".into()),
            (
                TranscriptSpeaker::Assistant,
                format!("I'm calling about this: {task}"),
            ),
            (
                TranscriptSpeaker::User,
                "Sure, that works for me. Thank you.".into(),
            ),
            (
                TranscriptSpeaker::Assistant,
                "Great, that's all settled. Have a nice day!".into(),
            ),
        ]
    };
    lines
        .into_iter()
        .enumerate()
        .map(|(i, (user, text))| TranscriptEntry {
            id: Some(i as i64 + 1),
            user: Some(user),
            text: Some(text),
            created_at: Some(start + Span::seconds(2 + 12 * i as i64)),
        })
        .collect()
}

/// Recomputes the stats of campaigns that are running, had call activity, or have none yet.
fn refresh_campaign_stats(
    account: &mut Account,
    touched: &std::collections::HashSet<String>,
    now: DateTime<Utc>,
) {
    for campaign in &mut account.campaigns {
        let id = campaign.campaign.id.clone();
        let stale = campaign.campaign.status == CampaignStatus::Running
            || campaign.campaign.stats.is_none()
            || touched.contains(&id);
        if !stale {
            continue;
        }
        let calls: Vec<&Call> = campaign_calls(&account.calls, &account.by_campaign, &id)
            .map(|c| &*c.call)
            .collect();
        let made = calls.len() as i64;
        let completed = calls
            .iter()
            .filter(|c| c.status == CallGatewayStatus::Completed)
            .count() as i64;
        let failed = calls
            .iter()
            .filter(|c| c.status == CallGatewayStatus::Failed)
            .count() as i64;
        let connected = calls
            .iter()
            .filter(|c| c.answered_by == Some(AnsweredBy::Human))
            .count() as i64;
        let conversions = calls
            .iter()
            .filter(|c| {
                c.disposition
                    .as_ref()
                    .is_some_and(|d| campaign.campaign.conversion_outcomes.contains(d))
            })
            .count() as i64;
        let minutes: f64 = calls.iter().filter_map(|c| c.duration).sum();
        let ratio = |n: i64, d: i64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
        campaign.campaign.stats = Some(CampaignStats {
            total_leads: Some(campaign.total_leads),
            pending_leads: Some(campaign.pending_leads.len() as i64),
            calls_made: Some(made),
            calls_completed: Some(completed),
            calls_failed: Some(failed),
            connected: Some(connected),
            conversions: Some(conversions),
            connection_rate: Some(ratio(connected, made)),
            conversion_rate: Some(ratio(conversions, made)),
            minutes_used: Some(minutes),
        });
        let active = calls.iter().any(|c| !is_final(&c.status));
        if campaign.campaign.status == CampaignStatus::Running
            && campaign.pending_leads.is_empty()
            && !active
        {
            campaign.campaign.status = CampaignStatus::Completed;
            campaign.campaign.completed_at = Some(now);
            campaign.campaign.updated_at = Some(now);
        }
    }
}
