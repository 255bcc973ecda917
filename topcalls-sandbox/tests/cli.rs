//! The binary, run as a process: its `--help` against a checked-in
//! expectation, its flags, its admin endpoints and its start-up errors.
//! Nothing here waits on wall time: each test reads the lines the binary
//! prints, or waits for it to exit.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_topcalls-sandbox");

#[test]
fn help_matches_the_snapshot() {
    let output = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("run topcalls-sandbox --help");
    assert!(output.status.success());
    let expected = include_str!("snapshots/help.txt");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        expected,
        "update tests/snapshots/help.txt if the change is intended"
    );
}

/// A running binary, stopped when dropped.
struct Running {
    child: Child,
    /// The line `TopCalls sandbox listening on http://…`.
    listening: String,
    base_url: String,
    api_key: String,
    read_only_key: String,
}

impl Running {
    /// Starts the binary and reads what it prints up to its last start-up line.
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let (mut listening, mut base_url, mut api_key, mut read_only_key) =
            (String::new(), String::new(), String::new(), String::new());
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(url) = line.strip_prefix("TopCalls sandbox listening on ") {
                listening = url.to_string();
            } else if let Some(url) = line.strip_prefix("TOPCALLS_BASE_URL=") {
                base_url = url.to_string();
            } else if let Some(key) = line.strip_prefix("TOPCALLS_API_KEY=") {
                api_key = key.to_string();
            } else if let Some(key) = line.strip_prefix("read-only key: ") {
                read_only_key = key.to_string();
            } else if line.starts_with("clock: ") {
                break;
            }
        }
        assert!(!base_url.is_empty(), "the binary printed no base URL");
        Self {
            child,
            listening,
            base_url,
            api_key,
            read_only_key,
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = reqwest::Client::new()
            .request(method.parse().unwrap(), format!("{}{path}", self.base_url));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, headers, body)
    }

    /// `POST /_sandbox/advance` with the full key; the sandbox time after it.
    async fn advance(&self, seconds: f64) -> chrono::DateTime<chrono::Utc> {
        let (status, _, body) = self
            .send(
                "POST",
                "/_sandbox/advance",
                Some(&self.api_key),
                Some(json!({ "seconds": seconds })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["now"].as_str().unwrap().parse().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_manual_clock_moves_only_through_the_admin_endpoint() {
    let sandbox = Running::start(&["--clock", "manual", "--queue-seconds", "3"]);
    let key = sandbox.api_key.clone();
    let (status, _, created) = sandbox
        .send(
            "POST",
            "/v1/calls",
            Some(&key),
            Some(json!({"phone_number": "+15551234567", "task": "Confirm the appointment."})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/v1/calls/{}", created["call_id"].as_str().unwrap());

    let start = sandbox.advance(0.0).await;
    assert_eq!(
        sandbox.advance(0.0).await,
        start,
        "a manual clock stands still"
    );
    let (_, _, call) = sandbox.send("GET", &path, Some(&key), None).await;
    assert_eq!(call["status"], "queued");

    let later = sandbox.advance(3600.0).await;
    assert_eq!(later - start, chrono::Duration::seconds(3600));
    let (_, _, call) = sandbox.send("GET", &path, Some(&key), None).await;
    assert_eq!(call["status"], "completed", "{call}");

    let (status, _, settled) = sandbox
        .send("POST", "/_sandbox/settle", Some(&key), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        settled["now"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        later
    );
}

#[tokio::test]
async fn only_the_full_key_reaches_the_admin_endpoints() {
    let sandbox = Running::start(&["--clock", "manual"]);
    let advance = Some(json!({"seconds": 60}));
    for path in ["/_sandbox/advance", "/_sandbox/settle"] {
        let (status, headers, body) = sandbox.send("POST", path, None, advance.clone()).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert!(headers.contains_key("www-authenticate"));
        let (status, _, _) = sandbox
            .send("POST", path, Some("tc_test_unknown"), advance.clone())
            .await;
        assert_eq!(status, 401, "{path}");
        let (status, _, body) = sandbox
            .send("POST", path, Some(&sandbox.read_only_key), advance.clone())
            .await;
        assert_eq!(status, 403, "{path}: {body}");
        let (status, _, _) = sandbox
            .send("GET", path, Some(&sandbox.api_key), None)
            .await;
        assert_eq!(status, 405, "{path}");
    }
    for bad in [
        json!({}),
        json!({"seconds": -1}),
        json!({"seconds": 86_401}),
        json!({"seconds": "60"}),
    ] {
        let (status, _, body) = sandbox
            .send(
                "POST",
                "/_sandbox/advance",
                Some(&sandbox.api_key),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(
            (status, body["errors"][0]["path"].as_str()),
            (400, Some("seconds")),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn every_interface_is_reached_through_the_loopback_address() {
    let sandbox = Running::start(&["--host", "0.0.0.0"]);
    let port = sandbox.base_url.rsplit(':').next().unwrap().to_string();
    assert_eq!(sandbox.listening, format!("http://0.0.0.0:{port}"));
    assert_eq!(sandbox.base_url, format!("http://127.0.0.1:{port}"));
    let (status, _, _) = sandbox
        .send("GET", "/v1/models", Some(&sandbox.api_key), None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn fault_flags_inject_faults() {
    let sandbox = Running::start(&["--fault-503", "1"]);
    let (status, _, body) = sandbox
        .send("GET", "/v1/models", Some(&sandbox.api_key), None)
        .await;
    assert_eq!(status, 503, "{body}");
    // The admin endpoints are not part of the API: no faults there.
    let before = sandbox.advance(0.0).await;
    assert!(sandbox.advance(1.0).await > before);

    let sandbox = Running::start(&["--fault-429", "1", "--fault-retry-after-ms", "2500"]);
    let (status, headers, _) = sandbox
        .send("GET", "/v1/models", Some(&sandbox.api_key), None)
        .await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "3");
    assert_eq!(headers["retry-after-ms"], "2500");
}

#[test]
fn a_port_in_use_is_one_line_and_exit_code_2() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = Command::new(BIN).args(["--port", &port]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("error: 127.0.0.1:{port} is already in use; pick another --port or 0\n")
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn a_share_outside_0_to_1_is_refused() {
    let output = Command::new(BIN)
        .args(["--fault-503", "1.5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("a share from 0 to 1"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
