//! Every subcommand, run as the built binary against a sandbox on loopback;
//! `--json` output checked against the schemas of openapi.yaml.

mod common;

use std::time::Duration;

use common::{KEY, Server, assert_component, assert_schema, json_lines, scratch, topcalls, write};
use predicates::prelude::*;
use serde_json::Value;
use topcalls_contract_tests::Spec;

const TASK: &str = "Confirm tomorrow's 10:00 appointment with Sam.";

fn id(value: &Value, member: &str) -> String {
    value[member]
        .as_str()
        .unwrap_or_else(|| panic!("no {member} in {value:#}"))
        .to_string()
}

#[test]
fn calls_create_get_list_stop_cancel() {
    let spec = Spec::load();
    let server = Server::manual();

    let placed = server.json(&["calls", "create", "--to", "+15551234567", "--task", TASK]);
    assert_schema(&spec, "create_call", 201, &placed);
    let first = id(&placed, "call_id");

    let call = server.json(&["calls", "get", &first]);
    assert_schema(&spec, "get_call", 200, &call);
    assert_eq!(call["status"], "queued");
    assert_eq!(call["phone_number"], "+15551234567");

    let second = id(
        &server.json(&[
            "calls",
            "create",
            "--to",
            "+15551234568",
            "--task",
            TASK,
            "--voice",
            "echo",
        ]),
        "call_id",
    );

    let page = server.json(&["calls", "list", "--limit", "1"]);
    assert_schema(&spec, "list_calls", 200, &page);
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1));
    assert!(page["next_cursor"].is_string(), "{page:#}");

    let all = server
        .topcalls()
        .args(["calls", "list", "--all", "--limit", "1", "--json"])
        .output()
        .expect("run");
    assert!(all.status.success());
    let items = json_lines(&all.stdout);
    let ids: Vec<&str> = items.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(
        ids,
        [second.as_str(), first.as_str()],
        "newest first, every page"
    );
    for item in &items {
        assert_component(&spec, "Call", item);
    }

    let cancelled = server.json(&["calls", "cancel", &first]);
    assert_schema(&spec, "cancel_call", 200, &cancelled);
    assert_eq!(cancelled["ok"], true);

    let stopped = server.json(&[
        "calls",
        "stop",
        &second,
        "--idempotency-key",
        "stop-second-call",
    ]);
    assert_schema(&spec, "stop_call", 200, &stopped);
    assert_eq!(stopped["status"], "cancelled");

    // A finished call cannot be cancelled: 409, exit code 7, the Problem on stderr.
    server
        .topcalls()
        .args(["calls", "cancel", &first])
        .assert()
        .code(7)
        .stdout("")
        .stderr(predicate::str::contains("409").and(predicate::str::contains("request id: req_")));

    // People get a line, scripts a document.
    let text = server
        .topcalls()
        .args(["calls", "list", "--csv"])
        .output()
        .expect("run");
    let csv = String::from_utf8_lossy(&text.stdout);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("id,status,call_status,phone_number,duration,created_at")
    );
    assert_eq!(lines.count(), 2, "{csv}");
}

#[test]
fn calls_watch_and_create_wait_follow_the_call_to_its_end() {
    let spec = Spec::load();
    let server = Server::running();
    let placed = server.json(&["calls", "create", "--to", "+15551234567", "--task", TASK]);
    let call_id = id(&placed, "call_id");

    let watched = server
        .topcalls()
        .args(["calls", "watch", &call_id, "--json"])
        .output()
        .expect("run");
    assert!(
        watched.status.success(),
        "{}",
        String::from_utf8_lossy(&watched.stderr)
    );
    let changes = json_lines(&watched.stdout);
    for change in &changes {
        assert_component(&spec, "Call", change);
    }
    let last = changes.last().expect("at least the final state");
    assert_eq!(last["status"], "completed");
    assert_eq!(last["completed"], true);
    let statuses: Vec<&str> = changes
        .iter()
        .filter_map(|c| c["status"].as_str())
        .collect();
    let mut deduplicated = statuses.clone();
    deduplicated.dedup();
    assert_eq!(statuses, deduplicated, "one document per change");

    // --wait, as people read it: the statuses in order, then transcript and summary.
    let output = server
        .topcalls()
        .args([
            "calls",
            "create",
            "--to",
            "+15551234567",
            "--task",
            TASK,
            "--wait",
        ])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("placed call "), "{text}");
    // Which statuses a poll catches depends on timing; their order does not.
    let lifecycle = ["queued", "in_progress", "completed (completed)"];
    let seen: Vec<usize> = text
        .lines()
        .filter_map(|line| line.strip_prefix("status: "))
        .map(|status| {
            lifecycle
                .iter()
                .position(|known| *known == status)
                .unwrap_or_else(|| panic!("unexpected status {status}"))
        })
        .collect();
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "in order, once each: {text}"
    );
    assert_eq!(seen.last(), Some(&2), "{text}");
    assert!(text.contains("Transcript:\n  assistant: "), "{text}");
    assert!(text.contains("call_summary"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "no escape codes when piped: {text:?}"
    );
}

#[test]
fn the_embedded_sandbox_places_and_finishes_a_call_with_no_account() {
    let output = topcalls()
        .args([
            "--sandbox",
            "calls",
            "create",
            "--to",
            "+15551234567",
            "--task",
            TASK,
            "--wait",
            "--json",
        ])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let changes = json_lines(&output.stdout);
    let statuses: Vec<&str> = changes
        .iter()
        .filter_map(|c| c["status"].as_str())
        .collect();
    assert_eq!(statuses.last(), Some(&"completed"), "{statuses:?}");
    assert!(
        changes
            .last()
            .is_some_and(|c| c["transcript"].as_array().is_some_and(|t| !t.is_empty()))
    );
}

#[test]
fn campaigns_list_get_start_pause() {
    let spec = Spec::load();
    let server = Server::manual();
    let page = server.json(&["campaigns", "list"]);
    assert_schema(&spec, "list_campaigns", 200, &page);
    let draft = page["data"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["status"] == "draft"))
        .expect("a draft campaign in the sandbox's seed");
    let campaign_id = id(draft, "id");

    let campaign = server.json(&["campaigns", "get", &campaign_id]);
    assert_schema(&spec, "get_campaign", 200, &campaign);

    let started = server.json(&["campaigns", "start", &campaign_id]);
    assert_schema(&spec, "start_campaign", 200, &started);
    assert_eq!(
        server.json(&["campaigns", "get", &campaign_id])["status"],
        "running"
    );

    let paused = server.json(&["campaigns", "pause", &campaign_id]);
    assert_schema(&spec, "pause_campaign", 200, &paused);
    assert_eq!(
        server.json(&["campaigns", "get", &campaign_id])["status"],
        "paused"
    );

    let all = server
        .topcalls()
        .args(["campaigns", "list", "--all", "--json"])
        .output()
        .expect("run");
    for item in json_lines(&all.stdout) {
        assert_component(&spec, "Campaign", &item);
    }
    server
        .topcalls()
        .args(["campaigns", "get", "00000000-0000-4000-8000-000000000000"])
        .assert()
        .code(6)
        .stderr(predicate::str::contains("404"));
}

#[test]
fn numbers_and_carriers_add_list_get_delete() {
    let spec = Spec::load();
    let server = Server::manual();

    let carrier = server.json(&[
        "carriers",
        "add",
        "Acme SIP",
        "--gateway",
        "203.0.113.20",
        "--port",
        "5080",
        "--inbound",
        "--outbound",
    ]);
    assert_schema(&spec, "create_carrier", 201, &carrier);
    let carriers = server.json(&["carriers", "list"]);
    assert_schema(&spec, "list_carriers", 200, &carriers);
    assert!(
        carriers["data"]
            .as_array()
            .is_some_and(|all| all.iter().any(|c| c["id"] == carrier["id"]))
    );

    let number = server.json(&[
        "numbers",
        "add",
        "+15557654399",
        "--label",
        "Front desk",
        "--carrier-sid",
        &id(&carrier, "voip_carrier_sid"),
    ]);
    assert_schema(&spec, "create_phone_number", 201, &number);
    let number_id = id(&number, "id");
    let got = server.json(&["numbers", "get", &number_id]);
    assert_schema(&spec, "get_phone_number", 200, &got);
    assert_eq!(got["label"], "Front desk");
    let page = server.json(&["numbers", "list"]);
    assert_schema(&spec, "list_phone_numbers", 200, &page);

    server
        .topcalls()
        .args(["numbers", "delete", &number_id])
        .assert()
        .success()
        .stdout(format!("deleted phone number {number_id}\n"));
    server
        .topcalls()
        .args(["numbers", "get", &number_id])
        .assert()
        .code(6);
    server
        .topcalls()
        .args(["carriers", "delete", &id(&carrier, "id")])
        .assert()
        .success();

    // Refused before sending: usage, exit 2.
    server
        .topcalls()
        .args(["numbers", "add", "5557654399"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing was sent"));
}

#[test]
fn models_voices_balance() {
    let spec = Spec::load();
    let server = Server::manual();
    assert_schema(&spec, "list_models", 200, &server.json(&["models"]));
    assert_schema(&spec, "list_voices", 200, &server.json(&["voices"]));
    let builtin = server.json(&["voices", "--builtin", "--mode", "realtime"]);
    assert_schema(&spec, "list_builtin_voices", 200, &builtin);
    assert!(
        builtin["data"]
            .as_array()
            .is_some_and(|all| !all.is_empty() && all.iter().all(|v| v["mode"] == "realtime"))
    );
    assert_schema(&spec, "get_balance", 200, &server.json(&["balance"]));
}

#[test]
fn webhooks_subscribe() {
    let spec = Spec::load();
    let server = Server::manual();
    let subscription = server.json(&[
        "webhooks",
        "subscribe",
        "call.completed",
        "https://example.com/hook",
        "--filter",
        "phone_number=+1555%",
    ]);
    assert_schema(&spec, "create_webhook_subscription", 201, &subscription);
    assert_eq!(subscription["filters"]["phone_number"], "+1555%");
}

#[test]
fn api_errors_show_the_problem_field_errors_and_request_id() {
    let server = Server::manual();
    let output = server
        .topcalls()
        .args(["calls", "create", "--to", "+15551234567", "--task", TASK])
        .args([
            "--webhook-url",
            "ftp://example.com/hook",
            "--webhook-event",
            "call.completed",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(4));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("400"), "{stderr}");
    assert!(
        stderr.contains("  - webhook_url: "),
        "field errors: {stderr}"
    );
    assert!(stderr.contains("request id: req_"), "{stderr}");

    // Bad flags: clap's usage error, exit 2.
    topcalls().args(["calls", "create"]).assert().code(2);
    // No key anywhere: configuration, exit 3, naming every way to give one.
    topcalls().args(["balance"]).assert().code(3).stderr(
        predicate::str::contains("TOPCALLS_API_KEY").and(predicate::str::contains("--sandbox")),
    );
}

#[test]
fn the_key_is_never_printed_not_even_verbose() {
    let server = Server::manual();
    for args in [
        vec!["-vvv", "balance"],
        vec![
            "-vvv",
            "calls",
            "create",
            "--to",
            "+15551234567",
            "--task",
            TASK,
        ],
        vec!["-vvv", "calls", "get", "nope"],
    ] {
        let output = server.topcalls().args(&args).output().expect("run");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.is_empty(), "-vvv logs something: {args:?}");
        assert!(
            stderr.contains("TOPCALLS_API_KEY"),
            "says where the key came from: {stderr}"
        );
        assert!(
            !stdout.contains(KEY) && !stderr.contains(KEY),
            "{args:?} printed the key"
        );
        // Not even part of it.
        assert!(
            !stderr.contains(&KEY[8..]),
            "{args:?} printed part of the key"
        );
    }
}

#[test]
fn keys_from_a_file_or_a_profile_and_unsafe_files_refused() {
    let server = Server::manual();
    let dir = scratch();
    let key_file = dir.path().join("key");
    write(&key_file, &format!("{KEY}\n"), 0o600);
    let url = server.sandbox.base_url().to_string();
    let balance = |command: &mut assert_cmd::Command| command.args(["balance", "--json"]).assert();

    balance(
        topcalls()
            .args(["--base-url", &url, "--api-key-file"])
            .arg(&key_file),
    )
    .success();

    let config = dir.path().join("config.toml");
    write(
        &config,
        &format!("[profiles.sandbox]\napi_key = \"{KEY}\"\nbase_url = \"{url}\"\n"),
        0o600,
    );
    balance(
        topcalls()
            .arg("--config")
            .arg(&config)
            .args(["--profile", "sandbox"]),
    )
    .success();
    balance(
        topcalls()
            .env("TOPCALLS_CONFIG", &config)
            .env("TOPCALLS_PROFILE", "sandbox"),
    )
    .success();

    write(&key_file, KEY, 0o644);
    balance(
        topcalls()
            .args(["--base-url", &url, "--api-key-file"])
            .arg(&key_file),
    )
    .code(3)
    .stderr(
        predicate::str::contains("readable by everyone")
            .and(predicate::str::contains("chmod 600"))
            .and(predicate::str::contains(KEY).not()),
    );
    write(
        &config,
        &format!("[profiles.sandbox]\napi_key = \"{KEY}\"\nbase_url = \"{url}\"\n"),
        0o640,
    );
    balance(
        topcalls()
            .arg("--config")
            .arg(&config)
            .args(["--profile", "sandbox"]),
    )
    .code(3)
    .stderr(predicate::str::contains("readable by its group"));
}

#[test]
fn webhooks_trigger_sends_a_signed_documented_delivery_that_verify_accepts() {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // A receiver that answers 200 to one request and keeps what it got.
    let receiver = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let n = stream.read(&mut buffer).expect("read");
            request.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&request);
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|l| l.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break;
                }
            }
            assert!(n > 0, "connection closed early");
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .expect("answer");
        request
    });
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let sent = topcalls()
        .args([
            "webhooks",
            "trigger",
            "call.completed",
            "--json",
            "--secret",
            secret,
        ])
        .args(["--forward-to", &format!("http://127.0.0.1:{port}/hook")])
        .output()
        .expect("run");
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let report: Value = serde_json::from_slice(&sent.stdout).expect("json");
    assert_eq!(report["status"], 200);
    let request = receiver.join().expect("receiver");
    let text = String::from_utf8_lossy(&request).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} header in {head}"))
            .to_string()
    };
    assert_eq!(
        header("webhook-id"),
        report["webhook_id"].as_str().expect("id")
    );
    // The documented call.completed payload: a flat object with no `event` member.
    let payload: Value = serde_json::from_str(body).expect("JSON body");
    assert_component(&Spec::load(), "CallCompletedEvent", &payload);
    assert!(payload.get("event").is_none(), "{payload:#}");
    for member in [
        "call_id",
        "status",
        "transcript",
        "call_summary",
        "recording_url",
    ] {
        assert!(payload.get(member).is_some(), "{member} in {payload:#}");
    }

    let verify = |secret: &str, body: &str| {
        topcalls()
            .args([
                "webhooks",
                "verify",
                "--secret",
                secret,
                "--tolerance",
                "100000",
            ])
            .args([
                "--id",
                &header("webhook-id"),
                "--timestamp",
                &header("webhook-timestamp"),
            ])
            .args(["--signature", &header("webhook-signature")])
            .write_stdin(body.to_string())
            .assert()
    };
    verify(secret, body)
        .success()
        .stdout(predicate::str::starts_with("verified: delivery msg_"));
    verify(secret, &format!("{body}\n"))
        .code(12)
        .stderr(predicate::str::contains(
            "ends with a newline that was not signed",
        ));
    verify(secret, &body.replace("completed", "complete"))
        .code(12)
        .stderr(predicate::str::contains("no signature matches"));
    verify("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", body)
        .code(12)
        .stderr(predicate::str::contains("no signature matches"));
    topcalls()
        .args(["webhooks", "verify", "--secret", secret, "--id", "msg_1"])
        .args([
            "--timestamp",
            "1000",
            "--signature",
            &header("webhook-signature"),
        ])
        .write_stdin(body.to_string())
        .assert()
        .code(12)
        .stderr(predicate::str::contains("in the past"));
}

#[test]
fn webhooks_trigger_reports_a_receiver_that_refuses() {
    // A port nobody listens on: bind, learn the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    topcalls()
        .args(["webhooks", "trigger", "call.failed"])
        .args(["--forward-to", &format!("http://127.0.0.1:{port}/hook")])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no answer from the receiver"));
}

#[test]
fn sandbox_serves_the_api_until_interrupted() {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(common::BIN)
        .args(["sandbox", "--port", "0", "--speed", "60", "--api-key", KEY])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let url = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("TOPCALLS_BASE_URL=").map(str::to_string))
        .expect("the sandbox prints its URL");
    let balance = topcalls()
        .env("TOPCALLS_API_KEY", KEY)
        .args(["--base-url", &url, "balance", "--json"])
        .output()
        .expect("run");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        balance.status.success(),
        "{}",
        String::from_utf8_lossy(&balance.stderr)
    );
    let balance: Value = serde_json::from_slice(&balance.stdout).expect("json");
    assert_eq!(balance["unit"], "call_minutes");
}

#[test]
fn completions_and_man_page_come_from_the_command_definitions() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        topcalls()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("webhooks").and(predicate::str::contains("batch")));
    }
    topcalls()
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::starts_with(".ie").or(predicate::str::contains(".TH topcalls")));
}

#[test]
fn watch_ends_when_another_command_stops_the_call() {
    // On a manual clock a call stays queued; stop it from another command
    // and the watch ends with the call's final state.
    let server = Server::manual();
    let call_id = id(
        &server.json(&["calls", "create", "--to", "+15551234567", "--task", TASK]),
        "call_id",
    );
    let watch = server
        .command()
        .args(["calls", "watch", &call_id, "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    server.json(&["calls", "stop", &call_id]);
    server.advance(Duration::from_secs(1));
    let output = watch.wait_with_output().expect("watch");
    assert!(output.status.success());
    let changes = json_lines(&output.stdout);
    assert_eq!(
        changes.last().map(|c| c["status"].clone()),
        Some(Value::from("cancelled"))
    );
}

#[test]
fn calls_export_writes_every_call_as_csv_or_json_lines() {
    let spec = Spec::load();
    let server = Server::manual();
    for i in 0..3 {
        server.json(&[
            "calls",
            "create",
            "--to",
            &format!("+1555123450{i}"),
            "--task",
            TASK,
        ]);
    }
    server.advance(Duration::from_secs(10 * 60));
    let dir = scratch();
    let jsonl = dir.path().join("calls.jsonl");
    server
        .topcalls()
        .args(["calls", "export", "--json", "--output"])
        .arg(&jsonl)
        .assert()
        .success()
        .stderr(predicate::str::contains("exported 3 calls"));
    let calls = json_lines(&std::fs::read(&jsonl).expect("read"));
    assert_eq!(calls.len(), 3);
    for call in &calls {
        assert_component(&spec, "Call", call);
        assert!(call["transcript"].as_array().is_some_and(|t| !t.is_empty()));
    }

    let output = server
        .topcalls()
        .args(["calls", "export"])
        .output()
        .expect("run");
    assert!(output.status.success());
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(header, topcalls_api::CSV_COLUMNS);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|r| r[19].starts_with("assistant: ")),
        "transcript cell"
    );
    // Piped: a plain last line with counts per outcome, no animation.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim(), "[3] completed 3", "{stderr}");
}

#[test]
fn calls_batch_dry_run_reports_every_bad_row_and_places_nothing() {
    let server = Server::manual();
    let dir = scratch();
    let file = dir.path().join("leads.csv");
    std::fs::write(
        &file,
        "phone_number,name,max_duration\n\
         +15551234567,Sam,5\n\
         555-1234,Bad number,5\n\
         +15551234568,Alex,soon\n\
         +15551234569,Kim\n\
         +15551234570,Lee,5\n",
    )
    .expect("write");
    let task = "Remind {name} of the appointment tomorrow.";
    for dry_run in [true, false] {
        let mut command = server.topcalls();
        command
            .args(["calls", "batch"])
            .arg(&file)
            .args(["--task", task]);
        if dry_run {
            command.arg("--dry-run");
        }
        let output = command.output().expect("run");
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(lines[0].starts_with("line 3: `phone_number`"), "{stderr}");
        assert!(
            lines[1].starts_with("line 4: `max_duration` is not a number"),
            "{stderr}"
        );
        assert!(
            lines[2].starts_with("line 5: 2 fields, but the header has 3"),
            "{stderr}"
        );
        assert_eq!(
            lines[3],
            "error: 3 of 5 rows are not valid; nothing was placed"
        );
    }
    assert_eq!(server.sandbox.calls_count(), 0, "nothing placed");
    assert!(!dir.path().join("leads.results.csv").exists());

    // The good rows alone: placed, one JSON line each, the template filled in.
    std::fs::write(
        &file,
        "phone_number,name,reference\n+15551234567,Sam,lead-1\n+15551234568,Alex,lead-2\n",
    )
    .expect("write");
    server
        .topcalls()
        .args(["calls", "batch"])
        .arg(&file)
        .args(["--task", task, "--dry-run"])
        .assert()
        .success()
        .stdout("2 rows are valid; nothing was placed (--dry-run)\n");
    let output = server
        .topcalls()
        .args(["calls", "batch", "--json"])
        .arg(&file)
        .args(["--task", task])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let placed = json_lines(&output.stdout);
    assert_eq!(placed.len(), 2);
    let mut references: Vec<&str> = placed
        .iter()
        .filter_map(|p| p["reference"].as_str())
        .collect();
    references.sort_unstable();
    assert_eq!(references, ["lead-1", "lead-2"]);
    let call_id = placed
        .iter()
        .find(|p| p["reference"] == "lead-1")
        .map(|p| id(p, "call_id"))
        .expect("lead-1");
    let call = server.json(&["calls", "get", &call_id]);
    assert_eq!(call["phone_number"], "+15551234567");

    // Run again: nothing new is placed.
    server
        .topcalls()
        .args(["calls", "batch"])
        .arg(&file)
        .args(["--task", task])
        .assert()
        .success()
        .stderr(predicate::str::contains("2 rows, 2 placed before"));
    assert_eq!(server.sandbox.calls_count(), 2);

    // The file changed: its old results are not mixed with the new batch's.
    std::fs::write(
        &file,
        "phone_number,name,reference\n+15551234567,Sam,lead-1\n+15551234568,Alex,lead-2\n+15551234569,Kim,lead-3\n",
    )
    .expect("write");
    server
        .topcalls()
        .args(["calls", "batch"])
        .arg(&file)
        .args(["--task", task])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--batch-id"));
    assert_eq!(server.sandbox.calls_count(), 2);

    // A trial on the embedded sandbox does not count as placed for a real run.
    let trial = dir.path().join("trial.csv");
    std::fs::write(&trial, "phone_number,name\n+15551234571,Ana\n").expect("write");
    topcalls()
        .args(["--sandbox", "calls", "batch"])
        .arg(&trial)
        .args(["--task", task])
        .assert()
        .success();
    server
        .topcalls()
        .args(["calls", "batch"])
        .arg(&trial)
        .args(["--task", task])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("the sandbox"));
    assert_eq!(server.sandbox.calls_count(), 2);
}
