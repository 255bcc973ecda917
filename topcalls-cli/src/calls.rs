//! `topcalls calls …`: place calls, read them, follow them.

use std::str::FromStr as _;

use std::io::Write as _;
use std::process::ExitCode;
use topcalls_api::types::{CallMode, CallOutcomeFilter, CallWebhookEvent};

use futures::StreamExt as _;
use topcalls_api::{CallWriter, ExportFormat, ListCalls, NewCall, WaitOptions};

use crate::Context;
use crate::cli::{CallFields, Calls, CreateArgs, ExportArgs, ListCallsArgs, Mode};
use crate::exit::Failure;
use crate::output::{CALL_COLUMNS, Format};
use crate::progress::{Counter, StatusDisplay};
use crate::resources::paged;

/// Runs a `calls` command; only `batch` has an exit code of its own.
pub(crate) async fn run(cx: &Context, command: Calls) -> Result<ExitCode, Failure> {
    let calls = cx.client.calls();
    let result = match command {
        Calls::Create(args) => create(cx, args).await,
        Calls::Get { call_id } => cx.out.object(&calls.get(&call_id).await?),
        Calls::List(args) => list(cx, args).await,
        Calls::Stop {
            call_id,
            idempotency_key,
        } => {
            let mut request = calls.stop(&call_id);
            if let Some(key) = idempotency_key {
                request = request.idempotency_key(key);
            }
            let answer = request.await?;
            let status = answer
                .status
                .as_ref()
                .map_or_else(|| "stopped".to_string(), ToString::to_string);
            cx.out
                .done(&answer, &format!("stopped call {call_id} ({status})"))
        }
        Calls::Cancel {
            call_id,
            idempotency_key,
        } => {
            let mut request = calls.cancel(&call_id);
            if let Some(key) = idempotency_key {
                request = request.idempotency_key(key);
            }
            let answer = request.await?;
            cx.out.done(&answer, &format!("cancelled call {call_id}"))
        }
        Calls::Watch { call_id } => watch(cx, &call_id).await,
        Calls::Export(args) => export(cx, args).await,
        Calls::Batch(args) => return crate::batch::run(cx, args).await,
    };
    result.map(|()| ExitCode::SUCCESS)
}

/// The request a call's fields describe (without its number's checks,
/// which the SDK makes when it converts the request).
pub(crate) fn new_call(to: &str, fields: &CallFields) -> NewCall {
    let mut call = NewCall::to(to);
    if let Some(task) = &fields.task {
        call = call.task(task);
    }
    if let Some(instructions) = &fields.instructions {
        call = call.instructions(instructions);
    }
    if let Some(from) = &fields.from_number {
        call = call.from_number(from);
    }
    if let Some(sentence) = &fields.first_sentence {
        call = call.first_sentence(sentence);
    }
    if let Some(voice) = &fields.voice {
        call = call.voice(voice);
    }
    if let Some(model) = &fields.model {
        call = call.model(model);
    }
    if let Some(mode) = fields.mode {
        call = call.mode(match mode {
            Mode::Realtime => CallMode::Realtime,
            Mode::Legacy => CallMode::Legacy,
        });
    }
    if let Some(temperature) = fields.temperature {
        call = call.temperature(temperature);
    }
    if let Some(minutes) = fields.max_duration {
        call = call.max_duration_minutes(minutes);
    }
    call
}

async fn create(cx: &Context, args: CreateArgs) -> Result<(), Failure> {
    if args.call.task.is_none() && args.call.instructions.is_none() {
        return Err(Failure::usage(
            "say what the agent should do: --task \"…\" (or --instructions \"…\")",
        ));
    }
    let mut call = new_call(&args.to, &args.call);
    for (name, value) in args.vars {
        call = call.variable(name, value);
    }
    if !args.knowledge_base_ids.is_empty() {
        call = call.knowledge_base_ids(args.knowledge_base_ids);
    }
    if let (Some(audio), Some(gain)) = (args.background_audio, args.background_audio_gain) {
        call = call.background_audio(audio, gain);
    }
    if let Some(url) = args.webhook_url {
        let events = args
            .webhook_events
            .iter()
            .map(|event| {
                CallWebhookEvent::from_str(event).map_err(|_| {
                    Failure::usage(format!(
                        "unknown --webhook-event `{event}` (e.g. call.completed, call.failed)"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        call = call.webhook(url, events);
    }
    let mut request = cx.client.calls().create(call);
    if let Some(key) = args.idempotency_key {
        request = request.idempotency_key(key);
    }
    let placed = request.await?;
    if !args.wait {
        return cx.out.done(
            &placed,
            &format!("placed call {} ({})", placed.call_id, placed.status),
        );
    }
    if cx.out.format != Format::Json {
        crate::output::println(&format!("placed call {}", placed.call_id));
    }
    watch(cx, &placed.call_id).await
}

/// Follows a call to its end: each status change, then (for people) the
/// call with its transcript and summary. `--json`: one document per change.
async fn watch(cx: &Context, call_id: &str) -> Result<(), Failure> {
    let mut display = StatusDisplay::new(cx.out.format, call_id);
    let result = cx
        .client
        .calls()
        .wait_until_finished(call_id)
        .options(WaitOptions::default().timeout(std::time::Duration::from_secs(2 * 60 * 60)))
        .on_poll(|call| display.update(call))
        .await;
    display.finish()?;
    let call = result?;
    if cx.out.format == Format::Json {
        return Ok(());
    }
    crate::output::println("");
    cx.out.object(&call)
}

/// A call listing with the filters of the flags.
fn filtered<'a>(
    cx: &'a Context,
    status: Option<String>,
    campaign_id: Option<String>,
) -> Result<ListCalls<'a>, Failure> {
    let mut list = cx.client.calls().list();
    if let Some(status) = status {
        let filter = CallOutcomeFilter::from_str(&status).map_err(|_| {
            Failure::usage(format!(
                "unknown --status `{status}` (completed, no-answer, failed, busy, dispatch_timeout)"
            ))
        })?;
        list = list.status(filter);
    }
    if let Some(campaign) = campaign_id {
        list = list.campaign_id(campaign);
    }
    Ok(list)
}

async fn list(cx: &Context, args: ListCallsArgs) -> Result<(), Failure> {
    let list = filtered(cx, args.status, args.campaign_id)?;
    paged(&cx.out, list, args.page, CALL_COLUMNS).await
}

/// Every call of the listing through the SDK's `CallWriter`, page by page,
/// with progress per outcome on stderr.
async fn export(cx: &Context, args: ExportArgs) -> Result<(), Failure> {
    let format = if cx.out.format == Format::Json {
        ExportFormat::JsonLines
    } else {
        ExportFormat::Csv
    };
    let out: Box<dyn std::io::Write + Send> = if args.output.as_os_str() == "-" {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::fs::File::create(&args.output).map_err(|error| {
            Failure::usage(format!("cannot write {}: {error}", args.output.display()))
        })?)
    };
    let mut writer = CallWriter::new(std::io::BufWriter::new(out), format);
    let mut calls = filtered(cx, args.status, args.campaign_id)?
        .limit(200)
        .stream();
    let mut counter = Counter::open_ended(cx.out.format, 100);
    while let Some(call) = calls.next().await {
        let call = call?;
        writer.write(&call)?;
        let outcome = call
            .call_status
            .as_ref()
            .map_or_else(|| call.status.to_string(), ToString::to_string);
        counter.record(&outcome, &call.id);
    }
    let written = writer.rows();
    writer.finish()?;
    counter.finish();
    if args.output.as_os_str() != "-" {
        let _ = writeln!(
            std::io::stderr(),
            "exported {written} calls to {}",
            args.output.display()
        );
    }
    Ok(())
}
