//! Bounds of the write-ahead log, each with the reason for its value.

/// Alignment unit of O_DIRECT I/O and of torn writes: every append starts on a fresh sector so a
/// torn write can never damage a sector that holds an acknowledged record.
pub const SECTOR_BYTES: u64 = 4096;

/// Largest payload of one log entry; the server bounds its raft entries by this so every entry
/// fits a frame (and a default segment) with room to spare.
pub const ENTRY_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Largest frame (one `append` call, headers and sector padding included): a frame is built in one
/// memory buffer and written with one write, so it must stay a modest, bounded allocation.
pub const FRAME_BYTES_MAX: u64 = 256 * 1024 * 1024;

/// Default segment size: large enough that rolling (and its zero-filling) is rare, small enough
/// that recovery holds one segment in memory comfortably.
pub const SEGMENT_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;

/// Smallest configurable segment: two sectors, so tests can force frequent roll-overs.
pub const SEGMENT_BYTES_MIN: u64 = 2 * SECTOR_BYTES;

/// Largest configurable segment: recovery reads a whole segment into memory at once.
pub const SEGMENT_BYTES_MAX: u64 = 1024 * 1024 * 1024;

/// Chunk of zeros written at a time when preallocating a segment or zeroing a torn tail: bounds
/// that buffer regardless of the segment size.
pub const ZERO_CHUNK_BYTES: u64 = 1024 * 1024;

/// Write buffer capacity kept between appends; a larger buffer needed by one big batch is released
/// afterwards so a single huge append does not pin its memory forever.
pub const WRITE_BUFFER_RETAINED_BYTES_MAX: u64 = 4 * 1024 * 1024;

// Relations between the bounds, checked at compile time.
const _: () = assert!(SECTOR_BYTES.is_power_of_two());
const _: () = assert!(SEGMENT_BYTES_DEFAULT.is_multiple_of(SECTOR_BYTES));
const _: () = assert!(SEGMENT_BYTES_MIN.is_multiple_of(SECTOR_BYTES));
const _: () = assert!(SEGMENT_BYTES_MAX.is_multiple_of(SECTOR_BYTES));
const _: () = assert!(SEGMENT_BYTES_MIN <= SEGMENT_BYTES_DEFAULT);
const _: () = assert!(SEGMENT_BYTES_DEFAULT <= SEGMENT_BYTES_MAX);
// A frame's body length is stored in a u32 field.
const _: () = assert!(FRAME_BYTES_MAX <= u32::MAX as u64);
const _: () = assert!(FRAME_BYTES_MAX.is_multiple_of(SECTOR_BYTES));
// One maximal entry plus its headers must fit in a frame.
const _: () = assert!(ENTRY_BYTES_MAX + 2 * SECTOR_BYTES <= FRAME_BYTES_MAX);
// A frame larger than a segment gets a segment of its own, which recovery must still accept.
const _: () = assert!(FRAME_BYTES_MAX <= SEGMENT_BYTES_MAX);
const _: () = assert!(ZERO_CHUNK_BYTES.is_multiple_of(SECTOR_BYTES));
const _: () = assert!(WRITE_BUFFER_RETAINED_BYTES_MAX.is_multiple_of(SECTOR_BYTES));
