//! Dial a list: check every row, place the calls (resumable, never twice),
//! watch them all to the end, and export them with their transcripts.
//!
//! Run from the workspace root:
//!
//! ```sh
//! cargo run --example bulk
//! ```
//!
//! It starts the embedded TopCalls sandbox on 127.0.0.1 (no account, no
//! phone) and dials a made-up list of 200 patients plus two bad rows. It
//! prints the bad rows with their references, a line per 50 calls placed,
//! that a rerun of the same batch placed nothing new, the requests the
//! watch made, and the first lines of the CSV export.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::StreamExt;
use topcalls_api::{Client, ExportFormat, NewCall, WaitOptions, bulk};
use topcalls_sandbox::{ClockMode, Sandbox};

/// The list to dial: a reference (the patient id) and the call to place.
fn rows() -> impl Iterator<Item = (String, NewCall)> {
    let patients = (1..=200).map(|n| {
        (
            format!("patient-{n:04}"),
            format!("+1555{:07}", 3_000_000 + n),
        )
    });
    let bad = [
        ("patient-bad-1".to_string(), "555-0100".to_string()),
        ("patient-bad-2".to_string(), "+99912345678".to_string()),
    ];
    patients.chain(bad).map(|(patient, phone)| {
        let call = NewCall::to(phone)
            .task("Remind the patient of their appointment tomorrow at 10:00 and ask them to confirm.")
            .variable("patient_id", patient.as_str());
        (patient, call)
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Time passes 120× faster in the sandbox: a call finishes in about a second.
    let sandbox = Sandbox::builder()
        .clock(ClockMode::Auto { speed: 120.0 })
        .balance_minutes(10_000.0)
        .start()
        .await?;
    let requests = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&requests);
    let client = Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .on_response(move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
        })
        .build()?;

    // 1. Every row checked before anything is sent; all bad rows reported.
    let bad: Vec<_> = bulk::validate(rows()).collect();
    for row in &bad {
        println!("skipping {}: {}", row.reference, row.error);
    }
    let good = || rows().filter(|(patient, _)| !patient.starts_with("patient-bad"));

    // 2. Placed 16 at a time. Keys come from the batch id and the patient
    //    id: run this again (within 24 hours) and nobody is rung twice.
    let batch = "reminders-2026-11-30";
    let mut ids = Vec::new();
    let mut placements = client
        .calls()
        .create_many(batch, good())
        .concurrency(16)
        .stream();
    while let Some(placement) = placements.next().await {
        ids.push(placement.result?.call_id);
        if ids.len() % 50 == 0 {
            println!("{} calls placed", ids.len());
        }
    }
    let again: Vec<_> = client
        .calls()
        .create_many(batch, good())
        .stream()
        .collect()
        .await;
    let replayed = again
        .iter()
        .filter(|p| {
            p.result
                .as_ref()
                .is_ok_and(|call| ids.contains(&call.call_id))
        })
        .count();
    println!(
        "rerun of the batch: {replayed} of {} rows answered with their first call, none placed again",
        again.len()
    );

    // 3. Watched to the end through the list endpoint: a few requests a
    //    sweep for all 200, not one per call.
    let before = requests.load(Ordering::Relaxed);
    let finished = client
        .calls()
        .wait_all(&ids)
        .options(WaitOptions::default().interval(Duration::from_millis(500)))
        .deadline(Duration::from_secs(120))
        .await?;
    println!(
        "{} calls finished; watching them took {} requests",
        finished.len(),
        requests.load(Ordering::Relaxed) - before
    );

    // 4. Exported with their transcripts (CSV: one row per call).
    let mut csv = Vec::new();
    let written = client
        .calls()
        .list()
        .limit(200)
        .export(ExportFormat::Csv, &mut csv)
        .await?;
    println!("exported {written} calls; the first lines:");
    for line in String::from_utf8_lossy(&csv).lines().take(4) {
        println!("  {line}");
    }
    sandbox.shutdown().await;
    Ok(())
}
