//! Every operation of the TopCalls API, once, against the embedded sandbox,
//! each with per-request options (a deadline, a retry policy, an
//! idempotency key): the SDK as a new user meets it.
//!
//! Run from the workspace root (CI runs it too):
//!
//! ```sh
//! cargo run --example tour
//! ```
//!
//! It prints one line per operation: what it did and what came back. The
//! sandbox runs on a manual clock that the tour moves forward itself, so the
//! run never waits for time to pass and prints the same thing every time.

use std::time::Duration;

use futures::StreamExt;
use topcalls_api::types::{CallOutcomeFilter, VoiceModeFilter};
use topcalls_api::{
    Client, NewCall, NewCarrier, NewPhoneNumber, NewWebhookSubscription, RequestOptions,
    RetryPolicy, WaitOptions,
};
use topcalls_sandbox::{ClockMode, Sandbox};

/// A destination the sandbox answers with a person.
const PERSON: &str = "+15551234567";
/// The deadline every request of the tour gets, across its attempts.
const DEADLINE: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::builder().clock(ClockMode::Manual).start().await?;
    let client = Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .build()?;
    let patient = RetryPolicy::default()
        .max_retries(4)
        .base_delay(Duration::from_millis(50));
    println!("A tour of the TopCalls API against the sandbox (manual clock)\n");

    // Account and configuration.
    let balance = client.balance().deadline(DEADLINE).await?;
    println!(
        "get_balance          {:.1} call minutes left",
        balance.remaining_minutes
    );
    let models = client.models().retry(patient.clone()).await?;
    println!("list_models          {} models", models.data.len());
    let voices = client
        .builtin_voices()
        .mode(VoiceModeFilter::Realtime)
        .deadline(DEADLINE)
        .await?;
    println!("list_builtin_voices  {} realtime voices", voices.data.len());
    let account_voices = client.voices().deadline(DEADLINE).await?;
    println!(
        "list_voices          {} voices on the account",
        account_voices.data.len()
    );

    // Calls: place one and follow it to its summary.
    let placed = client
        .calls()
        .create(
            NewCall::to(PERSON)
                .task("Confirm tomorrow's 10:00 dentist appointment with Sam.")
                .max_duration_minutes(5.0),
        )
        .idempotency_key("tour-appointment-call")
        .retry(patient.clone())
        .deadline(DEADLINE)
        .await?;
    println!("create_call          placed, {}", placed.status);
    let call = client
        .calls()
        .get(&placed.call_id)
        .deadline(DEADLINE)
        .await?;
    println!("get_call             {}", call.status);
    // Sandbox time: the call leaves the queue, is answered, ends, and its
    // recording and summary are ready. Then the wait's first poll finds it
    // finished.
    sandbox.advance(Duration::from_secs(15 * 60));
    sandbox.settle().await;
    let call = client
        .calls()
        .wait_until_finished(&placed.call_id)
        .options(WaitOptions::default().interval(Duration::from_secs(1)))
        .retry(patient.clone())
        .deadline(Duration::from_secs(60))
        .await?;
    println!(
        "  wait (get_call)    {}, {} transcript lines, summary: {}",
        call.status,
        call.transcript.as_ref().map_or(0, Vec::len),
        if call.call_summary.is_some() {
            "yes"
        } else {
            "no"
        }
    );

    // A call stopped while queued, and one cancelled before it started.
    let to_stop = client
        .calls()
        .create(NewCall::to(PERSON).task("Remind Alex about the 3pm delivery window."))
        .idempotency_key("tour-call-to-stop")
        .await?;
    let stopped = client
        .calls()
        .stop(&to_stop.call_id)
        .idempotency_key("tour-stop-1")
        .deadline(DEADLINE)
        .await?;
    println!("stop_call            ok: {}", stopped.ok);
    let to_cancel = client
        .calls()
        .create(NewCall::to(PERSON).task("Ask Kim whether Friday still works."))
        .idempotency_key("tour-call-to-cancel")
        .await?;
    let cancelled = client
        .calls()
        .cancel(&to_cancel.call_id)
        .options(
            RequestOptions::new()
                .idempotency_key("tour-cancel-1")
                .deadline(DEADLINE),
        )
        .await?;
    println!("cancel_call          ok: {}", cancelled.ok);

    // Lists: a page, a stream, and the generated builder on the same path.
    let page = client
        .calls()
        .list()
        .limit(2)
        .deadline(DEADLINE)
        .page()
        .await?;
    println!(
        "list_calls           a page of {} (more: {})",
        page.data.len(),
        page.next_cursor.is_some()
    );
    let mut calls = client
        .calls()
        .list()
        .limit(1)
        .retry(patient.clone())
        .stream();
    let mut streamed = 0;
    while let Some(call) = calls.next().await {
        call?;
        streamed += 1;
    }
    println!("  stream             {streamed} calls, one page at a time");
    let completed = client
        .send(
            client
                .raw()
                .list_calls()
                .status(CallOutcomeFilter::Completed),
        )
        .deadline(DEADLINE)
        .await?;
    println!(
        "  Client::send       {} completed (the generated builder)",
        completed.data.len()
    );

    // Campaigns: made in the dashboard; the API starts, pauses and watches them.
    let campaigns = client.campaigns().list().deadline(DEADLINE).page().await?;
    println!("list_campaigns       {} campaigns", campaigns.data.len());
    let draft = campaigns
        .data
        .iter()
        .find(|c| c.status.to_string() == "draft")
        .ok_or("the sandbox seeds a draft campaign")?;
    let campaign = client.campaigns().get(&draft.id).deadline(DEADLINE).await?;
    println!(
        "get_campaign         {:?}: {}",
        campaign.name.as_deref().unwrap_or(""),
        campaign.status
    );
    let started = client
        .campaigns()
        .start(&draft.id)
        .idempotency_key("tour-campaign-start")
        .await?;
    println!("start_campaign       ok: {}", started.ok);
    let paused = client
        .campaigns()
        .pause(&draft.id)
        .idempotency_key("tour-campaign-pause")
        .retry(patient.clone())
        .await?;
    println!("pause_campaign       ok: {}", paused.ok);
    let campaign = client
        .campaigns()
        .wait_until_finished(&draft.id)
        .deadline(Duration::from_secs(60))
        .await?;
    println!("  wait (get_campaign) {}", campaign.status);

    // Bring your own carrier, and a number on it.
    let carrier = client
        .phone_numbers()
        .carriers()
        .create(
            NewCarrier::new("Tour SIP", "203.0.113.10")
                .port(5060)
                .inbound(true),
        )
        .idempotency_key("tour-carrier")
        .deadline(DEADLINE)
        .await?;
    println!(
        "create_carrier       {:?}",
        carrier.carrier_name.as_deref().unwrap_or("")
    );
    let carriers = client
        .phone_numbers()
        .carriers()
        .list()
        .deadline(DEADLINE)
        .await?;
    println!("list_carriers        {} carriers", carriers.data.len());
    let number = client
        .phone_numbers()
        .create(
            NewPhoneNumber::new("+15557654321")
                .voip_carrier_sid(&carrier.voip_carrier_sid)
                .label("Tour line"),
        )
        .idempotency_key("tour-number")
        .await?;
    println!("create_phone_number  {}", number.number);
    let fetched = client
        .phone_numbers()
        .get(&number.id)
        .deadline(DEADLINE)
        .await?;
    println!(
        "get_phone_number     {:?}",
        fetched.label.as_deref().unwrap_or("")
    );
    let numbers = client
        .phone_numbers()
        .list()
        .retry(patient.clone())
        .page()
        .await?;
    println!("list_phone_numbers   {} numbers", numbers.data.len());
    client
        .phone_numbers()
        .delete(&number.id)
        .deadline(DEADLINE)
        .await?;
    println!("delete_phone_number  done");
    client
        .phone_numbers()
        .carriers()
        .delete(&carrier.id)
        .retry(patient.clone())
        .await?;
    println!("delete_carrier       done");

    // Account webhooks.
    let subscription = client
        .webhook_subscriptions()
        .create(
            NewWebhookSubscription::new("call.completed", "https://example.com/hooks/topcalls")
                .filter("phone_number", "+1555%"),
        )
        .idempotency_key("tour-subscription")
        .deadline(DEADLINE)
        .await?;
    println!("create_webhook_subscription  {}", subscription.event);

    let balance = client.balance().await?;
    println!(
        "\nDone: 21 operations. {:.1} call minutes left.",
        balance.remaining_minutes
    );
    sandbox.shutdown().await;
    Ok(())
}
