//! `topcalls webhooks …`: subscribe, send a signed test delivery, verify a
//! captured one. Signing and verifying are the SDK's (`topcalls_api::webhooks`);
//! test deliveries are the sandbox's own, in the documented payload shape.

use std::io::Read as _;
use std::process::ExitCode;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use topcalls_api::types::CallWebhookEvent;
use topcalls_api::webhooks::{
    ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, Verifier, WebhookError, WebhookSecret,
};
use topcalls_api::{Client, NewCall, NewWebhookSubscription};
use topcalls_sandbox::{ClockMode, Sandbox, WebhookPayloads};

use crate::Context;
use crate::cli::{TriggerArgs, TriggerEvent, VerifyArgs};
use crate::exit::Failure;
use crate::output::{Format, Output, print_json};

/// The largest delivery body `verify` reads from stdin.
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

pub(crate) async fn subscribe(
    cx: &Context,
    event: String,
    url: String,
    filters: Vec<(String, String)>,
) -> Result<(), Failure> {
    let mut subscription = NewWebhookSubscription::new(event, url);
    for (field, value) in filters {
        subscription = subscription.filter(field, value);
    }
    cx.out.object(
        &cx.client
            .webhook_subscriptions()
            .create(subscription)
            .await?,
    )
}

/// Places a call on an embedded sandbox whose webhook is the receiver, and
/// reports the receiver's answer to the delivery of `event`.
pub(crate) async fn trigger(args: &TriggerArgs, out: &Output) -> Result<ExitCode, Failure> {
    let (secret, generated) = match &args.secret {
        Some(secret) => (
            WebhookSecret::new(secret).map_err(|_| {
                Failure::usage("--secret is not a webhook secret (whsec_ followed by base64)")
            })?,
            false,
        ),
        None => (WebhookSecret::generate(), true),
    };
    let (name, event, to) = match args.event {
        TriggerEvent::Queued => ("call.queued", CallWebhookEvent::CallQueued, ANSWERED),
        TriggerEvent::Started => ("call.started", CallWebhookEvent::CallStarted, ANSWERED),
        TriggerEvent::Completed => ("call.completed", CallWebhookEvent::CallCompleted, ANSWERED),
        // A number the sandbox answers as busy.
        TriggerEvent::Failed => ("call.failed", CallWebhookEvent::CallFailed, "+15550000001"),
    };
    let sandbox = Sandbox::builder()
        .clock(ClockMode::Auto { speed: 600.0 })
        .webhook_payloads(if args.named {
            WebhookPayloads::Named
        } else {
            WebhookPayloads::Documented
        })
        .webhook_secret(secret.clone())
        .start()
        .await
        .map_err(|error| Failure::other(format!("cannot start the sandbox: {error}")))?;
    let client = Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .build()?;
    client
        .calls()
        .create(
            NewCall::to(to)
                .task("A test call whose events go to your receiver.")
                .webhook(&args.forward_to, [event]),
        )
        .await?;
    let deliveries = sandbox
        .wait_for_deliveries(|all| {
            all.iter()
                .any(|d| d.event == name && !d.attempts.is_empty())
        })
        .await;
    let Some(delivery) = deliveries.iter().find(|d| d.event == name) else {
        return Err(Failure::other(format!("the sandbox sent no {name}")));
    };
    let status = delivery.attempts.first().copied().flatten();
    if generated && out.format != Format::Json {
        eprintln!(
            "signed with the new secret {} (pass --secret to choose one)",
            secret.as_str()
        );
    }
    let accepted = status.is_some_and(|s| (200..300).contains(&s));
    let answer = match status {
        Some(status) => format!("the receiver answered {status}"),
        None => "no answer from the receiver (refused, or not within 5 s)".to_string(),
    };
    match out.format {
        Format::Json => print_json(&serde_json::json!({
            "event": name,
            "url": args.forward_to,
            "webhook_id": delivery.id,
            "status": status,
            "delivered": accepted,
        }))?,
        Format::Human | Format::Csv => crate::output::println(&format!(
            "sent {name} ({}) to {}: {answer}",
            delivery.id, args.forward_to
        )),
    }
    sandbox.shutdown().await;
    if accepted {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Failure::other(format!(
            "the delivery was not accepted: {answer}"
        )))
    }
}

/// A number the sandbox answers with a person.
const ANSWERED: &str = "+15551234567";

/// Verifies a delivery read from stdin against the headers given as flags.
pub(crate) fn verify(args: &VerifyArgs, out: &Output) -> Result<ExitCode, Failure> {
    let secret = WebhookSecret::new(&args.secret).map_err(|_| {
        Failure::usage("--secret is not a webhook secret (whsec_ followed by base64)")
    })?;
    let mut body = Vec::new();
    std::io::stdin()
        .take(MAX_BODY_BYTES + 1)
        .read_to_end(&mut body)?;
    if body.len() as u64 > MAX_BODY_BYTES {
        return Err(Failure::usage(format!(
            "the body on stdin is larger than {} MiB",
            MAX_BODY_BYTES / 1024 / 1024
        )));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (ID_HEADER, &args.id),
        (TIMESTAMP_HEADER, &args.timestamp),
        (SIGNATURE_HEADER, &args.signature),
    ] {
        let value = HeaderValue::from_str(value)
            .map_err(|_| Failure::usage(format!("--{} is not a header value", flag(name))))?;
        headers.insert(name, value);
    }
    let verifier = Verifier::new(secret).tolerance(Duration::from_secs(args.tolerance));
    match verifier.verify_and_parse(&headers, &body) {
        Ok(delivery) => {
            match out.format {
                Format::Json => print_json(&serde_json::json!({
                    "verified": true,
                    "webhook_id": delivery.id,
                    "timestamp": delivery.timestamp,
                    "event": delivery.event.name(),
                }))?,
                Format::Human | Format::Csv => crate::output::println(&format!(
                    "verified: delivery {} ({}), signed at {}",
                    delivery.id,
                    delivery.event.name(),
                    delivery.timestamp
                )),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            let trailing_newline =
                body.ends_with(b"\n") && verifier.verify(&headers, body.trim_ascii_end()).is_ok();
            Err(Failure::with_code(12, why(&error, args, trailing_newline)))
        }
    }
}

/// The flag a header came from.
fn flag(header: &str) -> &'static str {
    match header {
        ID_HEADER => "id",
        TIMESTAMP_HEADER => "timestamp",
        _ => "signature",
    }
}

/// Why a delivery does not verify, and what to check.
fn why(error: &WebhookError, args: &VerifyArgs, trailing_newline: bool) -> String {
    let reason = match error {
        WebhookError::MissingHeader(name) | WebhookError::InvalidHeader(name) => format!(
            "the {name} header (--{}) is not usable: {error}",
            flag(name)
        ),
        WebhookError::BadSignature if trailing_newline => {
            "no signature matches: the body on stdin ends with a newline that was \
             not signed (the sender signed the body without it)"
                .to_string()
        }
        WebhookError::BadSignature => {
            "no signature matches: the body is not byte for byte the one that was signed \
             (was it parsed and written out again?), the id or timestamp differ from the \
             delivery's headers, or the secret is not the one it was signed with"
                .to_string()
        }
        WebhookError::TimestampTooOld => format!(
            "the timestamp {} is more than {} s in the past: a replayed or old delivery \
             (raise --tolerance to check an old capture)",
            args.timestamp, args.tolerance
        ),
        WebhookError::TimestampInFuture => format!(
            "the timestamp {} is more than {} s in the future: check the sender's clock",
            args.timestamp, args.tolerance
        ),
        WebhookError::InvalidPayload(cause) => {
            format!("the signature matches, but the body is not JSON: {cause}")
        }
        other => other.to_string(),
    };
    format!("the delivery does not verify: {reason}")
}
