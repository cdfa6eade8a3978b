//! Checks the harness itself: a server starts, answers, restarts on the same data.

mod common;

use common::{connect, step, unique_root, Server};
use zookeeper_client as zk;

#[tokio::test]
async fn harness_connects_and_creates_a_node() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = unique_root();
    let (stat, _) = step(
        "create",
        client.create(
            &root,
            b"x",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
        ),
    )
    .await
    .expect("create root");
    assert_eq!(stat.version, 0);
    let (data, _) = step("get", client.get_data(&root)).await.expect("get root");
    assert_eq!(data, b"x".to_vec());
}

#[tokio::test]
async fn harness_raw_session_handshake_and_exists() {
    let server = Server::start();
    let mut raw = common::raw::RawSession::connect(&server.address(), 4000).await;
    assert_eq!(raw.timeout_ms, 4000);
    let reply = raw
        .request(
            common::raw::op::EXISTS,
            &common::raw::path_watch_body("/zookeeper", false),
        )
        .await;
    assert_eq!(reply.err, 0);
    raw.close().await;
}

#[tokio::test]
async fn harness_restart_keeps_data() {
    let mut server = Server::start();
    if server.is_external() {
        return;
    }
    let root = unique_root();
    {
        let client = connect(&server).await;
        step(
            "create",
            client.create(
                &root,
                b"kept",
                &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
            ),
        )
        .await
        .expect("create root");
    }
    server.restart();
    let client = connect(&server).await;
    let (data, _) = step("get", client.get_data(&root))
        .await
        .expect("get root after restart");
    assert_eq!(data, b"kept".to_vec());
    server.kill9_and_restart();
    let client = connect(&server).await;
    let (data, _) = step("get", client.get_data(&root))
        .await
        .expect("get root after kill -9");
    assert_eq!(data, b"kept".to_vec());
}
