//! Every workload against the real `corral` for about half a second, with its results and the
//! nodes it made checked through the load generator's own client.

mod common;

use std::collections::BTreeMap;

use corral_bench::client::{decode_children, decode_get_data, Op, Session};
use corral_bench::results::{RunResult, RunSpec};
use corral_bench::run::run;

fn spec(server: &common::Server, workload: &str, clients: u32, params: &[(&str, f64)]) -> RunSpec {
    let mut params: BTreeMap<String, f64> = params
        .iter()
        .map(|(name, value)| (name.to_string(), *value))
        .collect();
    params.insert("keep".to_string(), 1.0);
    RunSpec {
        workload: workload.to_string(),
        servers: vec![server.address()],
        clients,
        in_flight: 4,
        rate: None,
        value_bytes: 100,
        threads: 2,
        warmup_seconds: 0.1,
        seconds: 0.5,
        params,
    }
}

fn run_checked(spec: &RunSpec) -> RunResult {
    let result = run(spec, "corral", false).unwrap_or_else(|error| panic!("run failed: {error}"));
    assert!(result.ops > 0, "no ops: {result:?}");
    assert!(result.errors.is_empty(), "errors: {:?}", result.errors);
    assert_eq!(result.latency.count, result.ops);
    assert!(result.latency.p50_us > 0 && result.latency.p50_us <= result.latency.max_us);
    assert!(!result.latency.curve.is_empty());
    assert!((result.throughput - result.ops as f64 / result.elapsed_seconds).abs() < 1e-6);
    result
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// The one workload root the run left on the server (`keep=1`).
async fn root_of(session: &mut Session) -> String {
    let reply = session
        .call_ok(&Op::GetChildren {
            path: "/",
            watch: false,
        })
        .await
        .expect("list /");
    let roots: Vec<String> = decode_children(&reply.body)
        .expect("children")
        .into_iter()
        .filter(|name| name.starts_with("corral-bench-"))
        .collect();
    assert_eq!(roots.len(), 1, "roots: {roots:?}");
    format!("/{}", roots[0])
}

async fn children(session: &mut Session, path: &str) -> Vec<String> {
    let reply = session
        .call_ok(&Op::GetChildren { path, watch: false })
        .await
        .expect("getChildren");
    let mut names = decode_children(&reply.body).expect("children");
    names.sort();
    names
}

async fn data(session: &mut Session, path: &str) -> (Vec<u8>, i32) {
    let reply = session
        .call_ok(&Op::GetData { path, watch: false })
        .await
        .expect("getData");
    let (data, stat) = decode_get_data(&reply.body).expect("data");
    (data.to_vec(), stat.version)
}

async fn connect(server: &common::Server) -> Session {
    Session::connect(&server.address(), 10_000)
        .await
        .expect("connect")
}

#[test]
fn set_writes_every_session_node() {
    let server = common::Server::start();
    let spec = spec(&server, "set", 4, &[]);
    run_checked(&spec);
    block_on(async {
        let mut session = connect(&server).await;
        let root = root_of(&mut session).await;
        assert_eq!(
            children(&mut session, &root).await,
            vec!["s0", "s1", "s2", "s3"]
        );
        for index in 0..4 {
            let (value, version) = data(&mut session, &format!("{root}/s{index}")).await;
            assert_eq!(value, vec![b'v'; 100]);
            assert!(version > 0, "s{index} was never set");
        }
    });
}

#[test]
fn get_and_exists_read_without_errors() {
    let server = common::Server::start();
    for workload in ["get", "exists"] {
        let mut spec = spec(&server, workload, 3, &[]);
        spec.params.remove("keep");
        run_checked(&spec);
    }
    block_on(async {
        let mut session = connect(&server).await;
        // Both runs removed their roots: only /zookeeper is left.
        let names = children(&mut session, "/").await;
        assert!(
            names.iter().all(|name| !name.starts_with("corral-bench-")),
            "{names:?}"
        );
    });
}

#[test]
fn create_makes_unique_nodes_with_the_value() {
    let server = common::Server::start();
    let result = run_checked(&spec(&server, "create", 2, &[]));
    block_on(async {
        let mut session = connect(&server).await;
        let root = root_of(&mut session).await;
        let mut made = 0;
        for index in 0..2 {
            let node = format!("{root}/s{index}");
            let names = children(&mut session, &node).await;
            made += names.len() as u64;
            let (value, _) = data(&mut session, &format!("{node}/{}", names[0])).await;
            assert_eq!(value, vec![b'v'; 100]);
        }
        assert!(made >= result.ops, "made {made} < ops {}", result.ops);
    });
}

#[test]
fn create_seq_appends_ten_digit_counters() {
    let server = common::Server::start();
    run_checked(&spec(&server, "create-seq", 1, &[]));
    block_on(async {
        let mut session = connect(&server).await;
        let root = root_of(&mut session).await;
        let names = children(&mut session, &format!("{root}/s0")).await;
        for (index, name) in names.iter().enumerate() {
            assert_eq!(name, &format!("q-{index:010}"));
        }
    });
}

#[test]
fn children_lists_the_prepared_wide_parent() {
    let server = common::Server::start();
    run_checked(&spec(&server, "children", 2, &[("children", 50.0)]));
    block_on(async {
        let mut session = connect(&server).await;
        let root = root_of(&mut session).await;
        assert_eq!(
            children(&mut session, &format!("{root}/wide")).await.len(),
            50
        );
    });
}

#[test]
fn mixed_and_large_write_their_values() {
    let server = common::Server::start();
    let mut large = spec(&server, "large", 2, &[]);
    // Half a megabyte per set: one in flight, and time for the first (segment-rolling) writes.
    large.value_bytes = 512 * 1024;
    large.in_flight = 1;
    large.warmup_seconds = 0.5;
    large.seconds = 1.0;
    large.params.remove("keep");
    run_checked(&large);
    run_checked(&spec(&server, "mixed", 2, &[("read_ratio", 0.5)]));
    block_on(async {
        let mut session = connect(&server).await;
        let root = root_of(&mut session).await;
        let (_, version) = data(&mut session, &format!("{root}/s0")).await;
        assert!(version > 0);
    });
}

#[test]
fn multi_sets_every_op_of_each_transaction() {
    let server = common::Server::start();
    run_checked(&spec(&server, "multi", 2, &[("multi_ops", 3.0)]));
    block_on(async {
        let mut session = connect(&server).await;
        let root = root_of(&mut session).await;
        let versions: Vec<i32> = {
            let mut versions = Vec::new();
            for op in 0..3 {
                versions.push(data(&mut session, &format!("{root}/s0/m{op}")).await.1);
            }
            versions
        };
        assert!(versions[0] > 0);
        assert!(
            versions.iter().all(|version| *version == versions[0]),
            "{versions:?}"
        );
    });
}

#[test]
fn open_loop_keeps_the_rate() {
    let server = common::Server::start();
    let mut spec = spec(&server, "set", 4, &[]);
    spec.rate = Some(2000.0);
    spec.seconds = 1.0;
    let result = run_checked(&spec);
    // 2000 per second for one second, give or take the edges of the window.
    assert!((1600..=2400).contains(&result.ops), "ops {}", result.ops);
}

#[test]
fn ephemeral_churn_leaves_no_ephemerals() {
    let server = common::Server::start();
    run_checked(&spec(&server, "ephemeral-churn", 3, &[]));
    block_on(async {
        let mut session = connect(&server).await;
        let root = root_of(&mut session).await;
        assert_eq!(children(&mut session, &root).await, Vec::<String>::new());
    });
}

#[test]
fn watch_fanout_delivers_one_event_per_watcher_per_set() {
    let server = common::Server::start();
    let result = run_checked(&spec(&server, "watch-fanout", 1, &[("watchers", 5.0)]));
    let sets = result.extra["sets"];
    assert!(sets > 0.0);
    assert_eq!(result.extra["events_per_set_min"], 5.0);
    assert_eq!(result.extra["events_per_set_max"], 5.0);
    assert_eq!(result.extra["events"], sets * 5.0);
}

#[test]
fn election_agrees_on_one_leader_each_round() {
    let server = common::Server::start();
    let result = run_checked(&spec(&server, "election", 1, &[("contenders", 4.0)]));
    assert!(result.extra["rounds"] >= result.ops as f64);
    assert!(result.extra["agreement_ms_max"] > 0.0);
    block_on(async {
        let mut session = connect(&server).await;
        let root = root_of(&mut session).await;
        // Every contender's session is closed: no ephemeral is left under the parent.
        assert!(children(&mut session, &format!("{root}/election"))
            .await
            .is_empty());
    });
}
