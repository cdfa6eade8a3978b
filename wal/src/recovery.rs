//! Reading the log back at open: validates every frame, rebuilds the entries and the last hard
//! state, and repairs a torn tail so its stale bytes can never be read back as valid later.

use std::path::{Path, PathBuf};

use crate::error::WalError;
use crate::fileio::Files;
use crate::format::Record;
use crate::limits::SECTOR_BYTES;
use crate::scan::{read_segment, ReadEnd};
use crate::segment::{write_zeros, SegmentPosition};
use crate::{HardState, LogEntry};

/// What the log keeps in memory about each segment, to know which ones compaction may delete.
pub(crate) struct SegmentSummary {
    pub(crate) sequence: u64,
    pub(crate) path: PathBuf,
    /// Size of the file, to tell whether it may be recycled as a segment of the usual size.
    pub(crate) bytes: u64,
    /// The highest entry index any record of the segment holds (replaced or not).
    pub(crate) max_index: Option<u64>,
}

pub(crate) struct Recovery {
    pub(crate) entries: Vec<LogEntry>,
    pub(crate) hard_state: Option<HardState>,
    /// The segment holding the latest hard-state record.
    pub(crate) hard_state_sequence: Option<u64>,
    pub(crate) segments: Vec<SegmentSummary>,
    pub(crate) truncated_tail_bytes: u64,
    /// Where appends resume.
    pub(crate) tail: Option<SegmentPosition>,
}

/// How one segment ended: frames are valid up to `valid_end`; bytes up to `dirty_end` were
/// discarded as a torn tail (equal when the segment ended cleanly).
struct SegmentEnd {
    salt: u64,
    valid_end: u64,
    dirty_end: u64,
    sealed: bool,
}

/// Whether an entry at `index` may follow a log whose last index is `last_index` (0: empty log).
/// An index at or below the last replaces the log from there on, as raft requires.
pub(crate) fn index_may_follow(last_index: u64, index: u64) -> bool {
    index >= 1 && (last_index == 0 || index <= last_index + 1)
}

/// Recovers the log from `segments` (in sequence order). `segment_bytes` is the configured size
/// a shortened last segment is zero-filled back up to.
pub(crate) fn recover(
    files: &Files,
    segments: &[(u64, PathBuf)],
    segment_bytes: u64,
) -> Result<Recovery, WalError> {
    let mut recovery = Recovery {
        entries: Vec::new(),
        hard_state: None,
        hard_state_sequence: None,
        segments: Vec::new(),
        truncated_tail_bytes: 0,
        tail: None,
    };
    for (position, (sequence, path)) in segments.iter().enumerate() {
        let is_last = position + 1 == segments.len();
        // One segment in memory at a time bounds recovery's buffer to the largest segment.
        let data = files.read(path)?;
        recovery.segments.push(SegmentSummary {
            sequence: *sequence,
            path: path.clone(),
            bytes: data.len() as u64,
            max_index: None,
        });
        let end = scan_segment(&data, *sequence, path, is_last, &mut recovery)?;
        if is_last {
            recovery.truncated_tail_bytes = end.dirty_end - end.valid_end;
            let segment_bytes = repair_tail(files, path, data.len() as u64, &end, segment_bytes)?;
            recovery.tail = Some(SegmentPosition {
                sequence: *sequence,
                salt: end.salt,
                path: path.clone(),
                segment_bytes,
                write_offset: end.valid_end,
                sealed: end.sealed,
            });
        }
    }
    Ok(recovery)
}

fn scan_segment(
    data: &[u8],
    sequence: u64,
    path: &Path,
    is_last: bool,
    recovery: &mut Recovery,
) -> Result<SegmentEnd, WalError> {
    let reading = read_segment(data, sequence, is_last);
    for (offset, frame) in &reading.frames {
        for record in &frame.records {
            apply_record(record, recovery)
                .map_err(|reason| WalError::corrupt(path, *offset, reason))?;
        }
    }
    let salt = match (&reading.end, reading.header) {
        (ReadEnd::Corrupt { at, reason }, _) => {
            return Err(WalError::corrupt(path, *at, reason.clone()))
        }
        (_, Some(header)) => header.salt,
        (_, None) => unreachable!("an unreadable header is reported as corruption"),
    };
    let end = |valid_end, dirty_end, sealed| SegmentEnd {
        salt,
        valid_end,
        dirty_end,
        sealed,
    };
    match reading.end {
        ReadEnd::Clean { at } => Ok(end(at, at, false)),
        ReadEnd::Sealed { at } => Ok(end(at, at, true)),
        ReadEnd::Torn { at, dirty_end } => {
            log::warn!(
                "WAL {}: discarding a torn tail of {} bytes at offset {at}",
                path.display(),
                dirty_end - at
            );
            Ok(end(at, dirty_end, false))
        }
        ReadEnd::Corrupt { .. } => unreachable!("handled above"),
    }
}

fn apply_record(record: &Record<'_>, recovery: &mut Recovery) -> Result<(), String> {
    let summary = recovery
        .segments
        .last_mut()
        .expect("a summary per scanned segment");
    match *record {
        Record::HardState(hard_state) => {
            recovery.hard_state = Some(hard_state);
            recovery.hard_state_sequence = Some(summary.sequence);
        }
        Record::Entry {
            index,
            term,
            payload,
        } => {
            summary.max_index = Some(summary.max_index.map_or(index, |max| max.max(index)));
            let entries = &mut recovery.entries;
            let last_index = entries.last().map_or(0, |entry| entry.index);
            if !index_may_follow(last_index, index) {
                return Err(format!("entry {index} cannot follow entry {last_index}"));
            }
            // Entries are contiguous, so the entry with `index` sits at `index - first`.
            if let Some(first) = entries.first().map(|entry| entry.index) {
                let keep = index.saturating_sub(first) as usize;
                entries.truncate(keep);
            }
            entries.push(LogEntry {
                index,
                term,
                payload: payload.to_vec(),
            });
        }
    }
    Ok(())
}

/// Zeroes the discarded tail and restores a shortened segment to its full preallocated size;
/// returns the segment's size afterwards.
fn repair_tail(
    files: &Files,
    path: &Path,
    file_bytes: u64,
    end: &SegmentEnd,
    segment_bytes: u64,
) -> Result<u64, WalError> {
    let full_bytes = file_bytes.div_ceil(SECTOR_BYTES).max(1) * SECTOR_BYTES;
    let full_bytes = full_bytes.max(segment_bytes).max(end.valid_end);
    if end.dirty_end == end.valid_end && file_bytes == full_bytes {
        return Ok(full_bytes);
    }
    let file = files
        .open_write(path, 0)
        .map_err(|e| WalError::io(path, 0, e))?;
    write_zeros(
        files,
        &file,
        path,
        end.valid_end,
        end.dirty_end.min(file_bytes),
    )?;
    write_zeros(files, &file, path, file_bytes, full_bytes)?;
    files.sync_all(&file, path)?;
    Ok(full_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_may_follow_allows_next_and_replacement_but_not_gaps() {
        assert!(index_may_follow(0, 1));
        assert!(index_may_follow(0, 17));
        assert!(!index_may_follow(0, 0));
        assert!(index_may_follow(5, 6));
        assert!(index_may_follow(5, 5));
        assert!(index_may_follow(5, 1));
        assert!(!index_may_follow(5, 7));
    }
}
