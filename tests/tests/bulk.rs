//! Bulk placement (`create_many`), validation of a batch, watching many
//! calls and exporting them, against the embedded sandbox on 127.0.0.1.
//! Counts and order only: no test bounds a duration.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use topcalls_api::bulk::{self, Placement};
use topcalls_api::{Client, Error, NewCall, RetryPolicy};
use topcalls_sandbox::{ClockMode, Faults, Sandbox};

async fn sandbox(faults: Faults) -> Sandbox {
    Sandbox::builder()
        .clock(ClockMode::Manual)
        .balance_minutes(1e9)
        .faults(faults)
        .start()
        .await
        .unwrap()
}

fn client(sandbox: &Sandbox) -> Client {
    Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .retry(
            RetryPolicy::default()
                .max_retries(12)
                .base_delay(Duration::from_millis(2))
                .max_delay(Duration::from_millis(20)),
        )
        .build()
        .unwrap()
}

fn row(n: u32) -> (u32, NewCall) {
    (
        n,
        NewCall::to(format!("+1555{:07}", 1_000_000 + n))
            .task("Confirm tomorrow's appointment, politely.")
            .max_duration_minutes(1.0),
    )
}

async fn place(client: &Client, batch: &str, rows: std::ops::Range<u32>) -> Vec<Placement<u32>> {
    client
        .calls()
        .create_many(batch, rows.map(row))
        .concurrency(8)
        .stream()
        .collect()
        .await
}

fn call_ids(placements: Vec<Placement<u32>>) -> HashMap<u32, String> {
    placements
        .into_iter()
        .map(|p| match p.result {
            Ok(call) => (p.reference, call.call_id),
            Err(error) => panic!("row {} failed: {error:?}", p.reference),
        })
        .collect()
}

#[tokio::test]
async fn a_rerun_of_a_batch_places_no_call_twice() {
    let sandbox = sandbox(Faults::default()).await;
    let client = client(&sandbox);
    let first = call_ids(place(&client, "rerun-1", 0..40).await);
    assert_eq!(first.len(), 40);
    assert_eq!(sandbox.calls_count(), 40);
    // The same batch, more rows: the first 40 are replayed, 20 are new.
    let second = call_ids(place(&client, "rerun-1", 0..60).await);
    assert_eq!(sandbox.calls_count(), 60);
    for (reference, id) in &first {
        assert_eq!(&second[reference], id, "row {reference} got a second call");
    }
    let distinct: HashSet<_> = second.values().collect();
    assert_eq!(distinct.len(), 60);
    // Another batch id is another list: its rows are new calls.
    call_ids(place(&client, "rerun-2", 0..5).await);
    assert_eq!(sandbox.calls_count(), 65);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn faults_neither_lose_nor_duplicate_a_call() {
    let sandbox = sandbox(Faults {
        share_503: 0.15,
        share_429: 0.15,
        retry_after: Duration::from_millis(5),
        share_drop_after_effect: 0.1,
        ..Faults::default()
    })
    .await;
    let client = client(&sandbox);
    let placements = place(&client, "faults", 0..300).await;
    let keys: HashSet<_> = placements
        .iter()
        .map(|p| p.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), 300);
    let ids = call_ids(placements);
    let distinct: HashSet<_> = ids.values().collect();
    assert_eq!(distinct.len(), 300);
    assert_eq!(sandbox.calls_count(), 300);
    let injected = sandbox.injected_faults();
    assert!(
        injected.throttled > 0 && injected.unavailable > 0 && injected.dropped > 0,
        "{injected:?}"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn bad_rows_and_bad_settings_fail_before_anything_is_sent() {
    let sandbox = sandbox(Faults::default()).await;
    let client = client(&sandbox);
    let rows = vec![
        row(1),
        (
            2,
            NewCall::to("+1 555 123").task("Confirm the appointment."),
        ),
        (3, NewCall::to("+15551234567")),
        (
            4,
            NewCall::to("+9991234567").task("Confirm the appointment."),
        ),
        row(1),
        (
            6,
            NewCall::to("+15551234567")
                .task("Confirm the appointment.")
                .instructions("You are a friendly receptionist."),
        ),
    ];
    let bad: Vec<_> = bulk::validate(rows.clone())
        .map(|row| {
            assert!(
                matches!(row.error, Error::InvalidRequest(_)),
                "{:?}",
                row.error
            );
            (row.reference, row.error.to_string())
        })
        .collect();
    let references: Vec<_> = bad.iter().map(|(r, _)| *r).collect();
    assert_eq!(references, [2, 3, 4, 1, 6]);
    assert!(bad[0].1.contains("phone_number"), "{}", bad[0].1);
    assert!(bad[2].1.contains("dialable"), "{}", bad[2].1);
    assert!(bad[3].1.contains("more than once"), "{}", bad[3].1);

    // Placing them anyway: bad rows fail alone, with their references.
    let placements: Vec<_> = client
        .calls()
        .create_many("bad-rows", rows.into_iter().filter(|(r, _)| *r != 1))
        .stream()
        .collect()
        .await;
    assert_eq!(placements.len(), 4);
    assert!(placements.iter().all(|p| p.result.is_err()));
    assert_eq!(sandbox.calls_count(), 0);

    // Settings that cannot work fail every row, and nothing is sent.
    for batch in [
        client.calls().create_many("", (0..3).map(row)),
        client
            .calls()
            .create_many("b", (0..3).map(row))
            .concurrency(0),
        client
            .calls()
            .create_many("b", (0..3).map(row))
            .calls_per_minute(0),
        client
            .calls()
            .create_many("b", (0..3).map(row))
            .options(topcalls_api::RequestOptions::new().idempotency_key("one-key-for-all")),
    ] {
        let placements: Vec<_> = batch.stream().collect().await;
        assert_eq!(placements.len(), 3);
        for p in placements {
            assert!(matches!(p.result, Err(Error::InvalidRequest(_))));
        }
    }
    assert_eq!(sandbox.calls_count(), 0);
    sandbox.shutdown().await;
}

/// Counts the requests of each operation the client makes.
fn counting_client(
    sandbox: &Sandbox,
) -> (
    Client,
    std::sync::Arc<std::sync::Mutex<HashMap<&'static str, u32>>>,
) {
    let counts = std::sync::Arc::new(std::sync::Mutex::new(HashMap::new()));
    let seen = std::sync::Arc::clone(&counts);
    let client = Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .on_response(move |info| {
            *seen.lock().unwrap().entry(info.operation).or_insert(0) += info.attempts;
        })
        .build()
        .unwrap();
    (client, counts)
}

#[tokio::test]
async fn watching_250_calls_costs_two_pages_a_sweep() {
    let sandbox = sandbox(Faults::default()).await;
    let (client, counts) = counting_client(&sandbox);
    // Older calls nobody watches: the sweep must not page through them.
    call_ids(place(&client, "older", 0..150).await);
    sandbox.advance(Duration::from_secs(3600));
    let ids: Vec<String> = call_ids(place(&client, "watched", 0..250).await)
        .into_values()
        .collect();
    counts.lock().unwrap().clear();

    let polling = topcalls_api::WaitOptions::default()
        .interval(Duration::from_millis(10))
        .max_interval(Duration::from_millis(10));
    let mut changes = client.calls().watch(&ids).options(polling).stream();
    // First sweep: every call as first seen, queued.
    let mut first = HashSet::new();
    for _ in 0..250 {
        let call = changes.next().await.unwrap().unwrap();
        assert_eq!(call.status.to_string(), "queued");
        assert!(first.insert(call.id));
    }
    assert_eq!(counts.lock().unwrap().get("list_calls"), Some(&2));
    // Every call finishes (post-call processing included), and the watch ends.
    sandbox.advance(Duration::from_secs(3600));
    let mut finished = HashSet::new();
    while let Some(change) = changes.next().await {
        let call = change.unwrap();
        assert!(topcalls_api::is_finished(&call), "{call:?}");
        assert!(finished.insert(call.id));
    }
    assert_eq!(finished, first);
    let counts = counts.lock().unwrap().clone();
    // Two sweeps of two pages each (250 of 400 calls, 200 a page); no GET per call.
    assert_eq!(counts.get("list_calls"), Some(&4), "{counts:?}");
    assert_eq!(counts.get("get_call"), None, "{counts:?}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn wait_all_returns_every_call_and_an_unknown_id_is_an_error() {
    let sandbox = sandbox(Faults::default()).await;
    let client = client(&sandbox);
    let ids: Vec<String> = call_ids(place(&client, "wait-all", 0..30).await)
        .into_values()
        .collect();
    sandbox.advance(Duration::from_secs(3600));
    let calls = client.calls().wait_all(&ids).await.unwrap();
    assert_eq!(calls.len(), 30);
    assert!(calls.iter().all(topcalls_api::is_finished));

    let mut with_unknown = ids.clone();
    with_unknown.push("00000000-0000-4000-8000-000000000000".to_string());
    let error = client.calls().wait_all(&with_unknown).await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    let items: Vec<_> = client.calls().watch(&with_unknown).stream().collect().await;
    assert_eq!(items.len(), 31);
    assert_eq!(items.iter().filter(|i| i.is_err()).count(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_watch_past_its_deadline_ends_with_a_timeout() {
    let sandbox = sandbox(Faults::default()).await;
    let client = client(&sandbox);
    let ids: Vec<String> = call_ids(place(&client, "deadline", 0..3).await)
        .into_values()
        .collect();
    // The manual clock never moves: the calls stay queued, and only the
    // deadline ends the watch. How many sweeps fit before it (none, on a
    // machine busy enough) is the machine's business: the test asserts what
    // holds whatever the timing.
    let items: Vec<_> = client
        .calls()
        .watch(&ids)
        .options(topcalls_api::WaitOptions::default().interval(Duration::from_millis(5)))
        .deadline(Duration::from_millis(200))
        .stream()
        .collect()
        .await;
    assert!(items.iter().filter(|i| i.is_ok()).count() <= 3, "{items:?}");
    assert_eq!(items.iter().filter(|i| i.is_err()).count(), 1, "{items:?}");
    assert!(
        matches!(items.last(), Some(Err(Error::WaitTimeout(_)))),
        "{items:?}"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn export_writes_one_row_per_call_with_its_transcript() {
    let sandbox = sandbox(Faults::default()).await;
    let client = client(&sandbox);
    call_ids(place(&client, "export", 0..210).await);
    sandbox.advance(Duration::from_secs(3600));

    let mut jsonl = Vec::new();
    let written = client
        .calls()
        .list()
        .limit(200)
        .export(topcalls_api::ExportFormat::JsonLines, &mut jsonl)
        .await
        .unwrap();
    assert_eq!(written, 210);
    let text = String::from_utf8(jsonl).unwrap();
    let calls: Vec<topcalls_api::types::Call> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(calls.len(), 210);
    assert!(
        calls
            .iter()
            .all(|c| c.transcript.as_ref().is_some_and(|t| !t.is_empty()))
    );

    let mut csv = Vec::new();
    let written = client
        .calls()
        .list()
        .export(topcalls_api::ExportFormat::Csv, &mut csv)
        .await
        .unwrap();
    assert_eq!(written, 210);
    let text = String::from_utf8(csv).unwrap();
    assert!(text.starts_with(&topcalls_api::CSV_COLUMNS.join(",")));
    // One record per call: count record starts (a line beginning with an id
    // of the export), as transcript cells hold line breaks.
    let records = calls
        .iter()
        .filter(|c| text.contains(&format!("\r\n{},", c.id)))
        .count();
    assert_eq!(records, 210);
    let first = &calls[0];
    let transcript = first.transcript.as_ref().unwrap();
    let flattened: Vec<String> = transcript
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e.user.as_ref().unwrap(),
                e.text.as_deref().unwrap()
            )
        })
        .collect();
    assert!(
        text.contains(&flattened.join("\n")),
        "{}",
        flattened.join("\n")
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_429_storm_slows_the_batch_and_no_row_fails_for_it() {
    // Half of all requests are refused with a 429 asking for 5 ms.
    let sandbox = sandbox(Faults {
        share_429: 0.5,
        retry_after: Duration::from_millis(5),
        ..Faults::default()
    })
    .await;
    // No retries of the client's own: every 429 is the batch's to handle.
    let client = Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let placements: Vec<_> = client
        .calls()
        .create_many("storm", (0..200).map(row))
        .concurrency(16)
        .stream()
        .collect()
        .await;
    let ids = call_ids(placements);
    assert_eq!(ids.len(), 200);
    assert_eq!(sandbox.calls_count(), 200);
    assert!(
        sandbox.injected_faults().throttled >= 100,
        "{:?}",
        sandbox.injected_faults()
    );
    sandbox.shutdown().await;
}

/// BENCHMARKS.md "Watching many calls": 1,000 watched calls created in four
/// waves 30 s apart (sandbox time), 500 older and 300 newer calls nobody
/// watches. Each stage advances the clock 30 s and runs one sweep over the
/// calls still unfinished; it prints the list requests that sweep made next
/// to the `GET`s one-request-per-call polling would make. Run with
/// `--nocapture` to see the table.
#[tokio::test]
async fn watching_1000_calls_costs_a_few_requests_a_sweep() {
    let sandbox = sandbox(Faults::default()).await;
    let (client, counts) = counting_client(&sandbox);
    call_ids(place(&client, "unwatched-older", 0..500).await);
    let mut pending: Vec<String> = Vec::new();
    for wave in 0..4u32 {
        sandbox.advance(Duration::from_secs(30));
        let batch = format!("watched-{wave}");
        pending.extend(
            call_ids(place(&client, &batch, wave * 250..(wave + 1) * 250).await).into_values(),
        );
    }
    call_ids(place(&client, "unwatched-newer", 0..300).await);
    println!("stage | unfinished before | list requests this sweep | GETs, one per call");
    let mut stage = 0;
    let mut total = (0, 0);
    while !pending.is_empty() {
        counts.lock().unwrap().clear();
        let watched = pending.len();
        let mut sweep = client.calls().watch(&pending).stream();
        let mut unfinished = Vec::new();
        // A first sweep reports each call once: read exactly that sweep.
        for _ in 0..watched {
            let call = sweep.next().await.unwrap().unwrap();
            if !topcalls_api::is_finished(&call) {
                unfinished.push(call.id);
            }
        }
        drop(sweep);
        let counts = counts.lock().unwrap().clone();
        let lists = counts.get("list_calls").copied().unwrap_or(0);
        assert_eq!(counts.get("get_call"), None, "{counts:?}");
        // Never more pages than it takes to reach the oldest unfinished call
        // (300 newer calls, then at most all 1,000 watched, 200 a page).
        assert!(lists <= 7, "{lists} requests for {watched} calls");
        println!("{stage:5} | {watched:17} | {lists:24} | {watched}");
        total = (total.0 + lists, total.1 + watched);
        pending = unfinished;
        sandbox.advance(Duration::from_secs(30));
        stage += 1;
        assert!(stage < 40, "the calls never finished");
    }
    println!("total | {:17} | {:24} | {}", "", total.0, total.1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn watch_since_follows_only_calls_created_from_then_on() {
    let sandbox = sandbox(Faults::default()).await;
    let client = client(&sandbox);
    call_ids(place(&client, "before", 0..3).await);
    sandbox.advance(Duration::from_secs(1));
    let later: HashSet<String> = call_ids(place(&client, "since", 0..4).await)
        .into_values()
        .collect();
    let page = client.calls().list().limit(4).page().await.unwrap();
    let since = page.data.iter().map(|c| c.created_at).min().unwrap();

    let polling = topcalls_api::WaitOptions::default()
        .interval(Duration::from_millis(10))
        .max_interval(Duration::from_millis(10));
    let mut changes = client.calls().watch_since(since).options(polling).stream();
    let mut queued = HashSet::new();
    for _ in 0..4 {
        queued.insert(changes.next().await.unwrap().unwrap().id);
    }
    assert_eq!(queued, later);
    sandbox.advance(Duration::from_secs(3600));
    let mut finished = HashSet::new();
    while let Some(change) = changes.next().await {
        let call = change.unwrap();
        assert!(topcalls_api::is_finished(&call));
        finished.insert(call.id);
    }
    assert_eq!(finished, later);
    sandbox.shutdown().await;
}
