//! What one benchmark run measured, in the form written to JSON and read back by the report.
//!
//! The load generator (`run`) fills a [`RunResult`] per run; `compare` adds the server's memory
//! and collects many results into one report. Field names are part of the JSON format that
//! `docs/BENCHMARKS.md` and the HTML report read, so renaming one is a format change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What to run: one workload, its shape and its load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The workload's name as given on the command line (`set`, `get`, `create`, …).
    pub workload: String,
    /// `host:port` of each server; sessions are spread over them in turn.
    pub servers: Vec<String>,
    /// Sessions, each with its own connection.
    pub clients: u32,
    /// Requests each session keeps outstanding in closed-loop mode.
    pub in_flight: u32,
    /// Open-loop mode when set: the total request rate (per second) across all sessions, with
    /// latency measured from each request's intended send time.
    pub rate: Option<f64>,
    /// Bytes of each value written.
    pub value_bytes: u32,
    /// Load-generator threads the sessions are spread over.
    pub threads: u32,
    /// Time before measuring starts (connections made, caches warm).
    pub warmup_seconds: f64,
    /// Time measured.
    pub seconds: f64,
    /// Workload-specific knobs (`read_ratio`, `multi_ops`, `watchers`, `contenders`,
    /// `children`, …), each documented with its workload.
    pub params: BTreeMap<String, f64>,
}

/// A latency distribution in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub p9999_us: u64,
    pub max_us: u64,
    /// Points of the percentile curve for plotting, `(percentile in 0..=100, microseconds)`,
    /// dense towards the tail (HdrHistogram's quantile iteration, a few ticks per halving).
    pub curve: Vec<(f64, u64)>,
}

/// A server's resident memory sampled while a run was going on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub samples: u32,
    pub median_kib: u64,
    pub max_kib: u64,
}

/// The outcome of one run against one server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub spec: RunSpec,
    /// What was measured: `corral`, `zookeeper`, or a label given on the command line.
    pub target: String,
    /// Wall-clock start of the measured interval, milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// Length of the measured interval.
    pub elapsed_seconds: f64,
    /// Operations completed successfully within the measured interval.
    pub ops: u64,
    /// `ops / elapsed_seconds`.
    pub throughput: f64,
    /// Latency of the successful operations (for watch fan-out: set to event arrival).
    pub latency: Latency,
    /// Failed operations by ZooKeeper error name (`NONODE`, `CONNECTIONLOSS`, …).
    pub errors: BTreeMap<String, u64>,
    /// The server's memory during the run, when the runner knows its process.
    pub memory: Option<Memory>,
    /// Workload-specific figures (`agreement_ms` for the election storm, `events` for watch
    /// fan-out, …), each documented with its workload.
    pub extra: BTreeMap<String, f64>,
}
