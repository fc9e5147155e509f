//! Where events come from (generated, a file, a live pipe) and how they are grouped into calls.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::calls::Shared;
use super::pacing::due;
use super::records::{max_batch_events, Batch, Packer, Record};
use super::Source;
use crate::CliError;

/// How long a quiet input may leave events buffered before they are sent anyway.
pub(super) const IDLE_FLUSH: Duration = Duration::from_millis(200);

/// One step of reading the source.
pub(super) enum NextEvent {
    /// The next event.
    Event(String),
    /// Nothing arrived for [`IDLE_FLUSH`] ([`Source::Live`] only).
    Idle,
    /// The source is exhausted.
    End,
}

/// The events of a [`Source`]. Generated events are made on demand, just before they are
/// sent, so their `created_at` is the sending time.
pub(super) enum EventSource {
    Generated(crate::generate::Generator<'static>),
    Lines(std::io::Lines<Box<dyn std::io::BufRead + Send>>),
    Live(std::sync::mpsc::Receiver<std::io::Result<String>>),
}

impl EventSource {
    pub(super) fn new(source: Source) -> EventSource {
        match source {
            Source::Generated(options) => EventSource::Generated(crate::generate::Generator::new(
                eventlake_glue_schema::Catalog::embedded(),
                options,
            )),
            Source::Lines(reader) => EventSource::Lines(std::io::BufRead::lines(reader)),
            Source::Live(reader) => {
                let (tx, rx) = std::sync::mpsc::sync_channel(4096);
                std::thread::spawn(move || {
                    for line in std::io::BufRead::lines(reader) {
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                });
                EventSource::Live(rx)
            }
        }
    }

    /// The next non-blank line or generated event.
    pub(super) fn next(&mut self) -> Result<NextEvent, CliError> {
        let read_error = |source| CliError::ReadInput {
            path: PathBuf::from("--input"),
            source,
        };
        loop {
            let line = match self {
                EventSource::Generated(g) => return Ok(g.next().map_or(NextEvent::End, NextEvent::Event)),
                EventSource::Lines(lines) => match lines.next() {
                    Some(line) => line.map_err(read_error)?,
                    None => return Ok(NextEvent::End),
                },
                EventSource::Live(rx) => match rx.recv_timeout(IDLE_FLUSH) {
                    Ok(line) => line.map_err(read_error)?,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => return Ok(NextEvent::Idle),
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(NextEvent::End),
                },
            };
            if !line.trim().is_empty() {
                return Ok(NextEvent::Event(line));
            }
        }
    }
}

/// The reader: events from the source → records → paced batches for the workers.
pub(super) fn read_batches(
    source: Source,
    shared: &Shared,
    interrupt: &AtomicBool,
    started: Instant,
    tx: tokio::sync::mpsc::Sender<Batch>,
) -> Result<(), CliError> {
    let options = &shared.options;
    let mut source = EventSource::new(source);
    let max_events = max_batch_events(options.rate, options.pack);
    let mut packer = Packer::new(options.pack);
    let mut batch = Batch::default();
    let mut queued: u64 = 0;
    let mut send = |batch: Batch| -> bool {
        queued += batch.events as u64;
        let at = due(started, queued, options.rate);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        tx.blocking_send(batch).is_ok()
    };
    // Adds a record to the open batch, sending the batch first when the record does not fit;
    // false when the workers are gone.
    let enqueue = |batch: &mut Batch, record: Record, send: &mut dyn FnMut(Batch) -> bool| -> bool {
        if !batch.fits(&record, max_events) && !send(std::mem::take(batch)) {
            return false;
        }
        batch.push(record);
        true
    };
    let mut read: u64 = 0;
    let stop = || {
        interrupt.load(Ordering::SeqCst)
            || shared.stop.load(Ordering::SeqCst)
            || options.duration.is_some_and(|d| started.elapsed() >= d)
    };
    loop {
        if options.events.is_some_and(|n| read >= n) || stop() {
            break;
        }
        let event = match source.next()? {
            NextEvent::Event(event) => event,
            NextEvent::End => break,
            NextEvent::Idle => {
                // A quiet input (a pipe): send what is buffered instead of waiting for more.
                if let Some(record) = packer.finish() {
                    if !enqueue(&mut batch, record, &mut send) {
                        break;
                    }
                }
                if !batch.records.is_empty() && !send(std::mem::take(&mut batch)) {
                    break;
                }
                continue;
            }
        };
        read += 1;
        shared.progress.read.store(read, Ordering::Relaxed);
        let record = match packer.push(event) {
            Ok(Some(record)) => record,
            Ok(None) => continue,
            Err(unsendable) => {
                shared.fail_record(
                    &Record {
                        data: unsendable.event.into_bytes(),
                        partition_key: String::new(),
                        events: 1,
                    },
                    &unsendable.reason,
                )?;
                continue;
            }
        };
        if !enqueue(&mut batch, record, &mut send) {
            break;
        }
    }
    if interrupt.load(Ordering::SeqCst) {
        shared.stop.store(true, Ordering::SeqCst);
    }
    if let Some(record) = packer.finish() {
        if !enqueue(&mut batch, record, &mut send) {
            return Ok(());
        }
    }
    if !batch.records.is_empty() {
        send(batch);
    }
    Ok(())
}
