//! `cargo run -p topcalls-sandbox -- --port 8080`: a local TopCalls API.
//!
//! Its defaults suit a person with curl: the clock runs in real time and a
//! new call waits 60 s in `queued`, so create → get → cancel and create →
//! stop can be typed by hand. `--speed 120 --queue-seconds 3` is the pace of
//! the embedded sandbox (a call finishes in under a second).

use std::time::Duration;

use clap::{Parser, ValueEnum};

/// A stateful local TopCalls API server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Sandbox seconds per real second (0 to 10000).
    #[arg(long, default_value_t = 1.0, value_parser = speed)]
    speed: f64,
    /// Sandbox seconds a new call stays queued (and cancellable) before it rings.
    #[arg(long, default_value_t = 60.0, value_parser = seconds)]
    queue_seconds: f64,
    /// Webhook bodies with `"event": "<name>"`, or exactly as the TopCalls docs show them (no `event`).
    #[arg(long, value_enum, default_value_t = Payloads::Named)]
    webhook_payloads: Payloads,
    /// Requests per minute per key before 429 (off when absent).
    #[arg(long)]
    rate_limit: Option<u32>,
    /// The full-scope API key of the first account (random when absent).
    #[arg(long)]
    api_key: Option<String>,
    /// Call minutes each account starts with.
    #[arg(long, default_value_t = 500.0, value_parser = minutes)]
    balance_minutes: f64,
}

fn speed(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(speed) if (0.0..=topcalls_sandbox::ClockMode::MAX_SPEED).contains(&speed) => Ok(speed),
        _ => Err(format!(
            "a number from 0 to {}",
            topcalls_sandbox::ClockMode::MAX_SPEED
        )),
    }
}

/// `--webhook-payloads`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Payloads {
    Named,
    Documented,
}

fn seconds(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && (0.0..=86_400.0).contains(&seconds) => Ok(seconds),
        _ => Err("a number of seconds from 0 to 86400".into()),
    }
}

fn minutes(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(minutes) if minutes.is_finite() && minutes >= 0.0 => Ok(minutes),
        _ => Err("a finite number of minutes, 0 or more".into()),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut builder = topcalls_sandbox::Sandbox::builder()
        .port(args.port)
        .clock(topcalls_sandbox::ClockMode::Auto { speed: args.speed })
        .queue_time(Duration::from_secs_f64(args.queue_seconds))
        .webhook_payloads(match args.webhook_payloads {
            Payloads::Named => topcalls_sandbox::WebhookPayloads::Named,
            Payloads::Documented => topcalls_sandbox::WebhookPayloads::Documented,
        });
    builder = builder.balance_minutes(args.balance_minutes);
    if let Some(key) = args.api_key {
        builder = builder.api_key(key);
    }
    if let Some(limit) = args.rate_limit {
        builder = builder.rate_limit(limit);
    }
    let sandbox = builder.start().await?;
    println!("TopCalls sandbox listening on {}", sandbox.base_url());
    println!("TOPCALLS_BASE_URL={}", sandbox.base_url());
    println!("TOPCALLS_API_KEY={}", sandbox.api_key());
    println!("read-only key: {}", sandbox.read_only_key());
    println!("second account key: {}", sandbox.other_account_key());
    println!("webhook signing secret: {}", sandbox.webhook_secret());
    println!(
        "second account webhook signing secret: {}",
        sandbox.other_account_webhook_secret()
    );
    tokio::signal::ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(())
}
