//! The command line, as clap definitions: every subcommand, flag and help
//! text. Completions and the man page are generated from these.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

const MAIN_EXAMPLES: &str = "\
Examples:
  topcalls --sandbox calls create --to +15551234567 --task \"Confirm tomorrow's appointment\" --wait
  topcalls calls list --status no-answer --csv > no-answers.csv
  topcalls calls batch leads.csv --task \"Remind {name} of the 10:00 appointment\" --dry-run
  topcalls webhooks trigger call.completed --forward-to http://localhost:3000/hook

Credentials, first found wins: --sandbox (an embedded sandbox, no account), --api-key-file,
a profile named with --profile or TOPCALLS_PROFILE, TOPCALLS_API_KEY, then the profile `default`.
Profiles live in the config file (--config, or topcalls/config.toml under your config directory),
a TOML file of [profiles.NAME] tables with `api_key` and optional `base_url`. Key files and config files must
not be readable by group or others (chmod 600). The key is never printed, not even with -v.

--sandbox lives only as long as the command. For a sandbox that keeps its state between
commands, run `topcalls sandbox --port 8080` and point other commands at it with
--base-url http://127.0.0.1:8080 and the key it prints.";

/// `topcalls`: the command line for the TopCalls API (AI phone agents).
#[derive(Debug, Parser)]
#[command(name = "topcalls", version, about, after_help = format!("{MAIN_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct Global {
    /// Print JSON: one document, or JSON Lines (one document a line) for streams.
    #[arg(long, global = true, conflicts_with = "csv")]
    pub(crate) json: bool,
    /// Print CSV with a header row (commands that list things).
    #[arg(long, global = true)]
    pub(crate) csv: bool,
    /// Run against an embedded sandbox that lives as long as this command (no account needed;
    /// `topcalls sandbox` serves one that keeps its state).
    #[arg(long, global = true)]
    pub(crate) sandbox: bool,
    /// The API's base URL (default `https://api.topcalls.ai`).
    #[arg(
        long,
        global = true,
        env = "TOPCALLS_BASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) base_url: Option<String>,
    /// Read the API key from this file (mode 600).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) api_key_file: Option<PathBuf>,
    /// The profile of the config file to use (default `default`).
    #[arg(
        long,
        global = true,
        env = "TOPCALLS_PROFILE",
        hide_env_values = true,
        value_name = "NAME"
    )]
    pub(crate) profile: Option<String>,
    /// The config file (default: topcalls/config.toml under your config directory).
    #[arg(
        long,
        global = true,
        env = "TOPCALLS_CONFIG",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub(crate) config: Option<PathBuf>,
    /// More detail on stderr: -v requests, -vv retries and timings, -vvv bodies (secrets redacted).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Place calls and follow them to a transcript and summary.
    #[command(subcommand)]
    Calls(Box<Calls>),
    /// Monitor and control campaigns (created in the dashboard).
    #[command(subcommand)]
    Campaigns(Campaigns),
    /// Caller-id phone numbers of the account.
    #[command(subcommand)]
    Numbers(Numbers),
    /// Bring-your-own SIP carriers.
    #[command(subcommand)]
    Carriers(Carriers),
    /// The models a call can use.
    Models,
    /// The account's voices, or the built-in ones with --builtin.
    Voices(VoicesArgs),
    /// Remaining call minutes.
    Balance,
    /// Subscribe to, trigger and verify webhook deliveries.
    #[command(subcommand)]
    Webhooks(Box<Webhooks>),
    /// Serve a local TopCalls API (the sandbox) until Ctrl-C, keeping its state between commands.
    #[command(
        after_help = "Example:\n  topcalls sandbox --port 8080 --speed 120 --queue-seconds 3\n  \
        topcalls --base-url http://127.0.0.1:8080 calls list   # with TOPCALLS_API_KEY as printed"
    )]
    Sandbox(Box<topcalls_sandbox::cli::ServeArgs>),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  topcalls completions bash > ~/.local/share/bash-completion/completions/topcalls"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(after_help = "Example:\n  topcalls man > topcalls.1 && man ./topcalls.1")]
    Man,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Calls {
    /// Place a call that the AI agent conducts.
    #[command(after_help = "Examples:\n  \
        topcalls calls create --to +15551234567 --task \"Confirm tomorrow's 10:00 appointment with Sam\"\n  \
        topcalls --sandbox calls create --to +15551234567 --task \"Confirm the appointment\" --wait")]
    Create(CreateArgs),
    /// Show one call, with its transcript and summary once they exist.
    Get {
        /// The call's id.
        call_id: String,
    },
    /// List calls, newest first: one page, or every call with --all.
    List(ListCallsArgs),
    /// Stop a queued or in-progress call.
    Stop {
        /// The call's id.
        call_id: String,
        /// The Idempotency-Key (8–255 of A-Z a-z 0-9 _ -); one is made up when absent.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Cancel a call that has not started.
    Cancel {
        /// The call's id.
        call_id: String,
        /// The Idempotency-Key (8–255 of A-Z a-z 0-9 _ -); one is made up when absent.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Follow a call's status until it finishes, then show its transcript and summary.
    Watch {
        /// The call's id.
        call_id: String,
    },
    /// Write every call (with transcript and summary) as CSV, or JSON Lines with --json.
    #[command(
        after_help = "The transcript is one CSV cell, a line per entry (`speaker: text`); \
        JSON Lines carry each call as the API sends it. Progress (calls written, per outcome, \
        rate) goes to stderr; the API gives no total, so there is no ETA.\n\nExamples:\n  \
        topcalls calls export --output calls.csv\n  \
        topcalls calls export --status completed --json > completed.jsonl"
    )]
    Export(ExportArgs),
    /// Place one call per row of a CSV file, resumably.
    #[command(after_help = BATCH_HELP)]
    Batch(BatchArgs),
}

const BATCH_HELP: &str = "\
The file has a header row. `phone_number` is required; `task` or `instructions`, `voice`,
`from_number`, `first_sentence`, `model`, `max_duration` and `reference` may be columns or flags
(a column wins over a flag); every other column is passed as a request_data variable. A task or
instructions template takes `{column}` placeholders.

Every row is checked before any call is placed; a bad row is reported with its line number and
nothing is placed (--dry-run stops after the check).

Resumable: rerun the same command after Ctrl-C or a crash. The state lives in two places. The
API: each row's idempotency key is derived from the batch id (the file's absolute path and
contents and the API it runs against, or --batch-id) and the row's reference (its `reference` column, or its line number),
and the API answers a key it has seen in the last 24 hours with the first answer, so a rerun
never places a row's call twice. The results file (FILE.results.csv beside the file, or
--results): one line per finished row (batch_id, line, reference, phone_number, outcome,
call_id, idempotency_key, error), flushed as each row finishes; a rerun skips the rows it
records as placed and retries the others. A results file of another batch (the CSV changed, or
it was a --sandbox trial) is refused rather than mixed.

Examples:
  topcalls calls batch leads.csv --task \"Remind {name} of the {time} appointment\" --dry-run
  topcalls calls batch leads.csv --task \"Remind {name} of the {time} appointment\"";

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The number to call (E.164, e.g. +15551234567).
    #[arg(long, value_name = "NUMBER")]
    pub(crate) to: String,
    #[command(flatten)]
    pub(crate) call: CallFields,
    /// A variable for the agent (`request_data`), as NAME=VALUE; repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = name_value)]
    pub(crate) vars: Vec<(String, String)>,
    /// Knowledge base id; repeatable.
    #[arg(long = "knowledge-base-id", value_name = "ID")]
    pub(crate) knowledge_base_ids: Vec<String>,
    /// Background audio (e.g. office), with --background-audio-gain.
    #[arg(long, requires = "background_audio_gain")]
    pub(crate) background_audio: Option<String>,
    /// Background audio gain (e.g. medium).
    #[arg(long, requires = "background_audio")]
    pub(crate) background_audio_gain: Option<String>,
    /// Where TopCalls posts this call's events.
    #[arg(long, value_name = "URL")]
    pub(crate) webhook_url: Option<String>,
    /// An event to post to --webhook-url (e.g. call.completed); repeatable.
    #[arg(long = "webhook-event", value_name = "EVENT", requires = "webhook_url")]
    pub(crate) webhook_events: Vec<String>,
    /// The Idempotency-Key (8–255 of A-Z a-z 0-9 _ -); one is made up when absent.
    #[arg(long)]
    pub(crate) idempotency_key: Option<String>,
    /// Follow the call until it finishes, then show its transcript and summary.
    #[arg(long)]
    pub(crate) wait: bool,
}

/// What a call says and how: shared by `create` and `batch`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct CallFields {
    /// What the agent should accomplish (simple mode; at least 10 characters).
    #[arg(long)]
    pub(crate) task: Option<String>,
    /// The agent's full instructions (advanced mode; instead of --task).
    #[arg(long, conflicts_with = "task")]
    pub(crate) instructions: Option<String>,
    /// The caller id (E.164).
    #[arg(long = "from", value_name = "NUMBER")]
    pub(crate) from_number: Option<String>,
    /// The first thing the agent says.
    #[arg(long)]
    pub(crate) first_sentence: Option<String>,
    /// The voice (e.g. alloy).
    #[arg(long)]
    pub(crate) voice: Option<String>,
    /// The model (see `topcalls models`).
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// realtime (default) or legacy.
    #[arg(long, value_enum)]
    pub(crate) mode: Option<Mode>,
    /// Sampling temperature (e.g. 0.7).
    #[arg(long)]
    pub(crate) temperature: Option<f64>,
    /// The longest the call may last, in minutes (default 10).
    #[arg(long, value_name = "MINUTES")]
    pub(crate) max_duration: Option<f64>,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Mode {
    Realtime,
    Legacy,
}

#[derive(Debug, Args)]
pub(crate) struct ListCallsArgs {
    /// Only calls with this telephony outcome (completed, no-answer, failed, busy, dispatch_timeout).
    #[arg(long)]
    pub(crate) status: Option<String>,
    /// Only calls of this campaign.
    #[arg(long, value_name = "ID")]
    pub(crate) campaign_id: Option<String>,
    #[command(flatten)]
    pub(crate) page: PageArgs,
}

/// Paging flags of a paginated list.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct PageArgs {
    /// Items per page (1–200).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub(crate) limit: Option<u32>,
    /// Start from this cursor (the `next_cursor` of an earlier page).
    #[arg(long, conflicts_with = "all")]
    pub(crate) cursor: Option<String>,
    /// Every item, fetching page after page (JSON Lines with --json).
    #[arg(long)]
    pub(crate) all: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Only calls with this telephony outcome.
    #[arg(long)]
    pub(crate) status: Option<String>,
    /// Only calls of this campaign.
    #[arg(long, value_name = "ID")]
    pub(crate) campaign_id: Option<String>,
    /// The file to write (`-` for stdout). CSV, or JSON Lines with --json.
    #[arg(long, short, value_name = "PATH", default_value = "-")]
    pub(crate) output: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct BatchArgs {
    /// The CSV file: a header row, then one call per row.
    pub(crate) file: PathBuf,
    #[command(flatten)]
    pub(crate) call: CallFields,
    /// Check every row and report the bad ones with their line numbers; place no call.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Where the results go (default FILE.results.csv).
    #[arg(long, value_name = "PATH")]
    pub(crate) results: Option<PathBuf>,
    /// Calls placed at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(crate) concurrency: u32,
    /// The batch id the row keys derive from (default: from the file's absolute path and contents
    /// and the API it runs against).
    #[arg(long, value_name = "ID")]
    pub(crate) batch_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Campaigns {
    /// List campaigns.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a campaign with its stats.
    Get {
        /// The campaign's id.
        campaign_id: String,
    },
    /// Start (or resume) a campaign.
    Start {
        /// The campaign's id.
        campaign_id: String,
    },
    /// Pause a running campaign; calls in flight finish.
    Pause {
        /// The campaign's id.
        campaign_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Numbers {
    /// List the account's phone numbers.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one phone number.
    Get {
        /// The phone number's id.
        phone_number_id: String,
    },
    /// Add a phone number (E.164).
    Add {
        /// The number, e.g. +15557654321.
        number: String,
        /// The carrier it goes through (its voip_carrier_sid, see `topcalls carriers list`).
        #[arg(long, value_name = "SID")]
        carrier_sid: Option<String>,
        /// A label (up to 100 characters).
        #[arg(long)]
        label: Option<String>,
    },
    /// Delete a phone number.
    Delete {
        /// The phone number's id.
        phone_number_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Carriers {
    /// List the account's SIP carriers.
    List,
    /// Add a SIP carrier.
    #[command(
        after_help = "Example:\n  topcalls carriers add \"Acme SIP\" --gateway 203.0.113.10 --inbound --outbound"
    )]
    Add {
        /// The carrier's name (1–100 characters).
        name: String,
        /// The SIP gateway: an IPv4 address, or a hostname for an outbound-only gateway.
        #[arg(long)]
        gateway: String,
        /// The gateway's SIP port (default 5060).
        #[arg(long)]
        port: Option<u16>,
        /// Calls come in through the gateway (then it must be an IPv4 address).
        #[arg(long)]
        inbound: bool,
        /// Calls go out through the gateway.
        #[arg(long)]
        outbound: bool,
    },
    /// Delete a SIP carrier (by its id, not its voip_carrier_sid).
    Delete {
        /// The carrier's id.
        carrier_id: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct VoicesArgs {
    /// The built-in voices instead of the account's.
    #[arg(long)]
    pub(crate) builtin: bool,
    /// Built-in voices of this mode only (realtime, legacy).
    #[arg(long, requires = "builtin", value_enum)]
    pub(crate) mode: Option<Mode>,
    /// Built-in voices of this provider only.
    #[arg(long, requires = "builtin")]
    pub(crate) provider: Option<String>,
    /// Built-in voices of this gender only.
    #[arg(long, requires = "builtin")]
    pub(crate) gender: Option<String>,
    /// Built-in voices of this language only.
    #[arg(long, requires = "builtin")]
    pub(crate) language: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Webhooks {
    /// Subscribe a URL to an event for the whole account.
    #[command(
        after_help = "Example:\n  topcalls webhooks subscribe call.completed https://example.com/hook --filter 'phone_number=+1555%'"
    )]
    Subscribe {
        /// The event (`call.completed`, `call.completed.<disposition>`, `lead.status_changed`, `campaign.activated`, `campaign.paused`).
        event: String,
        /// Where deliveries go.
        url: String,
        /// A filter on a payload field, as FIELD=VALUE (a SQL LIKE pattern allowed); repeatable.
        #[arg(long = "filter", value_name = "FIELD=VALUE", value_parser = name_value)]
        filters: Vec<(String, String)>,
    },
    /// Send a signed test delivery, in the documented payload shape, to a local receiver.
    #[command(after_help = TRIGGER_HELP)]
    Trigger(TriggerArgs),
    /// Check a captured delivery's signature (body on stdin) and say why it fails.
    #[command(
        after_help = "Example:\n  topcalls webhooks verify --secret whsec_… --id msg_1 --timestamp 1766400000 \\\n    \
        --signature 'v1,…' < body.json"
    )]
    Verify(VerifyArgs),
}

const TRIGGER_HELP: &str = "\
An embedded sandbox places a call whose webhook is --forward-to and delivers the event as it
delivers every webhook: the body of the TopCalls docs (no `event` member unless --named), signed
with the Standard Webhooks scheme (webhook-id, webhook-timestamp, webhook-signature) using
--secret, or a new secret that is printed on stderr. The receiver's answer is reported; it gets
one attempt.

Example:
  topcalls webhooks trigger call.completed --forward-to http://localhost:3000/hook --secret whsec_…";

#[derive(Debug, Args)]
pub(crate) struct TriggerArgs {
    /// The event to send.
    #[arg(value_enum)]
    pub(crate) event: TriggerEvent,
    /// The receiver's URL.
    #[arg(long, value_name = "URL")]
    pub(crate) forward_to: String,
    /// The signing secret (whsec_…); a new one when absent.
    #[arg(long, env = "TOPCALLS_WEBHOOK_SECRET", hide_env_values = true)]
    pub(crate) secret: Option<String>,
    /// Add `"event": "<name>"` to the body.
    #[arg(long)]
    pub(crate) named: bool,
}

/// The events `webhooks trigger` can send.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum TriggerEvent {
    #[value(name = "call.queued")]
    Queued,
    #[value(name = "call.started")]
    Started,
    #[value(name = "call.completed")]
    Completed,
    #[value(name = "call.failed")]
    Failed,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The signing secret (whsec_…).
    #[arg(long, env = "TOPCALLS_WEBHOOK_SECRET", hide_env_values = true)]
    pub(crate) secret: String,
    /// The `webhook-id` header.
    #[arg(long)]
    pub(crate) id: String,
    /// The `webhook-timestamp` header (unix seconds).
    #[arg(long)]
    pub(crate) timestamp: String,
    /// The `webhook-signature` header (`v1,<base64>`, space-separated).
    #[arg(long)]
    pub(crate) signature: String,
    /// How far the timestamp may be from now, in seconds (default 300; raise it for old captures).
    #[arg(long, default_value_t = 300)]
    pub(crate) tolerance: u64,
}

/// `NAME=VALUE`.
fn name_value(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("expected NAME=VALUE, got `{raw}`")),
    }
}
