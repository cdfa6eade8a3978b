//! A read-only walk over the whole log for tools (corral-inspect): no lock, no repair, no
//! deletion of leftovers. Where recovery would fail or repair, the scan reports what it found and
//! goes on, so a damaged log can still be looked at.
//!
//! Recovery (`recovery.rs`) reads segments through the same `read_segment`, so the two can
//! never disagree on where a segment's valid frames end or why.

use std::path::{Path, PathBuf};

use crate::error::WalError;
use crate::format::{
    damaged_frame_bytes, decode_frame, decode_frame_header, decode_segment_header, DecodedFrame,
    FramePlace, Record, SegmentHeader,
};
use crate::limits::SECTOR_BYTES;
use crate::segment::list_segment_files;
use crate::HardState;

/// One record of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedRecord {
    pub kind: RecordKind,
    /// The entry's index and term; 0 for a hard-state record.
    pub index: u64,
    pub term: u64,
    /// The record's payload bytes (a hard state's are its 24 encoded bytes).
    pub payload: Vec<u8>,
    /// File offset of the record's header.
    pub offset: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    Entry,
    HardState(HardState),
}

/// One valid frame (one `append`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedFrame {
    /// File offset of the frame header.
    pub offset: u64,
    /// Bytes of the records, sector padding excluded.
    pub body_bytes: u32,
    pub records: Vec<ScannedRecord>,
}

/// How a segment's run of valid frames ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentEnd {
    /// Only zeros (or, in a recycled segment, stale bytes of its earlier use) follow.
    Clean,
    /// The segment ends with its seal: the log went on in the next segment.
    Sealed,
    /// The last segment ends with `bytes` bytes of a torn write at `offset`; recovery would
    /// zero them.
    TornTail { offset: u64, bytes: u64 },
    /// Bytes no crash explains; recovery would refuse the log with this offset and reason.
    Corrupt { offset: u64, reason: String },
}

/// One segment file as found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedSegment {
    pub path: PathBuf,
    pub sequence: u64,
    /// File size.
    pub bytes: u64,
    pub frames: Vec<ScannedFrame>,
    pub end: SegmentEnd,
}

/// Every segment of `dir`, oldest first, without changing anything. Fails only when the
/// directory or a segment cannot be read; damage is reported in each segment's `end`. A gap in
/// the sequences (which recovery calls corruption) shows as a jump in `sequence`.
pub fn scan_dir(dir: &Path) -> Result<Vec<ScannedSegment>, WalError> {
    let files = list_segment_files(dir)?;
    let mut scanned = Vec::with_capacity(files.len());
    for (position, (sequence, path)) in files.iter().enumerate() {
        let is_last = position + 1 == files.len();
        let data = std::fs::read(path).map_err(|e| WalError::io(path, 0, e))?;
        let reading = read_segment(&data, *sequence, is_last);
        let frames = reading
            .frames
            .iter()
            .map(|(offset, frame)| scanned_frame(*offset, frame))
            .collect();
        let end = match reading.end {
            ReadEnd::Clean { .. } => SegmentEnd::Clean,
            ReadEnd::Sealed { .. } => SegmentEnd::Sealed,
            ReadEnd::Torn { at, dirty_end } => SegmentEnd::TornTail {
                offset: at,
                bytes: dirty_end - at,
            },
            ReadEnd::Corrupt { at, reason } => SegmentEnd::Corrupt { offset: at, reason },
        };
        scanned.push(ScannedSegment {
            path: path.clone(),
            sequence: *sequence,
            bytes: data.len() as u64,
            frames,
            end,
        });
    }
    Ok(scanned)
}

fn scanned_frame(offset: u64, frame: &DecodedFrame<'_>) -> ScannedFrame {
    let records = frame
        .records
        .iter()
        .zip(&frame.record_offsets)
        .map(|(record, &record_offset)| {
            let (kind, index, term, payload) = match *record {
                Record::Entry {
                    index,
                    term,
                    payload,
                } => (RecordKind::Entry, index, term, payload.to_vec()),
                Record::HardState(hard_state) => (
                    RecordKind::HardState(hard_state),
                    0,
                    0,
                    crate::format::encode_hard_state(&hard_state).to_vec(),
                ),
            };
            ScannedRecord {
                kind,
                index,
                term,
                payload,
                offset: offset + record_offset,
            }
        })
        .collect();
    ScannedFrame {
        offset,
        body_bytes: frame.body_bytes,
        records,
    }
}

/// Where and how the valid frames of a segment end.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// Nothing but zeros (or stale bytes) from `at` on.
    Clean {
        at: u64,
    },
    /// A seal at `at` closes the segment.
    Sealed {
        at: u64,
    },
    /// A torn write spans `at..dirty_end` (last segment only).
    Torn {
        at: u64,
        dirty_end: u64,
    },
    Corrupt {
        at: u64,
        reason: String,
    },
}

/// A segment's header, valid frames (with their offsets) and how they end.
pub(crate) struct SegmentReading<'a> {
    /// `None` when the header itself is unreadable (then `end` says why).
    pub(crate) header: Option<SegmentHeader>,
    pub(crate) frames: Vec<(u64, DecodedFrame<'a>)>,
    pub(crate) end: ReadEnd,
}

/// Reads the frames of segment `sequence` from its bytes, in order, up to its seal or the first
/// position without a valid frame, and classifies what follows (see "Recovery" in the crate
/// docs).
pub(crate) fn read_segment(data: &[u8], sequence: u64, is_last: bool) -> SegmentReading<'_> {
    let header = match decode_segment_header(data, sequence) {
        Ok(header) => header,
        Err(reason) => {
            return SegmentReading {
                header: None,
                frames: Vec::new(),
                end: ReadEnd::Corrupt { at: 0, reason },
            }
        }
    };
    let mut frames = Vec::new();
    let mut offset = SECTOR_BYTES;
    let end = loop {
        if offset >= data.len() as u64 {
            break end_of_file(is_last, offset);
        }
        let place = FramePlace {
            segment_sequence: sequence,
            salt: header.salt,
            offset,
        };
        match decode_frame(data, place) {
            Ok(frame) if frame.seal => break ReadEnd::Sealed { at: offset },
            Ok(frame) => {
                let frame_bytes = frame.frame_bytes;
                frames.push((offset, frame));
                offset += frame_bytes;
            }
            Err(reason) => break classify_end(data, &header, is_last, offset, reason),
        }
    };
    SegmentReading {
        header: Some(header),
        frames,
        end,
    }
}

/// Frames ran up to the end of the file: only a shortened last segment does that, since every
/// segment keeps its last sector for the seal.
fn end_of_file(is_last: bool, at: u64) -> ReadEnd {
    if is_last {
        ReadEnd::Clean { at }
    } else {
        ReadEnd::Corrupt {
            at,
            reason: "segment ends without its seal, yet it is not the last".to_string(),
        }
    }
}

/// Decides what the bytes from `at` (where no valid frame starts) are. A valid frame of this
/// segment further on means corruption (a crash tears only the frame being written, the last
/// one); so does a missing seal in a segment that is not the last. In the last segment, a frame
/// header naming this segment's sequence, salt and offset (whole, or damaged elsewhere) is a
/// torn write of ours, and so is any non-zero byte beyond `stale_end` (where the file was
/// zero-filled); other bytes below `stale_end` are stale frames of a recycled segment's earlier
/// use, a clean end.
fn classify_end(
    data: &[u8],
    header: &SegmentHeader,
    is_last: bool,
    at: u64,
    reason: String,
) -> ReadEnd {
    let place = |offset| FramePlace {
        segment_sequence: header.sequence,
        salt: header.salt,
        offset,
    };
    if let Some(later) = find_frame_header(data, header, at + SECTOR_BYTES) {
        let reason = format!("{reason}; yet a valid frame follows at offset {later}");
        return ReadEnd::Corrupt { at, reason };
    }
    if !is_last {
        let reason = format!("{reason}; the segment is not the last, so it must end with its seal");
        return ReadEnd::Corrupt { at, reason };
    }
    let length = data.len() as u64;
    let announced = match decode_frame_header(data, place(at)) {
        Ok(frame) => Some(frame.frame_bytes()),
        Err(_) => damaged_frame_bytes(data, place(at)),
    };
    let own_end = announced.map_or(at, |bytes| at.saturating_add(bytes).min(length));
    let zeroed_from = header.stale_end.clamp(at, length);
    let junk_end = data[zeroed_from as usize..]
        .iter()
        .rposition(|&b| b != 0)
        .map_or(at, |last| zeroed_from + last as u64 + 1);
    let dirty_end = own_end.max(junk_end);
    if dirty_end == at {
        ReadEnd::Clean { at }
    } else {
        ReadEnd::Torn { at, dirty_end }
    }
}

/// The first sector boundary at or after `from` holding a valid frame or seal header of this
/// segment's current use.
fn find_frame_header(data: &[u8], header: &SegmentHeader, from: u64) -> Option<u64> {
    (from..data.len() as u64)
        .step_by(SECTOR_BYTES as usize)
        .find(|&offset| {
            let place = FramePlace {
                segment_sequence: header.sequence,
                salt: header.salt,
                offset,
            };
            decode_frame_header(data, place).is_ok()
        })
}
