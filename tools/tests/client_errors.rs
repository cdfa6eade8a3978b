//! Error codes of the write paths: versions, NotEmpty, NoNode, NodeExists, BadArguments.

mod common;

use common::raw::{self, err, op, RawSession, Writer};
use common::*;
use zookeeper_client as zk;

#[tokio::test]
async fn delete_checks_version() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let path = format!("{root}/n");
    step("create", client.create(&path, b"", &PERSISTENT))
        .await
        .expect("create");
    step("set", client.set_data(&path, b"1", None))
        .await
        .expect("set");
    assert_eq!(
        step("delete v0", client.delete(&path, Some(0))).await,
        Err(zk::Error::BadVersion)
    );
    assert_eq!(
        step("delete v2", client.delete(&path, Some(2))).await,
        Err(zk::Error::BadVersion)
    );
    assert_eq!(
        step("delete v1", client.delete(&path, Some(1))).await,
        Ok(())
    );
    assert_eq!(
        step("delete again", client.delete(&path, Some(1))).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        step("delete any", client.delete(&path, None)).await,
        Err(zk::Error::NoNode)
    );
}

#[tokio::test]
async fn set_data_checks_version() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let path = format!("{root}/n");
    step("create", client.create(&path, b"", &PERSISTENT))
        .await
        .expect("create");
    assert_eq!(
        step("set v1", client.set_data(&path, b"x", Some(1))).await,
        Err(zk::Error::BadVersion)
    );
    let stat = step("set v0", client.set_data(&path, b"x", Some(0)))
        .await
        .expect("set v0");
    assert_eq!(stat.version, 1);
    assert_eq!(
        step("set v0 again", client.set_data(&path, b"y", Some(0))).await,
        Err(zk::Error::BadVersion)
    );
    let (data, _) = step("get", client.get_data(&path)).await.expect("get");
    assert_eq!(
        data,
        b"x".to_vec(),
        "a rejected setData leaves the data alone"
    );
}

#[tokio::test]
async fn set_acl_checks_acl_version() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let path = format!("{root}/n");
    step("create", client.create(&path, b"", &PERSISTENT))
        .await
        .expect("create");
    step("set data", client.set_data(&path, b"x", None))
        .await
        .expect("set");
    let acl = [zk::Acl::new(zk::Permission::ALL, zk::AuthId::anyone())];
    // The data version is 1 now, but setACL compares against aversion (0).
    assert_eq!(
        step("setAcl v1", client.set_acl(&path, &acl, Some(1))).await,
        Err(zk::Error::BadVersion)
    );
    let stat = step("setAcl v0", client.set_acl(&path, &acl, Some(0)))
        .await
        .expect("setAcl v0");
    assert_eq!(stat.aversion, 1);
}

#[tokio::test]
async fn delete_with_children_is_not_empty() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    step(
        "child",
        client.create(&format!("{root}/c"), b"", &PERSISTENT),
    )
    .await
    .expect("child");
    assert_eq!(
        step("delete", client.delete(&root, None)).await,
        Err(zk::Error::NotEmpty)
    );
    // A wrong version is reported before NotEmpty: ZooKeeper checks the version first.
    assert_eq!(
        step("delete v9", client.delete(&root, Some(9))).await,
        Err(zk::Error::BadVersion)
    );
    step("delete child", client.delete(&format!("{root}/c"), None))
        .await
        .expect("delete child");
    assert_eq!(step("delete", client.delete(&root, Some(0))).await, Ok(()));
}

#[tokio::test]
async fn operations_on_missing_nodes_are_no_node() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let missing = format!("{root}/missing");
    let acl = [zk::Acl::new(zk::Permission::ALL, zk::AuthId::anyone())];
    assert_eq!(
        step("get", client.get_data(&missing)).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        step("set", client.set_data(&missing, b"", None)).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        step("delete", client.delete(&missing, None)).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        step("children", client.list_children(&missing)).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        step("children2", client.get_children(&missing)).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        step("getAcl", client.get_acl(&missing)).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        step("setAcl", client.set_acl(&missing, &acl, None)).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        step("count", client.count_descendants_number(&missing)).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(step("exists", client.check_stat(&missing)).await, Ok(None));
}

#[tokio::test]
async fn invalid_paths_on_create_are_bad_arguments() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let bad = [
        "no-slash".to_string(),
        format!("{root}/"),
        format!("{root}/."),
        format!("{root}/.."),
        format!("{root}/a\0b"),
        format!("{root}/\u{1}"),
        format!("{root}/\u{fff0}"),
    ];
    for path in &bad {
        let code = session
            .request_err(op::CREATE, &raw::create_body(path, b"", raw::OPEN_ACL, 0))
            .await;
        assert_eq!(code, err::BAD_ARGUMENTS, "create {path:?}");
    }
    // A sequential create validates the name with the counter appended: "root/" + digits is fine.
    let code = session
        .request_err(
            op::CREATE,
            &raw::create_body(&format!("{root}/."), b"", raw::OPEN_ACL, 2),
        )
        .await;
    assert_eq!(
        code,
        err::OK,
        "'.' followed by ten digits is an ordinary name"
    );
    let code = session
        .request_err(op::CREATE, &raw::create_body("", b"", raw::OPEN_ACL, 0))
        .await;
    assert_eq!(code, err::BAD_ARGUMENTS, "empty path");
    let code = session
        .request_err(op::CREATE, &raw::create_body("/", b"", raw::OPEN_ACL, 0))
        .await;
    // "/" splits into parent "" (the root itself) and passes validation, so it already exists.
    assert_eq!(code, err::NODE_EXISTS, "create of the root");
    // An empty component hides the parent: "root//x" has parent "root/", which does not exist.
    let code = session
        .request_err(
            op::CREATE,
            &raw::create_body(&format!("{root}//x"), b"", raw::OPEN_ACL, 0),
        )
        .await;
    assert_eq!(code, err::NO_NODE, "create {root}//x");
    let children = step("list", client.list_children(&root))
        .await
        .expect("list");
    assert_eq!(children, vec![".0000000000".to_string()]);
    session.close().await;
}

#[tokio::test]
async fn invalid_paths_on_other_writes_are_bad_arguments() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let set = |path: &str| Writer::new().str(path).buf(b"").int(-1).into_vec();
    let delete = |path: &str| Writer::new().str(path).int(-1).into_vec();
    let set_acl = |path: &str| {
        Writer::new()
            .str(path)
            .acls(raw::OPEN_ACL)
            .int(-1)
            .into_vec()
    };
    assert_eq!(
        session.request_err(op::SET_DATA, &set("no-slash")).await,
        err::BAD_ARGUMENTS
    );
    assert_eq!(
        session
            .request_err(op::SET_DATA, &set(&format!("{root}/")))
            .await,
        err::BAD_ARGUMENTS
    );
    assert_eq!(
        session
            .request_err(op::SET_ACL, &set_acl(&format!("{root}/.")))
            .await,
        err::BAD_ARGUMENTS
    );
    assert_eq!(
        session.request_err(op::DELETE, &delete("no-slash")).await,
        err::BAD_ARGUMENTS
    );
    assert_eq!(
        session.request_err(op::DELETE, &delete("/")).await,
        err::BAD_ARGUMENTS,
        "delete of the root"
    );
    assert_eq!(
        session
            .request_err(op::DELETE, &delete(&format!("{root}/a\0")))
            .await,
        err::BAD_ARGUMENTS
    );
    session.close().await;
}

#[tokio::test]
async fn reads_of_invalid_paths_are_no_node() {
    let server = Server::start();
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    // Reads do not validate the path; they simply find nothing there.
    for path in ["no-slash", "/a/", "/a//b", "/./b"] {
        let code = session
            .request_err(op::GET_DATA, &raw::path_watch_body(path, false))
            .await;
        assert_eq!(code, err::NO_NODE, "getData {path:?}");
        let code = session
            .request_err(op::EXISTS, &raw::path_watch_body(path, false))
            .await;
        assert_eq!(code, err::NO_NODE, "exists {path:?}");
    }
    session.close().await;
}

#[tokio::test]
async fn a_write_refused_while_decoding_still_takes_a_zxid() {
    // ZooKeeper turns such a write into an error txn: its reply carries a fresh zxid and the
    // next write's zxid is one higher still.
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let first = session
        .request(
            op::CREATE,
            &raw::create_body(&format!("{root}/a"), b"", raw::OPEN_ACL, 0),
        )
        .await;
    assert_eq!(first.err, err::OK);
    let bad_flags = session
        .request(
            op::CREATE,
            &raw::create_body(&format!("{root}/b"), b"", raw::OPEN_ACL, 77),
        )
        .await;
    assert_eq!(bad_flags.err, err::BAD_ARGUMENTS);
    assert_eq!(bad_flags.zxid, first.zxid + 1, "the refusal took a zxid");
    let next = session
        .request(
            op::CREATE,
            &raw::create_body(&format!("{root}/c"), b"", raw::OPEN_ACL, 0),
        )
        .await;
    assert_eq!((next.err, next.zxid), (err::OK, first.zxid + 2));
    session.close().await;
}
