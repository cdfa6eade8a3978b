//! Every create mode: persistent, ephemeral, sequential, container, TTL.

mod common;

use std::time::Duration;

use common::raw::{self, err, op, RawSession};
use common::*;
use zookeeper_client as zk;

/// ephemeralOwner that clients see for container and TTL nodes. ZooKeeper stores
/// 0x8000000000000000 (container) or 0xff00000000000000 | ttl (TTL) internally, but
/// DataNode.copyStat reports 0 for every non-NORMAL ephemeral type, in every Stat it returns.
const CLIENT_VISIBLE_SPECIAL_OWNER: i64 = 0;
/// Container/TTL sweep interval used by these tests, so removals happen within a test step.
const SWEEP_CONFIG: &str = "znode.container.checkIntervalMs=100";

#[tokio::test]
async fn create_persistent_has_owner_zero_and_zero_versions() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let path = format!("{root}/p");
    let (stat, sequence) = step("create", client.create(&path, b"hello", &PERSISTENT))
        .await
        .expect("create");
    assert_eq!(
        sequence.into_i64(),
        -1,
        "non-sequential create has no sequence"
    );
    assert_eq!(stat.ephemeral_owner, 0);
    assert_eq!((stat.version, stat.cversion, stat.aversion), (0, 0, 0));
    assert_eq!(stat.data_length, 5);
    assert_eq!(stat.num_children, 0);
    let (data, read_stat) = step("get", client.get_data(&path)).await.expect("get");
    assert_eq!(data, b"hello".to_vec());
    assert_eq!(
        read_stat, stat,
        "stat returned by create2 equals the stat read back"
    );
}

#[tokio::test]
async fn create_ephemeral_owner_is_session_id() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let path = format!("{root}/e");
    let (stat, _) = step("create", client.create(&path, b"", &EPHEMERAL))
        .await
        .expect("create");
    assert_eq!(stat.ephemeral_owner, client.session_id().0);
    assert_ne!(stat.ephemeral_owner, 0);
    let other = connect(&server).await;
    let (_, seen) = step("get", other.get_data(&path))
        .await
        .expect("get from other session");
    assert_eq!(seen.ephemeral_owner, client.session_id().0);
}

#[tokio::test]
async fn sequential_names_use_parent_cversion_as_ten_digits() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let prefix = format!("{root}/s-");
    let (_, first) = step(
        "create 1",
        client.create(&prefix, b"", &PERSISTENT_SEQUENTIAL),
    )
    .await
    .expect("seq 1");
    let (_, second) = step(
        "create 2",
        client.create(&prefix, b"", &PERSISTENT_SEQUENTIAL),
    )
    .await
    .expect("seq 2");
    assert_eq!((first.into_i64(), second.into_i64()), (0, 1));
    let mut children = step("list", client.list_children(&root))
        .await
        .expect("list");
    children.sort();
    assert_eq!(
        children,
        vec!["s-0000000000".to_string(), "s-0000000001".to_string()]
    );

    // A plain child create advances the counter; a delete does not. ZooKeeper keeps the number of
    // child creations as the stored cversion and names sequential nodes by it, while the cversion
    // clients see is creations plus deletions (DataNode.copyStat: stored * 2 - numChildren).
    step(
        "plain",
        client.create(&format!("{root}/plain"), b"", &PERSISTENT),
    )
    .await
    .expect("plain child");
    let (_, parent) = step("parent", client.get_data(&root))
        .await
        .expect("parent stat");
    assert_eq!(parent.cversion, 3);
    step(
        "delete",
        client.delete(&format!("{root}/s-0000000000"), None),
    )
    .await
    .expect("delete seq 0");
    let (_, parent) = step("parent", client.get_data(&root))
        .await
        .expect("parent stat");
    assert_eq!(
        parent.cversion, 4,
        "the delete shows in the visible cversion"
    );
    let (stat, third) = step(
        "create 3",
        client.create(&prefix, b"", &PERSISTENT_SEQUENTIAL),
    )
    .await
    .expect("seq 3");
    assert_eq!(
        third.into_i64(),
        3,
        "three creations so far; the delete did not advance the counter"
    );
    assert_eq!(stat.ephemeral_owner, 0);
    let (_, parent) = step("parent", client.get_data(&root))
        .await
        .expect("parent stat");
    assert_eq!(parent.cversion, 5);
    assert_eq!(parent.num_children, 3);
    step("exists", client.check_stat(&format!("{root}/s-0000000003")))
        .await
        .expect("exists")
        .expect("seq 3 exists");
    // Deleting every child leaves the counter where it was.
    for name in ["s-0000000001", "s-0000000003", "plain"] {
        step("delete", client.delete(&format!("{root}/{name}"), None))
            .await
            .expect("delete");
    }
    let (_, fourth) = step(
        "create 4",
        client.create(&prefix, b"", &PERSISTENT_SEQUENTIAL),
    )
    .await
    .expect("seq 4");
    assert_eq!(fourth.into_i64(), 4);
    let (_, parent) = step("parent", client.get_data(&root))
        .await
        .expect("parent stat");
    assert_eq!(
        (parent.cversion, parent.num_children),
        (9, 1),
        "5 creations + 4 deletions"
    );
}

#[tokio::test]
async fn sequential_name_may_end_in_slash_to_name_by_counter_only() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    // "root/" plus the counter is a valid child name made only of digits.
    let (_, sequence) = step(
        "create",
        client.create(&format!("{root}/"), b"", &PERSISTENT_SEQUENTIAL),
    )
    .await
    .expect("create");
    assert_eq!(sequence.into_i64(), 0);
    let children = step("list", client.list_children(&root))
        .await
        .expect("list");
    assert_eq!(children, vec!["0000000000".to_string()]);
}

#[tokio::test]
async fn ephemeral_sequential_has_owner_and_counter() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let prefix = format!("{root}/lock-");
    let (stat, sequence) = step("create", client.create(&prefix, b"", &EPHEMERAL_SEQUENTIAL))
        .await
        .expect("create");
    assert_eq!(sequence.into_i64(), 0);
    assert_eq!(stat.ephemeral_owner, client.session_id().0);
    let (stat2, sequence2) = step("create", client.create(&prefix, b"", &EPHEMERAL_SEQUENTIAL))
        .await
        .expect("create");
    assert_eq!(sequence2.into_i64(), 1);
    assert!(stat2.czxid > stat.czxid);
    let ephemerals = step("ephemerals", client.list_ephemerals(&root))
        .await
        .expect("getEphemerals");
    let mut ephemerals = ephemerals;
    ephemerals.sort();
    assert_eq!(
        ephemerals,
        vec![
            format!("{root}/lock-0000000000"),
            format!("{root}/lock-0000000001")
        ]
    );
}

#[tokio::test]
async fn container_reports_owner_zero_and_goes_after_last_child() {
    let server = Server::start_with(&[SWEEP_CONFIG]);
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let container = format!("{root}/c");
    let (stat, _) = step(
        "create container",
        client.create(&container, b"", &CONTAINER),
    )
    .await
    .expect("create");
    assert_eq!(stat.ephemeral_owner, CLIENT_VISIBLE_SPECIAL_OWNER);
    let (_, read) = step("get", client.get_data(&container))
        .await
        .expect("get container");
    assert_eq!(read.ephemeral_owner, CLIENT_VISIBLE_SPECIAL_OWNER);
    let child = format!("{container}/child");
    step("create child", client.create(&child, b"", &PERSISTENT))
        .await
        .expect("child");
    let (_, watcher) = step("watch", client.check_and_watch_stat(&container))
        .await
        .expect("exists watch");
    step("delete child", client.delete(&child, None))
        .await
        .expect("delete child");
    let event = step("container removal", watcher.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeDeleted);
    assert_eq!(event.path, container);
    assert_eq!(
        step("exists", client.check_stat(&container))
            .await
            .expect("exists"),
        None
    );
}

#[tokio::test]
async fn container_that_never_had_children_stays() {
    let server = Server::start_with(&[SWEEP_CONFIG]);
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let container = format!("{root}/c");
    step(
        "create container",
        client.create(&container, b"", &CONTAINER),
    )
    .await
    .expect("create");
    // Several sweep intervals pass; an unused container is kept (maxNeverUsedIntervalMs is minutes).
    tokio::time::sleep(Duration::from_millis(600)).await;
    let stat = step("exists", client.check_stat(&container))
        .await
        .expect("exists");
    assert_eq!(
        stat.map(|s| s.ephemeral_owner),
        Some(CLIENT_VISIBLE_SPECIAL_OWNER)
    );
}

#[tokio::test]
async fn ttl_node_reports_owner_zero_and_expires_when_unmodified() {
    let server = Server::start_with(&[SWEEP_CONFIG]);
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let path = format!("{root}/ttl");
    let options = zk::CreateMode::Persistent
        .with_acls(zk::Acls::anyone_all())
        .with_ttl(Duration::from_millis(300));
    let (_, watcher) = step("watch", client.check_and_watch_stat(&path))
        .await
        .expect("exists watch");
    let (stat, _) = step("create ttl", client.create(&path, b"", &options))
        .await
        .expect("create ttl");
    assert_eq!(stat.ephemeral_owner, CLIENT_VISIBLE_SPECIAL_OWNER);
    let created = step("created event", watcher.changed()).await;
    assert_eq!(created.event_type, zk::EventType::NodeCreated);
    let (_, watcher) = step("watch", client.check_and_watch_stat(&path))
        .await
        .expect("exists watch");
    let deleted = step("ttl expiry", watcher.changed()).await;
    assert_eq!(deleted.event_type, zk::EventType::NodeDeleted);
    assert_eq!(deleted.path, path);
}

#[tokio::test]
async fn sequential_ttl_node_gets_counter() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let options = zk::CreateMode::PersistentSequential
        .with_acls(zk::Acls::anyone_all())
        .with_ttl(Duration::from_secs(3600));
    let (stat, sequence) = step(
        "create",
        client.create(&format!("{root}/q-"), b"x", &options),
    )
    .await
    .expect("create");
    assert_eq!(sequence.into_i64(), 0);
    assert_eq!(stat.ephemeral_owner, CLIENT_VISIBLE_SPECIAL_OWNER);
    assert_eq!(stat.data_length, 1);
}

#[tokio::test]
async fn ttl_is_rejected_as_unimplemented_without_extended_types() {
    let server = Server::start_with(&["extendedTypesEnabled=false"]);
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let options = zk::CreateMode::Persistent
        .with_acls(zk::Acls::anyone_all())
        .with_ttl(Duration::from_secs(10));
    let result = step(
        "create ttl",
        client.create(&format!("{root}/ttl"), b"", &options),
    )
    .await;
    assert_eq!(result.map(|_| ()), Err(zk::Error::Unimplemented));
    let sequential = zk::CreateMode::PersistentSequential
        .with_acls(zk::Acls::anyone_all())
        .with_ttl(Duration::from_secs(10));
    let result = step(
        "create seq ttl",
        client.create(&format!("{root}/q-"), b"", &sequential),
    )
    .await;
    assert_eq!(result.map(|_| ()), Err(zk::Error::Unimplemented));
    // Containers are not an extended type: they still work.
    step(
        "container",
        client.create(&format!("{root}/c"), b"", &CONTAINER),
    )
    .await
    .expect("container");
}

#[tokio::test]
async fn ttl_out_of_range_or_wrong_mode_is_bad_arguments() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    // (flags, ttl): zero TTL, negative TTL, TTL above 40 bits, and TTL with a non-TTL mode.
    let cases: [(i32, i64); 4] = [(5, 0), (5, -1), (5, 1 << 40), (0, 1000)];
    for (flags, ttl) in cases {
        let body = raw::create_ttl_body(&format!("{root}/bad"), b"", raw::OPEN_ACL, flags, ttl);
        let reply = session.request(op::CREATE_TTL, &body).await;
        assert_eq!(reply.err, err::BAD_ARGUMENTS, "flags {flags} ttl {ttl}");
    }
    assert_eq!(
        step("exists", client.check_stat(&format!("{root}/bad")))
            .await
            .expect("exists"),
        None
    );
    session.close().await;
}

#[tokio::test]
async fn ephemeral_parent_refuses_children() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let parent = format!("{root}/e");
    step("create", client.create(&parent, b"", &EPHEMERAL))
        .await
        .expect("ephemeral");
    for options in [&PERSISTENT, &EPHEMERAL, &PERSISTENT_SEQUENTIAL, &CONTAINER] {
        let result = step("child", client.create(&format!("{parent}/c"), b"", options)).await;
        assert_eq!(result.map(|_| ()), Err(zk::Error::NoChildrenForEphemerals));
    }
}

#[tokio::test]
async fn create_existing_is_node_exists_and_missing_parent_is_no_node() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let result = step("again", client.create(&root, b"", &PERSISTENT)).await;
    assert_eq!(result.map(|_| ()), Err(zk::Error::NodeExists));
    let result = step(
        "orphan",
        client.create(&format!("{root}/missing/child"), b"", &PERSISTENT),
    )
    .await;
    assert_eq!(result.map(|_| ()), Err(zk::Error::NoNode));
    let result = step(
        "orphan seq",
        client.create(&format!("{root}/missing/s-"), b"", &PERSISTENT_SEQUENTIAL),
    )
    .await;
    assert_eq!(result.map(|_| ()), Err(zk::Error::NoNode));
}

#[tokio::test]
async fn plain_create_reply_carries_only_the_path() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let reply = session
        .request(
            op::CREATE,
            &raw::create_body(&format!("{root}/s-"), b"", raw::OPEN_ACL, 2),
        )
        .await;
    assert_eq!(reply.err, err::OK);
    let mut reader = reply.reader();
    assert_eq!(reader.str(), format!("{root}/s-0000000000"));
    assert!(
        reader.is_empty(),
        "opcode 1 (create) answers with the path only"
    );
    let reply = session
        .request(
            op::CREATE2,
            &raw::create_body(&format!("{root}/t"), b"ab", raw::OPEN_ACL, 0),
        )
        .await;
    assert_eq!(reply.err, err::OK);
    let mut reader = reply.reader();
    assert_eq!(reader.str(), format!("{root}/t"));
    let stat = reader.stat();
    assert_eq!(stat.data_length, 2);
    assert_eq!(
        stat.czxid, reply.zxid,
        "the reply header's zxid is the create's zxid"
    );
    assert!(reader.is_empty());
    session.close().await;
}

#[tokio::test]
async fn sequential_creates_in_one_multi_get_consecutive_numbers() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let prefix = format!("{root}/m-");
    let mut writer = client.new_multi_writer();
    writer
        .add_create(&prefix, b"", &PERSISTENT_SEQUENTIAL)
        .expect("op");
    writer
        .add_create(&prefix, b"", &EPHEMERAL_SEQUENTIAL)
        .expect("op");
    writer
        .add_create(&format!("{root}/plain"), b"", &PERSISTENT)
        .expect("op");
    writer
        .add_create(&prefix, b"", &PERSISTENT_SEQUENTIAL)
        .expect("op");
    let results = step("multi", writer.commit()).await.expect("multi");
    let paths: Vec<String> = results
        .into_iter()
        .map(|r| match r {
            zk::MultiWriteResult::Create { path, .. } => path,
            other => panic!("expected a create result, got {other:?}"),
        })
        .collect();
    let expected = [
        format!("{prefix}0000000000"),
        format!("{prefix}0000000001"),
        format!("{root}/plain"),
        format!("{prefix}0000000003"),
    ];
    assert_eq!(paths, expected.to_vec());
    let (_, stat) = step("get", client.get_data(&format!("{prefix}0000000001")))
        .await
        .expect("get");
    assert_eq!(
        stat.ephemeral_owner,
        client.session_id().0,
        "an ephemeral created in a multi belongs to the session"
    );
}

#[tokio::test]
async fn session_close_deletions_do_not_advance_the_sequence_counter() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let prefix = format!("{root}/lock-");
    let mut owner = RawSession::connect(&server.address(), 10_000).await;
    let reply = owner
        .request(
            op::CREATE,
            &raw::create_body(&prefix, b"", raw::OPEN_ACL, 3),
        )
        .await;
    assert_eq!(reply.err, err::OK);
    assert_eq!(reply.reader().str(), format!("{prefix}0000000000"));
    owner.close().await;
    let (_, parent) = step("parent", client.get_data(&root))
        .await
        .expect("parent");
    assert_eq!(
        (parent.cversion, parent.num_children),
        (2, 0),
        "one creation and one deletion are visible"
    );
    let (_, sequence) = step("create", client.create(&prefix, b"", &EPHEMERAL_SEQUENTIAL))
        .await
        .expect("create");
    assert_eq!(sequence.into_i64(), 1);
}
