//! `topcalls`: the command line for the TopCalls API, its sandbox and webhooks.
//!
//! ```sh
//! cargo run -p topcalls-cli -- --sandbox calls create --to +15551234567 --task "Confirm the appointment" --wait
//! ```
//!
//! Every operation of the API is a subcommand in the API's own nouns; each
//! runs on `topcalls-api` (`client.rs` builds the client from the
//! credentials in `config.rs`), prints through `output.rs`, and exits with
//! the codes of `exit.rs`.

mod batch;
mod calls;
mod cli;
mod config;
mod exit;
mod output;
mod progress;
mod resources;
mod webhooks;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};
use topcalls_api::Client;
use topcalls_sandbox::{ClockMode, Sandbox};

use crate::cli::{Cli, Command, Global};
use crate::exit::Failure;
use crate::output::{Format, Output};

/// Sandbox seconds per real second of the embedded sandbox: a call is
/// queued, rings, talks (about 90 sandbox seconds) and finishes in about
/// two seconds of real time, slow enough for `--wait` to show each status.
const EMBEDDED_SPEED: f64 = 60.0;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return Failure::other(format!("cannot start: {error}")).report(),
    };
    let result = runtime.block_on(async {
        tokio::select! {
            result = run(cli) => result,
            _ = tokio::signal::ctrl_c() => Err(Failure::with_code(130, "interrupted")),
        }
    });
    match result {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}

/// `-v` and more: the SDK's spans and events on stderr. The SDK never logs
/// the key; bodies only at TRACE, with secret members redacted.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => return,
        1 => tracing::Level::INFO,
        2 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("topcalls_api", level)
        .with_target("topcalls", level);
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false),
        )
        .with(filter)
        .try_init();
}

/// What every API command runs with: the client, and the embedded sandbox
/// it talks to (kept alive for the command) with `--sandbox`.
pub(crate) struct Context {
    pub(crate) client: Client,
    pub(crate) out: Output,
    /// What the commands run against: `sandbox` (embedded), or the base URL.
    pub(crate) target: String,
    _sandbox: Option<Sandbox>,
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let global = cli.global;
    let out = Output::new(Format::from_flags(global.json, global.csv));
    let done = |()| ExitCode::SUCCESS;
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "topcalls",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sandbox(args) => Ok(topcalls_sandbox::cli::serve(*args).await),
        Command::Webhooks(command) => match *command {
            cli::Webhooks::Verify(args) => webhooks::verify(&args, &out),
            cli::Webhooks::Trigger(args) => webhooks::trigger(&args, &out).await,
            cli::Webhooks::Subscribe {
                event,
                url,
                filters,
            } => {
                let cx = connect(&global, out).await?;
                webhooks::subscribe(&cx, event, url, filters)
                    .await
                    .map(done)
            }
        },
        Command::Calls(command) => calls::run(&connect(&global, out).await?, *command).await,
        Command::Campaigns(command) => resources::campaigns(&connect(&global, out).await?, command)
            .await
            .map(done),
        Command::Numbers(command) => resources::numbers(&connect(&global, out).await?, command)
            .await
            .map(done),
        Command::Carriers(command) => resources::carriers(&connect(&global, out).await?, command)
            .await
            .map(done),
        Command::Models => resources::models(&connect(&global, out).await?)
            .await
            .map(done),
        Command::Voices(args) => resources::voices(&connect(&global, out).await?, args)
            .await
            .map(done),
        Command::Balance => resources::balance(&connect(&global, out).await?)
            .await
            .map(done),
    }
}

/// The client: against an embedded sandbox with `--sandbox`, otherwise with
/// the credentials `config.rs` resolves.
async fn connect(global: &Global, out: Output) -> Result<Context, Failure> {
    let user_agent = concat!("topcalls-cli/", env!("CARGO_PKG_VERSION"));
    if global.sandbox {
        let sandbox = Sandbox::builder()
            .clock(ClockMode::Auto {
                speed: EMBEDDED_SPEED,
            })
            .start()
            .await
            .map_err(|error| Failure::other(format!("cannot start the sandbox: {error}")))?;
        tracing::info!(base_url = sandbox.base_url(), "embedded sandbox");
        let client = Client::builder()
            .api_key(sandbox.api_key())
            .base_url(sandbox.base_url())
            .user_agent(user_agent)
            .build()?;
        return Ok(Context {
            client,
            out,
            target: "sandbox".to_string(),
            _sandbox: Some(sandbox),
        });
    }
    let sources = config::Sources {
        api_key_file: global.api_key_file.as_deref(),
        profile: global.profile.as_deref(),
        config: global.config.clone().or_else(config::default_config_path),
        env_key: std::env::var(config::API_KEY_ENV).ok(),
    };
    let credentials = config::resolve(&sources)?;
    tracing::info!(source = %credentials.source, "API key");
    let mut builder = Client::builder()
        .api_key(credentials.api_key)
        .user_agent(user_agent);
    if let Some(url) = global.base_url.clone().or(credentials.base_url) {
        builder = builder.base_url(url);
    }
    let client = builder.build()?;
    Ok(Context {
        target: client.base_url().to_string(),
        client,
        out,
        _sandbox: None,
    })
}
