//! Bounds of the ZooKeeper importer, each with the reason for its value.

/// Longest jute buffer or string accepted (node data, paths, ACL ids, a whole log record).
/// ZooKeeper refuses anything over `jute.maxbuffer` (1 MiB by default); operators raise it, so
/// this leaves room for that while bounding the single allocation a forged length can cause.
pub const JUTE_BUFFER_BYTES_MAX: usize = 64 << 20;
/// Snapshots tried, newest first, before giving up: ZooKeeper's `FileSnap` also looks at 100.
pub const SNAPSHOTS_TRIED_MAX: usize = 100;
/// Operations inside one multi txn: a multi is one log record, so its size already bounds this;
/// the constant keeps a forged count from sizing a vector beyond what real multis hold.
pub const MULTI_OPS_MAX: usize = 1 << 20;
/// Bytes read at once while checking that the rest of a log is zero after a torn record.
pub const ZERO_CHECK_CHUNK_BYTES: usize = 64 * 1024;
