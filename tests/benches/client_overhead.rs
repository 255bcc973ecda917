//! Client overhead, measured as ratios against baselines in the same run.
//!
//! `cargo bench -p topcalls-contract-tests --bench client_overhead`
//!
//! 1. Sequential `GET /v1/calls/{id}`: the SDK against raw `reqwest` doing the
//!    same request (the same headers, user agent included, and the same decode
//!    into `types::Call`) to the same 127.0.0.1 server. The two sides
//!    alternate request by request, so both see the same machine conditions;
//!    the figure is the median of the per-round time ratios.
//! 2. The same with 64 concurrent tasks.
//! 3. The same sequential loop in Python `requests` (what TopCalls' docs
//!    suggest today), if `python3 -c "import requests"` works.
//! 4. Streaming 100,000 calls through pagination: items per second and the
//!    process's peak resident memory.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use topcalls_api::types::Call;
use topcalls_api::{Client, RetryPolicy};
use topcalls_contract_tests::server::{Action, ScriptedServer};

const KEY: &str = "tc_test_bench";
/// The SDK's default `User-Agent`: the baseline sends the same request, byte
/// for byte, so the server does the same work for both.
const USER_AGENT: &str = concat!("topcalls-rs/", env!("CARGO_PKG_VERSION"));
const ROUNDS: usize = 30;
const SEQUENTIAL: usize = 1000;
const CONCURRENCY: usize = 64;
const PER_TASK: usize = 50;
const STREAMED: usize = 100_000;

fn call_json(id: &str) -> serde_json::Value {
    json!({
        "id": id, "account_id": "acc_1", "phone_number": "+15551234567", "from_phone_number": "+15557654321",
        "status": "completed", "call_status": "completed", "duration": 2.5, "answered_by": "human",
        "call_summary": "The patient confirmed the appointment.", "completed": true,
        "created_at": "2025-12-22T10:30:00Z", "started_at": "2025-12-22T10:30:03Z", "end_at": "2025-12-22T10:32:33Z",
        "transcript": [
            {"id": 1, "user": "assistant", "text": "Hi, this is Ava from Bright Dental.", "created_at": "2025-12-22T10:30:05Z"},
            {"id": 2, "user": "user", "text": "Yes, speaking.", "created_at": "2025-12-22T10:30:09Z"}
        ],
        "metadata": {"crm_id": "4711"}
    })
}

async fn raw_get(http: &reqwest::Client, url: &str) -> Call {
    http.get(url)
        .header("authorization", format!("Bearer {KEY}"))
        .header("accept", "application/json")
        .header("api-version", "1.0.0")
        .header("user-agent", USER_AGENT)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json::<Call>()
        .await
        .unwrap()
}

/// One sequential round: `SEQUENTIAL` requests per side, alternating request
/// by request (the side that goes first alternates too), so both sides run
/// under the same machine conditions. Returns the time each side spent.
async fn sequential_round(http: &reqwest::Client, url: &str, sdk: &Client) -> (Duration, Duration) {
    let (mut raw, mut ours) = (Duration::ZERO, Duration::ZERO);
    for i in 0..SEQUENTIAL {
        for side in [i % 2, 1 - i % 2] {
            let started = Instant::now();
            if side == 0 {
                raw_get(http, url).await;
                raw += started.elapsed();
            } else {
                sdk.calls().get("call_bench").await.unwrap();
                ours += started.elapsed();
            }
        }
    }
    (raw, ours)
}

async fn concurrent_raw(http: &reqwest::Client, url: &str) -> Duration {
    let started = Instant::now();
    futures::future::join_all((0..CONCURRENCY).map(|_| {
        let (http, url) = (http.clone(), url.to_string());
        tokio::spawn(async move {
            for _ in 0..PER_TASK {
                raw_get(&http, &url).await;
            }
        })
    }))
    .await;
    started.elapsed()
}

async fn concurrent_sdk(sdk: &Client) -> Duration {
    let started = Instant::now();
    futures::future::join_all((0..CONCURRENCY).map(|_| {
        let sdk = sdk.clone();
        tokio::spawn(async move {
            for _ in 0..PER_TASK {
                sdk.calls().get("call_bench").await.unwrap();
            }
        })
    }))
    .await;
    started.elapsed()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let body = call_json("call_bench").to_string();
    let server = ScriptedServer::start_with(false, move |_, request| {
        if request.target.starts_with("/v1/calls?") || request.target == "/v1/calls" {
            let limit: usize = request
                .query("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(50);
            let start: usize = request
                .query("cursor")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let end = (start + limit).min(STREAMED);
            let data: Vec<_> = (start..end)
                .map(|i| call_json(&format!("call_{i}")))
                .collect();
            let next = (end < STREAMED).then(|| end.to_string());
            Action::json(200, json!({"data": data, "next_cursor": next}))
        } else {
            Action::Respond(200, Vec::new(), body.clone())
        }
    })
    .await;
    let url = format!("{}/v1/calls/call_bench", server.url());
    let sdk = Client::builder()
        .api_key(KEY)
        .base_url(server.url())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    // Profiling aid: `PROFILE_ONLY=raw|sdk` runs 2,000 sequential requests of one side and exits.
    if let Ok(side) = std::env::var("PROFILE_ONLY") {
        for _ in 0..2000 {
            if side == "raw" {
                raw_get(&http, &url).await;
            } else {
                sdk.calls().get("call_bench").await.unwrap();
            }
        }
        return;
    }

    println!("## Streaming {STREAMED} calls through pagination (limit 200)");
    let before = peak_rss_mb();
    let started = Instant::now();
    let mut count = 0usize;
    let mut stream = Box::pin(sdk.calls().list().limit(200).stream());
    while let Some(call) = stream.next().await {
        call.unwrap();
        count += 1;
    }
    let took = started.elapsed();
    assert_eq!(count, STREAMED);
    println!(
        "{count} calls in {:.2} s: {:.0} items/s; peak RSS {:.1} MB (before streaming: {:.1} MB)",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64(),
        peak_rss_mb(),
        before
    );

    // Warm both connection pools.
    for _ in 0..50 {
        raw_get(&http, &url).await;
        sdk.calls().get("call_bench").await.unwrap();
    }

    println!(
        "\n## Sequential GET /v1/calls/{{id}}: {ROUNDS} rounds x {SEQUENTIAL} requests per side, alternating request by request"
    );
    let mut ratios = Vec::new();
    let (mut raw_rps, mut sdk_rps) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (raw, ours) = sequential_round(&http, &url, &sdk).await;
        ratios.push(ours.as_secs_f64() / raw.as_secs_f64());
        raw_rps.push(SEQUENTIAL as f64 / raw.as_secs_f64());
        sdk_rps.push(SEQUENTIAL as f64 / ours.as_secs_f64());
    }
    let sequential_sdk_rps = median(sdk_rps.clone());
    println!(
        "raw reqwest: {:.0} req/s  sdk: {:.0} req/s  median ratio sdk/raw time: {:.3}",
        median(raw_rps),
        sequential_sdk_rps,
        median(ratios)
    );

    println!(
        "\n## {CONCURRENCY} concurrent tasks x {PER_TASK} requests, {ROUNDS} rounds, interleaved"
    );
    let mut ratios = Vec::new();
    let (mut raw_rps, mut sdk_rps) = (Vec::new(), Vec::new());
    let total = (CONCURRENCY * PER_TASK) as f64;
    for round in 0..ROUNDS {
        let (raw, ours) = if round % 2 == 0 {
            let raw = concurrent_raw(&http, &url).await;
            (raw, concurrent_sdk(&sdk).await)
        } else {
            let ours = concurrent_sdk(&sdk).await;
            (concurrent_raw(&http, &url).await, ours)
        };
        ratios.push(ours.as_secs_f64() / raw.as_secs_f64());
        raw_rps.push(total / raw.as_secs_f64());
        sdk_rps.push(total / ours.as_secs_f64());
    }
    println!(
        "raw reqwest: {:.0} req/s  sdk: {:.0} req/s  median ratio sdk/raw time: {:.3}",
        median(raw_rps),
        median(sdk_rps),
        median(ratios)
    );

    println!("\n## Python requests, same sequential loop ({SEQUENTIAL} requests x 5 runs)");
    let script = format!(
        "import requests, time, json\n\
         s = requests.Session()\n\
         h = {{'Authorization': 'Bearer {KEY}', 'Accept': 'application/json'}}\n\
         for _ in range(50): s.get('{url}', headers=h).json()\n\
         best = []\n\
         for _ in range(5):\n\
         \x20   t = time.perf_counter()\n\
         \x20   for _ in range({SEQUENTIAL}):\n\
         \x20       r = s.get('{url}', headers=h); r.raise_for_status(); r.json()\n\
         \x20   best.append({SEQUENTIAL} / (time.perf_counter() - t))\n\
         best.sort()\n\
         print(best[len(best)//2])\n"
    );
    let python = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .await;
    match python {
        Ok(out) if out.status.success() => {
            let rps: f64 = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .unwrap_or(f64::NAN);
            println!(
                "python requests: {rps:.0} req/s  sdk: {sequential_sdk_rps:.0} req/s  sdk is {:.1}x faster (python/sdk time ratio)",
                sequential_sdk_rps / rps
            );
        }
        Ok(out) => println!(
            "python requests: not measured ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => println!("python requests: not measured ({e})"),
    }
}
