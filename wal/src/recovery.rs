//! Reading the log back at open: validates every frame, rebuilds the entries and the last hard
//! state, and repairs a torn tail so its stale bytes can never be read back as valid later.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use crate::error::WalError;
use crate::format::{decode_frame, decode_frame_header, FramePlace, Record};
use crate::limits::SECTOR_BYTES;
use crate::segment::write_zeros;
use crate::{HardState, LogEntry};

/// Where appends resume after recovery.
pub(crate) struct Tail {
    pub(crate) sequence: u64,
    pub(crate) path: PathBuf,
    pub(crate) write_offset: u64,
    pub(crate) segment_bytes: u64,
}

/// What the log keeps in memory about each segment, to know which ones compaction may delete.
pub(crate) struct SegmentSummary {
    pub(crate) sequence: u64,
    pub(crate) path: PathBuf,
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
    pub(crate) tail: Option<Tail>,
}

/// How one segment ended: frames are valid up to `valid_end`; bytes up to `dirty_end` were
/// discarded as a torn tail (equal when the segment ended cleanly).
struct SegmentEnd {
    valid_end: u64,
    dirty_end: u64,
}

/// Whether an entry at `index` may follow a log whose last index is `last_index` (0: empty log).
/// An index at or below the last replaces the log from there on, as raft requires.
pub(crate) fn index_may_follow(last_index: u64, index: u64) -> bool {
    index >= 1 && (last_index == 0 || index <= last_index + 1)
}

/// Recovers the log from `segments` (in sequence order). `segment_bytes` is the configured size
/// a shortened last segment is zero-filled back up to.
pub(crate) fn recover(
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
        recovery.segments.push(SegmentSummary {
            sequence: *sequence,
            path: path.clone(),
            max_index: None,
        });
        // One segment in memory at a time bounds recovery's buffer to the largest segment.
        let data = std::fs::read(path).map_err(|e| WalError::io(path, 0, e))?;
        let end = scan_segment(&data, *sequence, path, is_last, &mut recovery)?;
        if is_last {
            recovery.truncated_tail_bytes = end.dirty_end - end.valid_end;
            let segment_bytes = repair_tail(path, data.len() as u64, &end, segment_bytes)?;
            recovery.tail = Some(Tail {
                sequence: *sequence,
                path: path.clone(),
                write_offset: end.valid_end,
                segment_bytes,
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
    let mut offset: u64 = 0;
    while offset < data.len() as u64 {
        let place = FramePlace {
            segment_sequence: sequence,
            offset,
        };
        let reason = match decode_frame(data, place) {
            Ok(frame) => {
                for record in &frame.records {
                    apply_record(record, recovery)
                        .map_err(|reason| WalError::corrupt(path, offset, reason))?;
                }
                offset += frame.frame_bytes;
                continue;
            }
            Err(reason) => reason,
        };
        // No valid frame here: this is the end of the segment. It is a clean end if nothing but
        // zeros follows, a torn tail if only the last segment has junk after it, and corruption
        // if anything valid follows (a crash tears only the frame being written, the last one).
        let Some(last_nonzero) = data[offset as usize..].iter().rposition(|&b| b != 0) else {
            return Ok(SegmentEnd {
                valid_end: offset,
                dirty_end: offset,
            });
        };
        if let Some(later) = find_frame_header(data, sequence, offset + SECTOR_BYTES) {
            let reason = format!("{reason}; yet a valid frame follows at offset {later}");
            return Err(WalError::corrupt(path, offset, reason));
        }
        if !is_last {
            let reason = format!("{reason}, in a segment that is not the last");
            return Err(WalError::corrupt(path, offset, reason));
        }
        log::warn!(
            "WAL {}: discarding a torn tail at offset {offset}: {reason}",
            path.display()
        );
        return Ok(SegmentEnd {
            valid_end: offset,
            dirty_end: offset + last_nonzero as u64 + 1,
        });
    }
    Ok(SegmentEnd {
        valid_end: offset,
        dirty_end: offset,
    })
}

/// The first sector boundary at or after `from` holding a valid frame header for this segment.
fn find_frame_header(data: &[u8], sequence: u64, from: u64) -> Option<u64> {
    (from..data.len() as u64)
        .step_by(SECTOR_BYTES as usize)
        .find(|&offset| {
            let place = FramePlace {
                segment_sequence: sequence,
                offset,
            };
            decode_frame_header(data, place).is_ok()
        })
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
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| WalError::io(path, 0, e))?;
    write_zeros(&file, path, end.valid_end, end.dirty_end.min(file_bytes))?;
    write_zeros(&file, path, file_bytes, full_bytes)?;
    file.sync_all()
        .map_err(|e| WalError::io(path, end.valid_end, e))?;
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
