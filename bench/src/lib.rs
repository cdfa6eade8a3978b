//! corral-bench: measurements of Corral's components and of the whole server.
//!
//! # Modules
//! - [`client`]: a pipelined ZooKeeper protocol client built on the jute codec of `corral-net`.
//! - [`workload`]: what each session sends (set, get, create, multi, watch fan-out, …).
//! - [`run`]: one run of a workload against any ZooKeeper-compatible server, closed or open loop.
//! - [`histogram`]: per-thread latency recording and its summary (percentiles, the plot curve).
//! - [`results`]: what a run measured, as written to JSON.
//! - [`servers`]: starting, probing and stopping Corral and Apache ZooKeeper for a comparison.
//! - [`compare`]: the side-by-side comparison with Apache ZooKeeper.
//! - [`report`]: the HTML report with its plots.
//! - [`wal_load`]: appending to a `corral_wal::Wal` as the server does, timing each append
//!   without the roll-overs and background zero-filling that `fio` never pays.
//! - [`tree`]: the shape of the tree `populate` builds (path of the n-th node).
//! - [`limits`]: every bound of the crate, with its reason.
//!
//! # Binaries
//! - `corral-bench` (`src/bin/corral-bench.rs`): `run` one workload, or `compare` with ZooKeeper.
//! - `benches/` (criterion): WAL append + fdatasync, jute codec, tree apply at 1M znodes (with
//!   and without a held root), root publish, watch fan-out to 10k watchers;
//!   `CORRAL_BENCH_CLOCK=cpu` times the single-threaded ones by thread CPU time, for a busy
//!   machine.
//! - `examples/wal_rate.rs`: the WAL appends for a fixed time, one line per size, for scripts.
//! - `examples/populate.rs`: creates N znodes of V bytes on any ZooKeeper-compatible server.
//! - `examples/ready_probe.rs`: waits until a server answers a `get` of a given node.
//! - `scripts/`: WAL versus fio, restart with 1M znodes, set throughput during snapshots.

pub mod client;
pub mod compare;
pub mod histogram;
pub mod limits;
pub mod report;
pub mod results;
pub mod run;
pub mod servers;
pub mod tree;
pub mod wal_load;
pub mod workload;

/// The error of every fallible operation in the crate: a message for the person running it.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
