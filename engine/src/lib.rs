//! corral-engine: the deterministic core of Corral.
//!
//! - `wire`: jute-layout byte reader and writer, shared with the client codec.
//! - `types`: stats, ACLs, error codes, write operations, results, watch triggers.
//! - `paths`: ZooKeeper path validation and path helpers.
//! - `acl`: ACL validation, `auth` fix-up, permission checks, digest ids.
//! - `entry`: the binary encoding of a log entry (a batch of `Txn`s).
//! - `state`: the replicated state (data tree and sessions) as a persistent structure:
//!   apply, reads, housekeeping candidates.
//! - `snapshot`: the binary encoding of a whole state inside a snapshot file.
//! - `consensus`: the raft-rs driver used by the pipeline shard.
//! - `limits`: every bound this crate enforces.
//!
//! Nothing here does I/O or reads a clock: the shell in `corral-net` feeds it time and bytes.

pub mod acl;
pub mod consensus;
pub mod entry;
pub mod limits;
pub mod paths;
pub mod snapshot;
pub mod state;
pub mod types;
pub mod wire;
