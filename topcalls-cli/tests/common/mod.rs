//! Running the built `topcalls` binary against a sandbox on loopback.
#![allow(dead_code, unreachable_pub, reason = "each test file uses part of it")]

use std::path::PathBuf;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use topcalls_contract_tests::Spec;
use topcalls_sandbox::{ClockMode, Sandbox};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_topcalls");

/// A key the tests' sandboxes accept, recognisable in any output.
pub const KEY: &str = "tc_test_cli_canary_8d1f27c4e0b9";

/// `topcalls` with nothing of the caller's environment that could change
/// what it does: no key, base URL, profile or config of the user's; colour
/// off; the config directory in a place of its own.
pub fn topcalls() -> Command {
    let mut command = Command::new(BIN);
    for name in [
        "TOPCALLS_API_KEY",
        "TOPCALLS_BASE_URL",
        "TOPCALLS_PROFILE",
        "TOPCALLS_CONFIG",
        "TOPCALLS_WEBHOOK_SECRET",
        "CLICOLOR_FORCE",
    ] {
        command.env_remove(name);
    }
    command.env("TOPCALLS_CONFIG", "/nonexistent/topcalls/config.toml");
    command.env("NO_COLOR", "1");
    command
}

/// A sandbox served from this test process, and `topcalls` pointed at it.
pub struct Server {
    pub sandbox: Sandbox,
    // Serves the sandbox while the test runs.
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    /// A sandbox whose time stands still unless the test moves it: calls
    /// stay queued.
    pub fn manual() -> Self {
        Self::start(ClockMode::Manual)
    }

    /// A sandbox whose calls finish in about two seconds.
    pub fn running() -> Self {
        Self::start(ClockMode::Auto { speed: 60.0 })
    }

    fn start(clock: ClockMode) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let sandbox = runtime
            .block_on(
                Sandbox::builder()
                    .clock(clock)
                    .api_key(KEY)
                    .balance_minutes(100_000.0)
                    .start(),
            )
            .expect("sandbox");
        Self {
            sandbox,
            _runtime: runtime,
        }
    }

    /// `topcalls --base-url <sandbox>` with the key in `TOPCALLS_API_KEY`.
    pub fn topcalls(&self) -> Command {
        let mut command = topcalls();
        command
            .env("TOPCALLS_API_KEY", KEY)
            .args(["--base-url", self.sandbox.base_url()]);
        command
    }

    /// The same as a `std::process::Command`, to spawn.
    pub fn command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(BIN);
        for name in [
            "TOPCALLS_BASE_URL",
            "TOPCALLS_PROFILE",
            "TOPCALLS_WEBHOOK_SECRET",
        ] {
            command.env_remove(name);
        }
        command
            .env("TOPCALLS_CONFIG", "/nonexistent/topcalls/config.toml")
            .env("NO_COLOR", "1")
            .env("TOPCALLS_API_KEY", KEY)
            .args(["--base-url", self.sandbox.base_url()]);
        command
    }

    /// Runs `args` with `--json` and returns the parsed document.
    pub fn json(&self, args: &[&str]) -> Value {
        let output = self
            .topcalls()
            .args(args)
            .arg("--json")
            .output()
            .expect("run");
        assert!(
            output.status.success(),
            "topcalls {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "topcalls {args:?} --json is not one JSON document ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// Moves the sandbox clock.
    pub fn advance(&self, by: Duration) {
        self.sandbox.advance(by);
    }
}

/// Parses JSON Lines.
pub fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// Asserts `value` matches the schema of `operation`'s `status` response in openapi.yaml.
pub fn assert_schema(spec: &Spec, operation: &str, status: u16, value: &Value) {
    let response = spec
        .operation(operation)
        .responses
        .into_iter()
        .find(|r| r.status == status)
        .unwrap_or_else(|| panic!("{operation} declares no {status}"));
    let schema = response
        .schema
        .unwrap_or_else(|| panic!("{operation} {status} has no body schema"));
    let validator = spec.validator(&schema);
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{operation} {status}: output does not match the spec: {errors:#?}\n{value:#}"
    );
}

/// Asserts `value` matches a component schema of openapi.yaml (`Call`, say).
pub fn assert_component(spec: &Spec, component: &str, value: &Value) {
    let schema = serde_json::json!({"$ref": format!("#/components/schemas/{component}")});
    let validator = spec.validator(&schema);
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{component}: output does not match the spec: {errors:#?}\n{value:#}"
    );
}

/// A scratch directory.
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Writes a file with a mode.
pub fn write(path: &PathBuf, text: &str, mode: u32) {
    std::fs::write(path, text).expect("write");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
