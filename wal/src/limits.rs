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

/// Smallest configurable segment: the segment header, one one-sector frame and the seal, so
/// tests can force a roll-over at nearly every append.
pub const SEGMENT_BYTES_MIN: u64 = 3 * SECTOR_BYTES;

/// Bytes of a segment that hold no frame: the segment header sector and the sector reserved
/// for the seal written when the log rolls to the next segment.
pub const SEGMENT_OVERHEAD_BYTES: u64 = 2 * SECTOR_BYTES;

/// Released segments kept as spares to be recycled as later segments (deleted beyond this):
/// enough to absorb a compaction releasing several segments at once without zero-filling new
/// ones, few enough that the disk space held back stays a small multiple of a segment.
pub const RECYCLED_SEGMENTS_MAX: usize = 4;

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
const _: () = assert!(FRAME_BYTES_MAX + SEGMENT_OVERHEAD_BYTES <= SEGMENT_BYTES_MAX);
// The smallest segment holds at least one one-sector frame besides its header and seal.
const _: () = assert!(SEGMENT_BYTES_MIN > SEGMENT_OVERHEAD_BYTES);
const _: () = assert!(ZERO_CHUNK_BYTES.is_multiple_of(SECTOR_BYTES));
const _: () = assert!(WRITE_BUFFER_RETAINED_BYTES_MAX.is_multiple_of(SECTOR_BYTES));

/// Body bytes per checksummed snapshot block: small enough that a reader holds one block at a
/// time and a bad checksum pins the damage to 64 KiB, large enough that the per-block header and
/// the two read calls per block cost nothing next to the copy.
pub const SNAPSHOT_BLOCK_BYTES: u32 = 64 * 1024;

/// Largest block size a snapshot header may declare: the reader allocates one block of it, so a
/// damaged or forged header cannot make it allocate more.
pub const SNAPSHOT_BLOCK_BYTES_MAX: u32 = 16 * 1024 * 1024;

const _: () = assert!(SNAPSHOT_BLOCK_BYTES > 0);
const _: () = assert!(SNAPSHOT_BLOCK_BYTES <= SNAPSHOT_BLOCK_BYTES_MAX);

/// Snapshot bytes written between two writeback steps where the filesystem refuses O_DIRECT (the
/// writer then goes through the page cache): it starts writeback of each such range and waits
/// for the one before, so the page cache never holds more than two of them and the final
/// fdatasync flushes a few MiB, not the whole file in one burst that WAL syncs queue behind.
pub const SNAPSHOT_WRITEBACK_BYTES: u64 = 4 * 1024 * 1024;

/// Default bandwidth a snapshot writer may use: a 190 MB snapshot of a million nodes then takes
/// about three seconds, leaving most of the disk to the WAL's small syncs meanwhile.
pub const SNAPSHOT_WRITE_BYTES_PER_SECOND: u64 = 64 * 1000 * 1000;

const _: () = assert!(SNAPSHOT_WRITEBACK_BYTES >= SNAPSHOT_BLOCK_BYTES as u64);
const _: () = assert!(SNAPSHOT_WRITE_BYTES_PER_SECOND > 0);

/// Nice value of the thread writing snapshots where SCHED_IDLE is refused: the lowest priority
/// a normal thread can have.
pub const SNAPSHOT_THREAD_NICE: i32 = 19;
