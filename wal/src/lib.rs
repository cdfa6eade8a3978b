//! corral-wal: the write-ahead log that keeps raft entries and hard state durable.
//!
//! The server calls it from one dedicated blocking thread; the API is synchronous. Raft entries
//! are opaque here: the caller gives (index, term, payload bytes).
//!
//! # Modules
//! - `wal`: the [`Wal`] handle, [`WalOptions`]; open (recover), append, repair, release old
//!   segments (recycling them).
//! - `recovery`: rebuilding the log at open, zeroing a torn tail.
//! - [`scan`]: the read-only walk over the log for tools; recovery reads segments through it.
//! - `format`: encoding and decoding of segment headers, frames, seals and records.
//! - `segment`: segment file names, zero-filled preallocation, recycling, the O_DIRECT write
//!   path.
//! - `spare`: zero-filling the next segment on a helper thread ahead of the roll.
//! - [`fault`]: the fault plan tests inject I/O errors with; `fileio`: the one layer every file
//!   operation goes through.
//! - `aligned`: the sector-aligned buffer O_DIRECT writes come from.
//! - [`snapshot`]: snapshot files, a checksummed container for a serialized state.
//! - [`limits`]: every bound of the crate, with its reason.
//! - `error`: [`WalError`].
//!
//! # On-disk format (version 2)
//!
//! A log directory holds segment files `wal-<sequence, 20 decimal digits>.log`, with sequences
//! contiguous from the oldest segment on (a gap is corruption), plus `wal.lock` (held with an
//! exclusive flock while a `Wal` is open), spares `wal-<old sequence>.spare` (released segments
//! waiting to be recycled) and, transiently, `wal-<sequence>.log.tmp` (a segment being made;
//! leftovers are deleted at open). A new segment is created as `.log.tmp`, filled with zeros to
//! its full size (`WalOptions::segment_bytes`, or larger for a frame that needs it), given its
//! segment header, synced, renamed to its final name, and the directory synced. Writing into
//! already-allocated zeros keeps each fdatasync cheap. The next segment is zero-filled on a
//! helper thread while the current one fills, so a roll normally costs only the rename and the
//! directory sync. All integers are little-endian; every checksum is CRC32C.
//!
//! A segment file is laid out in sectors (`SECTOR_BYTES` = 4096): sector 0 holds the **segment
//! header**; frames follow from sector 1, each starting on a sector boundary; when the log rolls
//! to the next segment a one-sector **seal** is written right after the last frame. A frame that
//! does not fit before the segment's last sector (kept free for the seal) goes to a new segment.
//!
//! Segment header, 48 bytes at offset 0 (the rest of the sector is zero):
//!
//! | bytes  | field |
//! |--------|-------|
//! | 0..4   | magic `"CRWL"` |
//! | 4      | kind = 5 (segment header) |
//! | 5      | format version = 2 |
//! | 6..8   | reserved, 0 |
//! | 8..16  | the segment's sequence (must match the file name) |
//! | 16..24 | salt: a random number chosen for this use of the file |
//! | 24..32 | stale end: bytes below this offset may hold stale frames of the file's earlier use (the file size for a recycled segment, 0 for a zero-filled one) |
//! | 32..44 | reserved, 0 |
//! | 44..48 | CRC32C of bytes 0..44 |
//!
//! Each `append` writes one **frame**: a frame header, the records, then zero padding to the
//! next sector boundary, so the next frame starts on a fresh sector and a torn write of it can
//! never touch an acknowledged one. Frame header, 48 bytes:
//!
//! | bytes  | field |
//! |--------|-------|
//! | 0..4   | magic `"CRWL"` |
//! | 4      | kind: 1 = frame, 4 = seal |
//! | 5      | format version = 2 |
//! | 6..8   | reserved, 0 |
//! | 8..12  | body bytes: length of the records that follow (padding excluded); 0 in a seal |
//! | 12..16 | record count; 0 in a seal |
//! | 16..24 | the file offset of this header |
//! | 24..32 | the sequence number of this segment |
//! | 32..40 | the salt of this segment (from its header) |
//! | 40..44 | reserved, 0 |
//! | 44..48 | CRC32C of bytes 0..44 |
//!
//! A header is accepted only at the offset, in the segment and with the salt it names. So a
//! frame image inside a payload, a write that landed in the wrong place, and a stale frame left
//! in a recycled file by its earlier use are never taken for frames: the stale ones name an
//! older sequence and salt, and a client cannot forge a frame for a salt it never sees.
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
//! Segments are read one at a time, in order. A segment's header must be valid and name the
//! segment's own sequence (a segment is renamed into place only once its header is durable, so
//! anything else is corruption). Frames are then read from sector 1 on. A frame is valid only if
//! its header and every one of its records check out, so an append is atomic on recovery: all of
//! its records come back or none. Entries are replayed in order; an entry whose index is at or
//! below the previous one replaces the log from that index on (raft's truncation), so the
//! recovered entries are contiguous. The last valid hard-state record wins; a torn hard-state
//! write is a torn frame and the previous hard state survives.
//!
//! A valid seal ends a segment; whatever follows it is ignored. Otherwise the first position
//! without a valid frame ends the segment, and what lies there and after decides:
//! - a valid frame (or seal) header of this segment at a later sector: `WalError::Corrupt`
//!   (file and offset named), since a crash tears only the frame being written, the last one;
//! - a segment that is not the last: `Corrupt`, since every segment but the last ends with its
//!   seal (this is what catches damage to the last frame of a full segment);
//! - in the last segment, a frame header naming this segment's sequence, salt and offset (the
//!   frame, or its header, failing its checksum): a torn frame, discarded as a torn tail from
//!   its offset to the end of the frame it announced;
//! - in the last segment, any non-zero byte at or beyond the header's stale end (where the
//!   file was zero-filled): a torn tail up to the last such byte;
//! - anything else (zeros, or stale bytes of a recycled file's earlier use below its stale
//!   end): a clean end.
//!
//! A torn tail's length is reported in `Recovered::truncated_tail_bytes` and its bytes are
//! overwritten with zeros, so stale records of the torn frame can never be read back later. In
//! a recycled segment, a torn frame whose header's place fields never reached the disk cannot
//! be told from stale bytes and counts as a clean end: nothing acknowledged is lost either way, and the
//! salt keeps its remains from ever being read as a frame. A last segment found shorter than
//! its configured size is zero-filled back to it. A last segment that ends with its seal (a
//! crash during a roll) is complete: the next append rolls to a new segment.
//!
//! # Rolling to a new segment
//!
//! In order, each step durable before the next: the seal is written after the last frame of the
//! current segment (and fdatasynced); the new segment's file is made ready under a temporary
//! name (a recycled spare gets its new header; otherwise the background spare, or one
//! zero-filled on the spot, already has it); it is renamed to `wal-<sequence>.log` and the
//! directory synced; then the frame is written into it. A crash at any step leaves either the
//! old segment last (sealed or not) or the new one last and empty: both recover exactly.
//!
//! # Compaction and recycling
//!
//! `Wal::release_before(index)` releases, oldest first, the segments whose entry records all
//! lie before `index`, never the segment being written, syncing the directory after each so a
//! crash never leaves a gap. Up to [`limits::RECYCLED_SEGMENTS_MAX`] released segments of the
//! configured size are kept, renamed to `wal-<old sequence>.spare`; the others are deleted. The
//! next roll takes the oldest spare instead of zero-filling a new file: it writes a new segment
//! header (next sequence, fresh salt, stale end = file size) and renames it into place. Its old
//! frames stay in place and are never read as frames (see the salt above). When the latest
//! hard-state record lives in a segment about to be released, it is appended again first, so
//! compaction never loses it. Afterwards recovery may return a log that starts anywhere at or
//! before `index` (or is empty when no entry at or after `index` exists); every entry from
//! `index` on is unchanged. Spares found at open are kept (up to the limit, newest first).
//!
//! # Sizes
//!
//! An entry payload may be up to [`limits::ENTRY_BYTES_MAX`] and one append (one frame) up to
//! [`limits::FRAME_BYTES_MAX`]; larger ones are rejected with `EntryTooLarge` / `FrameTooLarge`.
//! A frame that does not fit an empty segment of `segment_bytes` is not rejected: it gets a
//! segment sized to fit it (plus the header and seal sectors), which is never recycled.
//!
//! # Durability contract
//!
//! When `append` returns `Ok`, the frame is on stable storage (O_DIRECT write + fdatasync; or
//! buffered write + fdatasync where the filesystem refuses O_DIRECT, logged once as a warning).
//!
//! # Errors and repair
//!
//! When an append fails (ENOSPC, EIO, in the frame's write or sync, the seal, or making the
//! next segment), it returns the error and the `Wal` is poisoned: appends and releases fail
//! with `WalError::Poisoned`. What the failed operation left on disk is unknown, and retrying an
//! fdatasync after a failure may falsely succeed, so the log is not simply retried. Instead
//! `Wal::repair` overwrites with zeros every sector the failed frame (or seal) may have reached,
//! deletes any temporary, spare or new segment file the failed roll may have left (returning
//! its space), syncs, and clears the poison; appends then continue right after the last
//! acknowledged frame, and recovery sees every acknowledged frame and nothing of the failed one.
//! If `repair` itself fails (the disk still failing) the log stays poisoned and `repair` may be
//! called again later; it does nothing on a healthy log. Until a repair succeeds, a crash may
//! bring the failed frame back if its write fully reached the disk (only its sync failed), as
//! with any write whose outcome was never known. A failure of the background zero-filling (the
//! usual place a full disk shows) is reported at the roll that needed the segment, which then
//! tries to make it itself and fails the append if that fails too; the helper thread is
//! started again after the next successful append.
//!
//! # Snapshot files
//!
//! [`snapshot::SnapshotStore`] keeps `snapshot-<index, 20 digits>-<term, 20 digits>.snap` files
//! in their own directory; `index` is the raft index of the last entry the state holds. A
//! snapshot is written as `….snap.tmp` through a buffer, fdatasynced, renamed, and the
//! directory synced; leftover `.tmp` files are deleted at open. The body is opaque here (the
//! engine encodes the state into it) and is cut into blocks of at most
//! [`limits::SNAPSHOT_BLOCK_BYTES`], each checksummed, so a reader streams any size in bounded
//! memory and never hands out a byte of a block before that block checked out. Every error
//! names the file and the offset: of the header (0), of the damaged or missing block's header,
//! or of the trailer. Little-endian throughout. Header, 40 bytes:
//!
//! | bytes  | field |
//! |--------|-------|
//! | 0..4   | magic `"CRSN"` |
//! | 4      | format version = 1 |
//! | 5..8   | reserved, 0 |
//! | 8..12  | block size: most body bytes in one block |
//! | 12..16 | reserved, 0 |
//! | 16..24 | index |
//! | 24..32 | term |
//! | 32..36 | reserved, 0 |
//! | 36..40 | CRC32C of bytes 0..36 (the **header checksum**) |
//!
//! Then the blocks, numbered from 0, each a 24-byte header followed by its body bytes:
//!
//! | bytes  | field |
//! |--------|-------|
//! | 0..4   | magic `"CRSB"` |
//! | 4..8   | body bytes, 1 to the block size |
//! | 8..16  | block number |
//! | 16..20 | reserved, 0 |
//! | 20..24 | CRC32C continued from the header checksum over bytes 0..20, then the body |
//!
//! Continuing from the header checksum ties each block to its file, so a block copied from
//! another snapshot is caught. Every block but the last is full. Then the trailer, 48 bytes,
//! which must end the file:
//!
//! | bytes  | field |
//! |--------|-------|
//! | 0..4   | magic `"CRSE"` |
//! | 4..8   | reserved, 0 |
//! | 8..16  | block count |
//! | 16..24 | body bytes in all |
//! | 24..32 | index (as in the header) |
//! | 32..40 | term (as in the header) |
//! | 40..44 | reserved, 0 |
//! | 44..48 | CRC32C continued from the header checksum over bytes 0..44 |
//!
//! A file that ends before its trailer, or has bytes after it, is corrupt: a body is never
//! accepted short. A store opened with `SnapshotStore::open_with_faults` sends its writes, syncs,
//! renames and deletes through the fault-injection layer below; creating and reading a snapshot
//! file do not go through it.
//!
//! # Fault injection
//!
//! Every file operation of the crate (create, open, write, fdatasync/fsync, directory sync,
//! rename, delete, read) goes through one internal layer that consults
//! `WalOptions::faults`, a [`FaultPlan`] shared with the helper thread (`None` in production).
//! A plan holds faults, each for one kind of operation ([`FileOp`]): the n-th such operation,
//! every one, or those matching a predicate on the operation ([`FileOpInfo`]: kind, path,
//! offset, length) fail with a chosen errno, or, for writes, first write a sector-aligned prefix
//! (a torn write). Plans can be disarmed and armed again, and count the faults they injected.

mod aligned;
mod error;
pub mod fault;
mod fileio;
mod format;
pub mod limits;
mod recovery;
pub mod scan;
mod segment;
pub mod snapshot;
mod spare;
mod wal;

pub use error::WalError;
pub use fault::{FaultPlan, FileOp, FileOpInfo, Trigger};
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
    /// to the end of the torn frame or of the junk after it (0 when the log ended cleanly; see
    /// "Recovery" for what counts). They are zeroed.
    pub truncated_tail_bytes: u64,
}

/// The path of segment `sequence` in `dir`, for tools that inspect the files.
pub fn segment_path(dir: &std::path::Path, sequence: u64) -> std::path::PathBuf {
    dir.join(segment::segment_file_name(sequence))
}
