//! The binary's `--help`, against a checked-in expectation.

#[test]
fn help_matches_the_snapshot() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_topcalls-sandbox"))
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
