//! The committed Athena SQL and docs/events.md match table.json and catalog.json, and every
//! typed view extracts every catalog field with the right cast.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use eventlake_glue_schema::athena::{self, field_expression, SqlFile};
use eventlake_glue_schema::{Catalog, HiveType, Table};

fn athena_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("athena")
}

fn generated() -> Vec<SqlFile> {
    athena::generate(Table::embedded(), Catalog::embedded())
}

#[test]
fn committed_sql_and_docs_match_the_schema_and_catalog() {
    let files = generated();
    let dir = athena_dir();
    for f in &files {
        let committed = std::fs::read_to_string(dir.join(&f.path))
            .unwrap_or_else(|_| panic!("{} is missing: run `just schema`", f.path));
        assert!(
            committed == f.text,
            "{} differs from what table.json and catalog.json generate: run `just schema`",
            f.path
        );
    }
    let expected: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
    let existing: BTreeSet<String> = athena::existing_sql_files(&dir).unwrap().into_iter().collect();
    let stale: Vec<_> = existing.difference(&expected).cloned().collect();
    assert!(
        stale.is_empty(),
        "files no longer generated (run `just schema`): {stale:?}"
    );
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/events.md");
    let committed = std::fs::read_to_string(docs).expect("docs/events.md exists: run `just schema`");
    assert!(
        committed == athena::events_markdown(Catalog::embedded()),
        "docs/events.md is stale: run `just schema`"
    );
}

// Every committed statement is parsed as Athena SQL by sqlglot's `athena` dialect
// (`glue-schema/check_athena_sql.py`, `just sql-check`); the test above keeps the committed
// files equal to what the generator writes, so that covers the generator too.

#[test]
fn typed_views_extract_every_field_with_its_cast() {
    let table = Table::embedded();
    let catalog = Catalog::embedded();
    for e in catalog.events() {
        let sql = athena::typed_view(table, e);
        for f in &e.fields {
            let expr = field_expression(&f.name, &f.hive_type());
            assert!(
                sql.contains(&format!("{expr} AS \"{}\"", f.name)),
                "{}: field {} missing",
                e.name,
                f.name
            );
            let want = match f.hive_type() {
                HiveType::String => format!("json_extract_scalar(payload, '$.{}')", f.name),
                HiveType::BigInt => format!("TRY_CAST(json_extract_scalar(payload, '$.{}') AS BIGINT)", f.name),
                HiveType::Int => format!("TRY_CAST(json_extract_scalar(payload, '$.{}') AS INTEGER)", f.name),
                HiveType::Double => format!("TRY_CAST(json_extract_scalar(payload, '$.{}') AS DOUBLE)", f.name),
                HiveType::Boolean => format!("TRY_CAST(json_extract_scalar(payload, '$.{}') AS BOOLEAN)", f.name),
                HiveType::Date => format!("TRY_CAST(json_extract_scalar(payload, '$.{}') AS DATE)", f.name),
                HiveType::Decimal { precision, scale } => {
                    format!("TRY_CAST(json_extract_scalar(payload, '$.{}') AS DECIMAL({precision},{scale}))", f.name)
                }
                HiveType::Timestamp => format!(
                    "TRY(CAST(from_iso8601_timestamp(json_extract_scalar(payload, '$.{}')) AT TIME ZONE 'UTC' AS TIMESTAMP))",
                    f.name
                ),
                HiveType::Array(el) if *el == HiveType::String => {
                    format!("TRY_CAST(json_extract(payload, '$.{}') AS ARRAY(VARCHAR))", f.name)
                }
                other => panic!("{}: add the expected cast for {other:?} to this test", e.name),
            };
            assert_eq!(expr, want, "{}.{}", e.name, f.name);
        }
        assert!(sql.contains(&format!(
            "WHERE event_type = '{}' AND event_name = '{}'",
            e.name.split(':').next().unwrap(),
            e.name
        )));
        assert!(sql.contains("WHERE row_in_key = 1;"), "{}: deduplicated", e.name);
    }
}

#[test]
fn the_projection_enum_is_the_catalog() {
    let ddl = athena::create_table(Table::embedded(), Catalog::embedded());
    let values = Catalog::embedded().event_type_names().join(",");
    assert!(ddl.contains(&format!("'projection.event_type.values' = '{values}'")));
    for c in Table::embedded()
        .columns
        .iter()
        .chain(&Table::embedded().partition_keys)
    {
        assert!(
            ddl.contains(&format!("  {} {} COMMENT", c.name, c.type_name)),
            "{}",
            c.name
        );
    }
}

#[test]
fn curated_days_are_filled_as_the_shared_cases_say() {
    let cases: serde_json::Value =
        serde_json::from_str(include_str!("../curated-days-cases.json")).expect("cases are JSON");
    let cases = cases["cases"].as_array().expect("cases");
    assert!(cases.len() >= 5);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let days: std::collections::BTreeMap<String, Vec<String>> =
            serde_json::from_value(case["days"].clone()).unwrap();
        let filled = athena::fill_curated_days(case["sql"].as_str().unwrap(), |t| {
            days.get(t).map(Vec::as_slice).unwrap_or_default()
        });
        match (case.get("expected"), case.get("error")) {
            (Some(expected), None) => assert_eq!(filled.unwrap(), expected.as_str().unwrap(), "{name}"),
            (None, Some(day)) => {
                let err = filled.expect_err(name).to_string();
                assert!(err.contains(day.as_str().unwrap()), "{name}: {err}");
            }
            _ => panic!("{name}: a case has `expected` or `error`"),
        }
    }
}

#[test]
fn every_typed_view_lists_its_curated_days_in_one_slot_on_both_sides() {
    let (table, catalog) = (Table::embedded(), Catalog::embedded());
    for e in catalog.events() {
        let sql = athena::typed_view(table, e);
        let event_type = e.name.split(':').next().unwrap();
        let slot = athena::curated_days_slot(event_type);
        assert!(
            sql.contains(&format!("AND created_date IN ({slot})\nUNION ALL")),
            "{}",
            e.name
        );
        assert!(
            sql.contains(&format!("AND created_date NOT IN ({slot})\n)")),
            "{}",
            e.name
        );
        assert_eq!(sql.matches(athena::CURATED_DAYS_SLOT_PREFIX).count(), 2, "{}", e.name);
    }
}
