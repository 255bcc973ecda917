//! The progress display: animated on a terminal (a pseudo-terminal here),
//! plain lines when piped.

mod common;

use std::process::Command;

use expectrl::{Eof, Expect as _, Session};

fn rows(dir: &std::path::Path, count: usize) -> std::path::PathBuf {
    let path = dir.join("rows.csv");
    let mut text = String::from("phone_number,name\n");
    for i in 0..count {
        text.push_str(&format!("+1555300{i:04},Person {i}\n"));
    }
    std::fs::write(&path, text).expect("write");
    path
}

fn batch(file: &std::path::Path) -> Command {
    let mut command = Command::new(common::BIN);
    for name in [
        "TOPCALLS_API_KEY",
        "TOPCALLS_BASE_URL",
        "TOPCALLS_PROFILE",
        "NO_COLOR",
    ] {
        command.env_remove(name);
    }
    command
        .env("TERM", "xterm-256color")
        .env("TOPCALLS_CONFIG", "/nonexistent/topcalls/config.toml")
        .args(["--sandbox", "calls", "batch"])
        .arg(file)
        .args(["--task", "Remind {name} of the appointment tomorrow."]);
    command
}

#[test]
fn batch_progress_is_a_bar_on_a_terminal_and_plain_lines_when_piped() {
    let dir = common::scratch();
    let file = rows(dir.path(), 40);

    // On a terminal: a bar redrawn in place, with counts per outcome.
    let mut session = Session::spawn(batch(&file)).expect("spawn on a pty");
    session
        .get_process_mut()
        .set_window_size(120, 30)
        .expect("window size");
    // Waits for the program to end, however long that takes.
    session.set_expect_timeout(None);
    let captured = session.expect(Eof).expect("output until the end");
    let screen = String::from_utf8_lossy(captured.as_bytes()).to_string();
    assert!(
        screen.contains("40/40"),
        "the bar reaches the end: {screen:?}"
    );
    assert!(
        screen.contains("placed 40"),
        "counts per outcome: {screen:?}"
    );
    assert!(screen.contains("ETA"), "an ETA: {screen:?}");
    assert!(
        screen.contains('\r') || screen.contains("\u{1b}["),
        "drawn in place with terminal controls: {screen:?}"
    );
    assert!(
        !screen.contains("[1/40] placed"),
        "no plain lines: {screen:?}"
    );
    std::fs::remove_file(dir.path().join("rows.results.csv")).expect("results");

    // Piped: one plain line per row, nothing redrawn.
    let output = batch(&file).output().expect("run");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(lines.len(), 40, "{stderr}");
    assert!(lines[0].starts_with("[1/40] placed: line "), "{stderr}");
    assert!(lines[39].starts_with("[40/40] placed: line "), "{stderr}");
    for stream in [&stderr, &String::from_utf8_lossy(&output.stdout)] {
        assert!(
            !stream.contains('\r') && !stream.contains('\u{1b}'),
            "{stream:?}"
        );
    }
}

#[test]
fn call_status_is_a_spinner_on_a_terminal_and_plain_lines_when_piped() {
    let create = || {
        let mut command = Command::new(common::BIN);
        for name in [
            "TOPCALLS_API_KEY",
            "TOPCALLS_BASE_URL",
            "TOPCALLS_PROFILE",
            "NO_COLOR",
        ] {
            command.env_remove(name);
        }
        command.env("TERM", "xterm-256color").args([
            "--sandbox",
            "calls",
            "create",
            "--to",
            "+15551234567",
            "--task",
            "Confirm tomorrow's appointment.",
            "--wait",
        ]);
        command
    };
    let mut session = Session::spawn(create()).expect("spawn on a pty");
    session
        .get_process_mut()
        .set_window_size(120, 30)
        .expect("window size");
    session.set_expect_timeout(None);
    let captured = session.expect(Eof).expect("output until the end");
    let screen = String::from_utf8_lossy(captured.as_bytes()).to_string();
    assert!(screen.contains("status: completed"), "{screen:?}");
    assert!(
        screen.contains("\u{1b}["),
        "a spinner drawn with terminal controls: {screen:?}"
    );
    assert!(screen.contains("Transcript:"), "{screen:?}");

    let output = create().output().expect("run");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("status: completed"), "{stdout}");
    for stream in [&stdout, &String::from_utf8_lossy(&output.stderr)] {
        assert!(
            !stream.contains('\r') && !stream.contains('\u{1b}'),
            "{stream:?}"
        );
    }
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let failing = |no_color: bool| {
        let mut command = Command::new(common::BIN);
        for name in [
            "TOPCALLS_API_KEY",
            "TOPCALLS_BASE_URL",
            "TOPCALLS_PROFILE",
            "NO_COLOR",
        ] {
            command.env_remove(name);
        }
        command
            .env("TERM", "xterm-256color")
            .env("TOPCALLS_CONFIG", "/nonexistent/topcalls/config.toml")
            .arg("balance");
        if no_color {
            command.env("NO_COLOR", "1");
        }
        command
    };
    let on_terminal = |no_color: bool| {
        let mut session = Session::spawn(failing(no_color)).expect("spawn on a pty");
        session.set_expect_timeout(None);
        let captured = session.expect(Eof).expect("output until the end");
        String::from_utf8_lossy(captured.as_bytes()).to_string()
    };
    let coloured = on_terminal(false);
    assert!(coloured.contains("no API key"), "{coloured:?}");
    assert!(
        coloured.contains("\u{1b}["),
        "coloured on a terminal: {coloured:?}"
    );
    let plain = on_terminal(true);
    assert!(plain.contains("error: no API key"), "{plain:?}");
    assert!(!plain.contains('\u{1b}'), "NO_COLOR: {plain:?}");
    let piped = failing(false).output().expect("run");
    assert_eq!(piped.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(stderr.starts_with("error: no API key"), "piped: {stderr:?}");
}
