//! Printing results: tables for people, JSON (or JSON Lines for streams)
//! and CSV for scripts. Tables and CSV are cut from the JSON the API
//! answered with, so every format shows the same data.

use std::io::{IsTerminal as _, Write as _};

use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;
use serde_json::Value;

use crate::exit::Failure;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Human,
    Json,
    Csv,
}

impl Format {
    pub(crate) fn from_flags(json: bool, csv: bool) -> Self {
        if json {
            Self::Json
        } else if csv {
            Self::Csv
        } else {
            Self::Human
        }
    }
}

/// Where results go: stdout, in one format.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    pub(crate) format: Format,
}

/// The columns of a list's table and CSV: JSON member names, dotted for
/// nested members (`stats.calls_made`).
pub(crate) type Columns = &'static [&'static str];

pub(crate) const CALL_COLUMNS: Columns = &[
    "id",
    "status",
    "call_status",
    "phone_number",
    "duration",
    "created_at",
];
pub(crate) const CAMPAIGN_COLUMNS: Columns = &[
    "id",
    "name",
    "status",
    "stats.calls_made",
    "stats.conversions",
    "created_at",
];
pub(crate) const NUMBER_COLUMNS: Columns = &["id", "number", "status", "label", "carrier_name"];
pub(crate) const CARRIER_COLUMNS: Columns = &[
    "id",
    "carrier_name",
    "voip_carrier_sid",
    "trunk_type",
    "sip_gateway.ipv4",
];
pub(crate) const MODEL_COLUMNS: Columns =
    &["id", "name", "provider", "mode", "supports_temperature"];
pub(crate) const VOICE_COLUMNS: Columns = &["id", "name", "provider", "mode", "gender", "language"];

impl Output {
    pub(crate) fn new(format: Format) -> Self {
        Self { format }
    }

    /// One object: a field/value table, or the JSON document. CSV prints it
    /// as a one-row list of its scalar members.
    pub(crate) fn object<T: Serialize>(&self, value: &T) -> Result<(), Failure> {
        let json = to_json(value)?;
        match self.format {
            Format::Json => print_json(&json),
            Format::Csv => {
                let columns: Vec<String> = flatten(&json).into_iter().map(|(k, _)| k).collect();
                let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                let mut writer = csv_writer();
                write_csv_header(&mut writer, &columns)?;
                write_csv_row(&mut writer, &json, &columns)?;
                finish_csv(writer)
            }
            Format::Human => {
                let mut table = table();
                for (key, cell) in flatten(&json) {
                    if key == "transcript" {
                        continue;
                    }
                    table.add_row(vec![key, cell]);
                }
                println(&render(&table));
                if let Some(transcript) = json.get("transcript").and_then(Value::as_array)
                    && !transcript.is_empty()
                {
                    println("\nTranscript:");
                    for line in transcript {
                        let who = line.get("user").and_then(Value::as_str).unwrap_or("?");
                        let text = line.get("text").and_then(Value::as_str).unwrap_or("");
                        println(&format!("  {who}: {text}"));
                    }
                }
                Ok(())
            }
        }
    }

    /// A whole list document (a page with `data`, say): its `data` as a
    /// table or CSV, or the document as JSON.
    pub(crate) fn list<T: Serialize>(&self, document: &T, columns: Columns) -> Result<(), Failure> {
        let json = to_json(document)?;
        if self.format == Format::Json {
            return print_json(&json);
        }
        let items = json
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        self.rows(&items, columns)?;
        if self.format == Format::Human
            && let Some(cursor) = json.get("next_cursor").and_then(Value::as_str)
        {
            eprintln!("more: --cursor {cursor}, or --all for every page");
        }
        Ok(())
    }

    /// Items as a table or CSV (JSON callers print JSON Lines themselves).
    pub(crate) fn rows(&self, items: &[Value], columns: Columns) -> Result<(), Failure> {
        match self.format {
            Format::Json => {
                for item in items {
                    print_json_line(item)?;
                }
                Ok(())
            }
            Format::Csv => {
                let mut writer = csv_writer();
                write_csv_header(&mut writer, columns)?;
                for item in items {
                    write_csv_row(&mut writer, item, columns)?;
                }
                finish_csv(writer)
            }
            Format::Human => {
                if items.is_empty() {
                    println("(none)");
                    return Ok(());
                }
                let mut table = table();
                table.set_header(columns.iter().map(|c| c.to_uppercase()));
                for item in items {
                    table.add_row(columns.iter().map(|c| cell(lookup(item, c))));
                }
                println(&render(&table));
                Ok(())
            }
        }
    }

    /// A one-line confirmation for people (`stopped call …`), or the
    /// answer's JSON document for scripts.
    pub(crate) fn done<T: Serialize>(&self, value: &T, message: &str) -> Result<(), Failure> {
        match self.format {
            Format::Json => print_json(&to_json(value)?),
            Format::Csv | Format::Human => {
                println(message);
                Ok(())
            }
        }
    }
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Value, Failure> {
    serde_json::to_value(value).map_err(|error| Failure::other(format!("cannot print: {error}")))
}

pub(crate) fn print_json(value: &Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| Failure::other(format!("cannot print: {error}")))?;
    println(&text);
    Ok(())
}

pub(crate) fn print_json_line(value: &Value) -> Result<(), Failure> {
    println(&value.to_string());
    Ok(())
}

/// A line on stdout; colour codes are stripped unless stdout is a terminal
/// that takes them (and `NO_COLOR` is unset).
pub(crate) fn println(line: &str) {
    let mut stdout = anstream::stdout();
    let _ = writeln!(stdout, "{line}");
}

fn table() -> Table {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    if std::io::stdout().is_terminal() {
        table.set_content_arrangement(ContentArrangement::Dynamic);
    }
    table
}

/// A table's text, without the padding at the ends of its lines.
fn render(table: &Table) -> String {
    table
        .lines()
        .map(|line| line.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A member by dotted path.
fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |value, key| value.get(key))
}

/// A JSON value as a table or CSV cell.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// An object's members, nested objects as dotted keys, nulls left out.
fn flatten(value: &Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    let key = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&key, value, out);
                }
            }
            Value::Null => {}
            other => out.push((prefix.to_string(), cell(Some(other)))),
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out
}

pub(crate) type CsvWriter = csv::Writer<std::io::Stdout>;

pub(crate) fn csv_writer() -> CsvWriter {
    csv::Writer::from_writer(std::io::stdout())
}

fn csv_failure(error: csv::Error) -> Failure {
    Failure::other(format!("cannot write CSV: {error}"))
}

pub(crate) fn write_csv_header<W: std::io::Write>(
    writer: &mut csv::Writer<W>,
    columns: &[&str],
) -> Result<(), Failure> {
    writer.write_record(columns).map_err(csv_failure)
}

pub(crate) fn write_csv_row<W: std::io::Write>(
    writer: &mut csv::Writer<W>,
    item: &Value,
    columns: &[&str],
) -> Result<(), Failure> {
    writer
        .write_record(columns.iter().map(|c| cell(lookup(item, c))))
        .map_err(csv_failure)
}

pub(crate) fn finish_csv<W: std::io::Write>(mut writer: csv::Writer<W>) -> Result<(), Failure> {
    writer.flush().map_err(Failure::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_show_scalars_and_leave_absent_members_empty() {
        let item =
            serde_json::json!({"id": "c1", "duration": 2.5, "stats": {"calls_made": 3}, "x": null});
        assert_eq!(cell(lookup(&item, "id")), "c1");
        assert_eq!(cell(lookup(&item, "duration")), "2.5");
        assert_eq!(cell(lookup(&item, "stats.calls_made")), "3");
        assert_eq!(cell(lookup(&item, "x")), "");
        assert_eq!(cell(lookup(&item, "missing.deeper")), "");
    }

    #[test]
    fn flattening_names_nested_members_and_drops_nulls() {
        let item = serde_json::json!({"id": "n1", "gw": {"ipv4": "203.0.113.10", "port": 5060}, "label": null});
        assert_eq!(
            flatten(&item),
            vec![
                ("gw.ipv4".to_string(), "203.0.113.10".to_string()),
                ("gw.port".to_string(), "5060".to_string()),
                ("id".to_string(), "n1".to_string()),
            ]
        );
    }
}
