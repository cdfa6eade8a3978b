//! Sessions: timeout negotiation, expiry of a silent session, resuming with a wrong password,
//! and resuming elsewhere, which closes the old connection.

mod common;

use std::time::Duration;

use common::raw::{self, err, op, RawSession};
use common::*;
use zookeeper_client as zk;

#[tokio::test]
async fn session_timeout_is_clamped_to_two_and_twenty_ticks() {
    let server = Server::start();
    // tickTime is 2000 ms in the default test config.
    for (asked, granted) in [
        (1, 4000),
        (1000, 4000),
        (4000, 4000),
        (10_000, 10_000),
        (40_000, 40_000),
        (100_000, 40_000),
    ] {
        let session = RawSession::connect(&server.address(), asked).await;
        assert_eq!(session.timeout_ms, granted, "asked for {asked} ms");
        session.close().await;
    }
    let mut connector = zk::Client::connector();
    connector.session_timeout(Duration::from_millis(1000));
    let client = connect_with(&server, &mut connector).await;
    assert_eq!(client.session_timeout(), Duration::from_millis(4000));
}

#[tokio::test]
async fn session_timeout_bounds_follow_tick_time() {
    let server = Server::start_with(&["tickTime=500"]);
    for (asked, granted) in [(100, 1000), (5000, 5000), (60_000, 10_000)] {
        let session = RawSession::connect(&server.address(), asked).await;
        assert_eq!(
            session.timeout_ms, granted,
            "asked for {asked} ms with tickTime=500"
        );
        session.close().await;
    }
}

#[tokio::test]
async fn handshake_reply_has_protocol_zero_and_sixteen_byte_password() {
    let server = Server::start();
    let (stream, response) = raw::handshake(&server.address(), 10_000, 0, &[]).await;
    let response = response.expect("connect response");
    assert_eq!(response.protocol_version, 0);
    assert_eq!(response.timeout_ms, 10_000);
    assert_ne!(response.session_id, 0);
    assert_eq!(response.password.len(), 16);
    drop(stream);
    let other = RawSession::connect(&server.address(), 10_000).await;
    assert_ne!(
        other.session_id, response.session_id,
        "every new session gets a fresh id"
    );
    other.close().await;
}

#[tokio::test]
async fn silent_session_expires_and_its_ephemeral_goes() {
    let server = Server::start();
    let observer = connect(&server).await;
    let root = create_root(&observer).await;
    let path = format!("{root}/eph");
    let mut silent = RawSession::connect(&server.address(), 4000).await;
    assert_eq!(silent.timeout_ms, 4000);
    let reply = silent
        .request(op::CREATE, &raw::create_body(&path, b"", raw::OPEN_ACL, 1))
        .await;
    assert_eq!(reply.err, err::OK);
    let (stat, watcher) = step("watch", observer.check_and_watch_stat(&path))
        .await
        .expect("exists watch");
    assert_eq!(stat.map(|s| s.ephemeral_owner), Some(silent.session_id));
    // From here on the silent session sends nothing, not even pings.
    let event = step("expiry", watcher.changed()).await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (zk::EventType::NodeDeleted, path.as_str())
    );
    assert_eq!(step("exists", observer.check_stat(&path)).await, Ok(None));
    // The server closes the expired session's connection.
    assert_eq!(silent.read_any().await, None);
}

#[tokio::test]
async fn pinging_session_outlives_its_timeout() {
    let server = Server::start();
    let observer = connect(&server).await;
    let root = create_root(&observer).await;
    let path = format!("{root}/eph");
    let mut session = RawSession::connect(&server.address(), 4000).await;
    let reply = session
        .request(op::CREATE, &raw::create_body(&path, b"", raw::OPEN_ACL, 1))
        .await;
    assert_eq!(reply.err, err::OK);
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        session.ping().await;
    }
    assert!(
        step("exists", observer.check_stat(&path))
            .await
            .expect("exists")
            .is_some(),
        "6 s > 4 s timeout"
    );
    session.close().await;
    assert_eq!(
        step("exists", observer.check_stat(&path)).await,
        Ok(None),
        "close deletes ephemerals at once"
    );
}

#[tokio::test]
async fn resume_with_wrong_password_is_refused_and_right_password_works() {
    let server = Server::start();
    let session = RawSession::connect(&server.address(), 10_000).await;
    let mut wrong = session.password.clone();
    wrong[0] ^= 0xff;
    let (mut stream, response) =
        raw::handshake(&server.address(), 10_000, session.session_id, &wrong).await;
    let response = response.expect("the server answers before closing");
    assert_eq!(
        (response.timeout_ms, response.session_id),
        (0, 0),
        "a refused session looks expired"
    );
    assert_eq!(
        raw::read_frame(&mut stream).await.ok().flatten(),
        None,
        "then the connection closes"
    );

    let (stream, response) = raw::handshake(
        &server.address(),
        10_000,
        session.session_id,
        &session.password,
    )
    .await;
    let response = response.expect("resumed");
    assert_eq!(
        (response.session_id, response.timeout_ms),
        (session.session_id, 10_000)
    );
    assert_eq!(response.password, session.password);
    drop(stream);
    session.abandon();
}

#[tokio::test]
async fn resume_after_close_is_expired() {
    let server = Server::start();
    let session = RawSession::connect(&server.address(), 10_000).await;
    let (id, password) = (session.session_id, session.password.clone());
    session.close().await;
    let (_stream, response) = raw::handshake(&server.address(), 10_000, id, &password).await;
    let response = response.expect("the server answers before closing");
    assert_eq!((response.timeout_ms, response.session_id), (0, 0));
}

#[tokio::test]
async fn client_crate_resumes_a_detached_session() {
    let server = Server::start();
    let mut connector = zk::Client::connector();
    connector.session_timeout(SESSION_TIMEOUT).detached();
    let first = connect_with(&server, &mut connector).await;
    let root = create_root(&first).await;
    step("eph", first.create(&format!("{root}/e"), b"", &EPHEMERAL))
        .await
        .expect("ephemeral");
    let info = first.session().clone();
    drop(first);
    let mut resume = zk::Client::connector();
    resume
        .session_timeout(SESSION_TIMEOUT)
        .session(info.clone());
    let second = connect_with(&server, &mut resume).await;
    assert_eq!(second.session_id(), info.id());
    let (_, stat) = step("get", second.get_data(&format!("{root}/e")))
        .await
        .expect("ephemeral survives");
    assert_eq!(stat.ephemeral_owner, info.id().0);
}

#[tokio::test]
async fn resuming_a_session_elsewhere_closes_its_old_connection() {
    let server = Server::start();
    let mut first = RawSession::connect(&server.address(), 10_000).await;
    let path = unique_root();
    let reply = first
        .request(op::CREATE, &raw::create_body(&path, b"", raw::OPEN_ACL, 1))
        .await;
    assert_eq!(reply.err, err::OK);
    let mut second = RawSession::resume(
        &server.address(),
        first.session_id,
        &first.password,
        first.timeout_ms,
    )
    .await
    .expect("the session resumes on a second connection");
    // ZooKeeper closes a session's old connection when the client reconnects elsewhere.
    assert_eq!(
        first.read_any().await,
        None,
        "the server closes the first connection"
    );
    second.ping().await;
    let reply = second
        .request(op::EXISTS, &raw::path_watch_body(&path, false))
        .await;
    assert_eq!(reply.err, err::OK);
    assert_eq!(
        reply.reader().stat().ephemeral_owner,
        second.session_id,
        "the session and its ephemeral live on"
    );
    let reply = second
        .request(
            op::CREATE,
            &raw::create_body(&format!("{path}-2"), b"", raw::OPEN_ACL, 1),
        )
        .await;
    assert_eq!(reply.err, err::OK, "the second connection serves writes");
    second.close().await;
}
