//! Places calls with `create_many` against a running TopCalls API (the
//! sandbox binary, release build) and prints the rate and this process's
//! peak resident memory. Driven by `benches/bulk/run.sh`, next to the same
//! job in Python; see BENCHMARKS.md.
//!
//! `TOPCALLS_API_KEY=… TOPCALLS_BASE_URL=… cargo bench -p topcalls-contract-tests --bench bulk_place -- <calls> <concurrency> [limit-per-minute]`
//!
//! Prints one line: `calls=<n> concurrency=<c> seconds=<s> calls_per_s=<r> peak_rss_kb=<kb> failed=<f>`.
//! With a per-minute limit (the sandbox started with `--rate-limit`), also
//! `window_rate_per_min=<r>`: the calls placed in whole windows of the
//! limit, divided by the time those windows took.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::StreamExt;
use topcalls_api::{Client, NewCall};

/// `VmHWM` of this process, in kB (Linux).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; take the numbers only.
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (Some(&calls), Some(&concurrency)) = (numbers.first(), numbers.get(1)) else {
        eprintln!("usage: bulk_place <calls> <concurrency> [limit-per-minute]");
        return ExitCode::from(2);
    };
    let limit = numbers.get(2).copied();
    let client = match Client::from_env() {
        Ok(client) => client,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let batch = format!("bench-{}-{}", std::process::id(), calls);
    let rows = (0..calls).map(|n| {
        let call = NewCall::to(format!("+1555{:07}", n % 10_000_000))
            .task("Remind the patient of tomorrow's appointment.")
            .max_duration_minutes(1.0);
        (n, call)
    });
    let started = Instant::now();
    let mut placed_at: Vec<Duration> = Vec::new();
    let mut failed = 0u64;
    let mut placements = client
        .calls()
        .create_many(batch, rows)
        .concurrency(concurrency as usize)
        .stream();
    while let Some(placement) = placements.next().await {
        match placement.result {
            Ok(_) if limit.is_some() => placed_at.push(started.elapsed()),
            Ok(_) => {}
            Err(error) => {
                failed += 1;
                eprintln!("row {}: {error}", placement.reference);
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut line = format!(
        "calls={calls} concurrency={concurrency} seconds={seconds:.3} calls_per_s={:.0} peak_rss_kb={} failed={failed}",
        calls as f64 / seconds,
        peak_rss_kb()
    );
    if let Some(limit) = limit.filter(|&l| l > 0) {
        // Whole windows: from the first call to the first call of the last window begun.
        let windows = (placed_at.len() as u64 - 1) / limit;
        if windows > 0 {
            let placed = windows * limit;
            let span = placed_at[placed as usize] - placed_at[0];
            line.push_str(&format!(
                " window_rate_per_min={:.1} limit_per_min={limit}",
                placed as f64 / span.as_secs_f64() * 60.0
            ));
        }
    }
    println!("{line}");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
