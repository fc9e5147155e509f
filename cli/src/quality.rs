//! `eventlake quality`: the `field_drift` view of a lake, summed over its newest days and
//! printed for a person: catalog fields that arrive in the wrong JSON kind or that their typed
//! view cannot read, catalog fields missing from events, fields and event names the catalog
//! does not have. The view's SQL is generated from the catalog for this engine and for Athena
//! by one function (`eventlake_glue_schema::field_drift`).

use std::collections::BTreeMap;
use std::path::Path;

use arrow_array::{Array, RecordBatch, StringArray};
use arrow_cast::cast;
use arrow_schema::DataType;
use eventlake_glue_schema::field_drift::{self, CATALOG_FIELD, UNKNOWN_EVENT, UNKNOWN_FIELD};
use eventlake_glue_schema::Table;

use crate::engine::Session;
use crate::query::{locate, register_field_drift, run_sql, session};
use crate::CliError;

/// The days a report covers unless asked otherwise (`eventlake quality`, `eventlake demo`).
pub const DEFAULT_DAYS: u32 = 7;

/// Rows each section prints at most; the rest are counted and the view shows them all.
pub const SECTION_ROWS: usize = 20;

/// A catalog field of one event, summed over the report's days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogField {
    /// The event's name.
    pub event_name: String,
    /// The field.
    pub field: String,
    /// Its catalog type.
    pub expected_type: String,
    /// Events of that name.
    pub events: u64,
    /// Events carrying the field (present, not `null`).
    pub carrying: u64,
    /// Events carrying it in another JSON kind than the type expects.
    pub wrong_kind: u64,
    /// Events carrying a value the typed view reads as NULL.
    pub unreadable: u64,
    /// The first day it drifted (wrong kind or unreadable), or was missing.
    pub since: String,
    /// The smallest drifted value, as JSON text.
    pub example: Option<String>,
}

/// A payload member the catalog does not name, over every event name it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// The member's name.
    pub field: String,
    /// The event names it came with.
    pub event_names: Vec<String>,
    /// Events carrying it (not `null`).
    pub carrying: u64,
    /// Events of those names.
    pub events: u64,
    /// The first day it came.
    pub since: String,
    /// The smallest value, as JSON text.
    pub example: Option<String>,
}

/// An event name the catalog does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEvent {
    /// The name.
    pub event_name: String,
    /// Its events.
    pub events: u64,
    /// The first day it came.
    pub since: String,
}

/// What drifted in a lake over some days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QualityReport {
    /// The first day of the report (`created_date`), or None for a lake without events.
    pub first_day: Option<String>,
    /// The last day: the newest `created_date` in the lake.
    pub last_day: Option<String>,
    /// Unique events in those days (of the names that have a catalog field, an unknown field,
    /// or are not in the catalog: every catalog event has fields).
    pub events: u64,
    /// Catalog fields that came in the wrong kind or unreadable, most affected first.
    pub drifted: Vec<CatalogField>,
    /// Catalog fields that some events of their name lack, most missing first.
    pub missing: Vec<CatalogField>,
    /// Fields the catalog does not name, most carried first.
    pub unknown_fields: Vec<UnknownField>,
    /// Event names the catalog does not have, most events first.
    pub unknown_events: Vec<UnknownEvent>,
}

fn query_error(e: impl std::fmt::Display) -> CliError {
    CliError::Query(format!("quality: {e}"))
}

/// The rows of `batches` as text cells (NULL as None).
fn cells(batches: &[RecordBatch]) -> Result<Vec<Vec<Option<String>>>, CliError> {
    let mut rows = Vec::new();
    for b in batches {
        let columns: Vec<StringArray> = b
            .columns()
            .iter()
            .map(|c| {
                let c = cast(c, &DataType::Utf8).map_err(query_error)?;
                Ok(c.as_any().downcast_ref::<StringArray>().expect("cast to Utf8").clone())
            })
            .collect::<Result<_, CliError>>()?;
        for i in 0..b.num_rows() {
            rows.push(
                columns
                    .iter()
                    .map(|c| c.is_valid(i).then(|| c.value(i).to_string()))
                    .collect(),
            );
        }
    }
    Ok(rows)
}

fn number(cell: &Option<String>) -> u64 {
    cell.as_deref().and_then(|c| c.parse().ok()).unwrap_or(0)
}

fn text(cell: &Option<String>) -> String {
    cell.clone().unwrap_or_default()
}

/// The first day of `days` days ending on `last` (`yyyy-MM-dd`).
fn first_day(last: &str, days: u32) -> Result<String, CliError> {
    let last = chrono::NaiveDate::parse_from_str(last, "%Y-%m-%d")
        .map_err(|e| query_error(format!("created_date {last:?} is not a date: {e}")))?;
    Ok((last - chrono::Days::new(u64::from(days.max(1) - 1))).to_string())
}

/// The report over the newest `days` days of the lake in `session` (a [`session`]).
pub fn collect(session: &Session, table: &Table, days: u32) -> Result<QualityReport, CliError> {
    register_field_drift(session, table)?;
    let newest = cells(&run_sql(session, "SELECT max(created_date) FROM events", None)?)?;
    let Some(last) = newest.first().and_then(|r| r[0].clone()) else {
        return Ok(QualityReport::default());
    };
    let first = first_day(&last, days)?;
    let within = format!("created_date >= '{first}' AND created_date <= '{last}'");
    let mut report = QualityReport {
        first_day: Some(first),
        last_day: Some(last),
        ..QualityReport::default()
    };
    // One finding at a time: each is one pass over the days' events (the view's branches),
    // so the engine holds one pass's sort at once, not three.
    let mut rows = Vec::new();
    for finding in [CATALOG_FIELD, UNKNOWN_FIELD, UNKNOWN_EVENT] {
        let sql = format!(
            "SELECT finding, event_name, field, expected_type, sum(events), sum(carrying), sum(wrong_kind), sum(unreadable), \
             min(CASE WHEN wrong_kind > 0 OR unreadable > 0 THEN created_date END), \
             min(CASE WHEN carrying < events THEN created_date END), min(created_date), min(example) \
             FROM {view} WHERE {within} AND finding = '{finding}' GROUP BY finding, event_name, field, expected_type",
            view = field_drift::VIEW
        );
        rows.extend(cells(&run_sql(session, &sql, None)?)?);
    }
    // Unique events per name: every row of a name counts all of its events.
    let mut per_name: BTreeMap<String, u64> = BTreeMap::new();
    for r in &rows {
        let events = per_name.entry(text(&r[1])).or_default();
        *events = (*events).max(number(&r[4]));
    }
    report.events = per_name.values().sum();
    let mut unknown: BTreeMap<String, UnknownField> = BTreeMap::new();
    for r in rows {
        let finding = text(&r[0]);
        let event_name = text(&r[1]);
        let field = text(&r[2]);
        let (events, carrying) = (number(&r[4]), number(&r[5]));
        match finding.as_str() {
            CATALOG_FIELD => {
                let row = CatalogField {
                    event_name,
                    field,
                    expected_type: text(&r[3]),
                    events,
                    carrying,
                    wrong_kind: number(&r[6]),
                    unreadable: number(&r[7]),
                    since: String::new(),
                    example: r[11].clone(),
                };
                if row.wrong_kind > 0 || row.unreadable > 0 {
                    report.drifted.push(CatalogField {
                        since: text(&r[8]),
                        ..row.clone()
                    });
                }
                if row.carrying < row.events {
                    report.missing.push(CatalogField {
                        since: text(&r[9]),
                        example: None,
                        ..row
                    });
                }
            }
            UNKNOWN_FIELD => {
                let entry = unknown.entry(field.clone()).or_insert_with(|| UnknownField {
                    field,
                    event_names: Vec::new(),
                    carrying: 0,
                    events: 0,
                    since: text(&r[10]),
                    example: None,
                });
                entry.event_names.push(event_name);
                entry.carrying += carrying;
                entry.events += events;
                entry.since = entry.since.clone().min(text(&r[10]));
                entry.example = match (entry.example.take(), r[11].clone()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            UNKNOWN_EVENT => report.unknown_events.push(UnknownEvent {
                event_name,
                events,
                since: text(&r[10]),
            }),
            other => {
                return Err(query_error(format!(
                    "the view has a finding {other:?} this command does not know"
                )))
            }
        }
    }
    report.drifted.sort_by(|a, b| {
        (b.wrong_kind.max(b.unreadable), &a.event_name, &a.field).cmp(&(
            a.wrong_kind.max(a.unreadable),
            &b.event_name,
            &b.field,
        ))
    });
    report.missing.sort_by(|a, b| {
        (b.events - b.carrying, &a.event_name, &a.field).cmp(&(a.events - a.carrying, &b.event_name, &b.field))
    });
    report.unknown_fields = unknown.into_values().collect();
    for u in &mut report.unknown_fields {
        u.event_names.sort();
    }
    report
        .unknown_fields
        .sort_by(|a, b| (b.carrying, &a.field).cmp(&(a.carrying, &b.field)));
    report
        .unknown_events
        .sort_by(|a, b| (b.events, &a.event_name).cmp(&(a.events, &b.event_name)));
    Ok(report)
}

/// `eventlake quality`: the report over the newest `days` days of the lake at `lake`.
pub fn quality(lake: &Path, table: &Table, days: u32) -> Result<QualityReport, CliError> {
    let tables = locate(lake, table)?;
    collect(&session(&tables, table)?, table, days)
}

/// At most `max` characters of `s`, with `…` when cut.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// Rows under a header, columns padded to their widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// How a section ends when it has more rows than it prints.
fn more(total: usize, finding: &str, lake: &Path) -> String {
    match total.saturating_sub(SECTION_ROWS) {
        0 => String::new(),
        left => format!(
            "  … and {left} more: eventlake query --lake {} \"SELECT * FROM {} WHERE finding = '{finding}' ORDER BY created_date\"\n",
            lake.display(),
            field_drift::VIEW
        ),
    }
}

/// One section of the printed report: title, header, rows, and the view's `finding` for them.
type Section<'a> = (&'a str, &'a [&'a str], Vec<Vec<String>>, &'a str);

/// The report as text for a person; `lake` is named in the hints.
pub fn render(report: &QualityReport, lake: &Path) -> String {
    let (Some(first), Some(last)) = (&report.first_day, &report.last_day) else {
        return format!("Field drift in {}: the lake holds no events.\n", lake.display());
    };
    let n = |v: u64| crate::report::thousands(v);
    let mut out = format!(
        "Field drift in {}, {first} to {last} ({} unique events), against glue-schema/catalog.json:\n",
        lake.display(),
        n(report.events)
    );
    let drifted = report.drifted.iter().map(|f| {
        vec![
            f.event_name.clone(),
            f.field.clone(),
            f.expected_type.clone(),
            n(f.events),
            n(f.wrong_kind),
            n(f.unreadable),
            f.since.clone(),
            clip(f.example.as_deref().unwrap_or(""), 30),
        ]
    });
    let missing = report.missing.iter().map(|f| {
        vec![
            f.event_name.clone(),
            f.field.clone(),
            n(f.events),
            n(f.events - f.carrying),
            f.since.clone(),
        ]
    });
    let unknown_fields = report.unknown_fields.iter().map(|f| {
        let names = match f.event_names.as_slice() {
            [one] => one.clone(),
            many => format!("{} event names", many.len()),
        };
        vec![
            f.field.clone(),
            names,
            format!("{} of {}", n(f.carrying), n(f.events)),
            f.since.clone(),
            clip(f.example.as_deref().unwrap_or(""), 30),
        ]
    });
    let unknown_events = report
        .unknown_events
        .iter()
        .map(|e| vec![e.event_name.clone(), n(e.events), e.since.clone()]);
    let sections: [Section; 4] = [
        (
            "Catalog fields in the wrong JSON kind or unreadable by their typed view",
            &[
                "event",
                "field",
                "type",
                "events",
                "wrong kind",
                "unreadable",
                "since",
                "example",
            ],
            drifted.collect(),
            CATALOG_FIELD,
        ),
        (
            "Catalog fields missing from some events of their name",
            &["event", "field", "events", "missing", "since"],
            missing.collect(),
            CATALOG_FIELD,
        ),
        (
            "Fields the catalog does not name",
            &["field", "in", "events carrying it", "since", "example"],
            unknown_fields.collect(),
            UNKNOWN_FIELD,
        ),
        (
            "Event names the catalog does not have",
            &["event", "events", "since"],
            unknown_events.collect(),
            UNKNOWN_EVENT,
        ),
    ];
    for (title, header, rows, finding) in sections {
        if rows.is_empty() {
            out.push_str(&format!("\n{title}: none\n"));
            continue;
        }
        out.push_str(&format!("\n{title}: {}\n", n(rows.len() as u64)));
        out.push_str(&table(header, &rows[..rows.len().min(SECTION_ROWS)]));
        out.push_str(&more(rows.len(), finding, lake));
    }
    out.push_str(&format!(
        "\nPer day and per field: eventlake query --lake {} \"SELECT * FROM {} ORDER BY created_date, event_name, field\" (in Athena: the view eventlake.{}). What to do: docs/operations.md, \"A producer changed a field\".\n",
        lake.display(),
        field_drift::VIEW,
        field_drift::VIEW
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_day_counts_the_last() {
        assert_eq!(first_day("2026-12-02", 7).unwrap(), "2026-11-26");
        assert_eq!(first_day("2026-03-01", 1).unwrap(), "2026-03-01");
        assert_eq!(first_day("2024-03-01", 2).unwrap(), "2024-02-29");
        assert!(first_day("soon", 7).is_err());
    }

    #[test]
    fn long_examples_are_clipped() {
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("abc", 3), "abc");
    }

    #[test]
    fn an_empty_lake_says_so() {
        let text = render(&QualityReport::default(), Path::new("l"));
        assert_eq!(text, "Field drift in l: the lake holds no events.\n");
    }
}
