//! Watches: data, exists, child, one-shot semantics, persistent and recursive watches,
//! removeWatches/checkWatches, ordering against replies, and session-close triggers.

mod common;

use common::raw::{self, err, op, RawSession, Writer};
use common::*;
use zookeeper_client as zk;

// Wire values of event types and watcher types.
const NODE_CREATED: i32 = 1;
const NODE_DELETED: i32 = 2;
const NODE_DATA_CHANGED: i32 = 3;
const NODE_CHILDREN_CHANGED: i32 = 4;
const SYNC_CONNECTED: i32 = 3;
const WATCHER_CHILDREN: i32 = 1;
const WATCHER_DATA: i32 = 2;
const WATCHER_ANY: i32 = 3;

fn kind(event: &zk::WatchedEvent) -> (zk::EventType, String) {
    (event.event_type, event.path.clone())
}

fn set_body(path: &str, data: &[u8]) -> Vec<u8> {
    Writer::new().str(path).buf(data).int(-1).into_vec()
}

#[tokio::test]
async fn data_watch_fires_on_change_and_on_delete() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let path = format!("{root}/n");
    step("create", client.create(&path, b"", &PERSISTENT))
        .await
        .expect("create");
    let (_, _, watcher) = step("watch", client.get_and_watch_data(&path))
        .await
        .expect("getData watch");
    step("set", client.set_data(&path, b"1", None))
        .await
        .expect("set");
    let event = step("event", watcher.changed()).await;
    assert_eq!(kind(&event), (zk::EventType::NodeDataChanged, path.clone()));
    let (_, _, watcher) = step("watch", client.get_and_watch_data(&path))
        .await
        .expect("getData watch");
    step("delete", client.delete(&path, None))
        .await
        .expect("delete");
    let event = step("event", watcher.changed()).await;
    assert_eq!(kind(&event), (zk::EventType::NodeDeleted, path));
}

#[tokio::test]
async fn exists_watch_on_missing_node_fires_node_created() {
    let server = Server::start();
    let client = connect(&server).await;
    let other = connect(&server).await;
    let root = create_root(&client).await;
    let path = format!("{root}/later");
    let (stat, watcher) = step("watch", client.check_and_watch_stat(&path))
        .await
        .expect("exists watch");
    assert_eq!(stat, None);
    step("create", other.create(&path, b"", &PERSISTENT))
        .await
        .expect("create");
    let event = step("event", watcher.changed()).await;
    assert_eq!(kind(&event), (zk::EventType::NodeCreated, path));
}

#[tokio::test]
async fn child_watch_fires_on_child_create_and_delete_only() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let child = format!("{root}/c");
    let reply = session
        .request(op::GET_CHILDREN, &raw::path_watch_body(&root, true))
        .await;
    assert_eq!(reply.err, err::OK);
    // Changing the parent's data does not fire a child watch.
    assert_eq!(
        session
            .request_err(op::SET_DATA, &set_body(&root, b"x"))
            .await,
        err::OK
    );
    assert!(
        session.events.is_empty(),
        "no child event for a data change: {:?}",
        session.events
    );
    step("create", client.create(&child, b"", &PERSISTENT))
        .await
        .expect("create child");
    let event = session.next_event().await;
    assert_eq!(
        (event.event_type, event.state, event.path.as_str()),
        (NODE_CHILDREN_CHANGED, SYNC_CONNECTED, root.as_str())
    );
    let reply = session
        .request(op::GET_CHILDREN2, &raw::path_watch_body(&root, true))
        .await;
    assert_eq!(reply.err, err::OK);
    // A child's data change is not a child-list change.
    assert_eq!(
        session
            .request_err(op::SET_DATA, &set_body(&child, b"x"))
            .await,
        err::OK
    );
    assert!(
        session.events.is_empty(),
        "no child event for a child's data change: {:?}",
        session.events
    );
    step("delete", client.delete(&child, None))
        .await
        .expect("delete child");
    let event = session.next_event().await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (NODE_CHILDREN_CHANGED, root.as_str())
    );
    session.close().await;
}

#[tokio::test]
async fn standard_watch_fires_once() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let reply = session
        .request(op::GET_DATA, &raw::path_watch_body(&root, true))
        .await;
    assert_eq!(reply.err, err::OK);
    // The same session writes twice: a pending event always precedes the write's reply, so
    // after both replies every event that will ever come for them is already queued.
    assert_eq!(
        session
            .request_err(op::SET_DATA, &set_body(&root, b"1"))
            .await,
        err::OK
    );
    assert_eq!(
        session
            .request_err(op::SET_DATA, &set_body(&root, b"2"))
            .await,
        err::OK
    );
    let events: Vec<(i32, String)> = session
        .events
        .drain(..)
        .map(|e| (e.event_type, e.path))
        .collect();
    assert_eq!(events, vec![(NODE_DATA_CHANGED, root.clone())]);
    assert_eq!(
        session
            .request_err(op::DELETE, &Writer::new().str(&root).int(-1).into_vec())
            .await,
        err::OK
    );
    assert!(
        session.events.is_empty(),
        "the watch was used up: {:?}",
        session.events
    );
    session.close().await;
}

#[tokio::test]
async fn watch_event_arrives_before_reply_of_the_triggering_request() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    assert_eq!(
        session
            .request_err(op::EXISTS, &raw::path_watch_body(&root, true))
            .await,
        err::OK
    );
    let xid = session.send(op::SET_DATA, &set_body(&root, b"x")).await;
    let first = session.read_any().await.expect("a frame");
    assert_eq!(
        first.xid,
        raw::XID_NOTIFICATION,
        "the event comes first: {first:?}"
    );
    let event = raw::parse_event(&first);
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (NODE_DATA_CHANGED, root.as_str())
    );
    let second = session.read_any().await.expect("a frame");
    assert_eq!((second.xid, second.err), (xid, err::OK));
    session.close().await;
}

#[tokio::test]
async fn event_from_another_session_arrives_before_a_later_reply() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    assert_eq!(
        session
            .request_err(op::GET_DATA, &raw::path_watch_body(&root, true))
            .await,
        err::OK
    );
    step("set", client.set_data(&root, b"x", None))
        .await
        .expect("set by other session");
    // This read is ordered after the write, so its reply must follow the write's event.
    let xid = session
        .send(op::GET_DATA, &raw::path_watch_body(&root, false))
        .await;
    let first = session.read_any().await.expect("a frame");
    assert_eq!(
        first.xid,
        raw::XID_NOTIFICATION,
        "event before the later reply: {first:?}"
    );
    let reply = session.read_any().await.expect("a frame");
    assert_eq!(reply.xid, xid);
    assert_eq!(reply.reader().buf(), Some(b"x".to_vec()));
    session.close().await;
}

#[tokio::test]
async fn persistent_watch_sees_every_change_of_the_node_and_its_children_list() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let path = format!("{root}/p");
    let mut watcher = step(
        "addWatch",
        client.watch(&path, zk::AddWatchMode::Persistent),
    )
    .await
    .expect("addWatch");
    step("create", client.create(&path, b"", &PERSISTENT))
        .await
        .expect("create");
    step("set", client.set_data(&path, b"1", None))
        .await
        .expect("set");
    step("set", client.set_data(&path, b"2", None))
        .await
        .expect("set");
    step(
        "child",
        client.create(&format!("{path}/c"), b"", &PERSISTENT),
    )
    .await
    .expect("child");
    step(
        "grandchild",
        client.create(&format!("{path}/c/g"), b"", &PERSISTENT),
    )
    .await
    .expect("grandchild");
    step(
        "child set",
        client.set_data(&format!("{path}/c"), b"1", None),
    )
    .await
    .expect("child set");
    step("child delete", client.delete(&format!("{path}/c/g"), None))
        .await
        .expect("delete");
    step("child delete", client.delete(&format!("{path}/c"), None))
        .await
        .expect("delete");
    step("delete", client.delete(&path, None))
        .await
        .expect("delete");
    step("recreate", client.create(&path, b"", &PERSISTENT))
        .await
        .expect("recreate");
    let mut seen = Vec::new();
    for _ in 0..7 {
        seen.push(kind(&step("event", watcher.changed()).await));
    }
    use zk::EventType::*;
    let expected = vec![
        (NodeCreated, path.clone()),
        (NodeDataChanged, path.clone()),
        (NodeDataChanged, path.clone()),
        (NodeChildrenChanged, path.clone()),
        (NodeChildrenChanged, path.clone()),
        (NodeDeleted, path.clone()),
        (NodeCreated, path.clone()),
    ];
    assert_eq!(
        seen, expected,
        "grandchild and child-data changes are not reported"
    );
}

#[tokio::test]
async fn persistent_recursive_watch_sees_descendants_without_child_events() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut watcher = step(
        "addWatch",
        client.watch(&root, zk::AddWatchMode::PersistentRecursive),
    )
    .await
    .expect("addWatch");
    let a = format!("{root}/a");
    let g = format!("{root}/a/g");
    step("create a", client.create(&a, b"", &PERSISTENT))
        .await
        .expect("a");
    step("create g", client.create(&g, b"", &PERSISTENT))
        .await
        .expect("g");
    step("set g", client.set_data(&g, b"1", None))
        .await
        .expect("set g");
    step("set root", client.set_data(&root, b"1", None))
        .await
        .expect("set root");
    step("delete g", client.delete(&g, None))
        .await
        .expect("delete g");
    step("delete a", client.delete(&a, None))
        .await
        .expect("delete a");
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(kind(&step("event", watcher.changed()).await));
    }
    use zk::EventType::*;
    let expected = vec![
        (NodeCreated, a.clone()),
        (NodeCreated, g.clone()),
        (NodeDataChanged, g.clone()),
        (NodeDataChanged, root.clone()),
        (NodeDeleted, g),
        (NodeDeleted, a),
    ];
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn recursive_watch_on_the_wire_has_no_children_changed_events() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let add = Writer::new().str(&root).int(1).into_vec();
    assert_eq!(session.request(op::ADD_WATCH, &add).await.err, err::OK);
    let child = format!("{root}/c");
    assert_eq!(
        session
            .request_err(op::CREATE, &raw::create_body(&child, b"", raw::OPEN_ACL, 0))
            .await,
        err::OK
    );
    assert_eq!(
        session
            .request_err(op::DELETE, &Writer::new().str(&child).int(-1).into_vec())
            .await,
        err::OK
    );
    let events: Vec<(i32, String)> = session
        .events
        .drain(..)
        .map(|e| (e.event_type, e.path))
        .collect();
    assert_eq!(
        events,
        vec![(NODE_CREATED, child.clone()), (NODE_DELETED, child)]
    );
    session.close().await;
}

#[tokio::test]
async fn remove_and_check_watches_report_no_watcher_when_none() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let check = |t| raw::watches_body(&root, t);
    assert_eq!(
        session
            .request_err(op::CHECK_WATCHES, &check(WATCHER_ANY))
            .await,
        err::NO_WATCHER
    );
    assert_eq!(
        session
            .request_err(op::REMOVE_WATCHES, &check(WATCHER_ANY))
            .await,
        err::NO_WATCHER
    );
    assert_eq!(
        session
            .request_err(op::GET_DATA, &raw::path_watch_body(&root, true))
            .await,
        err::OK
    );
    assert_eq!(
        session
            .request_err(op::CHECK_WATCHES, &check(WATCHER_DATA))
            .await,
        err::OK
    );
    assert_eq!(
        session
            .request_err(op::CHECK_WATCHES, &check(WATCHER_ANY))
            .await,
        err::OK
    );
    assert_eq!(
        session
            .request_err(op::CHECK_WATCHES, &check(WATCHER_CHILDREN))
            .await,
        err::NO_WATCHER
    );
    assert_eq!(
        session
            .request_err(op::REMOVE_WATCHES, &check(WATCHER_CHILDREN))
            .await,
        err::NO_WATCHER
    );
    assert_eq!(
        session
            .request_err(op::REMOVE_WATCHES, &check(WATCHER_DATA))
            .await,
        err::OK
    );
    assert_eq!(
        session
            .request_err(op::CHECK_WATCHES, &check(WATCHER_DATA))
            .await,
        err::NO_WATCHER
    );
    // The removed watch no longer fires, and the server sends nothing for the removal itself.
    assert_eq!(
        session
            .request_err(op::SET_DATA, &set_body(&root, b"x"))
            .await,
        err::OK
    );
    assert!(session.events.is_empty(), "{:?}", session.events);
    // Not asserted: checkWatches when only another session watches the path. ZooKeeper 3.8.0
    // answers OK there (WatchManager.containsWatcher ignores the watcher, a bug fixed in later
    // releases, which answer NoWatcher); Corral should answer NoWatcher.
    session.close().await;
}

#[tokio::test]
async fn remove_watches_any_removes_data_and_child_watches() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    assert_eq!(
        session
            .request_err(op::EXISTS, &raw::path_watch_body(&root, true))
            .await,
        err::OK
    );
    assert_eq!(
        session
            .request_err(op::GET_CHILDREN, &raw::path_watch_body(&root, true))
            .await,
        err::OK
    );
    assert_eq!(
        session
            .request(
                op::CHECK_WATCHES,
                &raw::watches_body(&root, WATCHER_CHILDREN)
            )
            .await
            .err,
        err::OK
    );
    assert_eq!(
        session
            .request_err(op::REMOVE_WATCHES, &raw::watches_body(&root, WATCHER_ANY))
            .await,
        err::OK
    );
    assert_eq!(
        session
            .request_err(op::CHECK_WATCHES, &raw::watches_body(&root, WATCHER_ANY))
            .await,
        err::NO_WATCHER
    );
    step(
        "child",
        client.create(&format!("{root}/c"), b"", &PERSISTENT),
    )
    .await
    .expect("child");
    assert_eq!(
        session
            .request_err(op::SET_DATA, &set_body(&root, b"x"))
            .await,
        err::OK
    );
    assert!(session.events.is_empty(), "{:?}", session.events);
    session.close().await;
}

#[tokio::test]
async fn crate_watcher_remove_succeeds() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let (_, _, watcher) = step("watch", client.get_and_watch_data(&root))
        .await
        .expect("watch");
    assert_eq!(step("remove", watcher.remove()).await, Ok(()));
    let persistent = step(
        "addWatch",
        client.watch(&root, zk::AddWatchMode::Persistent),
    )
    .await
    .expect("addWatch");
    assert_eq!(step("remove", persistent.remove()).await, Ok(()));
}

#[tokio::test]
async fn closing_a_session_fires_watches_on_its_ephemerals_for_other_sessions() {
    let server = Server::start();
    let observer = connect(&server).await;
    let root = create_root(&observer).await;
    let path = format!("{root}/eph");
    let owner = connect(&server).await;
    step("create", owner.create(&path, b"", &EPHEMERAL))
        .await
        .expect("ephemeral");
    let (_, _, data_watcher) = step("watch", observer.get_and_watch_data(&path))
        .await
        .expect("data watch");
    let (_, child_watcher) = step("watch", observer.list_and_watch_children(&root))
        .await
        .expect("child watch");
    drop(owner); // Dropping the last handle closes the session.
    let event = step("deleted", data_watcher.changed()).await;
    assert_eq!(kind(&event), (zk::EventType::NodeDeleted, path.clone()));
    let event = step("children", child_watcher.changed()).await;
    assert_eq!(
        kind(&event),
        (zk::EventType::NodeChildrenChanged, root.clone())
    );
    assert_eq!(step("exists", observer.check_stat(&path)).await, Ok(None));
}

#[tokio::test]
async fn child_and_exists_watches_fire_node_deleted_when_the_node_goes() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let path = format!("{root}/n");
    step("create", client.create(&path, b"", &PERSISTENT))
        .await
        .expect("create");
    let (_, child_watcher) = step("child watch", client.list_and_watch_children(&path))
        .await
        .expect("watch");
    let (stat, exists_watcher) = step("exists watch", client.check_and_watch_stat(&path))
        .await
        .expect("watch");
    assert!(stat.is_some());
    step("delete", client.delete(&path, None))
        .await
        .expect("delete");
    let event = step("child watch event", child_watcher.changed()).await;
    assert_eq!(kind(&event), (zk::EventType::NodeDeleted, path.clone()));
    let event = step("exists watch event", exists_watcher.changed()).await;
    assert_eq!(kind(&event), (zk::EventType::NodeDeleted, path));
}

#[tokio::test]
async fn one_write_fires_data_and_child_watches_of_different_paths() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let child = format!("{root}/c");
    // Watch the parent's children and the (not yet existing) child.
    assert_eq!(
        session
            .request_err(op::GET_CHILDREN, &raw::path_watch_body(&root, true))
            .await,
        err::OK
    );
    assert_eq!(
        session
            .request_err(op::EXISTS, &raw::path_watch_body(&child, true))
            .await,
        err::NO_NODE
    );
    let reply = session
        .request(op::CREATE, &raw::create_body(&child, b"", raw::OPEN_ACL, 0))
        .await;
    assert_eq!(reply.err, err::OK);
    let mut events: Vec<(i32, String)> = session
        .events
        .drain(..)
        .map(|e| (e.event_type, e.path))
        .collect();
    events.sort();
    assert_eq!(
        events,
        vec![
            (NODE_CREATED, child.clone()),
            (NODE_CHILDREN_CHANGED, root.clone())
        ]
    );
    session.close().await;
}

/// After a reconnect, SetWatches re-arms watches and fires at once for whatever changed after
/// the client's last seen zxid.
#[tokio::test]
async fn set_watches_after_reconnect_fires_for_changes_missed_while_away() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let still = format!("{root}/still");
    let new = format!("{root}/new");
    step("create", client.create(&still, b"", &PERSISTENT))
        .await
        .expect("create");
    let away = RawSession::connect(&server.address(), 10_000).await;
    let (id, password) = (away.session_id, away.password.clone());
    let mut away = away;
    let last_seen = away
        .request(op::GET_DATA, &raw::path_watch_body(&root, false))
        .await
        .zxid;
    away.abandon();

    // While the session has no connection: root's data changes and a child appears.
    step("set", client.set_data(&root, b"x", None))
        .await
        .expect("set");
    step("create", client.create(&new, b"", &PERSISTENT))
        .await
        .expect("create");

    let mut back = RawSession::resume(&server.address(), id, &password, 10_000)
        .await
        .expect("resume");
    let body = Writer::new()
        .long(last_seen)
        .int(2)
        .str(&root)
        .str(&still)
        .int(1)
        .str(&new)
        .int(1)
        .str(&root)
        .into_vec();
    back.send_with_xid(raw::XID_SET_WATCHES, op::SET_WATCHES, &body)
        .await;
    let reply = back.read_reply(raw::XID_SET_WATCHES).await;
    assert_eq!(reply.err, err::OK);
    let mut events: Vec<(i32, String)> = back
        .events
        .drain(..)
        .map(|e| (e.event_type, e.path))
        .collect();
    events.sort();
    assert_eq!(
        events,
        vec![
            (NODE_CREATED, new.clone()),
            (NODE_DATA_CHANGED, root.clone()),
            (NODE_CHILDREN_CHANGED, root.clone())
        ],
        "one event per missed change, none for the unchanged node"
    );
    // The watch on the unchanged node is armed and fires on its next change.
    step("set still", client.set_data(&still, b"y", None))
        .await
        .expect("set");
    let event = back.next_event().await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (NODE_DATA_CHANGED, still.as_str())
    );
    back.close().await;
}
