//! Injected faults: their shares, their repeatability with a seed, latency,
//! and connections dropped after the request took effect.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use topcalls_sandbox::{ClockMode, Faults, InjectedFaults, Sandbox};

mod common;
use common::{Api, call_body};

async fn with_faults(faults: Faults, seed: u64) -> Sandbox {
    Sandbox::builder()
        .clock(ClockMode::Manual)
        .faults(faults)
        .seed(seed)
        .start()
        .await
        .unwrap()
}

/// The statuses of 200 `GET /v1/models` in a row, and what the sandbox counted.
async fn statuses(seed: u64) -> (Vec<u16>, InjectedFaults) {
    let sandbox = with_faults(
        Faults {
            share_503: 0.2,
            share_429: 0.1,
            retry_after: Duration::from_secs(2),
            ..Faults::default()
        },
        seed,
    )
    .await;
    let api = Api::new(&sandbox);
    let mut seen = Vec::new();
    for _ in 0..200 {
        let answer = api.get("/v1/models", sandbox.api_key()).await;
        match answer.status {
            429 => {
                assert_eq!(answer.headers["retry-after"], "2");
                assert_eq!(answer.headers["retry-after-ms"], "2000");
            }
            503 => assert!(
                answer.body["type"]
                    .as_str()
                    .unwrap()
                    .ends_with("/unavailable")
            ),
            _ => {}
        }
        seen.push(answer.status);
    }
    (seen, sandbox.injected_faults())
}

#[tokio::test]
async fn shares_of_503s_and_429s_repeat_with_the_seed() {
    let (first, counted) = statuses(7).await;
    let (again, _) = statuses(7).await;
    let (other, _) = statuses(8).await;
    assert_eq!(first, again, "the same seed gives the same faults");
    assert_ne!(first, other, "another seed gives others");
    let count = |s: u16| first.iter().filter(|&&x| x == s).count();
    assert_eq!(count(503) + count(429) + count(200), 200);
    assert!((20..=60).contains(&count(503)), "{} 503s", count(503));
    assert!((5..=40).contains(&count(429)), "{} 429s", count(429));
    assert_eq!(
        counted,
        InjectedFaults {
            unavailable: count(503) as u64,
            throttled: count(429) as u64,
            dropped: 0,
            delayed: 0,
        }
    );
}

#[tokio::test]
async fn a_dropped_connection_still_took_effect_and_the_key_replays_it() {
    let sandbox = with_faults(
        Faults {
            share_drop_after_effect: 1.0,
            ..Faults::default()
        },
        1,
    )
    .await;
    let api = Api::new(&sandbox);
    let dropped = api
        .http
        .post(format!("{}/v1/calls", api.base))
        .bearer_auth(sandbox.api_key())
        .header("idempotency-key", "dropped-create-0001")
        .json(&call_body("+15551234567"))
        .send()
        .await;
    let error = dropped.expect_err("the client never sees an answer");
    assert!(!error.is_timeout(), "{error:?}");
    assert_eq!(sandbox.calls_count(), 1, "the call was placed all the same");
    assert_eq!(sandbox.injected_faults().dropped, 1);

    sandbox.set_faults(Faults::default());
    let retried = api
        .create_call(
            sandbox.api_key(),
            "+15551234567",
            &[("idempotency-key", "dropped-create-0001")],
        )
        .await;
    assert_eq!(retried.status, 201);
    assert_eq!(retried.headers["idempotent-replayed"], "true");
    assert_eq!(sandbox.calls_count(), 1, "the retry placed no second call");
    let listed = api.get("/v1/calls", sandbox.api_key()).await.body;
    assert_eq!(listed["data"][0]["id"], retried.body["call_id"]);
}

#[tokio::test]
async fn latency_is_added_to_api_routes_only() {
    let sandbox = with_faults(
        Faults {
            latency: Duration::from_millis(300),
            share_503: 1.0,
            ..Faults::default()
        },
        1,
    )
    .await;
    let api = Api::new(&sandbox);
    let started = Instant::now();
    let answer = api.get("/v1/balance", sandbox.api_key()).await;
    assert_eq!(answer.status, 503);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // Outside /v1 there is nothing to fault: an unknown path is a plain 404,
    // held back by no latency.
    let outside = api.get("/health", sandbox.api_key()).await;
    assert_eq!(outside.status, 404);
    let injected = sandbox.injected_faults();
    assert_eq!((injected.delayed, injected.unavailable), (1, 1));
}
