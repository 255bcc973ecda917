//! `topcalls calls batch FILE.csv`: one call per row, on the SDK's bulk
//! placement (`Calls::create_many`), resumable.
//!
//! Where the state lives:
//! - **The API**, through idempotency keys: each row's key is
//!   `topcalls_api::bulk::idempotency_key(batch id, row reference)`. The
//!   batch id comes from the file's absolute path and contents and the API
//!   it runs against (or `--batch-id`); the reference is the row's `reference` column or its
//!   line number. A rerun sends the same keys, and the API answers a key it
//!   has seen (for 24 hours) with the first answer instead of placing a
//!   second call: even a row placed just before a crash is not placed again.
//! - **The results file** (`FILE.results.csv` by default): one line per row
//!   that finished, written and flushed as each finishes. A rerun skips the
//!   rows it records as placed, retries the others, and refuses a results
//!   file of another batch (the CSV changed since) rather than mix two.
//!
//! Every row is checked before any call is placed (`--dry-run` stops
//! there): a bad row is reported with its line number, and none is placed.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use futures::StreamExt as _;
use sha2::{Digest as _, Sha256};
use topcalls_api::types::CreateCallRequest;
use topcalls_api::{Error, NewCall, bulk};

use crate::Context;
use crate::calls::new_call;
use crate::cli::{BatchArgs, CallFields};
use crate::exit::Failure;
use crate::output::{Format, print_json_line};
use crate::progress::Counter;

/// Columns that set a call's fields; every other column is a `request_data` variable.
const FIELD_COLUMNS: &[&str] = &[
    "phone_number",
    "task",
    "instructions",
    "voice",
    "from_number",
    "first_sentence",
    "model",
    "max_duration",
    "temperature",
    "reference",
];

/// The results file's columns.
const RESULT_COLUMNS: &[&str] = &[
    "batch_id",
    "line",
    "reference",
    "phone_number",
    "outcome",
    "call_id",
    "idempotency_key",
    "error",
];

/// A row's identity: its line in the file and its reference (the
/// `reference` column, or the line number), which its key derives from.
#[derive(Debug, Clone)]
struct RowRef {
    line: u64,
    reference: String,
    phone_number: String,
}

impl fmt::Display for RowRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reference)
    }
}

/// A row's call, or why the row cannot be one: converted on the SDK's path
/// (`validate` and `create_many` both check it as `create` does), so a bad
/// row fails as `InvalidRequest` and nothing is sent for it.
struct RowCall(Result<NewCall, String>);

impl TryFrom<RowCall> for CreateCallRequest {
    type Error = Error;

    fn try_from(row: RowCall) -> Result<Self, Error> {
        row.0
            .map_err(Error::InvalidRequest)
            .and_then(CreateCallRequest::try_from)
    }
}

/// The file's header, and how each row becomes a call.
struct Template {
    header: Vec<String>,
    defaults: CallFields,
}

impl Template {
    fn new(header: Vec<String>, defaults: CallFields) -> Result<Self, Failure> {
        if !header.iter().any(|c| c == "phone_number") {
            return Err(Failure::usage(format!(
                "the header row has no `phone_number` column (columns: {})",
                header.join(", ")
            )));
        }
        for (name, template) in [
            ("--task", &defaults.task),
            ("--instructions", &defaults.instructions),
        ] {
            if let Some(template) = template {
                for placeholder in placeholders(template) {
                    if !header.contains(&placeholder) {
                        return Err(Failure::usage(format!(
                            "{name} names {{{placeholder}}}, which is not a column of the file"
                        )));
                    }
                }
            }
        }
        Ok(Self { header, defaults })
    }

    /// The row at `line` as its reference and call.
    fn row(&self, line: u64, record: &csv::StringRecord) -> (RowRef, RowCall) {
        let get = |name: &str| {
            self.header
                .iter()
                .position(|c| c == name)
                .and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let row = RowRef {
            line,
            reference: get("reference").map_or_else(|| format!("line-{line}"), str::to_string),
            phone_number: get("phone_number").unwrap_or_default().to_string(),
        };
        let call = self.call(record, &get);
        (row, RowCall(call))
    }

    fn call<'r>(
        &self,
        record: &'r csv::StringRecord,
        get: &dyn Fn(&str) -> Option<&'r str>,
    ) -> Result<NewCall, String> {
        if record.len() != self.header.len() {
            return Err(format!(
                "{} fields, but the header has {}",
                record.len(),
                self.header.len()
            ));
        }
        let fill = |template: &str| -> String {
            let mut text = template.to_string();
            for (i, column) in self.header.iter().enumerate() {
                text = text.replace(
                    &format!("{{{column}}}"),
                    record.get(i).map(str::trim).unwrap_or_default(),
                );
            }
            text
        };
        let text = |column: &str, default: &Option<String>| {
            get(column)
                .map(str::to_string)
                .or_else(|| default.clone())
                .map(|t| fill(&t))
        };
        let number = |column: &str, default: Option<f64>| -> Result<Option<f64>, String> {
            match get(column) {
                None => Ok(default),
                Some(raw) => raw
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| format!("`{column}` is not a number: {raw:?}")),
            }
        };
        let fields = CallFields {
            task: text("task", &self.defaults.task),
            instructions: text("instructions", &self.defaults.instructions),
            from_number: get("from_number")
                .map(str::to_string)
                .or_else(|| self.defaults.from_number.clone()),
            first_sentence: text("first_sentence", &self.defaults.first_sentence),
            voice: get("voice")
                .map(str::to_string)
                .or_else(|| self.defaults.voice.clone()),
            model: get("model")
                .map(str::to_string)
                .or_else(|| self.defaults.model.clone()),
            mode: self.defaults.mode,
            temperature: number("temperature", self.defaults.temperature)?,
            max_duration: number("max_duration", self.defaults.max_duration)?,
        };
        // A column wins over a flag: a row's task replaces a --instructions
        // default, and the other way round.
        let fields = match (get("task"), get("instructions")) {
            (Some(_), None) => CallFields {
                instructions: None,
                ..fields
            },
            (None, Some(_)) => CallFields {
                task: None,
                ..fields
            },
            _ => fields,
        };
        if fields.task.is_none() && fields.instructions.is_none() {
            return Err(
                "no task: add a `task` (or `instructions`) column or pass --task".to_string(),
            );
        }
        let mut call = new_call(get("phone_number").unwrap_or_default(), &fields);
        for (i, column) in self.header.iter().enumerate() {
            if FIELD_COLUMNS.contains(&column.as_str()) {
                continue;
            }
            if let Some(value) = record.get(i) {
                call = call.variable(column.clone(), value.trim().to_string());
            }
        }
        Ok(call)
    }
}

/// `{name}` placeholders of a template.
fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) if !after[..end].contains('{') => {
                out.push(after[..end].to_string());
                rest = &after[end + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

/// The batch id of a file run against `target` (the base URL, or `sandbox`):
/// from the file's absolute path and contents and the target, so the same
/// file reruns as the same batch, while an edited file, or a file tried on
/// the sandbox first, is a new batch.
fn batch_id(path: &Path, target: &str) -> Result<String, Failure> {
    let absolute = std::fs::canonicalize(path)
        .map_err(|error| Failure::usage(format!("cannot read {}: {error}", path.display())))?;
    let mut hasher = Sha256::new();
    hasher.update((target.len() as u64).to_le_bytes());
    hasher.update(target.as_bytes());
    let name = absolute.to_string_lossy();
    hasher.update((name.len() as u64).to_le_bytes());
    hasher.update(name.as_bytes());
    let mut file = File::open(&absolute)?;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    let digest = hasher.finalize();
    Ok(format!(
        "csv-{}",
        digest[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ))
}

/// `leads.csv` → `leads.results.csv`, beside it.
fn default_results(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "batch".into(), |s| s.to_string_lossy().to_string());
    path.with_file_name(format!("{stem}.results.csv"))
}

/// Rows the results file records, by line: whether placed.
struct Recorded {
    placed: HashMap<u64, bool>,
}

/// Reads the results of an earlier run (a line cut short by a crash is
/// dropped) and writes them back whole, so new results append cleanly.
fn resume(results: &Path, batch: &str) -> Result<Recorded, Failure> {
    let mut placed = HashMap::new();
    if !results.exists() {
        let mut writer = csv::Writer::from_path(results).map_err(csv_failure)?;
        writer.write_record(RESULT_COLUMNS).map_err(csv_failure)?;
        writer.flush()?;
        return Ok(Recorded { placed });
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(results)
        .map_err(csv_failure)?;
    let mut kept = Vec::new();
    for record in reader.records() {
        let Ok(record) = record else { continue };
        if record.len() != RESULT_COLUMNS.len() {
            continue;
        }
        if &record[0] != batch {
            return Err(Failure::usage(format!(
                "{} holds the results of batch {}, not of this file's batch {batch} (the CSV \
                 changed since, or it ran against another API or the sandbox): move it away to start a new batch, or pass --batch-id {} to \
                 go on with the old one",
                results.display(),
                &record[0],
                &record[0]
            )));
        }
        let Ok(line) = record[1].parse::<u64>() else {
            continue;
        };
        let was_placed = &record[4] == "placed";
        // A row retried after a failure has two lines; the last one counts.
        placed.insert(line, was_placed);
        kept.push(record);
    }
    let partial = results.with_extension("csv.partial");
    {
        let mut writer = csv::Writer::from_path(&partial).map_err(csv_failure)?;
        writer.write_record(RESULT_COLUMNS).map_err(csv_failure)?;
        for record in &kept {
            writer.write_record(record).map_err(csv_failure)?;
        }
        writer.flush()?;
        writer
            .into_inner()
            .map_err(|e| Failure::other(e.to_string()))?
            .sync_all()?;
    }
    std::fs::rename(&partial, results)?;
    Ok(Recorded { placed })
}

fn csv_failure(error: csv::Error) -> Failure {
    let line = error
        .position()
        .map(|p| format!(" (line {})", p.line()))
        .unwrap_or_default();
    Failure::usage(format!("cannot read CSV{line}: {error}"))
}

/// The data rows of the file, lazily: `(line, record)`, or a row that could
/// not be read, with its line.
fn records(
    path: &Path,
) -> Result<
    (
        Vec<String>,
        impl Iterator<Item = (u64, csv::StringRecord)> + Send,
    ),
    Failure,
> {
    let file = File::open(path)
        .map_err(|error| Failure::usage(format!("cannot read {}: {error}", path.display())))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(BufReader::new(file));
    let header = reader
        .headers()
        .map_err(csv_failure)?
        .iter()
        .map(|c| c.trim().to_string())
        .collect::<Vec<_>>();
    let rows = reader.into_records().map(|record| match record {
        Ok(record) => (record.position().map_or(0, csv::Position::line), record),
        // An unreadable row (bad UTF-8, say): an empty record at its line
        // fails the field count check with its line number.
        Err(error) => (
            error.position().map_or(0, csv::Position::line),
            csv::StringRecord::new(),
        ),
    });
    Ok((header, rows))
}

pub(crate) async fn run(cx: &Context, args: BatchArgs) -> Result<ExitCode, Failure> {
    let (header, rows) = records(&args.file)?;
    let template = Template::new(header, args.call.clone())?;

    // 1. Every row checked; nothing sent.
    let mut total = 0u64;
    let checked = rows.map(|(line, record)| {
        total += 1;
        template.row(line, &record)
    });
    let bad: Vec<_> = bulk::validate(checked).collect();
    if !bad.is_empty() {
        for row in &bad {
            let message = match &row.error {
                Error::InvalidRequest(message) => message.clone(),
                other => other.to_string(),
            };
            eprintln!("line {}: {message}", row.reference.line);
        }
        return Err(Failure::usage(format!(
            "{} of {total} rows are not valid; nothing was placed",
            bad.len()
        )));
    }
    if args.dry_run {
        crate::output::println(&format!(
            "{total} rows are valid; nothing was placed (--dry-run)"
        ));
        return Ok(ExitCode::SUCCESS);
    }

    // 2. Where the earlier runs got to.
    let batch = match &args.batch_id {
        Some(id) => id.clone(),
        None => batch_id(&args.file, &cx.target)?,
    };
    let results_path = args
        .results
        .clone()
        .unwrap_or_else(|| default_results(&args.file));
    let recorded = resume(&results_path, &batch)?;
    let already = recorded.placed.values().filter(|placed| **placed).count() as u64;
    let results_file = std::fs::OpenOptions::new()
        .append(true)
        .open(&results_path)?;
    let mut results = csv::Writer::from_writer(results_file);
    if cx.out.format != Format::Json {
        eprintln!(
            "batch {batch}: {total} rows, {already} placed before; results in {}",
            results_path.display()
        );
    }

    // 3. The rest, on the SDK's bulk placement.
    let (_, rows) = records(&args.file)?;
    let to_place = rows.filter_map(|(line, record)| {
        let done = recorded.placed.get(&line).copied().unwrap_or(false);
        (!done).then(|| template.row(line, &record))
    });
    let mut placements = cx
        .client
        .calls()
        .create_many(batch.clone(), to_place)
        .concurrency(args.concurrency as usize)
        .stream();
    let mut counter = Counter::new(cx.out.format, total, already);
    let mut failed = 0u64;
    while let Some(placement) = placements.next().await {
        let row = &placement.reference;
        let (outcome, call_id, error) = match &placement.result {
            Ok(placed) => ("placed", placed.call_id.clone(), String::new()),
            Err(error) => {
                failed += 1;
                let outcome = if error.may_have_taken_effect() {
                    "unknown"
                } else {
                    "failed"
                };
                (outcome, String::new(), error.to_string())
            }
        };
        results
            .write_record([
                batch.as_str(),
                &row.line.to_string(),
                &row.reference,
                &row.phone_number,
                outcome,
                &call_id,
                &placement.idempotency_key,
                &error,
            ])
            .map_err(csv_failure)?;
        results.flush()?;
        if cx.out.format == Format::Json {
            print_json_line(&serde_json::json!({
                "line": row.line,
                "reference": row.reference,
                "outcome": outcome,
                "call_id": (!call_id.is_empty()).then_some(&call_id),
                "error": (!error.is_empty()).then_some(&error),
            }))?;
        }
        let detail = if call_id.is_empty() {
            format!("line {}: {error}", row.line)
        } else {
            format!("line {} → call {call_id}", row.line)
        };
        counter.record(outcome, &detail);
    }
    let summary = counter.summary();
    counter.finish();
    let _ = std::io::stderr().flush();
    if failed > 0 {
        return Err(Failure::with_code(
            11,
            format!(
                "{failed} rows were not placed ({summary}); see {} and run the same command again \
                 to retry them (rows placed already are not placed again)",
                results_path.display()
            ),
        ));
    }
    if cx.out.format != Format::Json {
        crate::output::println(&format!(
            "all {total} rows placed; results in {}",
            results_path.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_the_braced_names() {
        assert_eq!(
            placeholders("Remind {name} of the {time} visit {"),
            ["name", "time"]
        );
        assert_eq!(placeholders("no placeholders"), Vec::<String>::new());
        assert_eq!(placeholders("{{name}}"), ["name"]);
    }

    #[test]
    fn rows_fill_the_template_and_columns_win_over_flags() {
        let header: Vec<String> = ["phone_number", "name", "voice", "task"]
            .map(String::from)
            .to_vec();
        let defaults = CallFields {
            task: Some("Remind {name} of the appointment tomorrow.".into()),
            voice: Some("alloy".into()),
            ..CallFields::default()
        };
        let template = Template::new(header, defaults).expect("template");
        let record = csv::StringRecord::from(vec!["+15551234567", "Sam", "echo", ""]);
        let (row, call) = template.row(2, &record);
        assert_eq!(row.reference, "line-2");
        let request = CreateCallRequest::try_from(call).expect("valid");
        let json = serde_json::to_value(&request).expect("json");
        assert_eq!(json["task"], "Remind Sam of the appointment tomorrow.");
        assert_eq!(json["voice"], "echo");
        assert_eq!(json["request_data"]["name"], "Sam");

        let missing = Template::new(
            vec!["phone_number".into()],
            CallFields {
                task: Some("Remind {name} of it.".into()),
                ..CallFields::default()
            },
        )
        .err()
        .expect("unknown placeholder");
        assert!(missing.message.contains("{name}"), "{}", missing.message);
        assert!(
            Template::new(vec!["phone".into()], CallFields::default()).is_err(),
            "phone_number is required"
        );
    }

    #[test]
    fn the_batch_id_follows_path_and_contents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.csv");
        let b = dir.path().join("b.csv");
        std::fs::write(&a, "phone_number\n+15551234567\n").expect("write");
        std::fs::write(&b, "phone_number\n+15551234567\n").expect("write");
        let api = "https://api.topcalls.ai";
        let first = batch_id(&a, api).expect("id");
        assert_eq!(first, batch_id(&a, api).expect("id"), "stable");
        assert_ne!(first, batch_id(&b, api).expect("id"), "another path");
        assert_ne!(
            first,
            batch_id(&a, "sandbox").expect("id"),
            "another target"
        );
        std::fs::write(&a, "phone_number\n+15551234568\n").expect("write");
        assert_ne!(first, batch_id(&a, api).expect("id"), "other contents");
        assert_eq!(default_results(&a), dir.path().join("a.results.csv"));
    }
}
