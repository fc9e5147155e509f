use super::*;

fn event(uuid: &str, filler: usize) -> String {
    format!(
        r#"{{"event_uuid":"{uuid}","event_name":"a:b:c","created_at":1,"x":"{}"}}"#,
        "y".repeat(filler)
    )
}

#[test]
fn partition_key_is_the_uuid_or_the_position() {
    assert_eq!(partition_key(&event("u-1", 0), 7), "u-1");
    assert_eq!(partition_key("not json", 7), "7");
    assert_eq!(partition_key(r#"{"event_uuid":""}"#, 8), "8");
    assert_eq!(partition_key(r#"{"event_uuid":12}"#, 9), "9");
    let long = "u".repeat(257);
    assert_eq!(partition_key(&format!(r#"{{"event_uuid":"{long}"}}"#), 10), "10");
}

#[test]
fn pack_one_makes_one_record_per_event() {
    let mut p = Packer::new(1);
    let r = p.push(event("a", 0)).unwrap().unwrap();
    assert_eq!((r.events, r.partition_key.as_str()), (1, "a"));
    assert_eq!(r.data, event("a", 0).into_bytes());
    assert_eq!(p.finish(), None);
}

#[test]
fn packs_up_to_n_events_separated_by_newlines() {
    let mut p = Packer::new(3);
    assert_eq!(p.push(event("a", 0)).unwrap(), None);
    assert_eq!(p.push(event("b", 0)).unwrap(), None);
    let r = p.push(event("c", 0)).unwrap().unwrap();
    assert_eq!(r.events, 3);
    assert_eq!(r.partition_key, "a");
    let lines: Vec<_> = r
        .event_lines()
        .map(|l| String::from_utf8(l.to_vec()).unwrap())
        .collect();
    assert_eq!(lines, [event("a", 0), event("b", 0), event("c", 0)]);
    assert_eq!(p.push(event("d", 0)).unwrap(), None);
    assert_eq!(p.finish().unwrap().events, 1);
}

#[test]
fn a_record_never_exceeds_one_mib() {
    let mut p = Packer::new(500);
    let big = 400 * 1024;
    assert_eq!(p.push(event("a", big)).unwrap(), None);
    assert_eq!(p.push(event("b", big)).unwrap(), None);
    // The third does not fit: the first two leave as a record, the third starts the next.
    let r = p.push(event("c", big)).unwrap().unwrap();
    assert_eq!(r.events, 2);
    assert!(r.size() <= MAX_RECORD_BYTES);
    assert_eq!(p.finish().unwrap().partition_key, "c");
}

#[test]
fn an_event_too_large_for_any_record_comes_back_with_a_reason() {
    let mut p = Packer::new(1);
    let e = p.push(event("a", MAX_RECORD_BYTES)).unwrap_err();
    assert!(e.reason.contains("at most 1048576 bytes"), "{}", e.reason);
    assert!(e.event.starts_with(r#"{"event_uuid":"a""#));
}

#[test]
fn batches_respect_the_call_limits() {
    let small = Record {
        data: vec![b'x'; 10],
        partition_key: "k".into(),
        events: 1,
    };
    let mut b = Batch::default();
    for _ in 0..MAX_RECORDS_PER_CALL {
        assert!(b.fits(&small, usize::MAX));
        b.push(small.clone());
    }
    assert!(!b.fits(&small, usize::MAX), "501st record");

    let big = Record {
        data: vec![b'x'; MAX_RECORD_BYTES - 1],
        partition_key: "k".into(),
        events: 1,
    };
    let mut b = Batch::default();
    for _ in 0..5 {
        assert!(b.fits(&big, usize::MAX));
        b.push(big.clone());
    }
    assert!(!b.fits(&small, usize::MAX) || b.bytes + small.size() <= MAX_BYTES_PER_CALL);
    assert!(!b.fits(&big, usize::MAX), "over 5 MiB");

    let mut b = Batch::default();
    b.push(small.clone());
    assert!(!b.fits(&small, 1), "event cap");
}

#[test]
fn pacing_spreads_batches_over_time() {
    assert_eq!(max_batch_events(None, 1), 500);
    assert_eq!(max_batch_events(None, 10), 5000);
    assert_eq!(max_batch_events(Some(1000.0), 1), 50);
    assert_eq!(max_batch_events(Some(5.0), 1), 1);
    assert_eq!(max_batch_events(Some(1e9), 2), 1000);
    let t = Instant::now();
    assert_eq!(due(t, 500, Some(1000.0)), t + Duration::from_millis(500));
    assert_eq!(due(t, 500, None), t);
}

#[test]
fn backoff_grows_to_the_cap_with_jitter() {
    let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), 1);
    for attempt in 1..40 {
        let ceiling = Duration::from_millis(100 * (1u64 << (attempt - 1).min(20))).min(Duration::from_secs(2));
        let d = b.delay(attempt);
        assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
    }
    let many: Vec<_> = (0..50).map(|_| b.delay(10)).collect();
    assert!(
        many.iter().any(|d| *d > Duration::from_secs(1)),
        "jitter spans the range"
    );
    assert!(many.iter().any(|d| *d < Duration::from_secs(1)));
}

#[test]
fn latency_percentiles_use_nearest_rank() {
    let l = Latencies::of((1..=100).map(|ms| ms * 1000).collect());
    assert_eq!((l.calls, l.p50, l.p90, l.p99, l.max), (100, 50.0, 90.0, 99.0, 100.0));
    assert_eq!(Latencies::of(vec![]), Latencies::default());
    assert_eq!(Latencies::of(vec![2500]).p99, 2.5);
}
