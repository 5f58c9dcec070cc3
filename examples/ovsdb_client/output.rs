//! Tables and how they are printed: table, list, csv and json.

use std::fmt::Write as _;
use std::io::Write as _;

use ovsdb_proto::datum::Datum;
use ovsdb_proto::schema::ColumnType;
use serde_json::Value;

use super::cells::datum_to_cell;
use super::json::ovs_json;
use super::{Cli, Format, Result};

/// One cell of a table.
pub(crate) enum Cell {
    /// Text as it is (in JSON, a string).
    Text(String),
    /// A JSON value, written as JSON in both formats.
    Json(Value),
    /// A column's value, of that column's type.
    Datum(Datum, ColumnType),
    /// Nothing (in JSON, `null`).
    Empty,
}

impl Cell {
    /// The cell in a table, a list or CSV.
    pub(crate) fn text(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::Json(value) => ovs_json(value, false),
            Cell::Datum(datum, ct) => datum_to_cell(datum, ct),
            Cell::Empty => String::new(),
        }
    }

    /// The cell in JSON output.
    pub(crate) fn json(&self) -> Value {
        match self {
            Cell::Text(text) => Value::String(text.clone()),
            Cell::Json(value) => value.clone(),
            Cell::Datum(datum, _) => serde_json::to_value(datum).unwrap_or(Value::Null),
            Cell::Empty => Value::Null,
        }
    }
}

/// A table to print: an optional caption, headings, rows of cells.
pub(crate) struct Table {
    /// Whether the time is printed with it (a monitor's, with --timestamp).
    pub(crate) timestamp: bool,
    pub(crate) caption: Option<String>,
    pub(crate) headings: Vec<String>,
    pub(crate) rows: Vec<Vec<Cell>>,
}

impl Table {
    pub(crate) fn new(caption: Option<String>, headings: &[&str]) -> Self {
        Table {
            timestamp: false,
            caption,
            headings: headings.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }
}

/// Writes to stdout in the chosen format, flushing after each piece (a
/// monitor's changes show as they come).
pub(crate) struct Printer {
    pub(crate) format: Format,
    pub(crate) pretty: bool,
    pub(crate) headings: bool,
    pub(crate) timestamp: bool,
    /// Tables after the first are set apart by an empty line.
    pub(crate) first_table: bool,
    /// Whether a write failed.
    pub(crate) failed: bool,
}

impl Printer {
    pub(crate) fn new(cli: &Cli) -> Self {
        Printer {
            format: cli.format,
            pretty: cli.pretty,
            headings: !cli.no_headings,
            timestamp: cli.timestamp,
            first_table: true,
            failed: false,
        }
    }

    pub(crate) fn write(&mut self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        if stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            self.failed = true;
        }
    }

    /// Fails once a write has failed (the reader went away).
    pub(crate) fn check(&self) -> Result<()> {
        if self.failed {
            Err("write to stdout failed".into())
        } else {
            Ok(())
        }
    }

    pub(crate) fn line(&mut self, text: &str) {
        self.write(&format!("{text}\n"));
    }

    pub(crate) fn json(&mut self, value: &Value) {
        self.line(&ovs_json(value, self.pretty));
    }

    pub(crate) fn table(&mut self, table: &Table) {
        let time = table.timestamp.then(now_utc);
        let text = match self.format {
            Format::Json => {
                let mut json = table_to_json(table);
                if let (Some(time), Value::Object(object)) = (&time, &mut json) {
                    object.insert("time".into(), Value::String(time.clone()));
                }
                format!("{}\n", ovs_json(&json, self.pretty))
            }
            format => {
                let mut text = String::new();
                if !std::mem::take(&mut self.first_table) {
                    text.push('\n');
                }
                if let Some(time) = time {
                    text.push_str(&time);
                    text.push('\n');
                }
                if let Some(caption) = &table.caption {
                    text.push_str(caption);
                    text.push('\n');
                }
                text.push_str(&match format {
                    Format::List => render_list(table, self.headings),
                    Format::Csv => render_csv(table, self.headings),
                    _ => render_table(table, self.headings),
                });
                text
            }
        };
        self.write(&text);
    }
}

/// The time now as `ovsdb-client --timestamp` prints it, in UTC:
/// `2024-05-01 12:34:56.789`.
pub(crate) fn now_utc() -> String {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil, for days since 1970-01-01.
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// `{"caption": ..., "headings": [...], "data": [[...], ...]}`.
pub(crate) fn table_to_json(table: &Table) -> Value {
    let mut object = serde_json::Map::new();
    if let Some(caption) = &table.caption {
        object.insert("caption".into(), Value::String(caption.clone()));
    }
    object.insert(
        "headings".into(),
        Value::Array(table.headings.iter().cloned().map(Value::String).collect()),
    );
    let data = table
        .rows
        .iter()
        .map(|row| Value::Array(row.iter().map(Cell::json).collect()))
        .collect();
    object.insert("data".into(), Value::Array(data));
    Value::Object(object)
}

/// Columns as wide as their widest cell (or heading), apart by one
/// space, no spaces at the ends of lines; widths in bytes, as C counts.
pub(crate) fn render_table(table: &Table, headings: bool) -> String {
    let cells: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|row| row.iter().map(Cell::text).collect())
        .collect();
    let widths: Vec<usize> = (0..table.headings.len())
        .map(|x| {
            let widest = cells.iter().map(|row| row[x].len()).max().unwrap_or(0);
            if headings {
                widest.max(table.headings[x].len())
            } else {
                widest
            }
        })
        .collect();
    let mut out = String::new();
    let mut line = |texts: &mut dyn Iterator<Item = String>| {
        let mut text = String::new();
        for (x, cell) in texts.enumerate() {
            if x > 0 {
                text.push(' ');
            }
            text.push_str(&cell);
            text.push_str(&" ".repeat(widths[x].saturating_sub(cell.len())));
        }
        out.push_str(text.trim_end_matches(' '));
        out.push('\n');
    };
    if headings {
        line(&mut table.headings.iter().cloned());
        line(&mut widths.iter().map(|w| "-".repeat(*w)));
    }
    for row in cells {
        line(&mut row.into_iter());
    }
    out
}

/// One `heading: value` line per cell (headings padded to 20), rows apart
/// by an empty line.
pub(crate) fn render_list(table: &Table, headings: bool) -> String {
    let mut out = String::new();
    for (y, row) in table.rows.iter().enumerate() {
        if y > 0 {
            out.push('\n');
        }
        for (heading, cell) in table.headings.iter().zip(row) {
            if headings {
                let _ = write!(out, "{heading:<20}: ");
            }
            out.push_str(&cell.text());
            out.push('\n');
        }
    }
    out
}

pub(crate) fn render_csv(table: &Table, headings: bool) -> String {
    let field = |text: &str| {
        if text.contains(['\n', '"', ',']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_owned()
        }
    };
    let mut out = String::new();
    if headings {
        let line: Vec<String> = table.headings.iter().map(|h| field(h)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    for row in &table.rows {
        let line: Vec<String> = row.iter().map(|c| field(&c.text())).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}
