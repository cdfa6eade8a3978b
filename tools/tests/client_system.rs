//! The system subtree: /zookeeper, /zookeeper/quota, /zookeeper/config.

mod common;

use common::raw::{err, op, RawSession, Writer};
use common::*;
use zookeeper_client as zk;

#[tokio::test]
async fn system_nodes_exist() {
    let server = Server::start();
    let client = connect(&server).await;
    for path in ["/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        let stat = step("exists", client.check_stat(path))
            .await
            .expect("exists");
        assert!(stat.is_some(), "{path} exists");
        assert_eq!(
            stat.map(|s| s.ephemeral_owner),
            Some(0),
            "{path} is persistent"
        );
    }
    let mut children = step("list", client.list_children("/zookeeper"))
        .await
        .expect("list /zookeeper");
    children.sort();
    assert_eq!(children, vec!["config".to_string(), "quota".to_string()]);
    let root_children = step("list /", client.list_children("/"))
        .await
        .expect("list /");
    assert!(
        root_children.contains(&"zookeeper".to_string()),
        "{root_children:?}"
    );
}

#[tokio::test]
async fn config_node_is_world_readable_only() {
    let server = Server::start();
    let client = connect(&server).await;
    let (acls, _) = step("getAcl", client.get_acl("/zookeeper/config"))
        .await
        .expect("getAcl");
    assert_eq!(
        acls,
        vec![zk::Acl::new(zk::Permission::READ, zk::AuthId::anyone())]
    );
    assert!(step("getConfig", client.get_config()).await.is_ok());
    assert_eq!(
        step("set", client.set_data("/zookeeper/config", b"x", None)).await,
        Err(zk::Error::NoAuth)
    );
    let open = [zk::Acl::new(zk::Permission::ALL, zk::AuthId::anyone())];
    assert_eq!(
        step("setAcl", client.set_acl("/zookeeper/config", &open, None))
            .await
            .map(|_| ()),
        Err(zk::Error::NoAuth)
    );
    let result = step(
        "create under config",
        client.create("/zookeeper/config/x", b"", &PERSISTENT),
    )
    .await;
    assert_eq!(result.map(|_| ()), Err(zk::Error::NoAuth));
}

#[tokio::test]
async fn system_nodes_cannot_be_deleted() {
    let server = Server::start();
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    for path in ["/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        let reply = session
            .request(op::DELETE, &Writer::new().str(path).int(-1).into_vec())
            .await;
        assert_eq!(reply.err, err::BAD_ARGUMENTS, "delete {path}");
    }
    let client = connect(&server).await;
    for path in ["/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        assert!(
            step("exists", client.check_stat(path))
                .await
                .expect("exists")
                .is_some(),
            "{path} survives"
        );
    }
    session.close().await;
}

#[tokio::test]
async fn system_nodes_are_open_to_ordinary_children() {
    // ZooKeeper gives /zookeeper and /zookeeper/quota an open ACL and no special create check.
    let server = Server::start();
    let client = connect(&server).await;
    let name = unique_root().trim_start_matches('/').to_string();
    let path = format!("/zookeeper/{name}");
    step("create", client.create(&path, b"", &EPHEMERAL))
        .await
        .expect("create under /zookeeper");
    step("delete", client.delete(&path, None))
        .await
        .expect("delete it again");
    let (acls, _) = step("getAcl", client.get_acl("/zookeeper"))
        .await
        .expect("getAcl");
    assert_eq!(
        acls,
        vec![zk::Acl::new(zk::Permission::ALL, zk::AuthId::anyone())]
    );
}
