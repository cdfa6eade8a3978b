//! Every acknowledged write survives `kill -9`, and sessions survive it too: their ephemerals
//! are still there after the restart and go away only when the sessions expire.
//!
//! Checked first against a real ZooKeeper 3.8 (`CORRAL_TEST_ZK=spawn`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::raw::{self, RawSession, Writer};
use common::{connect, step, unique_root, Server, STEP_TIMEOUT};
use tokio::sync::mpsc;
use zookeeper_client as zk;

/// Concurrent writer sessions, each with its own client and connection.
const WRITERS: usize = 4;
/// Operations each writer issues at most: a bound far above what a writer gets through
/// before the kill, so that even a fast server is killed in the middle of the load.
const OPS_PER_WRITER: usize = 5000;
/// Acknowledged writes (over all writers) after which the server is killed mid-load.
const KILL_AFTER_ACKS: usize = 600;
/// Every how many operations a writer creates a node rather than setting one.
const CREATE_EVERY: usize = 4;
/// Every how many operations a writer creates a sequential node under the shared parent.
const SEQUENTIAL_EVERY: usize = 5;
/// Sessions that own one ephemeral each across the kill.
const EPHEMERAL_SESSIONS: usize = 3;
/// Session timeout of the ephemeral owners: short, so the test sees them expire.
const EPHEMERAL_SESSION_TIMEOUT_MS: i32 = 4000;
/// Config for these tests: a 1 s tick allows the 4 s session timeout (2 to 20 ticks).
const CONFIG: &[&str] = &["tickTime=1000"];

/// One write whose outcome a writer had not learnt when the server died.
#[derive(Clone, Debug)]
enum InFlight {
    Create { path: String, data: Vec<u8> },
    Set { path: String, data: Vec<u8> },
    CreateSequential,
}

/// What one writer knows: every acknowledged node state, and at most one unanswered write.
#[derive(Debug, Default)]
struct WriterLog {
    acked: BTreeMap<String, (Vec<u8>, zk::Stat)>,
    in_flight: Option<InFlight>,
    acknowledgements: usize,
}

fn open_acl() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Issues `OPS_PER_WRITER` writes one at a time, reporting each acknowledgement on `acks`;
/// stops at the first failure (the server was killed), leaving that write in flight.
async fn run_writer(
    client: zk::Client,
    root: String,
    writer: usize,
    acks: mpsc::UnboundedSender<()>,
) -> WriterLog {
    let mut log = WriterLog::default();
    let mut own_paths: Vec<String> = Vec::new();
    for index in 0..OPS_PER_WRITER {
        let data = format!("w{writer}-op{index}").into_bytes();
        let operation = if index % SEQUENTIAL_EVERY == SEQUENTIAL_EVERY - 1 {
            InFlight::CreateSequential
        } else if index % CREATE_EVERY == 0 || own_paths.is_empty() {
            InFlight::Create {
                path: format!("{root}/w{writer}-{}", own_paths.len()),
                data: data.clone(),
            }
        } else {
            let path = own_paths[(index * 7) % own_paths.len()].clone();
            InFlight::Set {
                path,
                data: data.clone(),
            }
        };
        log.in_flight = Some(operation.clone());
        let result = match &operation {
            InFlight::Create { path, data } => {
                let created =
                    tokio::time::timeout(STEP_TIMEOUT, client.create(path, data, &open_acl()))
                        .await;
                created.map(|result| result.map(|(stat, _)| (path.clone(), stat)))
            }
            InFlight::Set { path, data } => {
                let set =
                    tokio::time::timeout(STEP_TIMEOUT, client.set_data(path, data, None)).await;
                set.map(|result| result.map(|stat| (path.clone(), stat)))
            }
            InFlight::CreateSequential => {
                let options =
                    zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
                let prefix = format!("{root}/seq/w{writer}-");
                let created =
                    tokio::time::timeout(STEP_TIMEOUT, client.create(&prefix, &data, &options))
                        .await;
                created.map(|result| {
                    result.map(|(stat, sequence)| (format!("{prefix}{sequence}"), stat))
                })
            }
        };
        let Ok(Ok((path, stat))) = result else {
            return log;
        };
        if matches!(operation, InFlight::Create { .. }) {
            own_paths.push(path.clone());
        }
        log.acked.insert(path, (data, stat));
        log.in_flight = None;
        log.acknowledgements += 1;
        if acks.send(()).is_err() {
            return log;
        }
    }
    log
}

/// A raw session (no automatic reconnects or pings) owning the ephemeral `path`.
struct EphemeralOwner {
    session_id: i64,
    password: Vec<u8>,
    path: String,
    stat: raw::Stat,
}

async fn create_ephemeral_owner(server: &Server, path: String) -> EphemeralOwner {
    let mut session = RawSession::connect(&server.address(), EPHEMERAL_SESSION_TIMEOUT_MS).await;
    assert_eq!(session.timeout_ms, EPHEMERAL_SESSION_TIMEOUT_MS);
    let created = session
        .request(
            raw::op::CREATE2,
            &raw::create_body(&path, b"eph", raw::OPEN_ACL, 1),
        )
        .await;
    assert_eq!(created.err, raw::err::OK, "create ephemeral {path}");
    let mut reader = created.reader();
    assert_eq!(reader.str(), path);
    let stat = reader.stat();
    assert_eq!(stat.ephemeral_owner, session.session_id);
    let owner = EphemeralOwner {
        session_id: session.session_id,
        password: session.password.clone(),
        path,
        stat,
    };
    // The connection dies with the server; the session lives on in the server's log.
    session.abandon();
    owner
}

fn to_raw_stat(stat: &zk::Stat) -> raw::Stat {
    raw::Stat {
        czxid: stat.czxid,
        mzxid: stat.mzxid,
        ctime: stat.ctime,
        mtime: stat.mtime,
        version: stat.version,
        cversion: stat.cversion,
        aversion: stat.aversion,
        ephemeral_owner: stat.ephemeral_owner,
        data_length: stat.data_length,
        num_children: stat.num_children,
        pzxid: stat.pzxid,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_and_sessions_survive_kill9() {
    if Server::external_configured() {
        return;
    }
    let mut server = Server::start_with(CONFIG);
    let root = unique_root();
    let setup = connect(&server).await;
    step("create root", setup.create(&root, b"", &open_acl()))
        .await
        .expect("create root");
    step(
        "create seq parent",
        setup.create(&format!("{root}/seq"), b"", &open_acl()),
    )
    .await
    .expect("seq parent");

    let (acks, mut acked) = mpsc::unbounded_channel();
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let client = connect(&server).await;
        writers.push(tokio::spawn(run_writer(
            client,
            root.clone(),
            writer,
            acks.clone(),
        )));
    }
    drop(acks);
    let mut acknowledged = 0;
    while acknowledged < KILL_AFTER_ACKS {
        match step("acknowledgements", acked.recv()).await {
            Some(()) => acknowledged += 1,
            None => break,
        }
    }
    // The owners are created just before the kill, while the writers keep going, so that
    // their short sessions cannot expire before it.
    let mut owners = Vec::new();
    for index in 0..EPHEMERAL_SESSIONS {
        owners.push(create_ephemeral_owner(&server, format!("{root}/eph-{index}")).await);
    }
    tokio::task::block_in_place(|| server.kill9_and_restart());
    drop(acked);
    drop(setup);

    // Ephemerals first: their sessions' clocks restart with the server.
    let checker = connect(&server).await;
    let expiries = watch_surviving_ephemerals(&checker, &owners[1..]).await;
    resume_and_close_session(&server, &checker, &owners[0]).await;

    let mut logs = Vec::new();
    for writer in writers {
        logs.push(step("writer stops", writer).await.expect("writer task"));
    }
    let total: usize = logs.iter().map(|log| log.acknowledgements).sum();
    assert!(
        total >= KILL_AFTER_ACKS,
        "only {total} writes acknowledged before the kill"
    );
    assert!(
        total < WRITERS * OPS_PER_WRITER,
        "the kill came after the load had finished"
    );
    verify_writer_logs(&checker, &root, &logs).await;
    verify_counters_continue(&checker, &root, &logs).await;

    await_expiries(expiries).await;
}

/// Each owner's ephemeral is still there, with its stat unchanged; returns an exists watch
/// on each.
async fn watch_surviving_ephemerals(
    checker: &zk::Client,
    owners: &[EphemeralOwner],
) -> Vec<(String, zk::OneshotWatcher)> {
    let mut watches = Vec::new();
    for owner in owners {
        let (stat, watcher) = step("exists+watch", checker.check_and_watch_stat(&owner.path))
            .await
            .expect("exists");
        let stat = stat.unwrap_or_else(|| panic!("{} vanished with the kill", owner.path));
        assert_eq!(to_raw_stat(&stat), owner.stat, "{}", owner.path);
        watches.push((owner.path.clone(), watcher));
    }
    watches
}

/// Every watched ephemeral is deleted once its abandoned session expires: within twice the
/// session timeout plus slack of the restart.
async fn await_expiries(expiries: Vec<(String, zk::OneshotWatcher)>) {
    let bound = Duration::from_millis(
        u64::try_from(EPHEMERAL_SESSION_TIMEOUT_MS).expect("positive") * 2 + 4000,
    );
    for (path, watcher) in expiries {
        let event = tokio::time::timeout(bound, watcher.changed())
            .await
            .unwrap_or_else(|_| panic!("{path} not deleted within {bound:?} of the restart"));
        assert_eq!(
            (event.event_type, event.path.as_str()),
            (zk::EventType::NodeDeleted, path.as_str())
        );
    }
}

/// Reconnects to `owner`'s session with its id and password: the restarted server still knows
/// it. Closing it then deletes its ephemeral at once.
async fn resume_and_close_session(server: &Server, checker: &zk::Client, owner: &EphemeralOwner) {
    let (_, watcher) = step("exists+watch", checker.check_and_watch_stat(&owner.path))
        .await
        .expect("exists");
    let (mut stream, response) = raw::handshake(
        &server.address(),
        EPHEMERAL_SESSION_TIMEOUT_MS,
        owner.session_id,
        &owner.password,
    )
    .await;
    let response = response.expect("the server answers a reconnect");
    assert_eq!(
        response.session_id, owner.session_id,
        "session resumed after kill -9"
    );
    assert_eq!(response.timeout_ms, EPHEMERAL_SESSION_TIMEOUT_MS);
    let close = Writer::new().int(1).int(raw::op::CLOSE_SESSION).into_vec();
    step("send close", raw::write_frame(&mut stream, &close))
        .await
        .expect("send close");
    let reply = step("close reply", raw::read_frame(&mut stream))
        .await
        .expect("read")
        .expect("close reply");
    let mut reader = raw::Reader(&reply);
    assert_eq!(
        (reader.int(), reader.long() > 0, reader.int()),
        (1, true, raw::err::OK)
    );
    let event = step("ephemeral deleted on close", watcher.changed()).await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (zk::EventType::NodeDeleted, owner.path.as_str())
    );
}

/// Every acknowledged node has its acknowledged data and stat (or, for the one write per
/// writer left unanswered, possibly that write's result), and nothing else exists.
async fn verify_writer_logs(client: &zk::Client, root: &str, logs: &[WriterLog]) {
    for log in logs {
        for (path, (data, stat)) in &log.acked {
            let (found_data, found_stat) = step("get", client.get_data(path))
                .await
                .unwrap_or_else(|err| panic!("acknowledged {path} lost: {err}"));
            if (&found_data, &found_stat) == (data, stat) {
                continue;
            }
            match &log.in_flight {
                Some(InFlight::Set {
                    path: pending,
                    data: pending_data,
                }) if pending == path => {
                    assert_eq!(
                        &found_data, pending_data,
                        "{path} holds neither acked nor in-flight data"
                    );
                    assert_eq!(found_stat.version, stat.version + 1, "{path}");
                    assert_eq!(
                        (found_stat.czxid, found_stat.ctime),
                        (stat.czxid, stat.ctime),
                        "{path}"
                    );
                }
                _ => panic!(
                    "{path}: acknowledged {:?} {stat:?}, found {:?} {found_stat:?}",
                    data, found_data
                ),
            }
        }
    }
    let mut allowed: BTreeSet<String> = logs
        .iter()
        .flat_map(|log| log.acked.keys().cloned())
        .collect();
    let mut unknown_sequential_allowed = 0;
    for log in logs {
        match &log.in_flight {
            Some(InFlight::Create { path, .. }) => {
                allowed.insert(path.clone());
            }
            Some(InFlight::CreateSequential) => unknown_sequential_allowed += 1,
            _ => {}
        }
    }
    let children = step("list root", client.list_children(root))
        .await
        .expect("list root");
    for child in children {
        let path = format!("{root}/{child}");
        let known = allowed.contains(&path) || child == "seq" || child.starts_with("eph-");
        assert!(known, "{path} exists but was never written");
    }
    let sequential = step("list seq", client.list_children(&format!("{root}/seq")))
        .await
        .expect("list seq");
    let unknown = sequential
        .iter()
        .filter(|child| !allowed.contains(&format!("{root}/seq/{child}")))
        .count();
    assert!(
        unknown <= unknown_sequential_allowed,
        "{unknown} sequential nodes were never acknowledged"
    );
}

/// After the kill the zxid counter and the sequential numbering carry on from where the log
/// ended: a new write gets a zxid above every acknowledged one, and a new sequential child
/// under the parent nobody deletes from is numbered by its child count.
async fn verify_counters_continue(client: &zk::Client, root: &str, logs: &[WriterLog]) {
    let highest_acked = logs
        .iter()
        .flat_map(|log| log.acked.values())
        .map(|(_, stat)| stat.mzxid)
        .max()
        .expect("some writes were acknowledged");
    let seq = format!("{root}/seq");
    let (_, parent) = step("get seq", client.get_data(&seq))
        .await
        .expect("get seq");
    let options = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    let (stat, sequence) = step(
        "create after kill",
        client.create(&format!("{seq}/after-"), b"", &options),
    )
    .await
    .expect("create after kill");
    assert_eq!(
        sequence.into_i64(),
        i64::from(parent.num_children),
        "numbering continues"
    );
    assert!(
        stat.czxid > highest_acked,
        "zxid {} after acknowledged {highest_acked}",
        stat.czxid
    );
}
