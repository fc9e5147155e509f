//! What the lake commands print: a few readable lines per summary.

use eventlake_lake::{CompactSummary, DeliverySummary};

/// The summary of a replay or re-drive.
pub fn replay(s: &DeliverySummary) -> String {
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let mut out = format!(
        "records in:          {}\n  ok:                {}\n  duplicates dropped: {}\n  rejected:          {}\n",
        s.records,
        s.ok,
        s.dropped,
        s.rejected_total()
    );
    for (code, n) in &s.rejected {
        out.push_str(&format!("    {code}: {n}\n"));
    }
    out.push_str(&format!(
        "  conversion failed: {}\nrows written:        {} in {} Parquet files, {:.1} MB\nerror files:         {}\ninvocations:         {}\ntime:                {:.2} s, {:.0} events/s, {:.1} MB/s\n  transform {:.2} s, convert {:.2} s, Parquet {:.2} s, reading and the rest {:.2} s\n",
        s.conversion_failed,
        s.written.rows,
        s.written.files,
        s.written.bytes as f64 / 1e6,
        s.error_files,
        s.invocations,
        secs,
        s.records as f64 / secs,
        s.bytes_in as f64 / 1e6 / secs,
        s.transform_time.as_secs_f64(),
        s.convert_time.as_secs_f64(),
        s.write_time.as_secs_f64(),
        (s.elapsed.saturating_sub(s.transform_time + s.convert_time + s.write_time)).as_secs_f64(),
    ));
    out
}

/// The summary of a compaction.
pub fn compact(s: &CompactSummary) -> String {
    format!(
        "partitions merged:   {}\nraw:                 {} rows in {} files\ncurated before:      {} rows in {} files\ncurated after:       {} rows in {} files ({} raw rows were duplicates or already curated)\n",
        s.partitions,
        s.raw_rows,
        s.raw_files,
        s.curated_rows_before,
        s.curated_files_before,
        s.curated_rows_after,
        s.curated_files_after,
        (s.raw_rows + s.curated_rows_before).saturating_sub(s.curated_rows_after),
    )
}
