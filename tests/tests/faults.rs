//! Under injected faults, no call is lost and none is placed twice.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures::StreamExt;
use topcalls_api::{Client, NewCall, RetryPolicy};
use topcalls_sandbox::{ClockMode, Faults, Sandbox};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_creates_through_faults_place_exactly_five_hundred_calls() {
    const CALLS: usize = 500;
    let sandbox = Sandbox::builder()
        .clock(ClockMode::Manual)
        .balance_minutes(CALLS as f64 * 10.0)
        .faults(Faults {
            share_drop_after_effect: 0.20,
            share_503: 0.10,
            share_429: 0.05,
            retry_after: Duration::from_millis(20),
            ..Faults::default()
        })
        .seed(7)
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .retry(
            RetryPolicy::default()
                // Enough that no run of faults, however unlucky its order, exhausts it.
                .max_retries(40)
                .base_delay(Duration::from_millis(5))
                .max_delay(Duration::from_millis(40)),
        )
        .build()
        .unwrap();

    let results: Vec<_> = futures::stream::iter(0..CALLS)
        .map(|i| {
            let client = client.clone();
            async move {
                client
                    .calls()
                    .create(
                        NewCall::to(format!("+1555{:07}", 1_000_000 + i))
                            .task("Confirm the appointment for tomorrow."),
                    )
                    .await
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| format!("{e:?}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} creates failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert_eq!(
        sandbox.calls_count(),
        CALLS,
        "every create took effect exactly once"
    );
    let mut ids: Vec<String> = results.into_iter().map(|r| r.unwrap().call_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), CALLS);

    // The faults really happened, in about the configured shares.
    let injected = sandbox.injected_faults();
    eprintln!("injected faults: {injected:?}");
    assert!(injected.dropped >= 60, "{injected:?}");
    assert!(injected.unavailable >= 30, "{injected:?}");
    assert!(injected.throttled >= 10, "{injected:?}");

    sandbox.set_faults(Faults::default());
    let listed = client.calls().list().limit(200).stream().count().await;
    assert_eq!(listed, CALLS);
}
