//! `verify`: every checksum of the WAL and the snapshots, every entry decoded, and whether a
//! server would start on the directory.

use std::io::Write;
use std::path::Path;

use super::args::{one_positional, parse};
use super::format::hex;
use super::layout::{list_snapshots, DataLayout, SnapshotListing};
use super::limits::PROBLEMS_PRINT_MAX;
use super::log::{decode_entry, LogScan, Problem};
use super::replay::replay;
use super::snapshots::{check_name, load};
use super::{Failure, Status};

/// `verify DATA_DIR [--log-dir DIR]`.
pub fn verify_command(args: &[String], out: &mut dyn Write) -> Result<Status, Failure> {
    let parsed = parse(args, &[], &["--log-dir"]).map_err(Failure::Usage)?;
    let data_dir = Path::new(one_positional(&parsed, "DATA_DIR")?);
    let layout = DataLayout::new(data_dir, parsed.option("--log-dir").map(Path::new))
        .map_err(Failure::Io)?;
    let listing = list_snapshots(&layout.snapshot_dir).map_err(Failure::Io)?;
    let log = LogScan::read(&layout.wal_dir).map_err(Failure::Io)?;
    let mut problems = log.problems.clone();
    problems.extend(undecodable_entries(&log));
    describe_log(&log, out)?;
    problems.extend(check_snapshots(&listing, out)?);
    if let Some(torn) = &log.torn_tail {
        writeln!(
            out,
            "torn tail {} at offset {}: {} bytes of an unfinished write, which recovery zeroes (not corruption)",
            torn.path.display(),
            torn.offset,
            torn.bytes
        )?;
    }
    for problem in problems.iter().take(PROBLEMS_PRINT_MAX) {
        writeln!(out, "CORRUPT {problem}")?;
    }
    if problems.len() > PROBLEMS_PRINT_MAX {
        writeln!(
            out,
            "... {} more problems",
            problems.len() - PROBLEMS_PRINT_MAX
        )?;
    }
    let starts = would_start(&listing, &log, out)?;
    writeln!(
        out,
        "result: {} problem(s); the server {} start",
        problems.len(),
        if starts { "would" } else { "would NOT" }
    )?;
    Ok(if problems.is_empty() && starts {
        Status::Ok
    } else {
        Status::Problems
    })
}

fn describe_log(log: &LogScan, out: &mut dyn Write) -> std::io::Result<()> {
    let range = match (log.first_index(), log.last_index()) {
        (Some(first), Some(last)) => format!("entries {first}..{last}"),
        _ => "no entries".to_string(),
    };
    let hard_state = log.hard_state.map_or_else(
        || "no hard state".to_string(),
        |state| {
            format!(
                "hard state term={} vote={} commit={}",
                state.term, state.vote, state.commit
            )
        },
    );
    let frames: usize = log
        .segments
        .iter()
        .map(|segment| segment.frames.len())
        .sum();
    writeln!(
        out,
        "wal {}: {} segment(s), {frames} frame(s), {range}, {hard_state}",
        log.dir.display(),
        log.segments.len()
    )?;
    let commit = log.hard_state.map_or(0, |state| state.commit);
    if let Some(last) = log.last_index().filter(|last| *last > commit) {
        writeln!(
            out,
            "entries {}..{last} lie past the recorded commit index: a standalone server commits them when it starts",
            commit + 1
        )?;
    }
    Ok(())
}

/// Every entry in effect must decode, or the server stops at it when applying.
fn undecodable_entries(log: &LogScan) -> Vec<Problem> {
    log.entries
        .iter()
        .filter_map(|&at| {
            let record = log.record(at);
            decode_entry(&record.payload).err().map(|why| Problem {
                path: log.segment_path(at).to_path_buf(),
                offset: Some(record.offset),
                what: format!("entry {}: {why}", record.index),
            })
        })
        .collect()
}

/// Loads every snapshot (every block and the trailer checked, the body decoded).
fn check_snapshots(
    listing: &SnapshotListing,
    out: &mut dyn Write,
) -> Result<Vec<Problem>, Failure> {
    let mut problems = Vec::new();
    for file in &listing.snapshots {
        match load(&file.path).and_then(|loaded| check_name(file, &loaded).map(|()| loaded)) {
            Ok(loaded) => writeln!(
                out,
                "snapshot {} index={} term={} lastZxid={}: valid",
                file.path.display(),
                file.index,
                file.term,
                hex(loaded.state.last_zxid())
            )?,
            Err(problem) => problems.push(problem),
        }
    }
    for path in &listing.unfinished {
        writeln!(
            out,
            "unfinished snapshot {} (deleted at the next start)",
            path.display()
        )?;
    }
    Ok(problems)
}

/// Replays as recovery would and says from what the server would start, or why it would not.
fn would_start(
    listing: &SnapshotListing,
    log: &LogScan,
    out: &mut dyn Write,
) -> Result<bool, Failure> {
    if let Some(problem) = log.problems.first() {
        writeln!(
            out,
            "start: refused, the log is corrupt before its tail ({problem})"
        )?;
        return Ok(false);
    }
    let replayed = match replay(listing, log, None) {
        Ok(replayed) => replayed,
        Err(why) => {
            writeln!(out, "start: refused, {why}")?;
            return Ok(false);
        }
    };
    if let Some(problem) = replayed.problems.first() {
        writeln!(
            out,
            "start: refused, an entry cannot be applied ({problem})"
        )?;
        return Ok(false);
    }
    writeln!(
        out,
        "start: from {} then {} log entries, to entry {} and zxid {}",
        replayed.base.describe(),
        replayed.entries_applied,
        replayed.last_index,
        hex(replayed.state.last_zxid())
    )?;
    Ok(true)
}
