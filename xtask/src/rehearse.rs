//! `cargo xtask rehearse`: an API change, rehearsed end to end in a copy of
//! the workspace.
//!
//! The copy (tracked files of the working tree, no `target/`) builds into
//! the workspace's target directory, so only the workspace's own crates are
//! rebuilt. Five scripted edits of `openapi.yaml`, in two batches:
//!
//! - safe: an optional response member, a value of a received enum, a new
//!   operation. `cargo xtask diff` must call each safe; after
//!   `cargo xtask generate`, `topcalls-api` must build with no hand-written
//!   change and the contract tests must pass, but for the coverage check,
//!   which must fail naming the new operation; the generated public API must
//!   only grow.
//! - breaking: a request member made required, a response member removed.
//!   `cargo xtask diff` must call the first breaking for senders and the
//!   second for receivers; the generated public API must break, and
//!   `api-check` must accept that only because `diff` declared it. Build and
//!   contract tests are run and their outcome reported.
//!
//! The contract tests use a mock server, not the sandbox: in the copy the
//! test crate drops its sandbox dependencies (and the binary it builds from
//! the sandbox's `main.rs` for `bulk_process.rs`) so that they run whatever
//! the sandbox makes of the edit. Whether the sandbox (which builds response
//! types by struct literal) still compiles after the safe edits is reported.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use serde_json::{Value, json};

use crate::api::{self, ApiDiff, Scratch};
use crate::diff::{Class, Report};
use crate::{generate, spec};

/// One scripted edit of the spec and what `cargo xtask diff` must say.
struct Edit {
    what: &'static str,
    apply: fn(&mut Value) -> Result<(), String>,
    /// The rule that must classify the edit, and where.
    rule: &'static str,
    location: &'static str,
    class: Class,
}

fn at<'a>(spec: &'a mut Value, pointer: &str) -> Result<&'a mut Value, String> {
    spec.pointer_mut(pointer)
        .ok_or_else(|| format!("openapi.yaml has no {pointer}"))
}

fn insert(spec: &mut Value, pointer: &str, key: &str, value: Value) -> Result<(), String> {
    at(spec, pointer)?
        .as_object_mut()
        .ok_or_else(|| format!("{pointer} is not an object"))?
        .insert(key.to_string(), value);
    Ok(())
}

const SAFE: [Edit; 3] = [
    Edit {
        what: "add an optional response member (Call.sentiment)",
        apply: |s| {
            insert(
                s,
                "/components/schemas/Call/properties",
                "sentiment",
                json!({"type": "string", "nullable": true, "description": "Overall sentiment."}),
            )
        },
        rule: "received-member-added",
        location: "Call.sentiment",
        class: Class::Safe,
    },
    Edit {
        what: "add a value to a received enum (CallGatewayStatus on_hold)",
        apply: |s| {
            at(s, "/components/schemas/CallGatewayStatus/enum")?
                .as_array_mut()
                .ok_or("CallGatewayStatus has no enum list")?
                .push(json!("on_hold"));
            Ok(())
        },
        rule: "received-enum-value-added",
        location: "CallGatewayStatus",
        class: Class::Safe,
    },
    Edit {
        what: "add an operation (GET /v1/calls/{call_id}/recording)",
        apply: |s| {
            insert(
                s,
                "/paths",
                "/v1/calls/{call_id}/recording",
                json!({"get": {
                    "operationId": "get_call_recording",
                    "summary": "The recording of a call",
                    "tags": ["Calls"],
                    "parameters": [{"$ref": "#/components/parameters/CallId"}],
                    "responses": {
                        "200": {
                            "description": "Where the recording is.",
                            "content": {"application/json": {"schema": {
                                "type": "object",
                                "required": ["url"],
                                "properties": {"url": {"type": "string"}},
                            }}},
                        },
                        "404": {"$ref": "#/components/responses/NotFound"},
                    },
                }}),
            )
        },
        rule: "operation-added",
        location: "get_call_recording",
        class: Class::Safe,
    },
];

const BREAKING: [Edit; 2] = [
    Edit {
        what: "make a request member required (CreateCallRequest.from_number)",
        apply: |s| {
            at(s, "/components/schemas/CreateCallRequest/required")?
                .as_array_mut()
                .ok_or("CreateCallRequest has no required list")?
                .push(json!("from_number"));
            Ok(())
        },
        rule: "sent-member-made-required",
        location: "CreateCallRequest.from_number",
        class: Class::BreakingSenders,
    },
    Edit {
        what: "remove a response member (Call.account_id)",
        apply: |s| {
            at(s, "/components/schemas/Call/properties")?
                .as_object_mut()
                .ok_or("Call has no properties")?
                .remove("account_id")
                .map(|_| ())
                .ok_or_else(|| "Call has no account_id".to_string())
        },
        rule: "received-member-removed",
        location: "Call.account_id",
        class: Class::BreakingReceivers,
    },
];

/// `cargo xtask rehearse`
pub(crate) fn run(root: &Path, args: &[String]) -> Result<ExitCode, String> {
    if let Some(arg) = args.first() {
        return Err(format!(
            "unknown argument `{arg}`\nusage: cargo xtask rehearse"
        ));
    }
    let started = Instant::now();
    let scratch = Scratch::new("rehearse")?;
    let copy = scratch.path.join("workspace");
    copy_workspace(root, &copy)?;
    let target = api::target_dir(root);
    let spec_path = copy.join("openapi.yaml");
    let original = spec::load(&spec_path)?;

    step("public API before the edits");
    let before = api::listing(&copy, &target)?;

    step("safe edits");
    let safe = apply_all(&original, &SAFE)?;
    write_and_generate(&copy, &safe)?;
    // Building the contract tests builds topcalls-api (with the features
    // the tests use) from the regenerated code and the unchanged
    // hand-written layer.
    cargo(&copy, &target, &contract(&["--skip", COVERAGE])).map_err(|e| {
        format!(
            "after safe edits, topcalls-api needs a hand-written change or the contract tests \
             fail:\n{}",
            tail(&e, 30)
        )
    })?;
    match cargo(&copy, &target, &contract(&["--exact", COVERAGE])) {
        Ok(()) => {
            return Err(
                "the contract coverage check passed with an operation that has no case".into(),
            );
        }
        Err(output) if output.contains("get_call_recording") => {
            println!("contract coverage names the new operation, as it must");
        }
        Err(output) => {
            return Err(format!(
                "contract coverage failed without naming get_call_recording: {output}"
            ));
        }
    }
    report_sandbox(&copy, &target);
    let after_safe = api::listing(&copy, &target)?;
    let api_safe = ApiDiff::compare(&before, &after_safe);
    print!("{}", api_safe.render(8));
    if api_safe.breaks() {
        return Err("safe edits removed or changed items of the generated public API".into());
    }
    for expected in [
        "topcalls_types::Call.sentiment",
        "topcalls_types::CallGatewayStatus::OnHold",
        "topcalls_api::generated::builder::GetCallRecording",
    ] {
        if !api_safe.added.iter().any(|path| path == expected) {
            return Err(format!(
                "safe edits did not add `{expected}` to the public API"
            ));
        }
    }
    api::verdict(&Report::compare(&original, &safe), &api_safe)?;

    step("breaking edits");
    let breaking = apply_all(&safe, &BREAKING)?;
    write_and_generate(&copy, &breaking)?;
    let after_breaking = api::listing(&copy, &target)?;
    let api_breaking = ApiDiff::compare(&after_safe, &after_breaking);
    print!("{}", api_breaking.render(8));
    if !api_breaking.breaks() {
        return Err("breaking edits left the generated public API intact".into());
    }
    api::verdict(&Report::compare(&safe, &breaking), &api_breaking)?;
    if api::verdict(&Report::compare(&safe, &safe), &api_breaking).is_ok() {
        return Err("api-check accepts a broken API when diff declares nothing".into());
    }
    println!("api-check: the break is accepted only because diff declared it");
    // Expected to fail (the hand-written layer or a contract case must
    // change); reported, not asserted. `check` first: the listing above
    // left the types' metadata built, so a hand-written change it calls
    // for costs seconds, not a build.
    let outcome = cargo(
        &copy,
        &target,
        &["check", "--locked", "-p", "topcalls-api", "--lib"],
    )
    .and_then(|()| cargo(&copy, &target, &contract(&["--skip", COVERAGE])));
    match outcome {
        Ok(()) => println!("after breaking edits: topcalls-api builds and the contract tests pass"),
        Err(output) => println!(
            "after breaking edits, topcalls-api or the contract tests need changes:\n{}",
            tail(&output, 14)
        ),
    }

    println!(
        "\nrehearsal passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

const COVERAGE: &str = "every_operation_has_a_contract_case";

fn contract<'a>(filter: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "test",
        "--locked",
        "-p",
        "topcalls-contract-tests",
        "--test",
        "contract",
        "--",
    ];
    args.extend_from_slice(filter);
    args
}

fn step(what: &str) {
    println!("\n==> rehearse: {what}");
}

/// Applies `edits` one by one to `start`, checking what `cargo xtask diff`
/// says of each.
fn apply_all(start: &Value, edits: &[Edit]) -> Result<Value, String> {
    let mut current = start.clone();
    for edit in edits {
        let mut next = current.clone();
        (edit.apply)(&mut next)?;
        let report = Report::compare(&current, &next);
        let found = report.changes.iter().any(|c| {
            c.rule.id == edit.rule
                && c.change.location == edit.location
                && c.rule.class == edit.class
        });
        let as_a_whole = (edit.class == Class::Safe) != report.breaking();
        println!(
            "{}: {}",
            edit.what,
            report
                .changes
                .iter()
                .map(|c| format!("{} [{}]", c.change.location, c.rule.id))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !found || !as_a_whole {
            return Err(format!(
                "xtask diff misclassifies `{}`: expected {} by rule {} at {}",
                edit.what,
                edit.class.title(),
                edit.rule,
                edit.location
            ));
        }
        current = next;
    }
    Ok(current)
}

fn write_and_generate(copy: &Path, spec: &Value) -> Result<(), String> {
    let path = copy.join("openapi.yaml");
    let text = serde_yaml_ng::to_string(spec).map_err(|e| format!("cannot write YAML: {e}"))?;
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    for output in generate::generate(&path)? {
        let target = copy.join(output.path);
        std::fs::write(&target, output.contents)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    Ok(())
}

/// Whether the sandbox, which builds response types by struct literal,
/// compiles after the edits; and where it does not.
fn report_sandbox(copy: &Path, target: &Path) {
    match cargo(
        copy,
        target,
        &["check", "--locked", "-p", "topcalls-sandbox", "--lib"],
    ) {
        Ok(()) => println!("sandbox: compiles unchanged"),
        Err(output) => {
            let sites: Vec<&str> = output
                .lines()
                .filter(|l| l.trim_start().starts_with("-->") || l.starts_with("error["))
                .collect();
            println!(
                "sandbox: needs hand-written changes:\n  {}",
                sites.join("\n  ")
            );
        }
    }
}

/// Runs cargo in `copy`; `Err` holds its output.
fn cargo(copy: &Path, target: &Path, args: &[&str]) -> Result<(), String> {
    let started = Instant::now();
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    if args.first() == Some(&"check") {
        // Cargo keeps artifacts built with and without RUSTC_BOOTSTRAP
        // apart; with it, a check reuses what the rustdoc JSON listing
        // (api.rs) has checked.
        command.env("RUSTC_BOOTSTRAP", "1");
    }
    let output = command
        .args(args)
        .current_dir(copy)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    println!(
        "  cargo {} ({:.0} s): {}",
        args.join(" "),
        started.elapsed().as_secs_f64(),
        if output.status.success() {
            "ok"
        } else {
            "failed"
        }
    );
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The tracked files of the working tree (as they are now) into `dest`;
/// the test crate loses its sandbox dependencies and the `[[bin]]` built from
/// the sandbox's source (see the module docs).
fn copy_workspace(root: &Path, dest: &Path) -> Result<(), String> {
    let files = crate::diff::git(root, &["ls-files", "-z"])?;
    for file in files.split('\0').filter(|f| !f.is_empty()) {
        let from = root.join(file);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let to = dest.join(file);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::copy(&from, &to).map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    let manifest = dest.join("tests/Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let without = without_sandbox(&text);
    if without == text {
        return Err("tests/Cargo.toml has no topcalls-sandbox dependency to drop".into());
    }
    std::fs::write(&manifest, without)
        .map_err(|e| format!("cannot write {}: {e}", manifest.display()))?;
    // Drop the dependency from the copy's lock file too (no network), so
    // that every later build runs `--locked`. `cargo tree` resolves for this
    // platform only: `cargo metadata` would want every platform's packages
    // (a Windows-only one of the CLI's tests is never downloaded here).
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "tree",
            "--offline",
            "--quiet",
            "-p",
            "topcalls-contract-tests",
        ])
        .current_dir(dest)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run cargo tree: {e}"))?;
    if !status.success() {
        return Err("cargo tree (updating the lock file) failed in the copy".into());
    }
    Ok(())
}

/// `tests/Cargo.toml` without its `topcalls-sandbox` dependency lines and
/// without the `[[bin]]` table built from the sandbox's `main.rs`.
fn without_sandbox(manifest: &str) -> String {
    let mut out = String::new();
    let mut table = String::new();
    let flush = |table: &mut String, out: &mut String| {
        let sandbox_bin =
            table.starts_with("[[bin]]") && table.contains("topcalls-sandbox/src/main.rs");
        if !sandbox_bin {
            out.push_str(table);
        }
        table.clear();
    };
    for line in manifest.lines() {
        if line.starts_with('[') {
            flush(&mut table, &mut out);
        }
        if !line.starts_with("topcalls-sandbox") {
            table.push_str(line);
            table.push('\n');
        }
    }
    flush(&mut table, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::without_sandbox;

    #[test]
    fn the_copy_of_the_test_crate_loses_every_tie_to_the_sandbox() {
        let manifest = include_str!("../../tests/Cargo.toml");
        assert!(manifest.contains("topcalls-sandbox/src/main.rs"));
        let copy = without_sandbox(manifest);
        assert!(!copy.contains("topcalls-sandbox/src/main.rs"));
        assert!(!copy.lines().any(|l| l.starts_with("topcalls-sandbox")));
        assert!(
            copy.contains("name = \"bulk-batch\""),
            "other binaries stay"
        );
        assert!(copy.contains("[dev-dependencies]\ntopcalls-api"));
    }
}
