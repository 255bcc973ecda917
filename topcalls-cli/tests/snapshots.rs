//! Wording under review: `--help` of every command and the human output of
//! the commands people read most, as checked-in snapshots
//! (`tests/snapshots/`). After an intended change:
//! `INSTA_UPDATE=always cargo test -p topcalls-cli --test snapshots`, then
//! review the diff.

mod common;

use common::{Server, topcalls};

const COMMANDS: &[&[&str]] = &[
    &[],
    &["calls"],
    &["calls", "create"],
    &["calls", "get"],
    &["calls", "list"],
    &["calls", "stop"],
    &["calls", "cancel"],
    &["calls", "watch"],
    &["calls", "export"],
    &["calls", "batch"],
    &["campaigns"],
    &["campaigns", "list"],
    &["campaigns", "get"],
    &["campaigns", "start"],
    &["campaigns", "pause"],
    &["numbers"],
    &["numbers", "list"],
    &["numbers", "get"],
    &["numbers", "add"],
    &["numbers", "delete"],
    &["carriers"],
    &["carriers", "list"],
    &["carriers", "add"],
    &["carriers", "delete"],
    &["models"],
    &["voices"],
    &["balance"],
    &["webhooks"],
    &["webhooks", "subscribe"],
    &["webhooks", "trigger"],
    &["webhooks", "verify"],
    &["sandbox"],
    &["completions"],
    &["man"],
];

fn stdout(command: &mut assert_cmd::Command) -> String {
    let output = command.output().expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[test]
fn help_of_every_command() {
    for command in COMMANDS {
        let name = if command.is_empty() {
            "help".to_string()
        } else {
            format!("help-{}", command.join("-"))
        };
        // A fixed width, whatever the terminal running the tests.
        let text = stdout(
            topcalls()
                .env("COLUMNS", "100")
                .args(*command)
                .arg("--help"),
        );
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn human_output() {
    let server = Server::manual();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[uuid]",
    );
    settings.add_filter(r"sbx_[0-9a-f]{8}", "sbx_[id]");
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]");
    settings.add_filter(r"req_[0-9a-f]+", "req_[id]");
    settings.add_filter(r"msg_[0-9a-f]+", "msg_[id]");
    let _guard = settings.bind_to_scope();

    insta::assert_snapshot!("balance", stdout(server.topcalls().arg("balance")));
    insta::assert_snapshot!("models", stdout(server.topcalls().arg("models")));
    insta::assert_snapshot!(
        "voices-builtin",
        stdout(server.topcalls().args(["voices", "--builtin"]))
    );
    insta::assert_snapshot!(
        "calls-create",
        stdout(server.topcalls().args([
            "calls",
            "create",
            "--to",
            "+15551234567",
            "--task",
            "Confirm tomorrow's 10:00 appointment with Sam."
        ]))
    );
    let output = server
        .topcalls()
        .args(["calls", "get", "00000000-0000-4000-8000-000000000000"])
        .output()
        .expect("run");
    insta::assert_snapshot!("error-not-found", String::from_utf8_lossy(&output.stderr));
    let output = server
        .topcalls()
        .args(["calls", "create", "--to", "+15551234567"])
        .args(["--task", "Confirm the appointment."])
        .args(["--webhook-url", "ftp://example.com/hook"])
        .args(["--webhook-event", "call.completed"])
        .output()
        .expect("run");
    insta::assert_snapshot!("error-field", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn a_finished_call_for_people() {
    let server = Server::manual();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[uuid]",
    );
    settings.add_filter(r"sbx_[0-9a-f]{8}", "sbx_[id]");
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]");
    let _guard = settings.bind_to_scope();
    let placed = server.json(&[
        "calls",
        "create",
        "--to",
        "+15551234567",
        "--task",
        "Confirm tomorrow's 10:00 appointment with Sam.",
    ]);
    let call_id = placed["call_id"].as_str().expect("call_id").to_string();
    server.advance(std::time::Duration::from_secs(10 * 60));
    insta::assert_snapshot!(
        "calls-get-finished",
        stdout(server.topcalls().args(["calls", "get", &call_id]))
    );
}
