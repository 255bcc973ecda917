//! Where the time of streaming calls through pagination goes: the sandbox
//! (release, embedded on 127.0.0.1) holding finished calls with
//! transcripts, read 200 a page four ways, alternating by round:
//!
//! - `server+wire`: raw `reqwest`, page after page, bodies read as bytes
//!   and not decoded (the sandbox's encoding and the round trips);
//! - `decode`: the same bodies decoded into `CallList` in memory, no
//!   network (the client's decoding alone);
//! - `page loop`: the SDK's `List::page()` with each `next_cursor`, one
//!   page after another (no overlap);
//! - `stream`: the SDK's `List::stream()`;
//! - `page loop + csv` and `export csv`: the same two with real work per
//!   call, each call written as CSV (`CallWriter`) to `io::sink()`; the
//!   second is `ListCalls::export`.
//!
//! `cargo bench -p topcalls-contract-tests --bench pagination -- [calls] [rounds]`
//! (defaults 20000 calls, 7 rounds). Prints each round and the medians.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use topcalls_api::types::CallList;
use topcalls_api::{CallWriter, Client, ExportFormat, NewCall};
use topcalls_sandbox::{ClockMode, Sandbox};

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn raw_pages(http: &reqwest::Client, base: &str, key: &str) -> Vec<Vec<u8>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = http
            .get(format!("{base}/v1/calls"))
            .bearer_auth(key)
            .query(&[("limit", "200")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let body = request
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec();
        // The cursor without decoding the calls: the body ends with `"next_cursor":…}`.
        let text = std::str::from_utf8(&body).unwrap();
        let at = text.rfind("\"next_cursor\":").unwrap() + "\"next_cursor\":".len();
        let next: Option<String> =
            serde_json::from_str(text[at..].trim_end().trim_end_matches('}')).unwrap();
        pages.push(body);
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    pages
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let calls = numbers.first().copied().unwrap_or(20_000);
    let rounds = numbers.get(1).copied().unwrap_or(7);
    let sandbox = Sandbox::builder()
        .clock(ClockMode::Manual)
        .balance_minutes(1e12)
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .build()
        .unwrap();
    let rows = (0..calls).map(|n| {
        let call = NewCall::to(format!("+1555{:07}", n))
            .task("Remind the patient of tomorrow's appointment at 10:00.")
            .max_duration_minutes(2.0);
        (n, call)
    });
    let placed = client
        .calls()
        .create_many("pagination-bench", rows)
        .concurrency(32)
        .stream()
        .filter(|p| std::future::ready(p.result.is_ok()))
        .count()
        .await;
    assert_eq!(placed, calls);
    sandbox.advance(Duration::from_secs(3600));
    let http = reqwest::Client::new();
    let base = sandbox.base_url().to_string();
    let key = sandbox.api_key().to_string();
    let sample = raw_pages(&http, &base, &key).await;
    let bytes: usize = sample.iter().map(|p| p.len()).sum();
    println!(
        "{calls} calls, {} pages of 200, {:.0} bytes a call on the wire",
        sample.len(),
        bytes as f64 / calls as f64
    );

    let mut rates: [Vec<f64>; 6] = Default::default();
    const NAMES: [&str; 6] = [
        "server+wire",
        "decode",
        "page loop",
        "stream",
        "page loop + csv",
        "export csv",
    ];
    for round in 0..rounds {
        let mut order = [0, 1, 2, 3, 4, 5];
        order.rotate_left(round % 6);
        let mut line = format!("round {round}:");
        for side in order {
            let started = Instant::now();
            let count = match side {
                0 => {
                    let pages = raw_pages(&http, &base, &key).await;
                    pages.len() * 200
                }
                1 => sample
                    .iter()
                    .map(|p| serde_json::from_slice::<CallList>(p).unwrap().data.len())
                    .sum(),
                2 | 4 => {
                    let mut writer = CallWriter::new(std::io::sink(), ExportFormat::Csv);
                    let mut count = 0;
                    let mut cursor: Option<String> = None;
                    loop {
                        let mut list = client.calls().list().limit(200);
                        if let Some(cursor) = cursor.take() {
                            list = list.cursor(cursor);
                        }
                        let page = list.page().await.unwrap();
                        count += page.data.len();
                        if side == 4 {
                            for call in &page.data {
                                writer.write(call).unwrap();
                            }
                        }
                        match page.next_cursor {
                            Some(next) if !page.data.is_empty() => cursor = Some(next),
                            _ => break,
                        }
                    }
                    count
                }
                3 => {
                    let mut items = client.calls().list().limit(200).stream();
                    let mut count = 0;
                    while let Some(call) = items.next().await {
                        call.unwrap();
                        count += 1;
                    }
                    count
                }
                _ => client
                    .calls()
                    .list()
                    .limit(200)
                    .export(ExportFormat::Csv, std::io::sink())
                    .await
                    .unwrap() as usize,
            };
            let rate = count as f64 / started.elapsed().as_secs_f64();
            rates[side].push(rate);
            line.push_str(&format!(" {} {rate:.0}/s;", NAMES[side]));
        }
        println!("{line}");
    }
    let medians: Vec<f64> = rates.into_iter().map(median).collect();
    let mut line = "medians (calls/s):".to_string();
    for (name, rate) in NAMES.iter().zip(&medians) {
        line.push_str(&format!(" {name} {rate:.0};"));
    }
    println!("{line}");
    println!(
        "stream / page loop {:.2}; export csv / page loop + csv {:.2}",
        medians[3] / medians[2],
        medians[5] / medians[4]
    );
    sandbox.shutdown().await;
}
