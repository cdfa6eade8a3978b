//! corral-bench: load against any ZooKeeper-compatible server, and the side-by-side comparison
//! of Corral with Apache ZooKeeper.
//!
//! `corral-bench run --server H:P --workload set --clients 64 --in-flight 16 --seconds 10`
//! prints one summary line and, with `--json FILE`, writes the `RunResult`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use corral_bench::results::{RunResult, RunSpec};
use corral_bench::workload::WORKLOADS;

#[derive(Parser)]
#[command(
    name = "corral-bench",
    about = "Load and comparisons for ZooKeeper-compatible servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs one workload against one server (or ensemble) and reports what it measured.
    Run(RunArgs),
    /// Runs Corral and Apache ZooKeeper side by side and writes the ratio table and report.
    Compare(corral_bench::compare::CompareArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// `host:port` of a server; repeat for an ensemble (sessions are spread over them).
    #[arg(long = "server", required = true)]
    servers: Vec<String>,
    /// The workload (set, get, exists, create, create-seq, children, mixed, multi, large,
    /// ephemeral-churn, watch-fanout, election).
    #[arg(long)]
    workload: String,
    /// Sessions, each with its own connection.
    #[arg(long, default_value_t = 16)]
    clients: u32,
    /// Requests each session keeps outstanding (closed loop).
    #[arg(long = "in-flight", default_value_t = 1)]
    in_flight: u32,
    /// Total requests per second across all sessions (open loop).
    #[arg(long)]
    rate: Option<f64>,
    /// Bytes of each value written.
    #[arg(long = "value-bytes", default_value_t = 100)]
    value_bytes: u32,
    /// Load-generator threads.
    #[arg(long, default_value_t = 1)]
    threads: u32,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// A workload knob, `name=value` (read_ratio, multi_ops, multi_creates, children,
    /// watchers, contenders); repeatable.
    #[arg(long = "param", value_parser = parse_param)]
    params: Vec<(String, f64)>,
    /// The label of the result's `target` field.
    #[arg(long, default_value = "server")]
    target: String,
    /// Writes the `RunResult` as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

fn parse_param(text: &str) -> Result<(String, f64), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not name=value"))?;
    let value: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number"))?;
    Ok((name.to_string(), value))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => run(args),
        Command::Compare(args) => corral_bench::compare::main(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("corral-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> Result<(), corral_bench::Error> {
    if !WORKLOADS.contains(&args.workload.as_str()) {
        return Err(format!(
            "unknown workload {:?}; known: {}",
            args.workload,
            WORKLOADS.join(", ")
        )
        .into());
    }
    let spec = RunSpec {
        workload: args.workload,
        servers: args.servers,
        clients: args.clients,
        in_flight: args.in_flight,
        rate: args.rate,
        value_bytes: args.value_bytes,
        threads: args.threads,
        warmup_seconds: args.warmup,
        seconds: args.seconds,
        params: args.params.into_iter().collect::<BTreeMap<_, _>>(),
    };
    let result = corral_bench::run::run(&spec, &args.target, true)?;
    println!("{}", summary(&result));
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&result)?)
            .map_err(|error| format!("writing {}: {error}", path.display()))?;
    }
    Ok(())
}

fn summary(result: &RunResult) -> String {
    let latency = &result.latency;
    let errors: u64 = result.errors.values().sum();
    let mut line = format!(
        "{} {} clients={} in_flight={}{} ops={} rate={:.0}/s p50={}us p90={}us p99={}us \
         p99.9={}us max={}us errors={errors}",
        result.target,
        result.spec.workload,
        result.spec.clients,
        result.spec.in_flight,
        result
            .spec
            .rate
            .map_or(String::new(), |rate| format!(" target_rate={rate}/s")),
        result.ops,
        result.throughput,
        latency.p50_us,
        latency.p90_us,
        latency.p99_us,
        latency.p999_us,
        latency.max_us,
    );
    for (name, count) in &result.errors {
        line.push_str(&format!(" {name}={count}"));
    }
    for (key, value) in &result.extra {
        line.push_str(&format!(" {key}={value}"));
    }
    line
}
