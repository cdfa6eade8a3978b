//! A clean restart (SIGTERM) and then a `kill -9` keep the whole tree: data, every stat field,
//! the zxid counter, sequential numbering and live sessions.
//!
//! Checked first against a real ZooKeeper 3.8 (`CORRAL_TEST_ZK=spawn`).

mod common;

use std::collections::BTreeMap;

use common::raw::{self, RawSession, Writer};
use common::{connect, step, unique_root, Server};
use zookeeper_client as zk;

/// Session timeout of the ephemeral owner: long enough to outlive a restart comfortably.
const OWNER_SESSION_TIMEOUT_MS: i32 = 20_000;
/// Sequential children created before the restart; one of them is deleted again.
const SEQUENTIAL_CHILDREN: usize = 3;

/// Every node under a root: path → (data, stat).
type Snapshot = BTreeMap<String, (Vec<u8>, zk::Stat)>;

fn open_acl() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Reads `root` and all its descendants, after a sync so that writes other sessions had
/// acknowledged are visible (ZooKeeper promises that only after a sync).
async fn snapshot(client: &zk::Client, root: &str) -> Snapshot {
    step("sync", client.sync(root))
        .await
        .unwrap_or_else(|err| panic!("sync {root}: {err}"));
    let mut nodes = Snapshot::new();
    let mut pending = vec![root.to_string()];
    while let Some(path) = pending.pop() {
        let (data, stat) = step("get", client.get_data(&path))
            .await
            .unwrap_or_else(|err| panic!("get {path}: {err}"));
        let children = step("list", client.list_children(&path))
            .await
            .unwrap_or_else(|err| panic!("list {path}: {err}"));
        pending.extend(children.into_iter().map(|child| format!("{path}/{child}")));
        nodes.insert(path, (data, stat));
    }
    nodes
}

/// The largest zxid any stat in `nodes` mentions.
fn last_zxid(nodes: &Snapshot) -> i64 {
    nodes
        .values()
        .flat_map(|(_, stat)| [stat.czxid, stat.mzxid, stat.pzxid])
        .max()
        .expect("non-empty snapshot")
}

/// Builds a small tree that exercises every stat field: versions, cversion/pzxid after a
/// delete, aversion, an ephemeral owner, sequential names.
async fn build_tree(client: &zk::Client, root: &str, owner: &mut RawSession) {
    step("create root", client.create(root, b"root", &open_acl()))
        .await
        .expect("create root");
    let a = format!("{root}/a");
    step("create a", client.create(&a, b"a0", &open_acl()))
        .await
        .expect("create a");
    step(
        "create a/b",
        client.create(&format!("{a}/b"), b"", &open_acl()),
    )
    .await
    .expect("create a/b");
    for round in 1..=2 {
        let data = format!("a{round}");
        step(
            "set a",
            client.set_data(&a, data.as_bytes(), Some(round - 1)),
        )
        .await
        .expect("set a");
    }
    step(
        "set acl",
        client.set_acl(&a, &zk::Acls::anyone_all(), Some(0)),
    )
    .await
    .expect("set acl");
    let seq = format!("{root}/seq");
    step("create seq", client.create(&seq, b"", &open_acl()))
        .await
        .expect("create seq");
    let sequential = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    for index in 0..SEQUENTIAL_CHILDREN {
        let (_, sequence) = step(
            "create s-",
            client.create(&format!("{seq}/s-"), b"s", &sequential),
        )
        .await
        .expect("s-");
        assert_eq!(sequence.to_string(), format!("{index:010}"));
    }
    step(
        "delete s-1",
        client.delete(&format!("{seq}/s-0000000001"), None),
    )
    .await
    .expect("delete s-1");
    let ephemeral = raw::create_body(&format!("{root}/eph"), b"e", raw::OPEN_ACL, 1);
    assert_eq!(
        owner.request(raw::op::CREATE, &ephemeral).await.err,
        raw::err::OK
    );
}

/// Reconnects to a session by id and password on the current server and closes it; returns
/// the session id the server answered with (0 if it did not know the session).
async fn resume_and_close(server: &Server, session_id: i64, password: &[u8]) -> i64 {
    let (mut stream, response) = raw::handshake(
        &server.address(),
        OWNER_SESSION_TIMEOUT_MS,
        session_id,
        password,
    )
    .await;
    let response = response.expect("the server answers a reconnect");
    if response.session_id != 0 {
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
    }
    response.session_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_then_kill9_keep_tree_zxids_sessions_and_sequence_numbers() {
    let mut server = Server::start();
    if server.is_external() {
        return;
    }
    let root = unique_root();
    let mut owner = RawSession::connect(&server.address(), OWNER_SESSION_TIMEOUT_MS).await;
    let (owner_id, owner_password) = (owner.session_id, owner.password.clone());
    let client = connect(&server).await;
    build_tree(&client, &root, &mut owner).await;
    let before = snapshot(&client, &root).await;
    assert_eq!(before[&format!("{root}/eph")].1.ephemeral_owner, owner_id);
    assert_eq!(before[&format!("{root}/a")].1.aversion, 1);
    owner.abandon();
    drop(client);

    tokio::task::block_in_place(|| server.restart());
    let client = connect(&server).await;
    let after_restart = snapshot(&client, &root).await;
    assert_eq!(after_restart, before, "tree changed across a clean restart");

    check_numbering_continues(&client, &root, &before).await;
    let eph = format!("{root}/eph");
    resume_owner_and_see_ephemeral_go(&server, &client, &eph, owner_id, &owner_password).await;

    let before_kill = snapshot(&client, &root).await;
    assert!(!before_kill.contains_key(&eph));
    drop(client);
    tokio::task::block_in_place(|| server.kill9_and_restart());
    let client = connect(&server).await;
    let after_kill = snapshot(&client, &root).await;
    assert_eq!(
        after_kill, before_kill,
        "tree changed across kill -9 after a restart"
    );
    let seq = format!("{root}/seq");
    let sequential = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    let (_, sequence) = step(
        "create s-",
        client.create(&format!("{seq}/s-"), b"s", &sequential),
    )
    .await
    .expect("s-");
    // The fourth create under the parent since it was made.
    assert_eq!(sequence.to_string(), "0000000004");
    let (_, parent) = step("get seq", client.get_data(&seq))
        .await
        .expect("get seq");
    assert_eq!((parent.cversion, parent.num_children), (6, 4));
}

/// Numbering continues after the restart. ZooKeeper numbers a sequential child by the count
/// of child creates the parent has seen, while the cversion clients see counts creates and
/// deletes (ZooKeeper stores the former and reports 2 × creates − children): three creates
/// and one delete show cversion 4, and the next name ends in 3. The zxid keeps growing.
async fn check_numbering_continues(client: &zk::Client, root: &str, before: &Snapshot) {
    let seq = format!("{root}/seq");
    assert_eq!(
        (before[&seq].1.cversion, before[&seq].1.num_children),
        (4, 2)
    );
    let sequential = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    let (stat, sequence) = step(
        "create s-",
        client.create(&format!("{seq}/s-"), b"s", &sequential),
    )
    .await
    .expect("s-");
    assert_eq!(sequence.to_string(), "0000000003");
    assert!(
        stat.czxid > last_zxid(before),
        "zxid went back: {} after {}",
        stat.czxid,
        last_zxid(before)
    );
}

/// The ephemeral owner's session outlived the restart: it resumes with its id and password,
/// and closing it deletes its ephemeral (seen through another session's exists watch).
async fn resume_owner_and_see_ephemeral_go(
    server: &Server,
    client: &zk::Client,
    eph: &str,
    owner_id: i64,
    owner_password: &[u8],
) {
    let (_, watcher) = step("exists+watch", client.check_and_watch_stat(eph))
        .await
        .expect("exists");
    assert_eq!(
        resume_and_close(server, owner_id, owner_password).await,
        owner_id,
        "session survived"
    );
    let event = step("ephemeral deleted on close", watcher.changed()).await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (zk::EventType::NodeDeleted, eph)
    );
}
