//! Exit codes, and errors as the user reads them on stderr.

use std::fmt::Write as _;
use std::process::ExitCode;

use owo_colors::OwoColorize as _;
use topcalls_api::Error;

/// The exit codes, as `--help` and the README list them.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   success
  1   failure with no better code: network, an unreadable answer, a wait that gave up
  2   usage: bad flags or arguments, or input refused before anything was sent
  3   configuration: no API key, an unreadable or unsafe key or config file
  4   the API refused the request as invalid (400)
  5   authentication or permission (401, 403)
  6   not found (404)
  7   conflict: wrong state for that, or an idempotency key reused (409)
  8   insufficient quota (402)
  9   rate limited (429), after retries
  10  server error (5xx), after retries
  11  batch: some rows failed (the others were placed; see the results file)
  12  webhooks verify: the delivery does not verify
  130 interrupted (Ctrl-C)";

/// A failed command: what to print and which code to exit with.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self {
            code: 3,
            message: message.into(),
        }
    }
    pub(crate) fn other(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
    pub(crate) fn with_code(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Prints the message on stderr (red `error:` on a terminal) and gives the code.
    pub(crate) fn report(&self) -> ExitCode {
        let mut stderr = anstream::stderr();
        let _ = std::io::Write::write_fmt(
            &mut stderr,
            format_args!("{} {}\n", "error:".red().bold(), self.message),
        );
        ExitCode::from(self.code)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            code: code_of(&error),
            message: describe(&error),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Self::other(error.to_string())
    }
}

/// The exit code for an SDK error.
pub(crate) fn code_of(error: &Error) -> u8 {
    match error {
        Error::Config(_) => 3,
        Error::InvalidRequest(_) => 2,
        Error::Api(api) => match api.status().as_u16() {
            400 | 422 => 4,
            401 | 403 => 5,
            404 => 6,
            409 => 7,
            402 => 8,
            429 => 9,
            500..=599 => 10,
            _ => 1,
        },
        _ => 1,
    }
}

/// An SDK error in words: its one line, then the Problem's title and detail,
/// each field error, and the request id.
pub(crate) fn describe(error: &Error) -> String {
    let mut out = error.to_string();
    if let Some(api) = error.as_api() {
        let title = api.title().unwrap_or_default();
        let detail = api.detail().unwrap_or_default();
        if !title.is_empty() && !out.contains(title) {
            let _ = write!(out, "\n  {title}");
        }
        if !detail.is_empty() && !out.contains(detail) {
            let _ = write!(out, "\n  {detail}");
        }
        for field in api.field_errors() {
            let path = field.path.as_deref().unwrap_or("(body)");
            let message = field.message.as_deref().unwrap_or("invalid");
            let _ = write!(out, "\n  - {path}: {message}");
            if let Some(code) = &field.code {
                let _ = write!(out, " ({code})");
            }
        }
    }
    if let Some(id) = error.request_id() {
        let _ = write!(out, "\n  request id: {id}");
    }
    if error.may_have_taken_effect()
        && let Some(key) = error.idempotency_key()
    {
        let _ = write!(
            out,
            "\n  it may have taken effect: repeat with --idempotency-key {key} to be sure it happens once"
        );
    }
    out
}
