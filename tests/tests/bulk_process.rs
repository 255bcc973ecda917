//! A batch killed part-way and run again places every call exactly once.
//!
//! Two separate processes on 127.0.0.1: the sandbox binary with faults
//! injected (503s and 429s before the effect, connections dropped after
//! it), and a batch (`bulk-batch`, `create_many` over 2,000 rows). The
//! batch is killed with SIGKILL once it has printed 500 result lines (a
//! signal the program gives, not a sleep), then run again to the end. The
//! sandbox must then hold exactly 2,000 calls, and every reference must map
//! to exactly one call id, the same in both runs.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use topcalls_api::{Client, RetryPolicy};

const ROWS: u32 = 2_000;
const KILL_AFTER: usize = 500;
const KEY: &str = "tc_test_bulk_process_key";

/// A child process killed when dropped, so a failing test leaves none behind.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lines(child: &mut Child) -> Lines<BufReader<ChildStdout>> {
    BufReader::new(child.stdout.take().unwrap()).lines()
}

/// Starts the sandbox binary on a free port; returns it and its base URL.
fn start_sandbox() -> (Process, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_topcalls-sandbox-process"))
        .args(["--port", "0", "--clock", "manual", "--api-key", KEY])
        .args(["--balance-minutes", "1000000000"])
        .args(["--fault-503", "0.05", "--fault-429", "0.05"])
        .args([
            "--fault-retry-after-ms",
            "5",
            "--fault-drop-after-effect",
            "0.05",
        ])
        .args(["--seed", "7"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = lines(&mut child);
    let base_url = out
        .by_ref()
        .map(Result::unwrap)
        .find_map(|line| line.strip_prefix("TOPCALLS_BASE_URL=").map(str::to_string))
        .expect("the sandbox prints its base URL");
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || out.for_each(drop));
    (Process(child), base_url)
}

fn batch(base_url: &str) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_bulk-batch"))
        .args(["appointments-kill-test", &ROWS.to_string(), "16"])
        .env("TOPCALLS_API_KEY", KEY)
        .env("TOPCALLS_BASE_URL", base_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Process(child)
}

/// `ok <reference> <call id>` → (reference, call id).
fn placed(line: &str) -> (u32, String) {
    let mut parts = line.splitn(3, ' ');
    assert_eq!(parts.next(), Some("ok"), "a row failed: {line}");
    let reference = parts.next().unwrap().parse().unwrap();
    (reference, parts.next().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_batch_rerun_to_the_end_places_each_call_once() {
    let (_sandbox, base_url) = start_sandbox();

    // Run 1: killed once it has reported KILL_AFTER rows; more are in flight.
    let mut first = batch(&base_url);
    let mut seen = HashMap::new();
    for line in lines(&mut first.0).take(KILL_AFTER) {
        let (reference, id) = placed(&line.unwrap());
        assert!(seen.insert(reference, id).is_none());
    }
    first.0.kill().unwrap(); // SIGKILL
    let status = first.0.wait().unwrap();
    assert!(
        !status.success(),
        "the batch was killed, not finished: {status}"
    );

    // Run 2: the same batch, to the end.
    let mut second = batch(&base_url);
    let mut ids = HashMap::new();
    for line in lines(&mut second.0) {
        let (reference, id) = placed(&line.unwrap());
        assert!(
            ids.insert(reference, id).is_none(),
            "row {reference} reported twice"
        );
    }
    assert!(second.0.wait().unwrap().success());
    assert_eq!(ids.len(), ROWS as usize);
    for (reference, id) in &seen {
        assert_eq!(&ids[reference], id, "row {reference} has two calls");
    }

    // The sandbox's view: exactly ROWS calls, one per reference.
    let client = Client::builder()
        .api_key(KEY)
        .base_url(&base_url)
        .retry(
            RetryPolicy::default()
                .max_retries(10)
                .base_delay(Duration::from_millis(2))
                .max_delay(Duration::from_millis(50)),
        )
        .build()
        .unwrap();
    let listed: Vec<String> = client
        .calls()
        .list()
        .limit(200)
        .stream()
        .map(|call| call.unwrap().id)
        .collect()
        .await;
    assert_eq!(listed.len(), ROWS as usize);
    let listed: HashSet<String> = listed.into_iter().collect();
    let reported: HashSet<String> = ids.into_values().collect();
    assert_eq!(listed, reported);
}
