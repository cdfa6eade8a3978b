//! `corral-inspect import-zk` against a real Apache ZooKeeper 3.8: build a varied tree with
//! ZooKeeper (small snapCount, so a snapshot and a log tail are both involved), kill it with
//! SIGKILL, import its data directory, start Corral on the result, and compare every node's
//! data, stat and ACL through a client. The imported session must resume on Corral.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::raw::{self, op, RawSession};
use common::*;
use zookeeper_client as zk;

/// Every node's data, stat and ACL, by path.
type TreeView = BTreeMap<String, (Vec<u8>, zk::Stat, Vec<zk::Acl>)>;

/// The owner of the ephemerals must outlive the whole test on both servers without pings.
const OWNER_TIMEOUT_MS: i32 = 30_000;
/// Sets of one node between the two halves of the tree: enough txns for ZooKeeper (snapCount
/// 50 snapshots every 25 to 50 txns) to take at least one snapshot.
const FILLER_WRITES: usize = 80;
const DIGEST_USER: &str = "importer:secret";

fn digest_acl() -> Vec<zk::Acl> {
    let (user, password) = DIGEST_USER.split_once(':').unwrap_or_default();
    vec![
        zk::Acl::new(
            zk::Permission::ALL,
            zk::AuthId::new("digest", &digest_id(user, password)),
        ),
        zk::Acl::new(zk::Permission::READ, zk::AuthId::anyone()),
    ]
}

async fn reader(server: &Server) -> zk::Client {
    let mut connector = zk::Client::connector();
    connector
        .session_timeout(SESSION_TIMEOUT)
        .auth("digest".to_string(), DIGEST_USER.as_bytes().to_vec());
    connect_with(server, &mut connector).await
}

/// Reads the whole tree through `client`.
async fn read_tree(client: &zk::Client) -> TreeView {
    let mut view = TreeView::new();
    let mut pending = vec!["/".to_string()];
    while let Some(path) = pending.pop() {
        let (data, stat) = step("get", client.get_data(&path))
            .await
            .unwrap_or_else(|error| panic!("get {path}: {error}"));
        let (acl, _) = step("getAcl", client.get_acl(&path))
            .await
            .unwrap_or_else(|error| panic!("getAcl {path}: {error}"));
        let (children, _) = step("ls", client.get_children(&path))
            .await
            .unwrap_or_else(|error| panic!("ls {path}: {error}"));
        for child in children {
            pending.push(match path.as_str() {
                "/" => format!("/{child}"),
                _ => format!("{path}/{child}"),
            });
        }
        view.insert(path, (data, stat, acl));
    }
    view
}

async fn create(client: &zk::Client, path: &str, data: &[u8], options: &zk::CreateOptions<'_>) {
    step("create", client.create(path, data, options))
        .await
        .unwrap_or_else(|error| panic!("create {path}: {error}"));
}

async fn set(client: &zk::Client, path: &str, data: &[u8]) {
    step("set", client.set_data(path, data, None))
        .await
        .unwrap_or_else(|error| panic!("set {path}: {error}"));
}

/// The part of the tree built before the filler writes, so most of it is in a snapshot.
async fn build_first_half(client: &zk::Client, owner: &mut RawSession, address: &str) {
    let ttl = zk::CreateMode::Persistent
        .with_acls(zk::Acls::anyone_all())
        .with_ttl(Duration::from_secs(3600));
    let sequential_ttl = zk::CreateMode::PersistentSequential
        .with_acls(zk::Acls::anyone_all())
        .with_ttl(Duration::from_secs(7200));
    let acl = digest_acl();
    let secret = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&acl));
    create(client, "/imp", b"root", &PERSISTENT).await;
    create(client, "/imp/a", b"", &PERSISTENT).await;
    create(client, "/imp/a/b", &[0, 1, 255], &PERSISTENT).await;
    let big: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
    create(client, "/imp/a/b/c", &big, &PERSISTENT).await;
    create(client, "/imp/secret", b"digest only writes", &secret).await;
    create(client, "/imp/seq", b"", &PERSISTENT).await;
    for _ in 0..3 {
        create(client, "/imp/seq/n-", b"s", &PERSISTENT_SEQUENTIAL).await;
    }
    create(client, "/imp/cont", b"c", &CONTAINER).await;
    create(client, "/imp/cont/child", b"", &PERSISTENT).await;
    create(client, "/imp/ttl", b"t", &ttl).await;
    create(client, "/imp/ttl-", b"t", &sequential_ttl).await;
    for (path, flags) in [("/imp/eph", 1), ("/imp/a/eph", 1), ("/imp/seq/e-", 3)] {
        let body = raw::create_body(path, b"mine", raw::OPEN_ACL, flags);
        assert_eq!(
            owner.request_err(op::CREATE, &body).await,
            0,
            "create {path}"
        );
    }
    // A session that closes: its ephemeral goes with it (a closeSession txn in the files).
    let mut closer = RawSession::connect(address, 10_000).await;
    let body = raw::create_body("/imp/a/gone", b"", raw::OPEN_ACL, 1);
    assert_eq!(closer.request_err(op::CREATE, &body).await, 0);
    closer.close().await;
    for round in 0..3u8 {
        set(client, "/imp/a/b", &[round; 3]).await;
    }
    create(client, "/imp/churn", b"", &PERSISTENT).await;
    for index in 0..5 {
        create(client, &format!("/imp/churn/x{index}"), b"", &PERSISTENT).await;
    }
    for index in [1, 3] {
        step(
            "delete",
            client.delete(&format!("/imp/churn/x{index}"), None),
        )
        .await
        .expect("delete churn child");
    }
}

/// The part built after the filler writes, so most of it is only in the log tail.
async fn build_second_half(client: &zk::Client, owner: &mut RawSession, address: &str) {
    // A session opened and closed in the tail: createSession and closeSession replayed.
    let mut closer = RawSession::connect(address, 10_000).await;
    let body = raw::create_body("/imp/churn/gone", b"", raw::OPEN_ACL, 1);
    assert_eq!(closer.request_err(op::CREATE, &body).await, 0);
    closer.close().await;
    // Null data (no buffer at all), which ZooKeeper keeps apart from empty data.
    let body = raw::Writer::new()
        .str("/imp/null")
        .int(-1)
        .acls(raw::OPEN_ACL)
        .int(0)
        .into_vec();
    assert_eq!(owner.request_err(op::CREATE, &body).await, 0);
    let read_only = [zk::Acl::new(
        zk::Permission::READ | zk::Permission::ADMIN,
        zk::AuthId::anyone(),
    )];
    step("setAcl", client.set_acl("/imp/a/b/c", &read_only, None))
        .await
        .expect("setAcl");
    set(client, "/imp/secret", b"changed by the digest user").await;
    create(client, "/imp/churn/late", b"late", &PERSISTENT).await;
    step("delete", client.delete("/imp/churn/x0", None))
        .await
        .expect("delete");
    let mut multi = client.new_multi_writer();
    multi
        .add_create("/imp/m1", b"from a multi", &PERSISTENT)
        .expect("add create");
    multi
        .add_set_data("/imp/a", b"multi set", None)
        .expect("add set");
    multi.add_delete("/imp/churn/x2", None).expect("add delete");
    multi.add_check_version("/imp/a/b", 3).expect("add check");
    step("multi", multi.commit()).await.expect("multi");
    // A failing multi and a failing delete: logged as error txns, changing nothing.
    let mut failing = client.new_multi_writer();
    failing
        .add_create("/imp/never", b"", &PERSISTENT)
        .expect("add create");
    failing
        .add_check_version("/imp/a/b", 99)
        .expect("add check");
    assert!(step("failing multi", failing.commit()).await.is_err());
    assert!(step("failing delete", client.delete("/imp/nothing", None))
        .await
        .is_err());
    create(client, "/imp/a/late-", b"", &PERSISTENT_SEQUENTIAL).await;
}

/// Newest snapshot zxid in ZooKeeper's data dir (by file name).
fn newest_snapshot_zxid(data_dir: &Path) -> i64 {
    let dir = data_dir.join("version-2");
    let mut newest = -1;
    for entry in std::fs::read_dir(&dir).expect("read version-2") {
        let name = entry.expect("dir entry").file_name();
        let name = name.to_string_lossy();
        if let Some(hex) = name.strip_prefix("snapshot.") {
            if let Ok(zxid) = i64::from_str_radix(hex, 16) {
                newest = newest.max(zxid);
            }
        }
    }
    newest
}

/// Writes until ZooKeeper takes a new snapshot. It takes the next one only after more than
/// snapCount / 2 further txns, so what follows (up to 25 txns) is left in the log tail.
async fn write_until_snapshot(client: &zk::Client, data_dir: &Path) {
    let before = newest_snapshot_zxid(data_dir);
    for round in 0..200u8 {
        set(client, "/imp/filler", &[round]).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        if newest_snapshot_zxid(data_dir) > before {
            return;
        }
    }
    panic!("ZooKeeper took no snapshot after 200 writes with snapCount=50");
}

/// Writes until the newest snapshot is older than the last write, so that the import has to
/// replay a log tail as well as read a snapshot.
async fn ensure_log_tail(client: &zk::Client, data_dir: &Path) {
    for round in 0..10u8 {
        let stat = step("set", client.set_data("/imp/filler", &[round], None))
            .await
            .expect("set filler");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let snapshot = newest_snapshot_zxid(data_dir);
        if snapshot > 0 && snapshot < stat.mzxid {
            return;
        }
    }
    panic!("ZooKeeper never left a log tail after its newest snapshot");
}

fn run_import(zk_data: &Path, zk_log: &Path, target: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_corral-inspect"))
        .arg("import-zk")
        .arg("--from")
        .arg(zk_data)
        .arg("--log-from")
        .arg(zk_log)
        .arg("--to")
        .arg(target)
        .output()
        .expect("run corral-inspect")
}

fn import(zk_data: &Path, zk_log: &Path, target: &Path) -> String {
    let output = run_import(zk_data, zk_log, target);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "import failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn imported_zookeeper_tree_reads_back_identically_from_corral() {
    if let Some(reason) = zookeeper_unavailable() {
        eprintln!("skipped: Apache ZooKeeper is not available: {reason}");
        return;
    }
    // A dataLogDir apart from dataDir, as production setups have, to exercise --log-from.
    let log_dir = tempfile::tempdir().expect("tempdir");
    let log_line = format!("dataLogDir={}", log_dir.path().display());
    let mut zookeeper = Server::start_zookeeper_with(&["snapCount=50", &log_line]);
    let client = reader(&zookeeper).await;
    let mut owner = RawSession::connect(&zookeeper.address(), OWNER_TIMEOUT_MS).await;
    build_first_half(&client, &mut owner, &zookeeper.address()).await;
    create(&client, "/imp/filler", b"", &PERSISTENT).await;
    for index in 0..FILLER_WRITES {
        set(&client, "/imp/filler", index.to_string().as_bytes()).await;
    }
    write_until_snapshot(&client, zookeeper.data_dir()).await;
    owner.ping().await;
    build_second_half(&client, &mut owner, &zookeeper.address()).await;
    ensure_log_tail(&client, zookeeper.data_dir()).await;
    let expected = read_tree(&client).await;
    let null_reply = owner
        .request(op::GET_DATA, &raw::path_watch_body("/imp/null", false))
        .await;
    assert_eq!(null_reply.reader().buf(), None, "ZooKeeper keeps null data");
    let (session_id, password) = (owner.session_id, owner.password.clone());
    zookeeper.kill9();
    drop(client);
    owner.abandon();

    let target_dir = tempfile::tempdir().expect("tempdir");
    let target = target_dir.path().join("corral");
    // dataDir given down to its version-2/, dataLogDir without it: both are accepted.
    let snapshots = zookeeper.data_dir().join("version-2");
    let summary = import(&snapshots, log_dir.path(), &target);
    eprintln!("{summary}");
    assert!(
        summary.contains(&format!("imported {} nodes, 2 sessions", expected.len())),
        "{summary}"
    );

    let corral = Server::start_corral_on(&target, &[]);
    let mut resumed =
        RawSession::resume(&corral.address(), session_id, &password, OWNER_TIMEOUT_MS)
            .await
            .expect("the imported session resumes with ZooKeeper's id and password");
    let client = reader(&corral).await;
    let actual = read_tree(&client).await;
    for (path, node) in &expected {
        assert_eq!(actual.get(path), Some(node), "node {path} differs");
    }
    assert_eq!(
        actual.len(),
        expected.len(),
        "extra nodes: {:?}",
        actual
            .keys()
            .filter(|p| !expected.contains_key(*p))
            .collect::<Vec<_>>()
    );
    let null_reply = resumed
        .request(op::GET_DATA, &raw::path_watch_body("/imp/null", false))
        .await;
    assert_eq!(null_reply.reader().buf(), None, "Corral keeps null data");
    let (_, eph_stat) = step("get eph", client.get_data("/imp/eph"))
        .await
        .expect("ephemeral kept");
    assert_eq!(eph_stat.ephemeral_owner, session_id);
}
