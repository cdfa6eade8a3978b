//! (being written)

// --- configuration (config.rs) ---

/// Largest zoo.cfg read: a real one is a few hundred bytes, and the bound keeps a wrong path
/// (a log file, a device) from being read whole into memory at startup.
pub const ZOO_CFG_BYTES_MAX: u64 = 1024 * 1024;
/// Most shards `--cores` may ask for: one glommio executor is pinned per core, and a larger
/// number is a typo rather than a machine.
pub const CORES_MAX: usize = 1024;
/// Longest tickTime accepted, so that the derived 20 × tickTime session timeout fits an i32 as
/// it does on the wire.
pub const TICK_TIME_MS_MAX: u32 = (i32::MAX / 20) as u32;
/// Largest jute.maxbuffer accepted: packet lengths are signed 32-bit on the wire.
pub const JUTE_MAX_BUFFER_CEILING: usize = i32::MAX as usize;
/// Smallest snapCount: ZooKeeper raises anything lower to 2 (its randomized roll needs it).
pub const SNAP_COUNT_MIN: u64 = 2;
/// Fewest snapshots kept: ZooKeeper's MIN_SNAP_RETAIN_COUNT, so a corrupt newest snapshot
/// always has older ones (and the log after them) to fall back to.
pub const SNAP_RETAIN_COUNT_MIN: usize = 3;

/// Writes waiting for the pipeline, from all shards: when full, connections stop reading, so
/// backpressure reaches the clients' sockets.
pub const WRITE_QUEUE_MAX: usize = 16 * 1024;
/// Publications queued for one shard: the pipeline waits for a slow shard beyond this.
pub const PUBLISH_QUEUE_MAX: usize = 64;
/// Accepted connections queued for one shard.
pub const ACCEPT_QUEUE_MAX: usize = 1024;
/// Appends the pipeline has handed to the WAL thread and not yet seen durable: two, so that
/// the write and sync of one batch overlaps the apply and publish of the one before it.
pub const WAL_APPENDS_IN_FLIGHT_MAX: usize = 2;
/// Jobs queued for the WAL thread: the appends in flight plus room for the snapshot thread's
/// log releases, so neither side blocks the other on the queue.
pub const WAL_QUEUE_MAX: usize = WAL_APPENDS_IN_FLIGHT_MAX + 2;
/// Client writes in one raft entry: bounds an entry's apply time and a publication's size.
pub const BATCH_TXNS_MAX: usize = 4096;
/// Approximate bytes of client writes in one raft entry (stays well under the WAL's entry limit).
pub const BATCH_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Old connections of moved sessions closed per pipeline round; further reconnects wait in the
/// write queue until the next round.
pub const SESSION_MOVES_MAX: usize = 4096;
/// Containers and expired TTL nodes removed per housekeeping round.
pub const HOUSEKEEPING_DELETES_MAX: usize = 1000;
/// Requests of one session in flight or waiting behind a write before the connection stops
/// reading (ZooKeeper's default globalOutstandingLimit is 1000).
pub const PENDING_REQUESTS_MAX: usize = 1000;
/// Replies and events buffered for one connection that does not read them: it is closed beyond
/// this (a watch storm must not exhaust memory).
pub const CONNECTION_OUTPUT_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Milliseconds a closing connection gets to write out what is buffered.
pub const FLUSH_GRACE_MS: u64 = 2000;
/// Initial read buffer of a connection; it grows for one large frame and shrinks back.
pub const READ_BUFFER_BYTES: usize = 64 * 1024;
/// Milliseconds between a shard's reports of session activity to the leader: far below the
/// smallest session timeout, so a live session is never expired for want of a report.
pub const TOUCH_INTERVAL_MS: u64 = 100;
/// io_uring DMA memory per executor: Corral does no DMA file I/O there, and the machine's
/// memlock limit (8 MiB) must hold every shard's share.
pub const EXECUTOR_IO_MEMORY_BYTES: usize = 512 * 1024;
/// How long shutdown waits for in-flight requests before closing connections anyway.
pub const SHUTDOWN_GRACE_MS: u64 = 5000;
