//! `calls batch` killed with SIGKILL half-way through 500 rows, against the
//! sandbox served by another process with faults on, then run again: every
//! row is placed exactly once and the results file is complete.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use common::{BIN, KEY, json_lines, scratch};

const ROWS: usize = 500;

/// `topcalls sandbox` on a free port, with faults: 5% of requests answered
/// 503 before taking effect, 5% whose connection drops after they took
/// effect. Returns the process and its URL, read from what it prints.
fn sandbox() -> (std::process::Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "sandbox",
            "--port",
            "0",
            "--speed",
            "60",
            "--queue-seconds",
            "1",
        ])
        .args(["--api-key", KEY, "--balance-minutes", "1000000"])
        .args([
            "--fault-503",
            "0.05",
            "--fault-drop-after-effect",
            "0.05",
            "--seed",
            "14",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the sandbox");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("TOPCALLS_BASE_URL=").map(str::to_string))
        .expect("the sandbox prints its URL");
    // Keep reading so the sandbox never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

fn topcalls(url: &str) -> Command {
    let mut command = Command::new(BIN);
    for name in ["TOPCALLS_BASE_URL", "TOPCALLS_PROFILE", "NO_COLOR"] {
        command.env_remove(name);
    }
    command
        .env("TOPCALLS_API_KEY", KEY)
        .env("TOPCALLS_CONFIG", "/nonexistent/topcalls/config.toml")
        .args(["--base-url", url]);
    command
}

fn batch(url: &str, file: &std::path::Path) -> Command {
    let mut command = topcalls(url);
    command.args(["calls", "batch"]).arg(file).args([
        "--task",
        "Remind {name} of the appointment tomorrow.",
        "--concurrency",
        "8",
    ]);
    command
}

#[test]
fn a_batch_killed_half_way_and_run_again_places_every_row_exactly_once() {
    let (mut server, url) = sandbox();
    let dir = scratch();
    let file = dir.path().join("leads.csv");
    let mut text = String::from("phone_number,name\n");
    let numbers: Vec<String> = (0..ROWS).map(|i| format!("+1555400{i:04}")).collect();
    for (i, number) in numbers.iter().enumerate() {
        text.push_str(&format!("{number},Person {i}\n"));
    }
    std::fs::write(&file, text).expect("write rows");

    // First run: killed once it reports half the rows done (its own signal, no timer).
    let mut first = batch(&url, &file)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn batch");
    let stderr = BufReader::new(first.stderr.take().expect("stderr"));
    let mut done = 0;
    for line in stderr.lines().map_while(Result::ok) {
        if line.starts_with('[') {
            done += 1;
            if done == ROWS / 2 {
                first.kill().expect("SIGKILL");
                break;
            }
        }
    }
    let status = first.wait().expect("wait");
    assert_eq!(done, ROWS / 2, "the first run got half-way");
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(
        status.signal(),
        Some(9),
        "ended by SIGKILL, not finished: {status}"
    );

    // Rerun until it reports success: faults may leave a row for the next run.
    let mut runs = 0;
    loop {
        runs += 1;
        let output = batch(&url, &file).output().expect("rerun");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() {
            assert!(
                stderr.contains("placed before"),
                "the rerun resumed: {stderr}"
            );
            break;
        }
        assert_eq!(
            output.status.code(),
            Some(11),
            "only partial failure is retried: {stderr}"
        );
        assert!(runs < 5, "still failing after {runs} reruns: {stderr}");
    }

    // Exactly one call per row on the server.
    let listed = topcalls(&url)
        .args(["calls", "list", "--all", "--limit", "200", "--json"])
        .output()
        .expect("list");
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let calls = json_lines(&listed.stdout);
    let mut per_number: HashMap<String, usize> = HashMap::new();
    for call in &calls {
        if let Some(number) = call["phone_number"].as_str() {
            *per_number.entry(number.to_string()).or_default() += 1;
        }
    }
    assert_eq!(calls.len(), ROWS, "exactly {ROWS} calls on the server");
    for number in &numbers {
        assert_eq!(per_number.get(number), Some(&1), "{number} called once");
    }

    // The results file: every row, its last outcome `placed`, with the server's call ids.
    let mut reader = csv::Reader::from_path(dir.path().join("leads.results.csv")).expect("results");
    let mut last: HashMap<u64, (String, String)> = HashMap::new();
    for record in reader.records() {
        let record = record.expect("a complete CSV record");
        let line: u64 = record[1].parse().expect("line");
        last.insert(line, (record[4].to_string(), record[5].to_string()));
    }
    assert_eq!(last.len(), ROWS, "a result for every row");
    let listed_ids: HashSet<&str> = calls.iter().filter_map(|c| c["id"].as_str()).collect();
    let result_ids: HashSet<&str> = last.values().map(|(_, id)| id.as_str()).collect();
    assert!(last.values().all(|(outcome, _)| outcome == "placed"));
    assert_eq!(result_ids, listed_ids, "the results name the calls placed");

    let _ = server.kill();
    let _ = server.wait();
}
