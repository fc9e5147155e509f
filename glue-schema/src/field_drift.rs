//! The `field_drift` view: what the catalog expects of each event's payload against what
//! arrived, per day. Generated from the table and the catalog for Athena (committed as
//! `athena/views/field_drift.sql`, created by the CDK at deploy) and for `eventlake query`'s
//! local engine, from one function: only the JSON functions and the unnesting differ.
//!
//! One row per finding, over the deduplicated events (the contract's key, as `events_unique`):
//! - `catalog field`: per `created_date`, `event_name` (in the catalog) and catalog field:
//!   `events` of that name, how many are `carrying` the field (present and not `null`), how
//!   many carry it in the `wrong_kind` of JSON ([`JsonKind::accepts`], the transform's rule),
//!   how many carry a value the typed view reads as NULL (`unreadable`: its own expression,
//!   [`field_expression_in`]), and the smallest such value as an `example`.
//! - `unknown field`: a payload member the catalog does not name for the event: `events` of
//!   the name that day, how many are `carrying` it, and the smallest value as an `example`.
//! - `unknown event`: an `event_name` the catalog does not have, with its `events`.
//!
//! Each event is unnested once per branch; the `events` of an unknown field's row come from a
//! member named `''` added to every event (a payload member of that name is not reported)
//! and a window over the aggregated rows, not over the events, so no engine holds a day of
//! payloads for a window.

use crate::athena::{field_expression_in, member_path, quote, Dialect, HEADER};
use crate::{Catalog, EventDef, JsonKind, Table};

/// The view's name.
pub const VIEW: &str = "field_drift";

/// The `finding` of a catalog field's row.
pub const CATALOG_FIELD: &str = "catalog field";
/// The `finding` of a payload member the catalog does not name.
pub const UNKNOWN_FIELD: &str = "unknown field";
/// The `finding` of an event name the catalog does not have.
pub const UNKNOWN_EVENT: &str = "unknown event";

/// The view's columns, in order.
pub const COLUMNS: [&str; 10] = [
    "created_date",
    "event_name",
    "finding",
    "field",
    "expected_type",
    "events",
    "carrying",
    "wrong_kind",
    "unreadable",
    "example",
];

/// The JSON kind of the JSON text `value` (`json_format` of a member), by its first byte:
/// NULL when the member is absent or `null`. Integers are numbers without `.` or exponent.
fn kind_of(value: &str) -> String {
    format!(
        "CASE WHEN {value} IS NULL OR {value} = 'null' THEN NULL \
         WHEN substr({value}, 1, 1) = '\"' THEN 'string' \
         WHEN substr({value}, 1, 1) = '[' THEN 'array' \
         WHEN substr({value}, 1, 1) = '{{' THEN 'object' \
         WHEN {value} IN ('true', 'false') THEN 'boolean' \
         WHEN regexp_like({value}, '^-?[0-9]+$') THEN '{integer}' \
         ELSE '{number}' END",
        integer = JsonKind::Integer.name(),
        number = JsonKind::Number.name(),
    )
}

/// True when `got` (a kind name, or NULL for absent) does not fit `expected`: the SQL of
/// [`JsonKind::accepts`], generated from it.
fn wrong_kind(expected: &str, got: &str) -> String {
    let fits: Vec<String> = JsonKind::ALL
        .iter()
        .map(|e| {
            let accepted: Vec<String> = JsonKind::ALL
                .iter()
                .filter(|g| e.accepts(**g))
                .map(|g| quote(g.name()))
                .collect();
            format!(
                "({expected} = {} AND {got} IN ({}))",
                quote(e.name()),
                accepted.join(", ")
            )
        })
        .collect();
    format!("({got} IS NOT NULL AND NOT ({}))", fits.join(" OR "))
}

/// A string literal typed as text: Athena types `'abc'` as `varchar(3)`, and the arrays of
/// one `CASE` must agree on their records' types.
fn text_literal(dialect: Dialect, s: &str) -> String {
    match dialect {
        Dialect::Athena => format!("CAST({} AS VARCHAR)", quote(s)),
        Dialect::Local => quote(s),
    }
}

/// A record of named values: Athena's `ROW` (named when unnested), DataFusion's `named_struct`.
fn record(dialect: Dialect, fields: &[(&str, String)]) -> String {
    match dialect {
        Dialect::Athena => {
            let values: Vec<&str> = fields.iter().map(|(_, v)| v.as_str()).collect();
            format!("ROW({})", values.join(", "))
        }
        Dialect::Local => {
            let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("{}, {v}", quote(k))).collect();
            format!("named_struct({})", pairs.join(", "))
        }
    }
}

/// An array of `items`, one per line or all on one.
fn array(dialect: Dialect, items: &[String], one_per_line: bool) -> String {
    let (open, close) = match dialect {
        Dialect::Athena => ("ARRAY[", "]"),
        Dialect::Local => ("make_array(", ")"),
    };
    match one_per_line {
        true => format!("{open}\n      {}{close}", items.join(",\n      ")),
        false => format!("{open}{}{close}", items.join(", ")),
    }
}

/// `CASE event_name WHEN … THEN <per event> END` over the catalog's events with fields.
fn per_event(events: &[&EventDef], each: impl Fn(&EventDef) -> String) -> String {
    let arms: Vec<String> = events
        .iter()
        .map(|e| format!("    WHEN {} THEN {}", quote(&e.name), each(e)))
        .collect();
    format!("CASE event_name\n{}\n  END", arms.join("\n"))
}

/// The `field_drift` view's `CREATE` statement for `dialect` (Athena's is database-qualified;
/// the local one is not).
pub fn view(table: &Table, catalog: &Catalog, dialect: Dialect) -> String {
    let q = match dialect {
        Dialect::Athena => format!("{}.", table.database),
        Dialect::Local => String::new(),
    };
    let events: Vec<&EventDef> = catalog.events().filter(|e| !e.fields.is_empty()).collect();
    let names: Vec<String> = catalog.events().map(|e| quote(&e.name)).collect();
    let names = names.join(", ");
    let with_fields: Vec<String> = events.iter().map(|e| quote(&e.name)).collect();
    let with_fields = with_fields.join(", ");

    // The catalog's fields of each event as records of (field, expected kind, expected type,
    // value as JSON text, readable by the typed view), and its field names.
    let rows = per_event(&events, |e| {
        let rows: Vec<String> = e
            .fields
            .iter()
            .map(|f| {
                let ty = f.hive_type();
                record(
                    dialect,
                    &[
                        ("field", text_literal(dialect, &f.name)),
                        ("expected_kind", text_literal(dialect, ty.json_kind().name())),
                        ("expected_type", text_literal(dialect, &f.type_name)),
                        (
                            "value",
                            format!("json_format(json_extract(payload, {}))", member_path(&f.name)),
                        ),
                        (
                            "readable",
                            format!("{} IS NOT NULL", field_expression_in(dialect, &f.name, &ty)),
                        ),
                    ],
                )
            })
            .collect();
        array(dialect, &rows, true)
    });
    let known = per_event(&events, |e| {
        let names: Vec<String> = e.fields.iter().map(|f| quote(&f.name)).collect();
        array(dialect, &names, false)
    });
    let (catalog_values, unknown_values) = match dialect {
        Dialect::Athena => (
            format!(
                "  SELECT created_date, event_name, field, expected_kind, expected_type, value, readable\n  FROM unique_events\n  CROSS JOIN UNNEST({rows}) AS f (field, expected_kind, expected_type, value, readable)\n  WHERE event_name IN ({with_fields})"
            ),
            format!(
                "  SELECT created_date, event_name, field, json_format(member) AS value\n  FROM unique_events\n  CROSS JOIN UNNEST(map_concat(MAP(ARRAY[''], ARRAY[CAST(NULL AS JSON)]), coalesce(TRY_CAST(json_parse(payload) AS MAP(VARCHAR, JSON)), CAST(MAP() AS MAP(VARCHAR, JSON))))) AS m (field, member)\n  WHERE event_name IN ({names}) AND (field = '' OR NOT contains({known}, field))"
            ),
        ),
        Dialect::Local => (
            format!(
                "  SELECT created_date, event_name, f['field'] AS field, f['expected_kind'] AS expected_kind, f['expected_type'] AS expected_type, f['value'] AS value, f['readable'] AS readable\n  FROM (\n    SELECT created_date, event_name, unnest({rows}) AS f\n    FROM unique_events\n    WHERE event_name IN ({with_fields})\n  ) AS unnested"
            ),
            format!(
                "  SELECT * FROM (\n    SELECT created_date, event_name, m['field'] AS field, m['value'] AS value\n    FROM (\n      SELECT created_date, event_name, unnest(array_concat(make_array(named_struct('field', '', 'value', CAST(NULL AS VARCHAR))), json_members(payload))) AS m\n      FROM unique_events\n      WHERE event_name IN ({names})\n    ) AS unnested\n  ) AS members\n  WHERE field = '' OR NOT array_has({known}, field)"
            ),
        ),
    };
    let wrong = wrong_kind("expected_kind", "got_kind");
    let unreadable = "got_kind IS NOT NULL AND NOT readable";
    format!(
        "{HEADER}-- Schema drift per day: what the catalog expects of each event's payload against what arrived,
-- over the deduplicated events. finding = 'catalog field': events of the name, how many carry the
-- field, in the wrong JSON kind, with a value its typed view reads as NULL (unreadable), and the
-- smallest such value; 'unknown field': a member the catalog does not name; 'unknown event': a
-- name the catalog does not have. Filter on created_date: each branch scans those days' payloads.
CREATE OR REPLACE VIEW {q}{VIEW} AS
WITH unique_events AS (
  SELECT created_date, event_name, payload
  FROM (\n    SELECT *, {window} AS row_in_key\n    FROM {q}{table_name}\n  ) AS numbered
  WHERE row_in_key = 1
), catalog_values AS (\n{catalog_values}
), kinds AS (
  SELECT created_date, event_name, field, expected_kind, expected_type, value, readable, {kind} AS got_kind
  FROM catalog_values
), unknown_values AS (\n{unknown_values}
), unknown_counts AS (
  SELECT created_date, event_name, field, count(*) AS present, count(CASE WHEN value <> 'null' THEN 1 END) AS carrying, min(value) AS example
  FROM unknown_values
  GROUP BY created_date, event_name, field
)
SELECT created_date, event_name, {catalog_field} AS finding, field, expected_type,
  count(*) AS events,
  count(CASE WHEN got_kind IS NOT NULL THEN 1 END) AS carrying,
  count(CASE WHEN {wrong} THEN 1 END) AS wrong_kind,
  count(CASE WHEN {unreadable} THEN 1 END) AS unreadable,
  min(CASE WHEN {wrong} OR ({unreadable}) THEN value END) AS example
FROM kinds
GROUP BY created_date, event_name, field, expected_type
UNION ALL
SELECT created_date, event_name, {unknown_field} AS finding, field, CAST(NULL AS VARCHAR) AS expected_type,
  events,
  carrying,
  CAST(NULL AS BIGINT) AS wrong_kind,
  CAST(NULL AS BIGINT) AS unreadable,
  example
FROM (
  SELECT created_date, event_name, field, carrying, example,
    max(CASE WHEN field = '' THEN present END) OVER (PARTITION BY created_date, event_name) AS events
  FROM unknown_counts
) AS counted
WHERE field <> ''
UNION ALL
SELECT created_date, event_name, {unknown_event} AS finding, CAST(NULL AS VARCHAR) AS field, CAST(NULL AS VARCHAR) AS expected_type,
  count(*) AS events,
  CAST(NULL AS BIGINT) AS carrying,
  CAST(NULL AS BIGINT) AS wrong_kind,
  CAST(NULL AS BIGINT) AS unreadable,
  CAST(NULL AS VARCHAR) AS example
FROM unique_events
WHERE event_name NOT IN ({names})
GROUP BY created_date, event_name;\n",
        window = table.duplicates.window_sql(),
        table_name = table.name,
        kind = kind_of("value"),
        catalog_field = quote(CATALOG_FIELD),
        unknown_field = quote(UNKNOWN_FIELD),
        unknown_event = quote(UNKNOWN_EVENT),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Athena's limit on a query string, which a `CREATE VIEW` is: 262,144 bytes, not
    /// adjustable (AWS Knowledge Center, "athena-query-string-length":
    /// https://repost.aws/knowledge-center/athena-query-string-length).
    const ATHENA_QUERY_STRING_MAX: usize = 262_144;

    #[test]
    fn the_view_fits_in_one_athena_query_string() {
        let sql = view(Table::embedded(), Catalog::embedded(), Dialect::Athena);
        assert!(
            sql.len() < ATHENA_QUERY_STRING_MAX / 2,
            "{} bytes: half of Athena's limit is the margin for a catalog twice this size",
            sql.len()
        );
    }

    #[test]
    fn every_catalog_field_is_read_with_its_typed_views_expression() {
        for dialect in [Dialect::Athena, Dialect::Local] {
            let sql = view(Table::embedded(), Catalog::embedded(), dialect);
            for e in Catalog::embedded().events() {
                for f in &e.fields {
                    let expr = field_expression_in(dialect, &f.name, &f.hive_type());
                    assert!(
                        sql.contains(&format!("{expr} IS NOT NULL")),
                        "{dialect:?} {} {}",
                        e.name,
                        f.name
                    );
                }
            }
        }
    }

    #[test]
    fn the_kind_rule_is_the_catalogs() {
        // One expected kind against each kind that can come: the SQL says "wrong" exactly
        // where `JsonKind::accepts` says no.
        let sql = wrong_kind("e", "g");
        for e in JsonKind::ALL {
            let clause = format!("(e = '{}' AND g IN (", e.name());
            let start = sql.find(&clause).expect("a clause per kind") + clause.len();
            let listed = &sql[start..start + sql[start..].find(')').unwrap()];
            for g in JsonKind::ALL {
                assert_eq!(listed.contains(&format!("'{}'", g.name())), e.accepts(g), "{e:?} {g:?}");
            }
        }
    }
}
