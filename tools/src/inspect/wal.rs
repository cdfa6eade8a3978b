//! `wal`: the segments, frames and records of a write-ahead log, and the txns of its entries.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use corral_engine::types::WriteOp;
use corral_wal::scan::{RecordKind, ScannedRecord, SegmentEnd};

use super::args::{one_positional, parse, Parsed};
use super::format::txn_lines;
use super::layout::{list_snapshots, wal_dir};
use super::log::{decode_entry, EntryContent, LogScan, RecordAt};
use super::snapshots::load;
use super::{Failure, Status};

/// `wal DIR [--records] [--txns]`; DIR is the data log dir or its `wal/` subdirectory.
pub fn wal_command(args: &[String], out: &mut dyn Write) -> Result<Status, Failure> {
    let parsed = parse(args, &["--records", "--txns"], &[]).map_err(Failure::Usage)?;
    let given = PathBuf::from(one_positional(&parsed, "DIR")?);
    if !given.is_dir() {
        return Err(Failure::Io(format!("{}: not a directory", given.display())));
    }
    let dir = wal_dir(&given);
    let log = LogScan::read(&dir).map_err(Failure::Io)?;
    let mut printer = Printer::new(&log, &parsed);
    if printer.txns {
        if let Some(anchor) = zxid_anchor(&log, &snapshot_candidates(&given, &dir)) {
            printer.zxids = zxids_before_entries(&log, anchor);
        }
    }
    printer.print(out)?;
    print_summary(&log, out)?;
    Ok(if log.problems.is_empty() {
        Status::Ok
    } else {
        Status::Problems
    })
}

/// Where the snapshots of this log may be, to learn the zxid its entries start from: next to
/// `wal/` when DIR was the data dir, else beside DIR.
fn snapshot_candidates(given: &Path, dir: &Path) -> Vec<PathBuf> {
    let base = if dir != given {
        Some(given)
    } else {
        dir.parent()
    };
    base.map(|base| vec![base.join("snapshots")])
        .unwrap_or_default()
}

/// A point where the zxid is known: 0 before entry 1, else a snapshot's last zxid at an index
/// within the log (or just before it). `None`: the files do not say.
fn zxid_anchor(log: &LogScan, snapshot_dirs: &[PathBuf]) -> Option<(u64, i64)> {
    let (first, last) = (log.first_index()?, log.last_index()?);
    if first == 1 {
        return Some((0, 0));
    }
    for dir in snapshot_dirs {
        let Ok(listing) = list_snapshots(dir) else {
            continue;
        };
        for file in listing.snapshots {
            if file.index + 1 >= first && file.index <= last {
                if let Ok(loaded) = load(&file.path) {
                    return Some((loaded.index, loaded.state.last_zxid()));
                }
            }
        }
    }
    None
}

/// The zxid before the first txn of each entry in effect whose zxids the anchor (an index and
/// the zxid after it) determines: counted forward after it and backward before it, through
/// entries that all decode. Sync takes no zxid; every other txn takes one, failed ones too.
fn zxids_before_entries(log: &LogScan, anchor: (u64, i64)) -> HashMap<RecordAt, i64> {
    let counts: Vec<(u64, Option<i64>)> = log
        .entries
        .iter()
        .map(|&at| {
            let record = log.record(at);
            let count = match decode_entry(&record.payload) {
                Ok(EntryContent::Txns(txns)) => Some(
                    txns.iter()
                        .filter(|txn| !matches!(txn.op, WriteOp::Sync { .. }))
                        .count() as i64,
                ),
                Ok(EntryContent::Empty | EntryContent::ConfChange) => Some(0),
                Err(_) => None,
            };
            (record.index, count)
        })
        .collect();
    let mut known = HashMap::new();
    let mut zxid = Some(anchor.1);
    for (position, (index, count)) in counts.iter().enumerate() {
        if *index <= anchor.0 {
            continue;
        }
        if let Some(before) = zxid {
            known.insert(log.entries[position], before);
        }
        zxid = zxid.zip(*count).map(|(zxid, count)| zxid + count);
    }
    let mut zxid = Some(anchor.1);
    for (position, (index, count)) in counts.iter().enumerate().rev() {
        if *index > anchor.0 {
            continue;
        }
        zxid = zxid.zip(*count).map(|(zxid, count)| zxid - count);
        if let Some(before) = zxid {
            known.insert(log.entries[position], before);
        }
    }
    known
}

struct Printer<'a> {
    log: &'a LogScan,
    records: bool,
    txns: bool,
    superseded: HashSet<RecordAt>,
    /// The zxid before each entry's first txn, where the log determines it.
    zxids: HashMap<RecordAt, i64>,
}

impl<'a> Printer<'a> {
    fn new(log: &'a LogScan, parsed: &Parsed) -> Printer<'a> {
        Printer {
            log,
            records: parsed.flag("--records") || parsed.flag("--txns"),
            txns: parsed.flag("--txns"),
            superseded: log.superseded.iter().copied().collect(),
            zxids: HashMap::new(),
        }
    }

    fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for (segment_at, segment) in self.log.segments.iter().enumerate() {
            writeln!(
                out,
                "segment {} bytes={} frames={} end={} {}",
                segment.sequence,
                segment.bytes,
                segment.frames.len(),
                end_text(&segment.end),
                segment.path.display()
            )?;
            for (frame_at, frame) in segment.frames.iter().enumerate() {
                writeln!(
                    out,
                    "  frame offset={} records={} bodyBytes={}",
                    frame.offset,
                    frame.records.len(),
                    frame.body_bytes
                )?;
                if !self.records {
                    continue;
                }
                for (record_at, record) in frame.records.iter().enumerate() {
                    let at = RecordAt {
                        segment: segment_at,
                        frame: frame_at,
                        record: record_at,
                    };
                    self.print_record(at, record, out)?;
                }
            }
        }
        Ok(())
    }

    fn print_record(
        &self,
        at: RecordAt,
        record: &ScannedRecord,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        let state = match &record.kind {
            RecordKind::HardState(state) => {
                return writeln!(
                    out,
                    "    record offset={} hardstate term={} vote={} commit={}",
                    record.offset, state.term, state.vote, state.commit
                );
            }
            RecordKind::Entry if self.superseded.contains(&at) => " superseded",
            RecordKind::Entry => "",
        };
        let content = decode_entry(&record.payload);
        let kind = match &content {
            Ok(EntryContent::Empty) => "empty".to_string(),
            Ok(EntryContent::ConfChange) => "confchange".to_string(),
            Ok(EntryContent::Txns(txns)) => format!("txns={}", txns.len()),
            Err(why) => format!("UNDECODABLE ({why})"),
        };
        writeln!(
            out,
            "    record offset={} entry index={} term={} payloadBytes={} {kind}{state}",
            record.offset,
            record.index,
            record.term,
            record.payload.len()
        )?;
        let (true, Ok(EntryContent::Txns(txns))) = (self.txns, content) else {
            return Ok(());
        };
        let mut zxid = self.zxids.get(&at).copied();
        for txn in &txns {
            let shown = match (&txn.op, zxid.as_mut()) {
                (WriteOp::Sync { .. }, _) | (_, None) => None,
                (_, Some(counter)) => {
                    *counter += 1;
                    Some(*counter)
                }
            };
            for line in txn_lines(txn, shown, "      ") {
                writeln!(out, "{line}")?;
            }
        }
        Ok(())
    }
}

fn end_text(end: &SegmentEnd) -> String {
    match end {
        SegmentEnd::Clean => "clean".to_string(),
        SegmentEnd::Sealed => "sealed".to_string(),
        SegmentEnd::TornTail { offset, bytes } => {
            format!("torn-tail offset={offset} bytes={bytes}")
        }
        SegmentEnd::Corrupt { offset, reason } => {
            format!("CORRUPT offset={offset} ({reason})")
        }
    }
}

fn print_summary(log: &LogScan, out: &mut dyn Write) -> std::io::Result<()> {
    match (log.first_index(), log.last_index()) {
        (Some(first), Some(last)) => writeln!(
            out,
            "entries {first}..{last} ({} in effect, {} superseded)",
            log.entries.len(),
            log.superseded.len()
        )?,
        _ => writeln!(out, "no entries")?,
    }
    if let Some(state) = log.hard_state {
        writeln!(
            out,
            "hard state term={} vote={} commit={}",
            state.term, state.vote, state.commit
        )?;
    }
    if let Some(torn) = &log.torn_tail {
        writeln!(
            out,
            "torn tail {} at offset {}: {} bytes (recovery zeroes them)",
            torn.path.display(),
            torn.offset,
            torn.bytes
        )?;
    }
    for problem in &log.problems {
        writeln!(out, "CORRUPT {problem}")?;
    }
    Ok(())
}
