//! Workspace tasks for topcalls-rs.
//!
//! `cargo xtask generate` regenerates the client from `openapi.yaml`;
//! `cargo xtask generate --check` regenerates in memory and fails with a diff
//! when a checked-in file is stale. `cargo xtask diff` says what an edit of
//! `openapi.yaml` breaks for users of the SDK, the version it needs and its
//! changelog lines.

mod api;
mod diff;
mod generate;
mod postprocess;
mod rehearse;
mod spec;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask generate [--check] [--spec PATH]
       cargo xtask diff [--base GIT-REV] [--head FILE] [--fail-on breaking]
       cargo xtask api-check [--base GIT-REV]
       cargo xtask rehearse";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let (command, rest) = args.split_first().ok_or_else(|| USAGE.to_string())?;
    let root = workspace_root();
    match command.as_str() {
        "generate" => generate(&root, rest),
        "diff" => diff::run(&root, rest),
        "api-check" => api::run(&root, rest),
        "rehearse" => rehearse::run(&root, rest),
        _ => Err(format!("unknown command `{command}`\n{USAGE}")),
    }
}

fn generate(root: &Path, rest: &[String]) -> Result<ExitCode, String> {
    let mut check = false;
    let mut spec_path = root.join("openapi.yaml");
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--spec" => {
                let path = rest
                    .next()
                    .ok_or_else(|| format!("--spec needs a path\n{USAGE}"))?;
                spec_path = PathBuf::from(path);
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }

    let outputs = generate::generate(&spec_path)?;
    let mut stale = false;
    for output in &outputs {
        let path = root.join(output.path);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == output.contents {
            continue;
        }
        if check {
            stale = true;
            let diff = similar::TextDiff::from_lines(&current, &output.contents);
            print!(
                "{}",
                diff.unified_diff()
                    .context_radius(3)
                    .header(&format!("a/{}", output.path), &format!("b/{}", output.path))
            );
        } else {
            std::fs::write(&path, &output.contents)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            eprintln!("wrote {}", output.path);
        }
    }
    if stale {
        eprintln!("generated code is stale: run `cargo xtask generate` and commit the result");
        return Ok(ExitCode::FAILURE);
    }
    if check {
        eprintln!("generated code is up to date with {}", spec_path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
