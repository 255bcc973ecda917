//! A batch process for the kill-and-rerun test (`tests/tests/bulk_process.rs`):
//! places calls `0..count` of batch `batch_id` with `create_many` and prints
//! one line per row as its result arrives, `ok <reference> <call id>` or
//! `err <reference> <error>`; exits 1 if any row failed.
//!
//! `TOPCALLS_API_KEY=… TOPCALLS_BASE_URL=… bulk-batch <batch_id> <count> [concurrency]`

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use futures::StreamExt;
use topcalls_api::{Client, NewCall, RetryPolicy};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(batch_id), Some(Ok(count))) = (args.get(1), args.get(2).map(|n| n.parse::<u32>()))
    else {
        eprintln!("usage: bulk-batch <batch_id> <count> [concurrency]");
        return ExitCode::from(2);
    };
    let concurrency = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(8);
    let client = match Client::builder()
        .env()
        .retry(
            RetryPolicy::default()
                .max_retries(10)
                .base_delay(Duration::from_millis(2))
                .max_delay(Duration::from_millis(50)),
        )
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let rows = (0..count).map(|n| {
        let call = NewCall::to(format!("+1555{:07}", 2_000_000 + n))
            .task("Remind the patient of tomorrow's appointment.")
            .max_duration_minutes(1.0)
            .variable("row", n);
        (n, call)
    });
    let mut placements = client
        .calls()
        .create_many(batch_id.as_str(), rows)
        .concurrency(concurrency)
        .stream();
    let mut failed = false;
    let mut out = std::io::stdout().lock();
    while let Some(placement) = placements.next().await {
        let line = match &placement.result {
            Ok(call) => format!("ok {} {}", placement.reference, call.call_id),
            Err(error) => {
                failed = true;
                format!("err {} {error}", placement.reference)
            }
        };
        // One line, flushed, per row: the test watches them to know how far the batch got.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return ExitCode::FAILURE;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
