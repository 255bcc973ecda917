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
