//! One run of a workload against a ZooKeeper-compatible server (being written).

use crate::results::{RunResult, RunSpec};
use crate::Error;

/// Runs `spec` and labels the result with `target`; draws a progress bar when `progress`.
pub fn run(spec: &RunSpec, target: &str, progress: bool) -> Result<RunResult, Error> {
    let _ = (spec, target, progress);
    Err("the load generator is not built yet".into())
}
