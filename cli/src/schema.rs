//! `eventlake schema generate`: writes the Athena SQL and `docs/events.md` generated from
//! `glue-schema/table.json` and `catalog.json`; `--check` only reports drift.

use std::path::{Path, PathBuf};

use eventlake_glue_schema::athena;
use eventlake_glue_schema::{Catalog, Table};

use crate::CliError;

/// What `generate` found or did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SchemaReport {
    /// Files written (or, with `check`, that differ).
    pub changed: Vec<PathBuf>,
    /// Generated files that no longer correspond to anything (removed, or reported).
    pub stale: Vec<PathBuf>,
}

/// Generates into `athena_dir` and `docs_file`. With `check`, writes nothing and fails when
/// anything differs.
pub fn generate(athena_dir: &Path, docs_file: &Path, check: bool) -> Result<SchemaReport, CliError> {
    let table = Table::embedded();
    let catalog = Catalog::embedded();
    let mut wanted: Vec<(PathBuf, String)> = athena::generate(table, catalog)
        .into_iter()
        .map(|f| (athena_dir.join(f.path), f.text))
        .collect();
    wanted.push((docs_file.to_path_buf(), athena::events_markdown(catalog)));
    let mut report = SchemaReport::default();
    for (path, text) in &wanted {
        if std::fs::read_to_string(path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        report.changed.push(path.clone());
        if !check {
            let write = |p: &Path| -> std::io::Result<()> {
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(p, text)
            };
            write(path).map_err(|source| CliError::WriteFile {
                path: path.clone(),
                source,
            })?;
        }
    }
    let existing = athena::existing_sql_files(athena_dir).map_err(|source| CliError::ReadInput {
        path: athena_dir.to_path_buf(),
        source,
    })?;
    for rel in existing {
        let path = athena_dir.join(&rel);
        if wanted.iter().any(|(p, _)| *p == path) {
            continue;
        }
        if !check {
            std::fs::remove_file(&path).map_err(|source| CliError::WriteFile {
                path: path.clone(),
                source,
            })?;
        }
        report.stale.push(path);
    }
    if check && (!report.changed.is_empty() || !report.stale.is_empty()) {
        let mut files: Vec<String> = report
            .changed
            .iter()
            .chain(&report.stale)
            .map(|p| p.display().to_string())
            .collect();
        files.truncate(5);
        return Err(CliError::SchemaDrift {
            count: report.changed.len() + report.stale.len(),
            files: files.join(", "),
        });
    }
    Ok(report)
}
