//! corral-wal: the write-ahead log that keeps raft entries and hard state durable.
//!
//! The server calls it from one dedicated blocking thread; the API is synchronous. Raft entries
//! are opaque here: the caller gives (index, term, payload bytes).
//!
//! # Modules
//! - `wal`: the [`Wal`] handle, [`WalOptions`]; open (recover), append, release old segments.
//! - `recovery`: reading segments back, validating frames, repairing a torn tail.
//! - `format`: encoding and decoding of frames and records.
//! - `segment`: segment file names, zero-filled preallocation, the O_DIRECT write path.
//! - `spare`: zero-filling the next segment on a helper thread ahead of the roll.
//! - `aligned`: the sector-aligned buffer O_DIRECT writes come from.
//! - [`limits`]: every bound of the crate, with its reason.
//! - `error`: [`WalError`].
//!
//! # On-disk format (version 1)
//!
//! A log directory holds segment files `wal-<sequence, 20 decimal digits>.log`, with sequences
//! contiguous from the oldest segment on (a gap is corruption), plus `wal.lock` (held with an
//! exclusive flock while a `Wal` is open). A segment is created as `wal-<sequence>.log.tmp`,
//! filled with zeros to its full size (`WalOptions::segment_bytes`, or larger for a frame that
//! needs it), synced, renamed to its final name, and the directory synced; leftover `.tmp` files
//! are deleted at open. Writing into already-allocated zeros keeps each fdatasync cheap. The next
//! segment is zero-filled on a helper thread while the current one fills, so a roll-over
//! normally costs only the rename and the directory sync.
//!
//! Each `append` writes one **frame** at a sector-aligned (`SECTOR_BYTES` = 4096) offset: a frame
//! header, the records, then zero padding to the next sector boundary, so the next frame starts
//! on a fresh sector and a torn write of it can never touch an acknowledged one. A frame never
//! spans segments: one that does not fit the rest of the current segment goes to a new one, and
//! the rest of the old segment stays zero. All integers are little-endian.
//!
//! Frame header, 40 bytes:
//!
//! | bytes  | field |
//! |--------|-------|
//! | 0..4   | magic `"CRWL"` |
//! | 4      | kind = 1 (frame) |
//! | 5      | format version = 1 |
//! | 6..8   | reserved, 0 |
//! | 8..12  | body bytes: length of the records that follow (padding excluded) |
//! | 12..16 | record count |
//! | 16..24 | the file offset of this header |
//! | 24..32 | the sequence number of this segment |
//! | 32..36 | reserved, 0 |
//! | 36..40 | CRC32C of bytes 0..36 |
//!
//! A header is accepted only at the offset and in the segment it names, so a frame image inside
//! a payload, or a write that landed in the wrong place, is never taken for a frame.
//!
//! Record, 32-byte header then payload:
//!
//! | bytes  | field |
//! |--------|-------|
//! | 0..4   | magic `"CRWL"` |
//! | 4      | kind: 2 = log entry, 3 = hard state |
//! | 5..8   | reserved, 0 |
//! | 8..12  | payload bytes |
//! | 12..20 | entry index (0 for hard state) |
//! | 20..28 | entry term (0 for hard state) |
//! | 28..32 | CRC32C of header bytes 0..28 followed by the payload |
//!
//! A hard-state payload is 24 bytes: term, vote, commit (u64 each). Within a frame the entry
//! records come first (contiguous indexes), then at most one hard-state record.
//!
//! # Recovery
//!
//! Segments are read one at a time, in order, frame by frame. A frame is valid only if its header
//! and every one of its records check out, so an append is atomic on recovery: all of its records
//! come back or none. Entries are replayed in order; an entry whose index is at or below the
//! previous one replaces the log from that index on (raft's truncation), so the recovered entries
//! are contiguous. The last valid hard-state record wins; a torn hard-state write is a torn
//! frame and the previous hard state survives.
//!
//! The first position without a valid frame ends the segment. If only zeros follow, the end is
//! clean. Otherwise, if a valid frame header appears at a later sector of that segment, or the
//! segment is not the last, the log is `WalError::Corrupt` (file and offset named): a crash tears
//! only the frame being written, which is the last. In the last segment the junk is a torn tail:
//! its length is reported in `Recovered::truncated_tail_bytes` and it is overwritten with zeros,
//! so stale records of the torn frame can never be read back later. A last segment found shorter
//! than its configured size is zero-filled back to it.
//!
//! # Compaction
//!
//! `Wal::release_before(index)` deletes, oldest first, the segments whose entry records all lie
//! before `index`, never the segment being written. When the latest hard-state record lives in
//! a segment about to be deleted, it is appended again first, so compaction never loses it.
//! Afterwards recovery may return a log that starts anywhere at or before `index` (or is empty
//! when no entry at or after `index` exists); every entry from `index` on is unchanged.
//! Deleted segments are not recycled yet: new segments are always freshly zero-filled.
//!
//! # Sizes
//!
//! An entry payload may be up to [`limits::ENTRY_BYTES_MAX`] and one append (one frame) up to
//! [`limits::FRAME_BYTES_MAX`]; larger ones are rejected with `EntryTooLarge` / `FrameTooLarge`.
//! A frame larger than `segment_bytes` is not rejected: it gets a segment sized to fit it.
//!
//! # Durability contract
//!
//! When `append` returns `Ok`, the frame is on stable storage (O_DIRECT write + fdatasync; or
//! buffered write + fdatasync where the filesystem refuses O_DIRECT, logged once as a warning).
//! After an I/O error the `Wal` is poisoned and every later call fails until it is reopened.

mod aligned;
mod error;
mod format;
pub mod limits;
mod recovery;
mod segment;
mod spare;
mod wal;

pub use error::WalError;
pub use wal::{Wal, WalOptions, WritePosition};

// The server moves the Wal into its dedicated blocking thread.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Wal>();
};

/// Raft's persistent vote state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    pub term: u64,
    pub vote: u64,
    pub commit: u64,
}

/// A log entry read back at recovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub index: u64,
    pub term: u64,
    pub payload: Vec<u8>,
}

/// A log entry handed to `append`, borrowing its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogEntryRef<'a> {
    pub index: u64,
    pub term: u64,
    pub payload: &'a [u8],
}

impl LogEntry {
    pub fn as_entry_ref(&self) -> LogEntryRef<'_> {
        LogEntryRef {
            index: self.index,
            term: self.term,
            payload: &self.payload,
        }
    }
}

/// What `Wal::open` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The log's entries, contiguous, oldest first.
    pub entries: Vec<LogEntry>,
    /// The last hard state written, if any.
    pub hard_state: Option<HardState>,
    /// Bytes discarded as a torn tail: from the end of the last valid frame of the last segment
    /// to the last non-zero byte after it (0 when the log ended cleanly). They are zeroed.
    pub truncated_tail_bytes: u64,
}

/// The path of segment `sequence` in `dir`, for tools that inspect the files.
pub fn segment_path(dir: &std::path::Path, sequence: u64) -> std::path::PathBuf {
    dir.join(segment::segment_file_name(sequence))
}
