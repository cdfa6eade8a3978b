//! Starting, filling, restarting, measuring and stopping real servers as the comparison does.
//!
//! Corral: `CORRAL_BIN`, else `corral` next to the test binary or in `target/release` (as
//! tests/run-all.sh builds it first). Apache ZooKeeper: Debian's package; its test is skipped,
//! with the reason printed, only when `/usr/share/zookeeper` is absent.

use std::path::{Path, PathBuf};

use corral_bench::compare::{self, CompareArgs};
use corral_bench::servers::process::rss_kib;
use corral_bench::servers::session::{populate, probe_once};
use corral_bench::servers::{self, Server, ServerSettings, Target, ZOOKEEPER_HOME};

fn corral_binary() -> PathBuf {
    let explicit = std::env::var_os("CORRAL_BIN").map(PathBuf::from);
    servers::find_corral_binary(explicit.as_deref()).unwrap_or_else(|error| {
        panic!("{error}: run `cargo build --release --bin corral` first or set CORRAL_BIN")
    })
}

fn settings() -> ServerSettings {
    let mut settings = ServerSettings::new(corral_binary());
    // A small heap: these tests hold a few thousand nodes.
    settings.zookeeper_heap = "512m".into();
    // Small log segments: every start preallocates one with zeros.
    settings.config.insert("preAllocSize".into(), "1024".into());
    settings
}

fn scratch() -> tempfile::TempDir {
    // The servers' speed does not matter here, so any directory will do.
    let parent =
        std::env::var_os("CORRAL_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    tempfile::Builder::new()
        .prefix("compare-test-")
        .tempdir_in(&parent)
        .unwrap_or_else(|e| panic!("scratch dir under {}: {e}", parent.display()))
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Start, fill, crash, restart, stop: everything the large-tree measures do to a server.
fn start_fill_restart_stop(target: Target) {
    let dir = scratch();
    let settings = settings();
    let mut server = Server::start(target, &settings, dir.path(), &[])
        .unwrap_or_else(|e| panic!("start {}: {e}", target.name()));
    let pid = server.pid().unwrap_or_else(|| panic!("no pid"));
    assert!(server.address().starts_with("127.0.0.1:"));
    assert!(probe_once(server.address(), "/"));
    assert!(!probe_once(server.address(), "/no-such-node"));
    assert!(rss_kib(pid).is_some_and(|kib| kib > 1024));
    let config =
        std::fs::read_to_string(server.data_dir().with_file_name("zoo.cfg")).unwrap_or_default();
    assert!(config.contains("forceSync=yes\n") && config.contains("maxClientCnxns=0\n"));

    let marker = populate(server.address(), "/filled", 2500, 100)
        .unwrap_or_else(|e| panic!("populate: {e}\n{}", server.log_tail()));
    assert_eq!(marker, "/filled/done");
    assert!(probe_once(server.address(), "/filled/d00002/n0000002499"));
    assert!(!probe_once(server.address(), "/filled/d00002/n0000002500"));

    let elapsed = server
        .restart(libc::SIGKILL, &[("snapCount", "1000".into())], &marker)
        .unwrap_or_else(|e| panic!("restart: {e}"));
    assert!(!process_exists(pid), "the killed server is gone");
    assert!(elapsed.as_millis() > 0);
    assert!(probe_once(server.address(), "/filled/d00001/n0000001234"));
    let config =
        std::fs::read_to_string(server.data_dir().with_file_name("zoo.cfg")).unwrap_or_default();
    assert!(config.contains("snapCount=1000\n"), "{config}");

    let pid = server
        .pid()
        .unwrap_or_else(|| panic!("no pid after restart"));
    let status = server
        .stop(libc::SIGTERM)
        .unwrap_or_else(|e| panic!("stop: {e}"));
    if target == Target::Corral {
        assert!(status.is_some_and(|s| s.success()), "{status:?}");
    }
    assert!(!process_exists(pid));
    assert_eq!(server.pid(), None);
}

#[test]
fn corral_starts_fills_restarts_and_stops() {
    start_fill_restart_stop(Target::Corral);
}

#[test]
fn zookeeper_starts_fills_restarts_and_stops() {
    if !Path::new(ZOOKEEPER_HOME).is_dir() {
        println!("skipped: {ZOOKEEPER_HOME} is absent (apt-get install zookeeper zookeeper-bin)");
        return;
    }
    start_fill_restart_stop(Target::ZooKeeper);
}

#[test]
fn dropping_a_server_stops_it_and_deletes_its_data() {
    let dir = scratch();
    let server = Server::start(Target::Corral, &settings(), dir.path(), &[])
        .unwrap_or_else(|e| panic!("start: {e}"));
    let pid = server.pid().unwrap_or_else(|| panic!("no pid"));
    let data = server.data_dir();
    assert!(data.is_dir());
    drop(server);
    assert!(!process_exists(pid));
    assert!(!data.exists());
}

#[test]
fn a_server_that_cannot_start_is_an_error_not_a_hang() {
    let dir = scratch();
    let mut settings = settings();
    settings.corral_binary = PathBuf::from("/bin/false");
    let outcome = Server::start(Target::Corral, &settings, dir.path(), &[]);
    let error = outcome.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("corral did not start"), "{error}");
}

/// A measured run against a real Corral: the load generator's result with the server's memory
/// and CPU time added.
#[test]
fn a_measured_run_adds_the_servers_memory() {
    let dir = scratch();
    let server = Server::start(Target::Corral, &settings(), dir.path(), &[])
        .unwrap_or_else(|e| panic!("start: {e}"));
    let args = CompareArgs {
        quick: true,
        seconds: Some(0.5),
        warmup: Some(0.2),
        ..CompareArgs::default()
    };
    let plan = compare::plan(&args).unwrap_or_else(|e| panic!("{e}"));
    let case = plan
        .cases
        .iter()
        .find(|c| c.id == "set-16x1")
        .unwrap_or_else(|| panic!("no set-16x1 case"));
    let result = compare::measured_run(&server, plan.spec(case, None))
        .unwrap_or_else(|e| panic!("run: {e}\n{}", server.log_tail()));
    assert!(result.ops > 0, "{result:?}");
    assert_eq!(result.latency.count, result.ops);
    assert_eq!(
        result.errors.values().sum::<u64>(),
        0,
        "{:?}",
        result.errors
    );
    assert_eq!(result.target, "corral");
    assert_eq!(result.spec.servers, vec![server.address().to_string()]);
    assert_eq!((result.spec.clients, result.spec.in_flight), (16, 1));
    let memory = result.memory.clone().unwrap_or_default();
    assert!(memory.samples > 0 && memory.median_kib > 1024, "{memory:?}");
    assert!(memory.max_kib >= memory.median_kib);
    let cpu = result
        .extra
        .get("server_cpu_seconds")
        .copied()
        .unwrap_or(0.0);
    assert!(cpu > 0.0, "{:?}", result.extra);
    let per_op = result
        .extra
        .get("server_cpu_us_per_op")
        .copied()
        .unwrap_or(0.0);
    assert!((per_op - cpu * 1e6 / result.ops as f64).abs() < 1e-6);
}

/// Threads of a running process, from /proc.
fn thread_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |tasks| tasks.count())
}

#[test]
fn corral_cores_sets_corral_s_shard_count() {
    let dir = scratch();
    let threads_with = |cores: u32| {
        let mut settings = settings();
        settings.corral_cores = Some(cores);
        let server = Server::start(Target::Corral, &settings, dir.path(), &[])
            .unwrap_or_else(|e| panic!("start with --cores={cores}: {e}"));
        assert!(
            probe_once(server.address(), "/"),
            "--cores={cores}: not serving"
        );
        let pid = server.pid().unwrap_or_else(|| panic!("no pid"));
        thread_count(pid)
    };
    let one = threads_with(1);
    let two = threads_with(2);
    assert!(one > 0, "no threads read for the one-shard server");
    // Each shard runs on threads of its own (its executor's, and glommio's helpers).
    assert!(two > one, "threads with one shard {one}, with two {two}");
}
