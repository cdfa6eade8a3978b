//! corral-bench: measurements of Corral's components and of the whole server.
//!
//! # Modules
//! - [`wal_load`]: appending to a `corral_wal::Wal` as the server does, timing each append
//!   without the roll-overs and background zero-filling that `fio` never pays.
//! - [`tree`]: the shape of the tree `populate` builds (path of the n-th node).
//! - [`limits`]: every bound of the crate, with its reason.
//!
//! # Binaries
//! - `benches/wal_append.rs` (criterion): append + fdatasync latency and throughput.
//! - `examples/wal_rate.rs`: the same appends for a fixed time, one line per size, for scripts.
//! - `examples/populate.rs`: creates N znodes of V bytes on any ZooKeeper-compatible server.
//! - `examples/ready_probe.rs`: waits until a server answers a `get` of a given node.
//! - `scripts/`: WAL versus fio, restart with 1M znodes, set throughput during snapshots.

pub mod limits;
pub mod tree;
pub mod wal_load;
