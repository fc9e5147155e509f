//! What the lake commands print: a few readable lines per summary.

use eventlake_lake::{
    CompactSummary, DeliverySummary, Manifest, RedriveManifest, Redriven, ReplayOptions, ReplayState, Replayed,
};

/// What a replay did, and what the lake holds now: its summary, then whether it resumed an
/// interrupted run, was interrupted itself (and how to finish it), or had nothing to do.
pub fn replayed(r: &Replayed, options: &ReplayOptions) -> String {
    let lake = options.lake.display();
    let input = input_name(&options.input);
    let c = &r.committed;
    if r.state == ReplayState::AlreadyComplete {
        return format!(
            "already replayed: {lake} holds all {} records of {input} ({} rows); nothing changed.\nPass --again to replay it again (its rows are then in the lake twice, until compaction).\n",
            c.lines, r.summary.written.rows
        );
    }
    let mut out = String::new();
    if let Some(from) = &r.resumed {
        out.push_str(&format!(
            "resumed: the lake held the first {} records ({:.1} MB) of {input}; {} objects of the interrupted run removed\n",
            from.lines,
            from.bytes as f64 / 1e6,
            r.removed
        ));
    }
    out.push_str(&replay(&r.summary));
    if r.state == ReplayState::Interrupted {
        out.push_str(&format!(
            "interrupted: {lake} holds the first {} records ({:.1} MB) of {input}, counted above.\nRun the same command again to finish the replay.\n",
            c.lines,
            c.bytes as f64 / 1e6
        ));
    }
    out
}

/// A replay's input as messages name it.
fn input_name(input: &str) -> &str {
    match input {
        "-" => "stdin",
        path => path,
    }
}

/// After a replay failed: what of it the lake holds (from its manifest), and how to resume.
pub fn committed_account(m: &Manifest, options: &ReplayOptions) -> String {
    let lake = options.lake.display();
    let input = input_name(&m.input);
    if m.committed.lines == 0 {
        return format!(
            "the replay stopped before its first checkpoint: nothing of {input} is in {lake} (what it wrote is removed when the same command runs again)\n"
        );
    }
    format!(
        "the replay stopped: {lake} holds the first {} records ({:.1} MB) of {input}: {} rows in {} Parquet files, {} rejected, {} conversion failures; fix the cause and run the same command again to resume\n",
        m.committed.lines,
        m.committed.bytes as f64 / 1e6,
        m.summary.written.rows,
        m.summary.written.files,
        m.summary.rejected_total(),
        m.summary.conversion_failed,
    )
}

/// What a re-drive did: its summary, and when interrupted, how far it got and how to finish.
pub fn redriven(r: &Redriven, errors: &std::path::Path, options: &ReplayOptions) -> String {
    let mut out = replay(&r.summary);
    if r.state == ReplayState::Interrupted {
        out.push_str(&format!(
            "interrupted: {} of the {} error objects of {} are re-driven into {} (counted above, and renamed .redriven).\nRun the same command again to finish the re-drive.\n",
            r.done,
            r.objects,
            errors.display(),
            options.lake.display()
        ));
    }
    out
}

/// After a re-drive failed: what of it the lake holds (from its manifest), and how to resume.
pub fn redrive_account(m: &RedriveManifest, options: &ReplayOptions) -> String {
    format!(
        "the re-drive stopped: {} of the {} error objects of {} are re-driven into {}: {} rows in {} Parquet files, {} rejected again, {} conversion failures; fix the cause and run the same command again to resume\n",
        m.done,
        m.sources.len(),
        m.errors,
        options.lake.display(),
        m.summary.written.rows,
        m.summary.written.files,
        m.summary.rejected_total(),
        m.summary.conversion_failed,
    )
}

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
    if s.field_drift > 0 {
        out.push_str(&format!(
            "  field drift:       {} of the ok records carry a catalog field in another JSON kind (delivered; the typed views may read NULL)\n",
            s.field_drift
        ));
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

/// `n` with `,` between groups of three digits: `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod thousands_tests {
    #[test]
    fn groups_of_three() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}
