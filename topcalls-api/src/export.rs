//! Writing calls with their transcripts as JSON Lines or CSV, one row per
//! call, streamed from the list pages with flat memory.

use std::io::{self, Write};

use futures::StreamExt;

use crate::calls::ListCalls;
use crate::error::{Error, Result};
use crate::types::Call;

/// How [`ListCalls::export`] and [`CallWriter`] write calls.
///
/// - **JSON Lines**: one call per line, the call object as the API sends it
///   (unknown members aside), `transcript` an array of
///   `{id, user, text, created_at}`.
/// - **CSV** (RFC 4180, `\r\n` line ends, a header row): one row per call
///   with the columns of [`CSV_COLUMNS`]. Absent values are empty cells;
///   times are RFC 3339; `metadata` is its JSON text. The **transcript is
///   flattened** into one cell: one line per entry, `speaker: text`, lines
///   joined by `\n` (the cell is quoted, so a CSV reader gives back the
///   line breaks). A line break inside a spoken text becomes a space, so
///   each transcript line stays one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportFormat {
    /// One JSON object per line.
    JsonLines,
    /// Comma-separated values with a header row.
    Csv,
}

/// The columns of a CSV export, in order.
pub const CSV_COLUMNS: [&str; 20] = [
    "id",
    "created_at",
    "started_at",
    "end_at",
    "phone_number",
    "from_phone_number",
    "status",
    "call_status",
    "completed",
    "answered_by",
    "disposition",
    "duration",
    "actual_duration_billed",
    "campaign_id",
    "lead_id",
    "external_call_id",
    "error_message",
    "call_summary",
    "recording_url",
    "transcript",
];

/// Writes calls one at a time in an [`ExportFormat`] to any
/// [`std::io::Write`]; the CSV header goes before the first call (or at
/// [`CallWriter::finish`] when there was none). Wrap a file or stdout in a
/// [`std::io::BufWriter`]: each call is several small writes.
///
/// ```
/// use topcalls_api::{CallWriter, ExportFormat};
/// use topcalls_api::types::Call;
///
/// let call: Call = serde_json::from_value(serde_json::json!({
///     "id": "c1", "status": "completed", "created_at": "2026-11-29T10:00:00Z",
///     "transcript": [
///         {"id": 1, "user": "assistant", "text": "Hello, this is the clinic."},
///         {"id": 2, "user": "user", "text": "Hi, yes?"}
///     ]
/// }))?;
/// let mut writer = CallWriter::new(Vec::new(), ExportFormat::Csv);
/// writer.write(&call)?;
/// let csv = String::from_utf8(writer.finish()?).unwrap();
/// assert!(csv.starts_with("id,created_at,"));
/// assert!(csv.contains("\"assistant: Hello, this is the clinic.\nuser: Hi, yes?\""));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CallWriter<W: Write> {
    out: W,
    format: ExportFormat,
    rows: u64,
    line: Vec<u8>,
}

impl<W: Write> CallWriter<W> {
    /// A writer of `format` into `out`.
    pub fn new(out: W, format: ExportFormat) -> Self {
        Self {
            out,
            format,
            rows: 0,
            line: Vec::with_capacity(4096),
        }
    }

    /// Calls written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes one call as one row.
    pub fn write(&mut self, call: &Call) -> io::Result<()> {
        self.line.clear();
        match self.format {
            ExportFormat::JsonLines => {
                serde_json::to_writer(&mut self.line, call)?;
                self.line.push(b'\n');
            }
            ExportFormat::Csv => {
                if self.rows == 0 {
                    csv_header(&mut self.line);
                }
                csv_row(&mut self.line, call);
            }
        }
        self.out.write_all(&self.line)?;
        self.rows += 1;
        Ok(())
    }

    /// Writes the CSV header if no call was written, flushes, and hands
    /// back the output.
    pub fn finish(mut self) -> io::Result<W> {
        if self.rows == 0 && self.format == ExportFormat::Csv {
            self.line.clear();
            csv_header(&mut self.line);
            self.out.write_all(&self.line)?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

fn csv_header(line: &mut Vec<u8>) {
    line.extend_from_slice(CSV_COLUMNS.join(",").as_bytes());
    line.extend_from_slice(b"\r\n");
}

fn csv_row(line: &mut Vec<u8>, call: &Call) {
    use std::fmt::Write as _;
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    };
    let transcript = call.transcript.as_ref().map(|entries| {
        let mut text = String::new();
        for (n, entry) in entries.iter().enumerate() {
            if n > 0 {
                text.push('\n');
            }
            let speaker = entry
                .user
                .as_ref()
                .map_or_else(|| "unknown".to_string(), ToString::to_string);
            let said = entry.text.as_deref().unwrap_or_default();
            let _ = write!(text, "{speaker}: ");
            text.extend(
                said.chars()
                    .map(|c| if c == '\n' || c == '\r' { ' ' } else { c }),
            );
        }
        text
    });
    let cells: [Option<String>; 20] = [
        Some(call.id.clone()),
        time(Some(call.created_at)),
        time(call.started_at),
        time(call.end_at),
        call.phone_number.clone(),
        call.from_phone_number.clone(),
        Some(call.status.to_string()),
        call.call_status.as_ref().map(ToString::to_string),
        call.completed.map(|c| c.to_string()),
        call.answered_by.as_ref().map(ToString::to_string),
        call.disposition.clone(),
        call.duration.map(|d| d.to_string()),
        call.actual_duration_billed.map(|d| d.to_string()),
        call.campaign_id.clone(),
        call.lead_id.clone(),
        call.external_call_id.clone(),
        call.error_message.clone(),
        call.call_summary.clone(),
        call.recording_url.clone(),
        transcript,
    ];
    for (n, cell) in cells.iter().enumerate() {
        if n > 0 {
            line.push(b',');
        }
        if let Some(cell) = cell {
            csv_cell(line, cell);
        }
    }
    line.extend_from_slice(b"\r\n");
}

/// One CSV cell: quoted when it holds a comma, a quote or a line break
/// (quotes doubled), else as it is.
fn csv_cell(line: &mut Vec<u8>, cell: &str) {
    if cell.contains([',', '"', '\n', '\r']) {
        line.push(b'"');
        for part in cell.split_inclusive('"') {
            line.extend_from_slice(part.as_bytes());
            if part.ends_with('"') {
                line.push(b'"');
            }
        }
        line.push(b'"');
    } else {
        line.extend_from_slice(cell.as_bytes());
    }
}

impl ListCalls<'_> {
    /// Writes every call of the listing (newest first, with its transcript)
    /// to `out` in `format`, page after page; one page is in memory at a
    /// time. Returns the number of calls written. Pages take the listing's
    /// options ([`crate::List::retry`], [`crate::List::deadline`]); set
    /// `.limit(200)` for the fewest requests. Flushes `out` at the end.
    ///
    /// ```no_run
    /// # async fn run(client: topcalls_api::Client) -> topcalls_api::Result<()> {
    /// use std::io::BufWriter;
    /// use topcalls_api::ExportFormat;
    ///
    /// let file = std::fs::File::create("calls.csv").map_err(topcalls_api::Error::Io)?;
    /// let written = client.calls().list().limit(200).export(ExportFormat::Csv, BufWriter::new(file)).await?;
    /// println!("{written} calls exported");
    /// # Ok(()) }
    /// ```
    pub async fn export<W: Write + Send>(self, format: ExportFormat, out: W) -> Result<u64> {
        let mut writer = CallWriter::new(out, format);
        let mut calls = self.stream();
        while let Some(call) = calls.next().await {
            writer.write(&call?).map_err(Error::Io)?;
        }
        let rows = writer.rows();
        writer.finish().map_err(Error::Io)?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(text: &str) -> String {
        let mut line = Vec::new();
        csv_cell(&mut line, text);
        String::from_utf8(line).unwrap_or_default()
    }

    #[test]
    fn cells_are_quoted_only_when_needed() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("\"\""), "\"\"\"\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
    }
}
