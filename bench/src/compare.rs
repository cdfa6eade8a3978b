//! `corral-bench compare`: Corral and Apache ZooKeeper side by side on this machine.
//!
//! Every case (a workload at one setting) runs on each server in turn, round after round, the
//! order alternating so that a drift in the machine's background load favours neither. A case
//! gets a fresh server (in `--quick` mode, a round does). Both servers fsync before
//! acknowledging and get the same `zoo.cfg` ([`crate::servers`]). The large-tree measures fill
//! each server with `--nodes` znodes, then measure its RSS, its restart to serving after a crash
//! and after a graceful stop, and `set` throughput with snapshots off and written back to back.
//! `set-64x1` also runs on a Corral with `forceSync=no`, for the cost of durability.
//!
//! Output, in `--out`: `results.json` (every run, the summary, the machine and the command),
//! `summary.md` (also printed), `report.html` and `plots/*.svg`.

pub mod plan;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::limits::COMPARE_SETTLE_TIME;
use crate::report::{self, CaseRun, Summary, TreeMeasure};
use crate::results::{RunResult, RunSpec};
use crate::servers::process::{cpu_seconds, rss_kib, RssSampler};
use crate::servers::{self, Server, ServerSettings, Target};
use crate::Error;

pub use plan::{plan, Case, CompareArgs, Plan};

/// Everything a comparison wrote to `results.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompareResults {
    /// The machine, the date, the commit and the exact command.
    pub machine: BTreeMap<String, String>,
    pub runs: Vec<CaseRun>,
    pub tree: Vec<TreeMeasure>,
    pub summary: Summary,
    /// Failures and skipped measures, in words.
    pub notes: Vec<String>,
}

/// The case the run without fsync is compared with, and runs right after.
const FSYNC_NEIGHBOUR: &str = "set-64x1";
/// The root of the large tree's nodes.
const TREE_ROOT: &str = "/corral-bench-tree";
/// snapCount that keeps snapshots from being written during a run.
const SNAP_COUNT_OFF: u64 = 1_000_000_000;
/// snapCount that makes a new snapshot due as soon as the last one ends, at these rates.
const SNAP_COUNT_BUSY: u64 = 1000;

/// Runs the comparison `args` asks for and writes its outputs.
pub fn main(args: CompareArgs) -> Result<(), Error> {
    let plan = plan(&args)?;
    servers::install_interrupt_handler()?;
    if plan.targets.contains(&Target::ZooKeeper) {
        servers::install_zookeeper()?;
    }
    let corral_binary = servers::find_corral_binary(args.corral.as_deref())?;
    let mut settings = ServerSettings::new(corral_binary);
    settings.zookeeper_heap = args.zk_heap.clone();
    settings.corral_cores = args.corral_cores;
    let results = run_comparison(&plan, &settings)?;
    let failures = results
        .notes
        .iter()
        .filter(|n| n.starts_with("FAILED"))
        .count();
    write_outputs(&args.out, &results)?;
    println!("{}", report::markdown(&results.summary));
    eprintln!(
        "wrote {}/results.json, summary.md, report.html",
        args.out.display()
    );
    match failures {
        0 => Ok(()),
        count => Err(format!("{count} measurements failed (see the notes in summary.md)").into()),
    }
}

/// Runs every case and the large-tree measures of `plan`, in a scratch directory under
/// `plan.dir` that is deleted afterwards. A failed run is noted and the comparison goes on.
pub fn run_comparison(plan: &Plan, settings: &ServerSettings) -> Result<CompareResults, Error> {
    std::fs::create_dir_all(&plan.dir)?;
    let scratch = tempfile::Builder::new()
        .prefix("corral-compare-")
        .tempdir_in(&plan.dir)
        .map_err(|error| format!("{}: {error}", plan.dir.display()))?;
    servers::register_scratch(scratch.path());
    let mut comparison = Comparison {
        plan,
        settings,
        scratch: scratch.path().to_path_buf(),
        results: CompareResults {
            machine: machine_facts(&plan.dir),
            ..CompareResults::default()
        },
    };
    if crate::wal_load::is_tmpfs(&plan.dir).unwrap_or(false) {
        comparison.note(format!(
            "{} is on tmpfs: fsync costs nothing there, so the write figures are not a disk's",
            plan.dir.display()
        ));
    }
    for round in 1..=plan.rounds {
        comparison.run_round(round);
    }
    let mut results = comparison.results;
    results.summary = report::summarize(&results.runs, &results.tree);
    Ok(results)
}

struct Comparison<'a> {
    plan: &'a Plan,
    settings: &'a ServerSettings,
    scratch: PathBuf,
    results: CompareResults,
}

impl Comparison<'_> {
    fn note(&mut self, note: String) {
        eprintln!("{note}");
        self.results.notes.push(note);
    }

    fn run_round(&mut self, round: u32) {
        // Servers of this round when they are shared by its cases (`--quick`).
        let mut shared: BTreeMap<Target, Server> = BTreeMap::new();
        for (index, case) in self.plan.cases.iter().enumerate() {
            let rate = match case.open_loop_fraction {
                Some(fraction) => match self.peak_set_rate() {
                    Some(peak) => Some(peak * fraction),
                    None => {
                        self.note(format!("{}: skipped, no set throughput measured", case.id));
                        continue;
                    }
                },
                None => None,
            };
            self.run_on_every_server(round, index, case, rate, &mut shared);
            // Right after the run it is compared with, so that both see the same background.
            if case.id == FSYNC_NEIGHBOUR {
                self.measure_without_fsync(round);
            }
        }
        drop(shared);
        if !self
            .plan
            .cases
            .iter()
            .any(|case| case.id == FSYNC_NEIGHBOUR)
        {
            self.measure_without_fsync(round);
        }
        if self.plan.tree {
            for target in self.order(round, self.plan.cases.len()) {
                if let Err(error) = self.measure_tree(round, target) {
                    let what = format!("round {round}, large tree on {}", target.name());
                    self.note(format!("FAILED: {what}: {error}"));
                }
            }
        }
    }

    fn run_on_every_server(
        &mut self,
        round: u32,
        index: usize,
        case: &Case,
        rate: Option<f64>,
        shared: &mut BTreeMap<Target, Server>,
    ) {
        for target in self.order(round, index) {
            match self.run_case(case, rate, target, shared) {
                Ok(result) => {
                    let rounds = self.plan.rounds;
                    eprintln!("round {round}/{rounds} {}", one_line(case, &result));
                    let case = case.id.clone();
                    self.results.runs.push(CaseRun {
                        case,
                        round,
                        result,
                    });
                }
                Err(error) => self.note(format!(
                    "FAILED: round {round}, {} on {}: {error}",
                    case.id,
                    target.name()
                )),
            }
        }
    }

    /// The servers in the order they run `index` in `round`: alternating from case to case and
    /// from round to round.
    fn order(&self, round: u32, index: usize) -> Vec<Target> {
        let mut targets = self.plan.targets.clone();
        if (round as usize + index).is_multiple_of(2) {
            targets.reverse();
        }
        targets
    }

    /// ZooKeeper's highest `set` throughput measured so far (or Corral's when ZooKeeper is not
    /// being compared), which the open-loop case's rate derives from.
    fn peak_set_rate(&self) -> Option<f64> {
        let peak_of = |target: &str| {
            self.results
                .runs
                .iter()
                .filter(|run| run.result.target == target && run.result.spec.workload == "set")
                .filter(|run| run.result.spec.rate.is_none())
                .map(|run| run.result.throughput)
                .fold(None, |peak: Option<f64>, value| {
                    Some(peak.map_or(value, |p| p.max(value)))
                })
        };
        peak_of(Target::ZooKeeper.name()).or_else(|| peak_of(Target::Corral.name()))
    }

    fn run_case(
        &mut self,
        case: &Case,
        rate: Option<f64>,
        target: Target,
        shared: &mut BTreeMap<Target, Server>,
    ) -> Result<RunResult, Error> {
        let spec = self.plan.spec(case, rate);
        if self.plan.server_per_case {
            let server = Server::start(target, self.settings, &self.scratch, &[])?;
            return measured_run(&server, spec);
        }
        let server = match shared.entry(target) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(Server::start(target, self.settings, &self.scratch, &[])?)
            }
        };
        measured_run(server, spec)
    }

    /// `set-64x1` on a fresh Corral that acknowledges writes without syncing its log, the
    /// baseline of the cost of durability.
    fn measure_without_fsync(&mut self, round: u32) {
        if !self.plan.no_fsync || !self.plan.targets.contains(&Target::Corral) {
            return;
        }
        if let Err(error) = self.run_without_fsync(round) {
            self.note(format!(
                "FAILED: round {round}, Corral without fsync: {error}"
            ));
        }
    }

    fn run_without_fsync(&mut self, round: u32) -> Result<(), Error> {
        let case = self.plan.no_fsync_case();
        let no_sync = [("forceSync", "no".to_string())];
        let server = Server::start(Target::Corral, self.settings, &self.scratch, &no_sync)?;
        let result = measured_run(&server, self.plan.spec(&case, None))?;
        eprintln!(
            "round {round}/{} {}",
            self.plan.rounds,
            one_line(&case, &result)
        );
        self.results.runs.push(CaseRun {
            case: case.id,
            round,
            result,
        });
        Ok(())
    }

    fn measure_tree(&mut self, round: u32, target: Target) -> Result<(), Error> {
        let plan = self.plan;
        eprintln!(
            "round {round}/{}: large tree on {}: {} znodes",
            plan.rounds,
            target.name(),
            plan.nodes
        );
        let mut server = Server::start(target, self.settings, &self.scratch, &[])?;
        let started = Instant::now();
        let marker = servers::session::populate(
            server.address(),
            TREE_ROOT,
            plan.nodes,
            plan.value_bytes as usize,
        )?;
        let mut measure = TreeMeasure {
            target: target.name().to_string(),
            round,
            nodes: plan.nodes,
            value_bytes: plan.value_bytes,
            populate_rate: plan.nodes as f64 / started.elapsed().as_secs_f64(),
            ..TreeMeasure::default()
        };
        measure.rss_loaded_kib = settled_rss(&server)?;
        let elapsed = server.restart(libc::SIGKILL, &[], &marker)?;
        measure.restart_after_kill_ms = elapsed.as_secs_f64() * 1000.0;
        measure.rss_restarted_kib = settled_rss(&server)?;
        let off = [("snapCount", SNAP_COUNT_OFF.to_string())];
        let elapsed = server.restart(libc::SIGTERM, &off, &marker)?;
        measure.restart_after_term_ms = elapsed.as_secs_f64() * 1000.0;
        let case = plan.tree_set_case("no-snapshots");
        let result = measured_run(&server, plan.spec(&case, None))?;
        measure.set_without_snapshots = result.throughput;
        self.results.runs.push(CaseRun {
            case: case.id,
            round,
            result,
        });
        let busy = [("snapCount", SNAP_COUNT_BUSY.to_string())];
        server.restart(libc::SIGTERM, &busy, &marker)?;
        let case = plan.tree_set_case("snapshots");
        let result = measured_run(&server, plan.spec(&case, None))?;
        measure.set_with_snapshots = result.throughput;
        self.results.runs.push(CaseRun {
            case: case.id,
            round,
            result,
        });
        eprintln!("round {round}/{}: {measure:?}", plan.rounds);
        self.results.tree.push(measure);
        Ok(())
    }
}

/// The server's RSS after `COMPARE_SETTLE_TIME`.
fn settled_rss(server: &Server) -> Result<u64, Error> {
    std::thread::sleep(COMPARE_SETTLE_TIME);
    server
        .pid()
        .and_then(rss_kib)
        .ok_or_else(|| "the server's RSS cannot be read (has it exited?)".into())
}

/// Runs `spec` against `server`, sampling its RSS meanwhile and its CPU time before and after
/// (as `extra.server_cpu_seconds` and `extra.server_cpu_us_per_op`).
pub fn measured_run(server: &Server, mut spec: RunSpec) -> Result<RunResult, Error> {
    spec.servers = vec![server.address().to_string()];
    let pid = server.pid().ok_or("the server is not running")?;
    let cpu_before = cpu_seconds(pid);
    let sampler = RssSampler::start(pid)?;
    let outcome = crate::run::run(
        &spec,
        server.target().name(),
        std::io::stderr().is_terminal(),
    );
    let memory = sampler.finish();
    let mut result = outcome?;
    result.memory = memory;
    if let (Some(before), Some(after)) = (cpu_before, cpu_seconds(pid)) {
        let seconds = after - before;
        result.extra.insert("server_cpu_seconds".into(), seconds);
        if result.ops > 0 {
            let per_op = seconds * 1e6 / result.ops as f64;
            result.extra.insert("server_cpu_us_per_op".into(), per_op);
        }
    }
    Ok(result)
}

fn one_line(case: &Case, result: &RunResult) -> String {
    let rss = result.memory.as_ref().map_or(String::new(), |m| {
        format!(", RSS {} MiB", m.median_kib / 1024)
    });
    let errors: u64 = result.errors.values().sum();
    format!(
        "{} {}: {} ops/s, p99 {:.2} ms, p99.9 {:.2} ms{rss}, {errors} errors",
        case.id,
        result.target,
        report::thousands(result.throughput),
        result.latency.p99_us as f64 / 1000.0,
        result.latency.p999_us as f64 / 1000.0,
    )
}

/// Writes `results.json`, `summary.md`, `report.html` and `plots/*.svg` into `out`.
pub fn write_outputs(out: &Path, results: &CompareResults) -> Result<(), Error> {
    std::fs::create_dir_all(out.join("plots"))?;
    let json = serde_json::to_string_pretty(results)?;
    std::fs::write(out.join("results.json"), json)?;
    let mut summary = report::markdown(&results.summary);
    summary.push_str("\n### Machine and command\n\n");
    for (key, value) in &results.machine {
        summary.push_str(&format!("- {key}: {value}\n"));
    }
    if !results.notes.is_empty() {
        summary.push_str("\n### Notes\n\n");
        for note in &results.notes {
            summary.push_str(&format!("- {note}\n"));
        }
    }
    std::fs::write(out.join("summary.md"), summary)?;
    let context = report::PageContext {
        title: "Corral and Apache ZooKeeper, side by side",
        facts: &results.machine,
        notes: &results.notes,
    };
    let html = report::html(&context, &results.runs, &results.summary)?;
    std::fs::write(out.join("report.html"), html)?;
    for series in report::plots::scaling_series(&results.runs) {
        let name = format!("throughput-{}-x{}.svg", series.workload, series.in_flight);
        std::fs::write(
            out.join("plots").join(name),
            report::plots::scaling_svg(&series)?,
        )?;
    }
    for case in report::case_order(&results.runs) {
        let svg = report::plots::latency_svg(&results.runs, &case)?;
        std::fs::write(out.join("plots").join(format!("latency-{case}.svg")), svg)?;
    }
    Ok(())
}

/// What the report says about the machine and the command.
pub fn machine_facts(dir: &Path) -> BTreeMap<String, String> {
    let mut facts = BTreeMap::new();
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string());
    facts.insert("cpu".into(), model.unwrap_or_else(|| "unknown".into()));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    facts.insert("cores".into(), cores.to_string());
    let memory = read("/proc/meminfo").lines().find_map(|line| {
        line.strip_prefix("MemTotal:")
            .map(|rest| rest.trim().to_string())
    });
    facts.insert("memory".into(), memory.unwrap_or_else(|| "unknown".into()));
    facts.insert(
        "kernel".into(),
        read("/proc/sys/kernel/osrelease").trim().to_string(),
    );
    facts.insert("disk".into(), disk_of(dir));
    facts.insert(
        "date".into(),
        command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
    );
    let commit = command_output("git", &["describe", "--always", "--dirty", "--abbrev=12"]);
    facts.insert("git commit".into(), commit);
    let zookeeper = command_output("dpkg-query", &["-W", "-f=${Version}", "zookeeper"]);
    facts.insert("zookeeper package".into(), zookeeper);
    let command: Vec<String> = std::env::args().collect();
    facts.insert("command".into(), command.join(" "));
    facts
}

fn command_output(program: &str, args: &[&str]) -> String {
    match std::process::Command::new(program).args(args).output() {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        }
        _ => "unknown".into(),
    }
}

/// The device and filesystem `dir` is on, from the longest mount point containing it.
fn disk_of(dir: &Path) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let best = mounts
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [device, mount, fstype, ..] if dir.starts_with(mount) => {
                    Some((mount.len(), format!("{device} ({fstype}) at {mount}")))
                }
                _ => None,
            }
        })
        .max_by_key(|(length, _)| *length);
    let place = best.map_or_else(|| "unknown".into(), |(_, text)| text);
    format!("{place}; data under {}", dir.display())
}
