//! Progress for long work: a call's live status while it runs, and a bar
//! with counts per outcome for batches and exports. Animated only when both
//! stdout and stderr are terminals; otherwise plain lines, nothing redrawn.

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use topcalls_api::types::Call;

use crate::exit::Failure;
use crate::output::{Format, print_json_line, println, to_json};

/// Whether progress may be animated: a person is watching both streams.
pub(crate) fn animated(format: Format) -> bool {
    format == Format::Human && std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

/// A call's status as it changes: a spinner with each change printed above
/// it on a terminal, one plain line per change otherwise, one JSON document
/// per change with `--json`.
pub(crate) struct StatusDisplay {
    format: Format,
    spinner: Option<ProgressBar>,
    last: Option<String>,
    failure: Option<Failure>,
}

impl StatusDisplay {
    pub(crate) fn new(format: Format, call_id: &str) -> Self {
        let spinner = animated(format).then(|| {
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.set_message(format!("call {call_id}: waiting"));
            spinner.enable_steady_tick(Duration::from_millis(100));
            spinner
        });
        Self {
            format,
            spinner,
            last: None,
            failure: None,
        }
    }

    /// Shows `call` if its status changed since the last one shown.
    pub(crate) fn update(&mut self, call: &Call) {
        let status = describe_status(call);
        if self.last.as_deref() == Some(status.as_str()) {
            return;
        }
        match self.format {
            Format::Json => {
                if let Err(failure) = to_json(call).and_then(|json| print_json_line(&json)) {
                    self.failure.get_or_insert(failure);
                }
            }
            Format::Human | Format::Csv => match &self.spinner {
                Some(spinner) => {
                    spinner.println(format!("status: {status}"));
                    spinner.set_message(format!("call {}: {status}", call.id));
                }
                None => println(&format!("status: {status}")),
            },
        }
        self.last = Some(status);
    }

    /// Removes the spinner; reports a failure to print, if any.
    pub(crate) fn finish(self) -> Result<(), Failure> {
        if let Some(spinner) = self.spinner {
            spinner.finish_and_clear();
        }
        self.failure.map_or(Ok(()), Err)
    }
}

/// `queued`, `in_progress`, `completed (completed)`: the gateway status,
/// and the telephony outcome once there is one.
fn describe_status(call: &Call) -> String {
    match &call.call_status {
        Some(outcome) if call.status.to_string() != "in_progress" => {
            format!("{} ({outcome})", call.status)
        }
        _ => call.status.to_string(),
    }
}

/// A bar with counts per outcome and an ETA on a terminal (a spinner with
/// the count and rate when the total is unknown); plain lines otherwise, on
/// stderr so stdout stays for results: one per item, or one every `every`
/// items and at the end.
pub(crate) struct Counter {
    bar: Option<ProgressBar>,
    counts: Vec<(String, u64)>,
    done: u64,
    total: Option<u64>,
    every: u64,
}

impl Counter {
    /// `total` items, `already` of them done before.
    pub(crate) fn new(format: Format, total: u64, already: u64) -> Self {
        let bar = animated(format).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} {msg} [{elapsed} elapsed, ETA {eta}]",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_position(already);
            bar
        });
        Self {
            bar,
            counts: Vec::new(),
            done: already,
            total: Some(total),
            every: 1,
        }
    }

    /// An unknown number of items; plain lines every `every` items.
    pub(crate) fn open_ended(format: Format, every: u64) -> Self {
        let bar = animated(format).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {pos} {msg} [{elapsed} elapsed, {per_sec}]",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        });
        Self {
            bar,
            counts: Vec::new(),
            done: 0,
            total: None,
            every: every.max(1),
        }
    }

    /// One more item finished with `outcome`; `detail` says which (for the plain line).
    pub(crate) fn record(&mut self, outcome: &str, detail: &str) {
        self.done += 1;
        match self.counts.iter_mut().find(|(name, _)| name == outcome) {
            Some((_, count)) => *count += 1,
            None => self.counts.push((outcome.to_string(), 1)),
        }
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(self.summary());
            }
            None if self.done.is_multiple_of(self.every) => self.plain(outcome, detail),
            None => {}
        }
    }

    fn plain(&self, outcome: &str, detail: &str) {
        let position = match self.total {
            Some(total) => format!("{}/{total}", self.done),
            None => self.done.to_string(),
        };
        let line = if self.every == 1 {
            format!("[{position}] {outcome}: {detail}")
        } else {
            format!("[{position}] {}", self.summary())
        };
        // A closed stderr (`2>&1 | head`) must not stop the work.
        let _ = writeln!(std::io::stderr(), "{line}");
    }

    /// `placed 12, failed 1`.
    pub(crate) fn summary(&self) -> String {
        self.counts
            .iter()
            .map(|(name, count)| format!("{name} {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Leaves the bar's last state on screen, on a line of its own (or a
    /// last plain line, when lines were printed every few items).
    pub(crate) fn finish(self) {
        match self.bar {
            Some(bar) => {
                bar.finish();
                let _ = writeln!(std::io::stderr());
            }
            None if self.every > 1 && !self.done.is_multiple_of(self.every) => self.plain("", ""),
            None => {}
        }
    }
}
