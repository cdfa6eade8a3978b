//! Bounds of the engine, each with the reason for its value.

/// Raft ticks without a leader before a follower campaigns; a tick is `RAFT_TICK_MS`.
pub const ELECTION_TICKS: usize = 10;
/// Raft ticks between a leader's heartbeats.
pub const HEARTBEAT_TICKS: usize = 3;
/// Milliseconds per raft tick: elections in about a second, as ZooKeeper's defaults allow.
pub const RAFT_TICK_MS: u64 = 100;
/// Bytes of entries in one raft message to a peer: keeps a catching-up follower's messages small.
pub const RAFT_MESSAGE_BYTES_MAX: u64 = 1024 * 1024;
/// Unacknowledged append messages per peer: bounds the leader's memory for a slow follower.
pub const RAFT_INFLIGHT_MESSAGES_MAX: usize = 256;

/// How many Multis may enclose an op in a log entry: one, because ZooKeeper's multi may not
/// contain another multi, and a bound keeps decoding from recursing on forged input.
pub const ENTRY_MULTI_DEPTH_MAX: usize = 1;

/// The longest TTL of a TTL node, in ms: ZooKeeper stores it in the low 40 bits of
/// ephemeralOwner, so larger values are BadArguments.
pub const TTL_MS_MAX: i64 = (1 << 40) - 1;
/// Paths one `State::housekeeping` call returns: keeps one round of leader deletes (and the log
/// entry that carries them) small; ZooKeeper's ContainerManager also rate-limits its deletes.
pub const HOUSEKEEPING_PATHS_MAX: usize = 10_000;
/// Children a znode keeps in a flat sorted slice before switching to a persistent B-tree: one
/// `im::OrdSet` node costs over a kilobyte, which small directories should not pay.
pub const CHILDREN_INLINE_MAX: usize = 32;

/// Bytes of encoded snapshot records gathered before one write to the snapshot file: few write
/// calls per megabyte without holding more than a block of the file's size.
pub const SNAPSHOT_WRITE_CHUNK_BYTES: usize = 64 * 1024;
/// Initial read buffer of the snapshot decoder; it doubles only when one record is larger, and
/// only as that record's bytes actually arrive.
pub const SNAPSHOT_READ_CHUNK_BYTES: usize = 256 * 1024;
/// Nodes reserved up front from a snapshot's declared node count: a damaged count must not make
/// the decoder allocate much before the records themselves arrive (and 1M covers most trees).
pub const SNAPSHOT_RESERVE_NODES_MAX: usize = 1 << 20;
