//! Stat fields, exactly: zxids, times, versions, lengths, counts.

mod common;

use common::raw::{self, err, op, RawSession, Writer};
use common::*;
use zookeeper_client as zk;

#[tokio::test]
async fn create_sets_all_three_zxids_and_both_times_equal() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let (stat, _) = step(
        "create",
        client.create(&format!("{root}/n"), b"abc", &PERSISTENT),
    )
    .await
    .expect("create");
    assert_eq!(stat.mzxid, stat.czxid);
    assert_eq!(stat.pzxid, stat.czxid, "a new node's pzxid is its czxid");
    assert_eq!(stat.mtime, stat.ctime);
    assert!(
        stat.ctime > 1_600_000_000_000,
        "ctime is wall-clock milliseconds: {}",
        stat.ctime
    );
    assert_eq!((stat.version, stat.cversion, stat.aversion), (0, 0, 0));
    assert_eq!(
        (stat.data_length, stat.num_children, stat.ephemeral_owner),
        (3, 0, 0)
    );
    let (_, root_stat) = step("root", client.get_data(&root))
        .await
        .expect("root stat");
    assert!(stat.czxid > root_stat.czxid);
}

#[tokio::test]
async fn child_create_and_delete_move_parent_cversion_and_pzxid_only() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let (_, before) = step("root", client.get_data(&root))
        .await
        .expect("root stat");
    let (child, _) = step(
        "create",
        client.create(&format!("{root}/a"), b"", &PERSISTENT),
    )
    .await
    .expect("create");
    let (_, after_create) = step("root", client.get_data(&root))
        .await
        .expect("root stat");
    assert_eq!(after_create.cversion, before.cversion + 1);
    assert_eq!(after_create.pzxid, child.czxid);
    assert_eq!(after_create.num_children, 1);
    assert_eq!(
        after_create.mzxid, before.mzxid,
        "children do not change the parent's data"
    );
    assert_eq!(after_create.version, before.version);
    assert_eq!(after_create.mtime, before.mtime);

    let (second, _) = step(
        "create",
        client.create(&format!("{root}/b"), b"", &PERSISTENT),
    )
    .await
    .expect("create");
    step("delete", client.delete(&format!("{root}/a"), None))
        .await
        .expect("delete");
    let (_, after_delete) = step("root", client.get_data(&root))
        .await
        .expect("root stat");
    assert_eq!(after_delete.cversion, before.cversion + 3);
    assert_eq!(after_delete.num_children, 1);
    assert!(
        after_delete.pzxid > second.czxid,
        "the delete's zxid becomes the parent's pzxid"
    );
    // The delete was the last write, so a sync-free write afterwards gets the next zxid.
    let touched = step("set", client.set_data(&format!("{root}/b"), b"", None))
        .await
        .expect("set");
    assert_eq!(touched.mzxid, after_delete.pzxid + 1);
}

#[tokio::test]
async fn set_data_moves_version_mzxid_mtime_and_length() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let path = format!("{root}/n");
    let (created, _) = step("create", client.create(&path, b"abc", &PERSISTENT))
        .await
        .expect("create");
    let set = step("set", client.set_data(&path, b"abcdefgh", Some(0)))
        .await
        .expect("set v0");
    assert_eq!(set.version, 1);
    assert!(set.mzxid > created.mzxid);
    assert!(set.mtime >= created.mtime);
    assert_eq!(set.data_length, 8);
    assert_eq!(
        (set.czxid, set.ctime, set.pzxid),
        (created.czxid, created.ctime, created.pzxid)
    );
    assert_eq!((set.cversion, set.aversion), (0, 0));
    let again = step("set", client.set_data(&path, b"", None))
        .await
        .expect("set any");
    assert_eq!((again.version, again.data_length), (2, 0));
    let (data, read) = step("get", client.get_data(&path)).await.expect("get");
    assert_eq!(data, Vec::<u8>::new());
    assert_eq!(read, again);
}

#[tokio::test]
async fn set_acl_moves_aversion_only() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let path = format!("{root}/n");
    let (created, _) = step("create", client.create(&path, b"x", &PERSISTENT))
        .await
        .expect("create");
    let acl = [zk::Acl::new(
        zk::Permission::READ | zk::Permission::ADMIN,
        zk::AuthId::anyone(),
    )];
    let stat = step("setAcl", client.set_acl(&path, &acl, Some(0)))
        .await
        .expect("setAcl v0");
    assert_eq!(stat.aversion, 1);
    assert_eq!((stat.version, stat.cversion), (0, 0));
    assert_eq!(
        (stat.mzxid, stat.mtime),
        (created.mzxid, created.mtime),
        "setACL does not touch data fields"
    );
    let (acls, stat2) = step("getAcl", client.get_acl(&path)).await.expect("getAcl");
    assert_eq!(acls, acl.to_vec());
    assert_eq!(stat2.aversion, 1);
    let stat3 = step("setAcl", client.set_acl(&path, &acl, None))
        .await
        .expect("setAcl any");
    assert_eq!(stat3.aversion, 2);
}

#[tokio::test]
async fn num_children_counts_direct_children_only() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    for name in ["a", "b", "c"] {
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
    .expect("create");
    let (children, stat) = step("children", client.get_children(&root))
        .await
        .expect("getChildren2");
    assert_eq!(stat.num_children, 3);
    assert_eq!(children.len(), 3);
    assert_eq!(stat.cversion, 3);
}

#[tokio::test]
async fn failed_multi_changes_nothing() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let existing = format!("{root}/b");
    step("create", client.create(&existing, b"old", &PERSISTENT))
        .await
        .expect("create");
    let (_, root_before) = step("root", client.get_data(&root)).await.expect("root");
    let (_, before) = step("b", client.get_data(&existing)).await.expect("b");

    let mut writer = client.new_multi_writer();
    writer
        .add_create(&format!("{root}/a"), b"", &PERSISTENT)
        .expect("op");
    writer.add_set_data(&existing, b"new", None).expect("op");
    writer
        .add_delete(&format!("{root}/missing"), None)
        .expect("op");
    let result = step("multi", writer.commit()).await;
    assert_eq!(
        result,
        Err(zk::MultiWriteError::OperationFailed {
            index: 2,
            source: zk::Error::NoNode
        })
    );

    assert_eq!(
        step("a", client.check_stat(&format!("{root}/a")))
            .await
            .expect("exists"),
        None
    );
    let (data, after) = step("b", client.get_data(&existing)).await.expect("b");
    assert_eq!(data, b"old".to_vec());
    assert_eq!(after, before);
    let (_, root_after) = step("root", client.get_data(&root)).await.expect("root");
    assert_eq!(root_after, root_before);
}

#[tokio::test]
async fn successful_multi_shares_one_zxid() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let body = raw::multi_body(&[
        (
            op::CREATE,
            raw::create_body(&format!("{root}/a"), b"1", raw::OPEN_ACL, 0),
        ),
        (
            op::CREATE2,
            raw::create_body(&format!("{root}/b"), b"22", raw::OPEN_ACL, 0),
        ),
        (
            op::SET_DATA,
            Writer::new()
                .str(&format!("{root}/a"))
                .buf(b"333")
                .int(0)
                .into_vec(),
        ),
        (
            op::CHECK,
            Writer::new().str(&format!("{root}/b")).int(0).into_vec(),
        ),
        (
            op::DELETE,
            Writer::new().str(&format!("{root}/b")).int(0).into_vec(),
        ),
    ]);
    let reply = session.request(op::MULTI, &body).await;
    assert_eq!(reply.err, err::OK);
    let results = raw::parse_multi(&reply);
    let ops: Vec<i32> = results.iter().map(|r| r.op).collect();
    // ZooKeeper 3.8 answers a create2 inside a multi as a plain create: path only, no stat.
    assert_eq!(
        ops,
        vec![op::CREATE, op::CREATE, op::SET_DATA, op::CHECK, op::DELETE]
    );
    assert!(results.iter().all(|r| r.header_err == 0));
    assert_eq!(
        results[0].path.as_deref(),
        Some(format!("{root}/a").as_str())
    );
    assert_eq!(
        results[1].path.as_deref(),
        Some(format!("{root}/b").as_str())
    );
    let set = results[2].stat.expect("setData stat");
    assert_eq!(
        set.mzxid, reply.zxid,
        "every op of one multi carries the same zxid"
    );
    assert_eq!(set.czxid, reply.zxid, "a was created by the same multi");
    assert_eq!((set.version, set.data_length), (1, 3));
    let (_, root_stat) = step("root", client.get_data(&root)).await.expect("root");
    assert_eq!(
        (root_stat.cversion, root_stat.num_children, root_stat.pzxid),
        (3, 1, reply.zxid)
    );
    session.close().await;
}
