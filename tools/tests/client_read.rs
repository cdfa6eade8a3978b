//! Reads and batches: getChildren, getAllChildrenNumber, getEphemerals, exists, sync, multi,
//! multiRead.

mod common;

use common::raw::{self, err, op, RawSession, Writer};
use common::*;
use zookeeper_client as zk;

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

#[tokio::test]
async fn get_children_lists_names_and_parent_stat() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    assert_eq!(step("empty", client.list_children(&root)).await, Ok(vec![]));
    for name in ["b", "a", "c"] {
        step(
            "create",
            client.create(&format!("{root}/{name}"), b"", &PERSISTENT),
        )
        .await
        .expect("create");
    }
    step(
        "grandchild",
        client.create(&format!("{root}/a/x"), b"", &PERSISTENT),
    )
    .await
    .expect("grandchild");
    let names = step("list", client.list_children(&root))
        .await
        .expect("list");
    assert_eq!(sorted(names), vec!["a", "b", "c"]);
    let (names, stat) = step("children2", client.get_children(&root))
        .await
        .expect("getChildren2");
    assert_eq!(sorted(names), vec!["a", "b", "c"]);
    let (_, data_stat) = step("get", client.get_data(&root)).await.expect("get");
    assert_eq!(stat, data_stat, "getChildren2 returns the parent's stat");
    assert_eq!((stat.num_children, stat.cversion), (3, 3));
}

#[tokio::test]
async fn get_all_children_number_counts_every_descendant() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    assert_eq!(
        step("count", client.count_descendants_number(&root)).await,
        Ok(0)
    );
    for path in ["a", "b", "a/x", "a/x/y", "b/z"] {
        step(
            "create",
            client.create(&format!("{root}/{path}"), b"", &PERSISTENT),
        )
        .await
        .expect("create");
    }
    assert_eq!(
        step("count root", client.count_descendants_number(&root)).await,
        Ok(5)
    );
    assert_eq!(
        step(
            "count a",
            client.count_descendants_number(&format!("{root}/a"))
        )
        .await,
        Ok(2)
    );
    assert_eq!(
        step(
            "count leaf",
            client.count_descendants_number(&format!("{root}/a/x/y"))
        )
        .await,
        Ok(0)
    );
}

#[tokio::test]
async fn get_ephemerals_lists_own_session_nodes_by_string_prefix() {
    let server = Server::start();
    let client = connect(&server).await;
    let other = connect(&server).await;
    let root = create_root(&client).await;
    step("dir", client.create(&format!("{root}/d"), b"", &PERSISTENT))
        .await
        .expect("dir");
    for path in ["e1", "e2", "d/e3", "dx"] {
        step(
            "eph",
            client.create(&format!("{root}/{path}"), b"", &EPHEMERAL),
        )
        .await
        .expect("ephemeral");
    }
    step(
        "other eph",
        other.create(&format!("{root}/theirs"), b"", &EPHEMERAL),
    )
    .await
    .expect("other");
    step(
        "persistent",
        client.create(&format!("{root}/p"), b"", &PERSISTENT),
    )
    .await
    .expect("persistent");

    let mine = step("all", client.list_ephemerals("/"))
        .await
        .expect("getEphemerals /");
    let expected: Vec<String> = ["d/e3", "dx", "e1", "e2"]
        .iter()
        .map(|p| format!("{root}/{p}"))
        .collect();
    assert_eq!(
        sorted(mine),
        expected,
        "'/' lists every ephemeral of the session"
    );
    let under_root = step("root", client.list_ephemerals(&root))
        .await
        .expect("getEphemerals root");
    assert_eq!(sorted(under_root), expected);
    // The prefix is a string prefix, not a path: "root/d" matches "root/dx" too.
    let under_d = step("d", client.list_ephemerals(&format!("{root}/d")))
        .await
        .expect("getEphemerals d");
    assert_eq!(
        sorted(under_d),
        vec![format!("{root}/d/e3"), format!("{root}/dx")]
    );
    let exact = step("e1", client.list_ephemerals(&format!("{root}/e1")))
        .await
        .expect("getEphemerals e1");
    assert_eq!(exact, vec![format!("{root}/e1")]);
    let none = step("none", client.list_ephemerals(&format!("{root}/zzz")))
        .await
        .expect("getEphemerals zzz");
    assert_eq!(none, Vec::<String>::new());
    let theirs = step("theirs", other.list_ephemerals("/"))
        .await
        .expect("other getEphemerals");
    assert_eq!(theirs, vec![format!("{root}/theirs")]);
}

#[tokio::test]
async fn exists_on_missing_node_is_empty_reply_with_no_node() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    assert_eq!(
        step("exists", client.check_stat(&format!("{root}/missing"))).await,
        Ok(None)
    );
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let reply = session
        .request(
            op::EXISTS,
            &raw::path_watch_body(&format!("{root}/missing"), false),
        )
        .await;
    assert_eq!(reply.err, err::NO_NODE);
    assert!(reply.body.is_empty(), "an error reply has no body");
    let reply = session
        .request(op::EXISTS, &raw::path_watch_body(&root, false))
        .await;
    assert_eq!(reply.err, err::OK);
    assert_eq!(reply.body.len(), 68, "a Stat is 68 bytes");
    session.close().await;
}

#[tokio::test]
async fn sync_answers_with_the_path() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    assert_eq!(step("sync", client.sync(&root)).await, Ok(()));
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let reply = session
        .request(op::SYNC, &Writer::new().str(&root).into_vec())
        .await;
    assert_eq!(reply.err, err::OK);
    assert_eq!(reply.reader().str(), root);
    // sync does not look the path up.
    let reply = session
        .request(op::SYNC, &Writer::new().str("/no/such/node").into_vec())
        .await;
    assert_eq!(reply.err, err::OK);
    assert_eq!(reply.reader().str(), "/no/such/node");
    session.close().await;
}

#[tokio::test]
async fn check_inside_multi_gates_the_writes() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut writer = client.new_multi_writer();
    writer.add_check_version(&root, 0).expect("op");
    writer
        .add_create(&format!("{root}/a"), b"", &PERSISTENT)
        .expect("op");
    let results = step("multi ok", writer.commit()).await.expect("multi");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0], zk::MultiWriteResult::Check);

    // check compares the data version, which child creates do not move: 1 is stale.
    let mut writer = client.new_multi_writer();
    writer.add_check_version(&root, 1).expect("op");
    writer
        .add_create(&format!("{root}/b"), b"", &PERSISTENT)
        .expect("op");
    let result = step("multi stale", writer.commit()).await;
    assert_eq!(
        result,
        Err(zk::MultiWriteError::OperationFailed {
            index: 0,
            source: zk::Error::BadVersion
        })
    );
    let mut writer = client.new_multi_writer();
    writer
        .add_check_version(&format!("{root}/missing"), 0)
        .expect("op");
    let result = step("multi missing", writer.commit()).await;
    assert_eq!(
        result,
        Err(zk::MultiWriteError::OperationFailed {
            index: 0,
            source: zk::Error::NoNode
        })
    );
    assert_eq!(
        step("b", client.check_stat(&format!("{root}/b"))).await,
        Ok(None)
    );
}

#[tokio::test]
async fn failed_multi_reports_ok_before_code_at_and_runtime_inconsistency_after() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let body = raw::multi_body(&[
        (
            op::CREATE,
            raw::create_body(&format!("{root}/a"), b"", raw::OPEN_ACL, 0),
        ),
        (
            op::SET_DATA,
            Writer::new().str(&root).buf(b"x").int(-1).into_vec(),
        ),
        (op::CHECK, Writer::new().str(&root).int(7).into_vec()),
        (
            op::DELETE,
            Writer::new().str(&format!("{root}/a")).int(-1).into_vec(),
        ),
        (
            op::CREATE,
            raw::create_body(&format!("{root}/b"), b"", raw::OPEN_ACL, 0),
        ),
    ]);
    let reply = session.request(op::MULTI, &body).await;
    assert_eq!(
        reply.err,
        err::OK,
        "a failed multi is reported per op, the header says OK"
    );
    let results = raw::parse_multi(&reply);
    let codes: Vec<(i32, i32, i32)> = results
        .iter()
        .map(|r| (r.op, r.header_err, r.err))
        .collect();
    let bad_version = err::BAD_VERSION;
    let inconsistent = err::RUNTIME_INCONSISTENCY;
    assert_eq!(
        codes,
        vec![
            (-1, 0, 0),
            (-1, 0, 0),
            (-1, bad_version, bad_version),
            (-1, inconsistent, inconsistent),
            (-1, inconsistent, inconsistent)
        ]
    );
    assert_eq!(
        step("a", client.check_stat(&format!("{root}/a"))).await,
        Ok(None)
    );
    session.close().await;
}

#[tokio::test]
async fn multi_read_mixes_results_and_errors() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    step(
        "child",
        client.create(&format!("{root}/c"), b"data", &PERSISTENT),
    )
    .await
    .expect("child");
    let missing = format!("{root}/missing");
    let mut reader = client.new_multi_reader();
    reader.add_get_data(&format!("{root}/c")).expect("op");
    reader.add_get_children(&missing).expect("op");
    reader.add_get_children(&root).expect("op");
    reader.add_get_data(&missing).expect("op");
    let results = step("multiRead", reader.commit()).await.expect("multiRead");
    assert_eq!(results.len(), 4);
    match &results[0] {
        zk::MultiReadResult::Data { data, stat } => {
            assert_eq!(data, &b"data".to_vec());
            assert_eq!(stat.data_length, 4);
        }
        other => panic!("expected data, got {other:?}"),
    }
    assert!(
        matches!(
            &results[1],
            zk::MultiReadResult::Error {
                err: zk::Error::NoNode
            }
        ),
        "{:?}",
        results[1]
    );
    match &results[2] {
        zk::MultiReadResult::Children { children } => assert_eq!(children, &vec!["c".to_string()]),
        other => panic!("expected children, got {other:?}"),
    }
    assert!(
        matches!(
            &results[3],
            zk::MultiReadResult::Error {
                err: zk::Error::NoNode
            }
        ),
        "{:?}",
        results[3]
    );
}

#[tokio::test]
async fn multi_read_wire_shape_carries_per_op_errors() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let body = raw::multi_body(&[
        (
            op::GET_DATA,
            raw::path_watch_body(&format!("{root}/missing"), false),
        ),
        (op::GET_CHILDREN, raw::path_watch_body(&root, false)),
    ]);
    let reply = session.request(op::MULTI_READ, &body).await;
    assert_eq!(reply.err, err::OK);
    let results = raw::parse_multi(&reply);
    assert_eq!(results.len(), 2);
    assert_eq!(
        (results[0].op, results[0].header_err, results[0].err),
        (-1, err::NO_NODE, err::NO_NODE)
    );
    assert_eq!(
        (results[1].op, results[1].header_err),
        (op::GET_CHILDREN, 0)
    );
    assert_eq!(results[1].children, Some(vec![]));
    session.close().await;
}
