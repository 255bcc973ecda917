//! `cargo run -p topcalls-sandbox -- --port 8080`: a local TopCalls API.
//!
//! Its defaults suit a person with curl: the clock runs in real time and a
//! new call waits 60 s in `queued`, so create → get → cancel and create →
//! stop can be typed by hand. `--speed 120 --queue-seconds 3` is the pace of
//! the embedded sandbox (a call finishes in under a second); `--clock manual`
//! stops time until `POST /_sandbox/advance` moves it.

use clap::Parser;
use std::process::ExitCode;
use topcalls_sandbox::cli::{ServeArgs, serve};

/// A stateful local TopCalls API server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    serve(Args::parse().serve).await
}
