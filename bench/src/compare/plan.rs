//! What a comparison runs: the command line, and the cases and settings it resolves to.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::limits::{COMPARE_CLIENTS_MAX, COMPARE_ROUNDS_MAX, COMPARE_TREE_NODES_MAX};
use crate::report::{NO_FSYNC_CASE, OPEN_LOOP_CASE};
use crate::results::RunSpec;
use crate::servers::{Target, ZOOKEEPER_HEAP};
use crate::Error;

/// `corral-bench compare`: Corral and Apache ZooKeeper side by side on this machine.
#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct CompareArgs {
    /// The whole comparison in about two minutes (for CI): one round of short runs, fewer
    /// client counts, a 20k-znode tree, one server per round instead of one per case.
    #[arg(long)]
    pub quick: bool,
    /// Rounds; each runs every case on every server [default: 3, quick: 1].
    #[arg(long)]
    pub rounds: Option<u32>,
    /// Measured seconds per run [default: 10, quick: 1.5].
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Warm-up seconds per run [default: 2, quick: 0.5].
    #[arg(long)]
    pub warmup: Option<f64>,
    /// Where the servers' data directories go: on the disk to measure, not tmpfs
    /// [default: $CORRAL_BENCH_DIR, else the working directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Where results.json, summary.md, report.html and plots/ are written.
    #[arg(long, default_value = "compare-results")]
    pub out: PathBuf,
    /// Only these cases: case ids (`set-64x1`), workload names (`set`), `scaling` (the
    /// client-count sweeps), `open-loop`, `tree` (memory, restart and snapshots with --nodes
    /// znodes) or `fsync` (set-64x1 on Corral with forceSync=no). Comma-separated [default: all].
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// Znodes of the large-tree measures [default: 1000000, quick: 20000].
    #[arg(long)]
    pub nodes: Option<u64>,
    /// The servers to compare.
    #[arg(long, value_delimiter = ',', default_value = "corral,zookeeper")]
    pub servers: Vec<String>,
    /// The corral binary [default: `corral` next to this program, or in target/release].
    #[arg(long)]
    pub corral: Option<PathBuf>,
    /// ZooKeeper's Java heap (-Xmx).
    #[arg(long, default_value = ZOOKEEPER_HEAP)]
    pub zk_heap: String,
    /// Corral's shards (its `--cores`) [default: Corral's own, one per core].
    #[arg(long)]
    pub corral_cores: Option<u32>,
    /// Load-generator threads per run.
    #[arg(long, default_value_t = 1)]
    pub threads: u32,
    /// Bytes per value written.
    #[arg(long, default_value_t = 100)]
    pub value_bytes: u32,
}

/// The command line's defaults, exactly as clap fills them in.
impl Default for CompareArgs {
    fn default() -> CompareArgs {
        #[derive(clap::Parser)]
        struct Command {
            #[command(flatten)]
            args: CompareArgs,
        }
        <Command as clap::Parser>::parse_from(["compare"]).args
    }
}

/// One workload at one setting.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// `WORKLOAD-CLIENTSxIN_FLIGHT` for the plain closed-loop cases (the throughput plots
    /// recognise them by it), a descriptive name otherwise.
    pub id: String,
    pub workload: String,
    pub clients: u32,
    pub in_flight: u32,
    /// Open loop at this fraction of ZooKeeper's peak `set` rate.
    pub open_loop_fraction: Option<f64>,
    /// Bytes per value, when not the comparison's `--value-bytes`.
    pub value_bytes: Option<u32>,
    pub params: BTreeMap<String, f64>,
    /// Selection groups besides the id and the workload (`scaling`, `open-loop`).
    pub groups: Vec<&'static str>,
}

impl Case {
    fn closed(workload: &str, clients: u32, in_flight: u32) -> Case {
        Case {
            id: format!("{workload}-{clients}x{in_flight}"),
            workload: workload.to_string(),
            clients,
            in_flight,
            open_loop_fraction: None,
            value_bytes: None,
            params: BTreeMap::new(),
            groups: Vec::new(),
        }
    }

    fn with(mut self, id: &str, params: &[(&str, f64)]) -> Case {
        self.id = id.to_string();
        self.params = params.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        self
    }

    fn selected_by(&self, names: &[String]) -> bool {
        names.is_empty()
            || names.iter().any(|name| {
                *name == self.id || *name == self.workload || self.groups.contains(&name.as_str())
            })
    }
}

/// The resolved comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub quick: bool,
    pub rounds: u32,
    pub seconds: f64,
    pub warmup: f64,
    pub dir: PathBuf,
    pub nodes: u64,
    pub value_bytes: u32,
    pub threads: u32,
    pub targets: Vec<Target>,
    pub cases: Vec<Case>,
    /// Whether the large-tree measures run.
    pub tree: bool,
    /// Whether `set-64x1` also runs on Corral with `forceSync=no`, for the cost of durability.
    pub no_fsync: bool,
    /// A fresh server for every case (else one per round).
    pub server_per_case: bool,
}

impl Plan {
    /// The run of `case` (at `rate` when open loop); `servers` is filled in by the runner.
    pub fn spec(&self, case: &Case, rate: Option<f64>) -> RunSpec {
        RunSpec {
            workload: case.workload.clone(),
            servers: Vec::new(),
            clients: case.clients,
            in_flight: case.in_flight,
            rate,
            value_bytes: case.value_bytes.unwrap_or(self.value_bytes),
            threads: self.threads,
            warmup_seconds: self.warmup,
            seconds: self.seconds,
            params: case.params.clone(),
        }
    }

    /// `set-64x1` as run on Corral with `forceSync=no`.
    pub fn no_fsync_case(&self) -> Case {
        Case::closed("set", 64, 1).with(NO_FSYNC_CASE, &[])
    }

    /// The `set` run of the large-tree measures, 64 clients × 1 in flight.
    pub fn tree_set_case(&self, phase: &str) -> Case {
        Case::closed("set", 64, 1).with(&format!("tree-set-64x1-{phase}"), &[])
    }
}

/// Every case of a full comparison (`quick`: the shorter list), in running order: the
/// open-loop case last, since its rate derives from ZooKeeper's measured peak.
pub fn default_cases(quick: bool) -> Vec<Case> {
    let client_counts: &[u32] = match quick {
        true => &[1, 16, 64, 256],
        false => &[1, 4, 16, 64, 256],
    };
    let mut cases = Vec::new();
    for workload in ["set", "get"] {
        for &clients in client_counts {
            let mut case = Case::closed(workload, clients, 1);
            case.groups.push("scaling");
            cases.push(case);
        }
    }
    cases.push(Case::closed("create", 64, 1));
    cases.push(Case::closed("create", 256, 1));
    cases.push(Case::closed("set", 64, 16));
    cases.push(Case::closed("get", 64, 16));
    cases.push(Case::closed("exists", 64, 1));
    cases.push(Case::closed("create-seq", 64, 1));
    cases
        .push(Case::closed("children", 64, 1).with("children-64x1-w1000", &[("children", 1000.0)]));
    cases.push(Case::closed("mixed", 64, 1).with("mixed-64x1-r90", &[("read_ratio", 0.9)]));
    cases.push(Case::closed("multi", 64, 1).with("multi-64x1-ops10", &[("multi_ops", 10.0)]));
    let mut large = Case::closed("large", 16, 1);
    large.id = "large-16x1-64KiB".into();
    large.value_bytes = Some(64 * 1024);
    cases.push(large);
    cases.push(Case::closed("ephemeral-churn", 16, 1));
    cases
        .push(Case::closed("watch-fanout", 1, 1).with("watch-fanout-w100", &[("watchers", 100.0)]));
    cases.push(Case::closed("election", 1, 1).with("election-c16", &[("contenders", 16.0)]));
    let mut open = Case::closed("set", 64, 16);
    open.id = OPEN_LOOP_CASE.into();
    open.open_loop_fraction = Some(0.8);
    open.groups.push("open-loop");
    cases.push(open);
    cases
}

/// Resolves the command line into a plan, checking every number against its bound.
pub fn plan(args: &CompareArgs) -> Result<Plan, Error> {
    let quick = args.quick;
    let rounds = args.rounds.unwrap_or(if quick { 1 } else { 3 });
    let seconds = args.seconds.unwrap_or(if quick { 1.5 } else { 10.0 });
    let warmup = args.warmup.unwrap_or(if quick { 0.5 } else { 2.0 });
    let nodes = args.nodes.unwrap_or(if quick { 20_000 } else { 1_000_000 });
    if !(1..=COMPARE_ROUNDS_MAX).contains(&rounds) {
        return Err(format!("--rounds must be 1 to {COMPARE_ROUNDS_MAX}").into());
    }
    if !(seconds > 0.0 && seconds.is_finite() && warmup >= 0.0 && warmup.is_finite()) {
        return Err("--seconds must be positive and --warmup not negative".into());
    }
    if !(1..=COMPARE_TREE_NODES_MAX).contains(&nodes) {
        return Err(format!("--nodes must be 1 to {COMPARE_TREE_NODES_MAX}").into());
    }
    let mut targets = Vec::new();
    for name in &args.servers {
        let target = Target::parse(name)?;
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    if targets.is_empty() {
        return Err("--servers names no server".into());
    }
    let cases: Vec<Case> = default_cases(quick)
        .into_iter()
        .filter(|case| case.selected_by(&args.workloads))
        .collect();
    if cases.iter().any(|case| case.clients > COMPARE_CLIENTS_MAX) {
        return Err(format!("a case asks for more than {COMPARE_CLIENTS_MAX} clients").into());
    }
    let tree = args.workloads.is_empty() || args.workloads.iter().any(|name| name == "tree");
    let no_fsync = args.workloads.is_empty() || args.workloads.iter().any(|name| name == "fsync");
    if cases.is_empty() && !tree && !no_fsync {
        return Err(format!("--workloads {:?} selects nothing", args.workloads).into());
    }
    Ok(Plan {
        quick,
        rounds,
        seconds,
        warmup,
        dir: args.dir.clone().unwrap_or_else(crate::wal_load::bench_dir),
        nodes,
        value_bytes: args.value_bytes,
        threads: args.threads.max(1),
        targets,
        cases,
        tree,
        no_fsync,
        server_per_case: !quick,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_plan_covers_issue_six_and_the_sweeps() {
        let plan = plan(&CompareArgs::default()).map_err(|e| e.to_string());
        let plan = plan.as_ref().map_err(Clone::clone);
        let Ok(plan) = plan else {
            panic!("{plan:?}");
        };
        let ids: Vec<&str> = plan.cases.iter().map(|c| c.id.as_str()).collect();
        for id in [
            "set-64x1",
            "set-256x1",
            "create-64x1",
            "create-256x1",
            "set-64x16",
            "get-64x1",
            "get-64x16",
            "set-1x1",
            "set-4x1",
            "set-16x1",
            "get-256x1",
            OPEN_LOOP_CASE,
        ] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
        assert_eq!(ids.last(), Some(&OPEN_LOOP_CASE));
        assert_eq!(
            (plan.rounds, plan.seconds, plan.nodes),
            (3, 10.0, 1_000_000)
        );
        assert!(plan.tree && plan.no_fsync && plan.server_per_case);
    }

    #[test]
    fn workloads_select_by_id_workload_or_group() {
        let args = |names: &[&str]| CompareArgs {
            workloads: names.iter().map(|n| n.to_string()).collect(),
            quick: true,
            ..CompareArgs::default()
        };
        let ids = |names: &[&str]| -> Vec<String> {
            plan(&args(names)).map_or_else(
                |e| vec![e.to_string()],
                |p| p.cases.iter().map(|c| c.id.clone()).collect(),
            )
        };
        assert_eq!(ids(&["get-64x16"]), vec!["get-64x16"]);
        assert_eq!(ids(&["open-loop"]), vec![OPEN_LOOP_CASE]);
        assert_eq!(
            ids(&["scaling"]),
            vec![
                "set-1x1",
                "set-16x1",
                "set-64x1",
                "set-256x1",
                "get-1x1",
                "get-16x1",
                "get-64x1",
                "get-256x1"
            ]
        );
        assert!(plan(&args(&["tree"])).is_ok_and(|p| p.tree && !p.no_fsync && p.cases.is_empty()));
        assert!(plan(&args(&["fsync"])).is_ok_and(|p| p.no_fsync && !p.tree));
        assert!(plan(&args(&["no-such-thing"])).is_err());
    }
}
