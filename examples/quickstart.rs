//! Place a call, watch it until it finishes, read its transcript and summary,
//! and list recent calls.
//!
//! Run from the workspace root:
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! Without `TOPCALLS_API_KEY` it starts the embedded TopCalls sandbox on
//! 127.0.0.1 and talks to that: no account, no phone. With a key it talks to
//! the real API (or `TOPCALLS_BASE_URL`) and needs `TOPCALLS_QUICKSTART_TO`,
//! the number to call, so it never rings anyone by accident.
//!
//! It prints which API it uses, the call's status as it changes (queued →
//! in_progress → completed), the transcript, the summary, and the newest calls.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use topcalls_api::{Client, NewCall};
use topcalls_sandbox::Sandbox;

/// A destination the sandbox answers with a person.
const SANDBOX_NUMBER: &str = "+15551234567";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let has_key = std::env::var(topcalls_api::API_KEY_ENV).is_ok_and(|k| !k.trim().is_empty());
    // Keep the sandbox alive for the whole run.
    let (client, to, _sandbox) = if has_key {
        let Ok(to) = std::env::var("TOPCALLS_QUICKSTART_TO") else {
            eprintln!(
                "TOPCALLS_API_KEY is set, so this would place a real call: set TOPCALLS_QUICKSTART_TO to the E.164 number to ring."
            );
            std::process::exit(2);
        };
        let client = Client::from_env()?;
        println!("Using the TopCalls API at {}", client.base_url());
        (client, to, None)
    } else {
        let sandbox = Sandbox::start().await?;
        println!(
            "No {} set: using the embedded TopCalls sandbox at {}",
            topcalls_api::API_KEY_ENV,
            sandbox.base_url()
        );
        let client = Client::builder()
            .api_key(sandbox.api_key())
            .base_url(sandbox.base_url())
            .build()?;
        (client, SANDBOX_NUMBER.to_string(), Some(sandbox))
    };

    let balance = client.balance().await?;
    println!("Balance: {:.1} call minutes", balance.remaining_minutes);

    let placed = client
        .calls()
        .create(
            NewCall::to(&to)
                .task("Call Sam to confirm tomorrow's 10:00 dentist appointment and ask whether they need a reminder text.")
                .voice("alloy"),
        )
        .await?;
    println!("Placed call {} ({})", placed.call_id, placed.status);

    let mut last_status = String::new();
    let call = loop {
        let call = client.calls().get(&placed.call_id).await?;
        let status = match &call.call_status {
            Some(telephony) => format!("{} / {telephony}", call.status),
            None => call.status.to_string(),
        };
        if status != last_status {
            println!("  status: {status}");
            last_status = status;
        }
        if topcalls_api::is_finished(&call) {
            break call;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    println!("\nTranscript:");
    for line in call.transcript.iter().flatten() {
        let speaker = line
            .user
            .as_ref()
            .map_or_else(|| "?".to_string(), ToString::to_string);
        println!("  {speaker:>9}: {}", line.text.as_deref().unwrap_or(""));
    }
    println!(
        "\nSummary: {}",
        call.call_summary.as_deref().unwrap_or("(none)")
    );
    if let Some(minutes) = call.duration {
        println!(
            "Duration: {minutes:.2} minutes, answered by {}",
            call.answered_by
                .map_or_else(|| "?".into(), |a| a.to_string())
        );
    }

    println!("\nNewest calls:");
    let recent: Vec<_> = client
        .calls()
        .list()
        .limit(5)
        .stream()
        .take(5)
        .try_collect()
        .await?;
    for call in recent {
        println!(
            "  {}  {}  {}",
            call.id,
            call.status,
            call.phone_number.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
