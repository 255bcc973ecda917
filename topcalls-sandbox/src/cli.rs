//! The sandbox as a command: the flags of `topcalls-sandbox` (and of
//! `topcalls sandbox`, the CLI's subcommand that serves the same API), and
//! the loop that serves until Ctrl-C.
//!
//! Its defaults suit a person with curl: the clock runs in real time and a
//! new call waits 60 s in `queued`, so create → get → cancel and create →
//! stop can be typed by hand. `--speed 120 --queue-seconds 3` is the pace of
//! the embedded sandbox (a call finishes in under a second); `--clock manual`
//! stops time until `POST /_sandbox/advance` moves it.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::ValueEnum;

use crate::Sandbox;
use crate::clock::ClockMode;
use crate::faults::Faults;
use crate::state::events::WebhookPayloads;

/// The sandbox's flags, to flatten into a clap command.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (0.0.0.0 for every interface, as in Docker Compose or a CI service).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// How sandbox time passes: `auto` runs at --speed; `manual` stands still until `POST /_sandbox/advance`.
    #[arg(long, value_enum, default_value_t = Clock::Auto)]
    pub clock: Clock,
    /// Sandbox seconds per real second with `--clock auto` (0 to 10000).
    #[arg(long, default_value_t = 1.0, value_parser = speed)]
    pub speed: f64,
    /// Sandbox seconds a new call stays queued (and cancellable) before it rings.
    #[arg(long, default_value_t = 60.0, value_parser = seconds)]
    pub queue_seconds: f64,
    /// Webhook bodies with `"event": "<name>"`, or exactly as the TopCalls docs show them (no `event`).
    #[arg(long, value_enum, default_value_t = Payloads::Named)]
    pub webhook_payloads: Payloads,
    /// Requests per minute per key before 429 (off when absent).
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// The full-scope API key of the first account (random when absent).
    #[arg(long)]
    pub api_key: Option<String>,
    /// Call minutes each account starts with.
    #[arg(long, default_value_t = 500.0, value_parser = minutes)]
    pub balance_minutes: f64,
    /// Finished calls the first account starts with (a mix of outcomes), for load tests at scale.
    #[arg(long, default_value_t = 0)]
    pub seed_calls: usize,
    /// Answers to POSTs with an Idempotency-Key kept at most; past that the oldest goes before its 24 hours.
    #[arg(long, default_value_t = crate::DEFAULT_IDEMPOTENCY_CAPACITY, value_parser = capacity)]
    pub idempotency_capacity: usize,
    /// Milliseconds added to every /v1 request.
    #[arg(long, default_value_t = 0, help_heading = "Fault injection")]
    pub fault_latency_ms: u64,
    /// Share of /v1 requests answered 503 before taking effect (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = share, help_heading = "Fault injection")]
    pub fault_503: f64,
    /// Share of /v1 requests answered 429 before taking effect (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = share, help_heading = "Fault injection")]
    pub fault_429: f64,
    /// The wait those 429s ask for, in milliseconds (`Retry-After` rounds up to whole seconds).
    #[arg(long, default_value_t = 1000, help_heading = "Fault injection")]
    pub fault_retry_after_ms: u64,
    /// Share of /v1 requests whose connection is dropped after they took effect (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = share, help_heading = "Fault injection")]
    pub fault_drop_after_effect: f64,
    /// Seed of the dice that pick which requests get a fault, for repeatable runs.
    #[arg(long, default_value_t = 42, help_heading = "Fault injection")]
    pub seed: u64,
}

/// `--clock`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Clock {
    Auto,
    Manual,
}

/// `--webhook-payloads`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Payloads {
    Named,
    Documented,
}

fn speed(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(speed) if (0.0..=ClockMode::MAX_SPEED).contains(&speed) => Ok(speed),
        _ => Err(format!("a number from 0 to {}", ClockMode::MAX_SPEED)),
    }
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

fn capacity(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(answers) if answers >= 1 => Ok(answers),
        _ => Err("a whole number, 1 or more".into()),
    }
}

fn share(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err("a share from 0 to 1".into()),
    }
}

/// What a failed start says, in one line.
fn start_error(address: SocketAddr, error: &std::io::Error) -> String {
    match error.kind() {
        ErrorKind::AddrInUse => {
            format!("error: {address} is already in use; pick another --port or 0")
        }
        ErrorKind::AddrNotAvailable => format!(
            "error: {} is not an address of this machine; pick another --host (0.0.0.0 for every interface)",
            address.ip()
        ),
        ErrorKind::PermissionDenied => {
            format!("error: not allowed to listen on {address}; pick a --port above 1023 or 0")
        }
        _ => format!("error: cannot listen on {address}: {error}"),
    }
}

/// Starts a sandbox as `args` say, prints its URL, keys and secrets (the
/// line `TOPCALLS_BASE_URL=…` once it accepts connections), and serves
/// until Ctrl-C. Exit code 2 when it cannot listen.
pub async fn serve(args: ServeArgs) -> ExitCode {
    let clock = match args.clock {
        Clock::Auto => ClockMode::Auto { speed: args.speed },
        Clock::Manual => ClockMode::Manual,
    };
    let mut builder = Sandbox::builder()
        .host(args.host)
        .port(args.port)
        .clock(clock)
        .queue_time(Duration::from_secs_f64(args.queue_seconds))
        .webhook_payloads(match args.webhook_payloads {
            Payloads::Named => WebhookPayloads::Named,
            Payloads::Documented => WebhookPayloads::Documented,
        })
        .balance_minutes(args.balance_minutes)
        .seed_calls(args.seed_calls)
        .idempotency_capacity(args.idempotency_capacity)
        .seed(args.seed)
        .faults(Faults {
            latency: Duration::from_millis(args.fault_latency_ms),
            share_503: args.fault_503,
            share_429: args.fault_429,
            retry_after: Duration::from_millis(args.fault_retry_after_ms),
            share_drop_after_effect: args.fault_drop_after_effect,
        });
    if let Some(key) = args.api_key {
        builder = builder.api_key(key);
    }
    if let Some(limit) = args.rate_limit {
        builder = builder.rate_limit(limit);
    }
    let sandbox = match builder.start().await {
        Ok(sandbox) => sandbox,
        Err(error) => {
            eprintln!(
                "{}",
                start_error(SocketAddr::new(args.host, args.port), &error)
            );
            return ExitCode::from(2);
        }
    };
    // A closed stdout (`topcalls sandbox | head -1`) must not stop the server.
    macro_rules! say {
        ($($arg:tt)*) => {{
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout(), $($arg)*);
        }};
    }
    say!(
        "TopCalls sandbox listening on http://{}",
        sandbox.local_addr()
    );
    say!("TOPCALLS_BASE_URL={}", sandbox.base_url());
    say!("TOPCALLS_API_KEY={}", sandbox.api_key());
    say!("read-only key: {}", sandbox.read_only_key());
    say!("second account key: {}", sandbox.other_account_key());
    say!("webhook signing secret: {}", sandbox.webhook_secret());
    say!(
        "second account webhook signing secret: {}",
        sandbox.other_account_webhook_secret()
    );
    say!(
        "clock: {}; move it with POST /_sandbox/advance {{\"seconds\": n}}, wait for webhooks with POST /_sandbox/settle (TOPCALLS_API_KEY only)",
        match args.clock {
            Clock::Auto => "auto",
            Clock::Manual => "manual",
        }
    );
    let waited = tokio::signal::ctrl_c().await;
    sandbox.shutdown().await;
    match waited {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot wait for Ctrl-C: {error}");
            ExitCode::FAILURE
        }
    }
}
