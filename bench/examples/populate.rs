//! Creates N persistent znodes of V bytes on any ZooKeeper-compatible server, with many requests
//! in flight, and prints the rate.
//!
//! `cargo run --release -p corral-bench --example populate -- HOST:PORT [NODES] [VALUE_BYTES]
//!  [SESSIONS] [IN_FLIGHT_PER_SESSION] [ROOT]`
//!
//! Defaults: 1000000 nodes of 100 bytes, 8 sessions, 256 requests in flight per session, root
//! `/corral-bench`. The tree is `ROOT/dDDDDD/nNNNNNNNNNN`, a thousand children per directory
//! (`corral_bench::tree`). After every other node, `ROOT/done` is created; its path is printed, so
//! a later `get` of it (`ready_probe`) proves the whole population survived a restart. Output:
//!
//! `nodes=N value_bytes=V sessions=S in_flight=K seconds=T rate=R/s marker=ROOT/done`

use std::sync::Arc;
use std::time::Instant;

use corral_bench::limits::{POPULATE_IN_FLIGHT_PER_SESSION_MAX, POPULATE_SESSIONS_MAX};
use corral_bench::tree::{directory_count, directory_path, marker_path, node_path};
use zookeeper_client::{Acls, Client, CreateMode, CreateOptions};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What to create, and how hard to push.
#[derive(Clone, Debug)]
struct Plan {
    server: String,
    nodes: u64,
    value_bytes: usize,
    sessions: usize,
    in_flight: usize,
    root: String,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let plan = parse_plan(std::env::args().skip(1).collect())?;
    let clients = connect_all(&plan).await?;
    let started = Instant::now();
    let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
    clients[0].create(&plan.root, b"", &options).await?;
    let directories = directory_count(plan.nodes);
    create_all(
        &plan,
        &clients,
        directories,
        Arc::new(Vec::new()),
        |index| directory_path(&plan.root, index),
    )
    .await?;
    eprintln!(
        "populate: {directories} directories in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let value = Arc::new(vec![b'v'; plan.value_bytes]);
    create_all(&plan, &clients, plan.nodes, value, |index| {
        node_path(&plan.root, index)
    })
    .await?;
    let marker = marker_path(&plan.root);
    clients[0].create(&marker, b"done", &options).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "nodes={} value_bytes={} sessions={} in_flight={} seconds={seconds:.1} rate={:.0}/s \
         marker={marker}",
        plan.nodes,
        plan.value_bytes,
        plan.sessions,
        plan.in_flight,
        plan.nodes as f64 / seconds
    );
    Ok(())
}

fn parse_plan(args: Vec<String>) -> Result<Plan, BoxError> {
    let usage = "usage: populate HOST:PORT [NODES] [VALUE_BYTES] [SESSIONS] \
                 [IN_FLIGHT_PER_SESSION] [ROOT]";
    let server = args.first().ok_or(usage)?.clone();
    let number = |at: usize, default: u64| -> Result<u64, BoxError> {
        match args.get(at) {
            Some(text) => Ok(text.parse().map_err(|_| format!("{text:?}: {usage}"))?),
            None => Ok(default),
        }
    };
    let plan = Plan {
        server,
        nodes: number(1, 1_000_000)?,
        value_bytes: number(2, 100)? as usize,
        sessions: number(3, 8)? as usize,
        in_flight: number(4, 256)? as usize,
        root: args
            .get(5)
            .cloned()
            .unwrap_or_else(|| "/corral-bench".to_string()),
    };
    if !(1..=POPULATE_SESSIONS_MAX).contains(&plan.sessions) {
        return Err(format!("SESSIONS must be 1 to {POPULATE_SESSIONS_MAX}").into());
    }
    if !(1..=POPULATE_IN_FLIGHT_PER_SESSION_MAX).contains(&plan.in_flight) {
        return Err(format!(
            "IN_FLIGHT_PER_SESSION must be 1 to {POPULATE_IN_FLIGHT_PER_SESSION_MAX}"
        )
        .into());
    }
    Ok(plan)
}

async fn connect_all(plan: &Plan) -> Result<Vec<Client>, BoxError> {
    let mut clients = Vec::with_capacity(plan.sessions);
    for _ in 0..plan.sessions {
        clients.push(Client::connect(&plan.server).await?);
    }
    Ok(clients)
}

/// Creates nodes `0..count` named by `path_of`, with `sessions × in_flight` creates in flight:
/// each of that many tasks creates every (sessions × in_flight)-th node, one at a time.
async fn create_all(
    plan: &Plan,
    clients: &[Client],
    count: u64,
    value: Arc<Vec<u8>>,
    path_of: impl Fn(u64) -> String,
) -> Result<(), BoxError> {
    let workers = (plan.sessions * plan.in_flight) as u64;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers.min(count) {
        let client = clients[worker as usize % clients.len()].clone();
        let paths: Vec<String> = (worker..count)
            .step_by(workers as usize)
            .map(&path_of)
            .collect();
        let value = value.clone();
        tasks.spawn(async move {
            let options: CreateOptions<'_> = CreateMode::Persistent.with_acls(Acls::anyone_all());
            for path in paths {
                client
                    .create(&path, &value, &options)
                    .await
                    .map_err(|error| format!("create {path}: {error}"))?;
            }
            Ok::<_, String>(())
        });
    }
    while let Some(outcome) = tasks.join_next().await {
        outcome??;
    }
    Ok(())
}
