//! Malformed, oversized and excess input on the client port: the offending connection is
//! dropped (or answered with an error, where Apache ZooKeeper 3.8 answers one) and the server
//! keeps serving everyone else.
//!
//! Every expectation was first checked against a real ZooKeeper 3.8 (`CORRAL_TEST_ZK=spawn`);
//! the comments say what ZooKeeper does where it is not simply "close the connection".

mod common;

use std::time::Duration;

use common::raw::{self, RawSession, Writer};
use common::{connect, step, unique_root, Server, STEP_TIMEOUT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zookeeper_client as zk;

/// ZooKeeper's default jute.maxbuffer: the largest frame body (after the 4-byte length) a
/// server accepts.
const JUTE_MAX_BUFFER: usize = 0xfffff;
/// Session timeout of the raw sessions here; long enough never to expire during a test.
const SESSION_TIMEOUT_MS: i32 = 30_000;
/// Bytes of a getData/setData request before its value: xid, opcode, path length prefix,
/// data length prefix and the trailing version.
const SET_DATA_OVERHEAD: usize = 4 + 4 + 4 + 4 + 4;
/// How long a refused connection may stay open before the test calls it a failure.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts to open a connection once a slot under maxClientCnxns was freed; the server
/// notices the freed slot asynchronously.
const RECONNECT_ATTEMPTS: usize = 50;

/// What the server did with a connection we fed bad input to.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Closed (EOF or reset) after sending these bytes.
    Closed(Vec<u8>),
    /// Still open after [`CLOSE_TIMEOUT`], having sent these bytes.
    Open(Vec<u8>),
}

async fn open(server: &Server) -> TcpStream {
    let stream = step("tcp connect", TcpStream::connect(server.address()))
        .await
        .expect("tcp connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Reads until the server closes the connection or [`CLOSE_TIMEOUT`] passes.
async fn outcome(stream: &mut TcpStream) -> Outcome {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + CLOSE_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return Outcome::Open(received),
            Ok(Ok(0)) | Ok(Err(_)) => return Outcome::Closed(received),
            Ok(Ok(n)) => received.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Sends `bytes` as the very first bytes of a new connection and reports what happened.
async fn send_first(server: &Server, bytes: &[u8]) -> Outcome {
    // A server that refuses a connection may close it so fast that the connect itself
    // reports the error (seen with ZooKeeper's maxClientCnxns); that is a close too.
    let Ok(mut stream) = step("tcp connect", TcpStream::connect(server.address())).await else {
        return Outcome::Closed(Vec::new());
    };
    // The server may close the connection before it has read everything; a failed write is
    // then part of the expected outcome, not an error.
    let _ = stream.write_all(bytes).await;
    outcome(&mut stream).await
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let length = i32::try_from(payload.len()).expect("frame fits i32");
    Writer::new().int(length).bytes(payload).into_vec()
}

/// A normal client on a fresh connection can still create and read a node.
async fn assert_server_still_serves(server: &Server) {
    let client = connect(server).await;
    let path = unique_root();
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let (created, _) = step("create", client.create(&path, b"still here", &options))
        .await
        .expect("create");
    let (data, stat) = step("get", client.get_data(&path)).await.expect("get");
    assert_eq!(data, b"still here".to_vec());
    assert_eq!(stat, created);
}

#[tokio::test]
async fn garbage_bytes_close_the_connection() {
    let server = Server::start();
    // "GET " read as a length is 0x47455420, far above jute.maxbuffer.
    let http = b"GET / HTTP/1.1\r\nHost: corral\r\n\r\n";
    assert_eq!(send_first(&server, http).await, Outcome::Closed(Vec::new()));
    // A small, well-framed body that is no ConnectRequest.
    let junk = frame(&[0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]);
    assert_eq!(
        send_first(&server, &junk).await,
        Outcome::Closed(Vec::new())
    );
    assert_server_still_serves(&server).await;
}

#[tokio::test]
async fn length_prefix_above_jute_maxbuffer_closes_the_connection() {
    let server = Server::start();
    for length in [0x7fff_ffff_i32, 1024 * 1024 + 1, 1024 * 1024] {
        let bytes = Writer::new().int(length).bytes(b"abc").into_vec();
        assert_eq!(
            send_first(&server, &bytes).await,
            Outcome::Closed(Vec::new()),
            "length {length:#x}"
        );
    }
    assert_server_still_serves(&server).await;
}

#[tokio::test]
async fn length_prefix_of_exactly_jute_maxbuffer_waits_for_the_body() {
    // The limit is inclusive: 0xfffff is a legal length, so the server waits for the rest.
    let server = Server::start();
    let length = i32::try_from(JUTE_MAX_BUFFER).expect("fits");
    let bytes = Writer::new().int(length).bytes(b"abc").into_vec();
    assert_eq!(send_first(&server, &bytes).await, Outcome::Open(Vec::new()));
    assert_server_still_serves(&server).await;
}

#[tokio::test]
async fn negative_length_prefix_closes_the_connection() {
    let server = Server::start();
    for length in [-1, -5, i32::MIN] {
        let bytes = Writer::new().int(length).bytes(b"abc").into_vec();
        assert_eq!(
            send_first(&server, &bytes).await,
            Outcome::Closed(Vec::new()),
            "length {length}"
        );
    }
    assert_server_still_serves(&server).await;
}

#[tokio::test]
async fn truncated_frame_then_half_close_is_dropped() {
    let server = Server::start();
    let mut stream = open(&server).await;
    let partial = Writer::new().int(100).bytes(&[0u8; 10]).into_vec();
    stream
        .write_all(&partial)
        .await
        .expect("send partial frame");
    stream.shutdown().await.expect("half-close");
    assert_eq!(outcome(&mut stream).await, Outcome::Closed(Vec::new()));
    assert_server_still_serves(&server).await;
}

#[tokio::test]
async fn truncated_session_request_then_close_leaves_server_serving() {
    let server = Server::start();
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    let partial = Writer::new()
        .int(64)
        .int(1)
        .int(raw::op::CREATE)
        .str("/half")
        .into_vec();
    session
        .stream
        .write_all(&partial)
        .await
        .expect("send partial request");
    session.abandon();
    assert_server_still_serves(&server).await;
}

#[tokio::test]
async fn short_connect_request_closes_the_connection() {
    let server = Server::start();
    let full = raw::connect_request(SESSION_TIMEOUT_MS, 0, &[], 0);
    assert_eq!(
        send_first(&server, &frame(&full[..30])).await,
        Outcome::Closed(Vec::new())
    );
    assert_eq!(
        send_first(&server, &frame(&full[..4])).await,
        Outcome::Closed(Vec::new())
    );
    assert_eq!(
        send_first(&server, &frame(&[])).await,
        Outcome::Closed(Vec::new())
    );
    assert_server_still_serves(&server).await;
}

/// Decodes a ConnectResponse frame body: (timeout, session id, password length, body length).
fn connect_response_shape(received: &[u8]) -> (i32, i64, usize, usize) {
    let mut reader = raw::Reader(received);
    let length = usize::try_from(reader.int()).expect("non-negative length");
    assert_eq!(
        received.len(),
        4 + length,
        "exactly one frame: {received:?}"
    );
    assert_eq!(reader.int(), 0, "protocol version");
    let timeout = reader.int();
    let session_id = reader.long();
    let password = reader.buf().expect("password");
    (timeout, session_id, password.len(), length)
}

#[tokio::test]
async fn connect_request_without_read_only_flag_gets_a_short_answer() {
    // Old clients send 44 bytes (no readOnly); ZooKeeper answers them without the readOnly
    // byte either: 36 bytes instead of 37.
    let server = Server::start();
    let full = raw::connect_request(SESSION_TIMEOUT_MS, 0, &[], 0);
    assert_eq!(full.len(), 45);
    let mut stream = open(&server).await;
    stream
        .write_all(&frame(&full[..44]))
        .await
        .expect("send connect");
    let received = read_one_frame(&mut stream).await;
    let (timeout, session_id, password_length, body_length) = connect_response_shape(&received);
    assert_eq!(
        (timeout, password_length, body_length),
        (SESSION_TIMEOUT_MS, 16, 36)
    );
    assert_ne!(session_id, 0);
}

#[tokio::test]
async fn connect_request_with_trailing_bytes_is_accepted() {
    // ZooKeeper reads the fields it knows and ignores the rest of the first frame.
    let server = Server::start();
    let mut padded = raw::connect_request(SESSION_TIMEOUT_MS, 0, &[], 0);
    padded.extend_from_slice(&[0u8; 15]);
    let mut stream = open(&server).await;
    stream
        .write_all(&frame(&padded))
        .await
        .expect("send connect");
    let received = read_one_frame(&mut stream).await;
    let (timeout, session_id, password_length, body_length) = connect_response_shape(&received);
    assert_eq!(
        (timeout, password_length, body_length),
        (SESSION_TIMEOUT_MS, 16, 37)
    );
    assert_ne!(session_id, 0);
}

/// Reads exactly one length-prefixed frame (prefix included).
async fn read_one_frame(stream: &mut TcpStream) -> Vec<u8> {
    let body = step("read frame", raw::read_frame(stream))
        .await
        .expect("read")
        .expect("a frame, not EOF");
    frame(&body)
}

#[tokio::test]
async fn unknown_opcode_is_answered_unimplemented_then_closed() {
    // ZooKeeper's UnimplementedRequestProcessor replies {xid, zxid -1, Unimplemented} and then
    // closes the connection.
    let server = Server::start();
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    let xid = session.send(77, &Writer::new().str("/").into_vec()).await;
    let reply = session.read_any().await.expect("a reply before the close");
    assert_eq!(
        (reply.xid, reply.zxid, reply.err),
        (xid, -1, raw::err::UNIMPLEMENTED)
    );
    assert!(reply.body.is_empty(), "no body: {reply:?}");
    assert_eq!(
        session.read_any().await,
        None,
        "connection closed after the reply"
    );
    assert_server_still_serves(&server).await;
}

#[tokio::test]
async fn create_with_path_length_beyond_the_frame_is_a_marshalling_error() {
    // ZooKeeper fails to deserialize the request body, answers MarshallingError and keeps the
    // connection and session open.
    let server = Server::start();
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    let body = Writer::new()
        .int(1000)
        .bytes(b"/abc")
        .int(0)
        .int(-1)
        .int(0)
        .into_vec();
    let reply = session.request(raw::op::CREATE, &body).await;
    assert_eq!(reply.err, raw::err::MARSHALLING_ERROR, "{reply:?}");
    let exists = session
        .request(raw::op::EXISTS, &raw::path_watch_body("/abc", false))
        .await;
    assert_eq!(
        exists.err,
        raw::err::NO_NODE,
        "the connection still serves; nothing was created"
    );
    session.close().await;
    assert_server_still_serves(&server).await;
}

/// A setData payload whose frame body is exactly `frame_length` bytes.
fn set_data_body_for_frame(path: &str, frame_length: usize) -> (Vec<u8>, usize) {
    let value_length = frame_length - SET_DATA_OVERHEAD - path.len();
    let body = Writer::new()
        .str(path)
        .buf(&vec![b'x'; value_length])
        .int(-1)
        .into_vec();
    assert_eq!(body.len() + 8, frame_length);
    (body, value_length)
}

#[tokio::test]
async fn set_data_frame_of_exactly_jute_maxbuffer_is_accepted() {
    let server = Server::start();
    let path = unique_root();
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    let created = session
        .request(
            raw::op::CREATE,
            &raw::create_body(&path, b"", raw::OPEN_ACL, 0),
        )
        .await;
    assert_eq!(created.err, raw::err::OK);
    let (body, value_length) = set_data_body_for_frame(&path, JUTE_MAX_BUFFER);
    let reply = session.request(raw::op::SET_DATA, &body).await;
    assert_eq!(
        reply.err,
        raw::err::OK,
        "{:?}",
        (reply.xid, reply.zxid, reply.err)
    );
    let stat = reply.reader().stat();
    assert_eq!(
        (
            stat.version,
            usize::try_from(stat.data_length).expect("length")
        ),
        (1, value_length)
    );
    let read = session
        .request(raw::op::GET_DATA, &raw::path_watch_body(&path, false))
        .await;
    assert_eq!(read.err, raw::err::OK);
    let data = read.reader().buf().expect("data");
    assert_eq!(data.len(), value_length);
    assert!(data.iter().all(|byte| *byte == b'x'));
    session.close().await;
}

#[tokio::test]
async fn set_data_frame_one_byte_over_jute_maxbuffer_closes_the_connection() {
    let server = Server::start();
    let path = unique_root();
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    let created = session
        .request(
            raw::op::CREATE,
            &raw::create_body(&path, b"small", raw::OPEN_ACL, 0),
        )
        .await;
    assert_eq!(created.err, raw::err::OK);
    let (body, _) = set_data_body_for_frame(&path, JUTE_MAX_BUFFER + 1);
    let payload = Writer::new()
        .int(2)
        .int(raw::op::SET_DATA)
        .bytes(&body)
        .into_vec();
    // The server may close while we are still writing; the outcome is what counts.
    let _ = session.stream.write_all(&frame(&payload)).await;
    assert_eq!(
        outcome(&mut session.stream).await,
        Outcome::Closed(Vec::new())
    );
    let client = connect(&server).await;
    let (data, stat) = step("get", client.get_data(&path)).await.expect("get");
    assert_eq!(
        (data, stat.version),
        (b"small".to_vec(), 0),
        "the oversized write was not applied"
    );
    assert_server_still_serves(&server).await;
}

#[tokio::test]
async fn sixth_connection_from_one_address_is_refused_with_max_client_cnxns_5() {
    if Server::external_configured() {
        return;
    }
    let server = Server::start_with(&["maxClientCnxns=5"]);
    let mut sessions = Vec::new();
    for _ in 0..5 {
        sessions.push(open_session_when_a_slot_frees(&server).await);
    }
    let connect_request = frame(&raw::connect_request(SESSION_TIMEOUT_MS, 0, &[], 0));
    assert_eq!(
        send_first(&server, &connect_request).await,
        Outcome::Closed(Vec::new())
    );
    // Four-letter words count against the limit too.
    assert_eq!(
        send_first(&server, b"ruok").await,
        Outcome::Closed(Vec::new())
    );
    for stream in &mut sessions {
        let reply = exchange(stream, &Writer::new().int(raw::XID_PING).int(raw::op::PING)).await;
        assert_eq!(
            reply,
            (raw::XID_PING, raw::err::OK),
            "the first five still work"
        );
    }
    let mut freed = sessions.pop().expect("five sessions");
    let reply = exchange(
        &mut freed,
        &Writer::new().int(1).int(raw::op::CLOSE_SESSION),
    )
    .await;
    assert_eq!(reply, (1, raw::err::OK));
    drop(freed);
    drop(open_session_when_a_slot_frees(&server).await);
    drop(sessions);
    assert_server_still_serves(&server).await;
}

/// Sends one request frame on an established session and returns the reply's (xid, err).
async fn exchange(stream: &mut TcpStream, request: &Writer) -> (i32, i32) {
    step("send", raw::write_frame(stream, &request.0))
        .await
        .expect("send");
    let body = step("reply", raw::read_frame(stream))
        .await
        .expect("read reply")
        .expect("a reply, not EOF");
    let mut reader = raw::Reader(&body);
    let xid = reader.int();
    let _zxid = reader.long();
    (xid, reader.int())
}

/// Establishes a new session and returns its connection, retrying while every slot under
/// maxClientCnxns is taken: the server releases a closed connection's slot asynchronously
/// (the harness's own start-up probes included).
async fn open_session_when_a_slot_frees(server: &Server) -> TcpStream {
    let request = frame(&raw::connect_request(SESSION_TIMEOUT_MS, 0, &[], 0));
    for _ in 0..RECONNECT_ATTEMPTS {
        // While no slot is free the server may refuse so fast that the connect or the write
        // fails; both mean "try again".
        if let Ok(mut stream) = TcpStream::connect(server.address()).await {
            if stream.write_all(&request).await.is_ok() {
                if let Ok(Ok(Some(body))) =
                    tokio::time::timeout(STEP_TIMEOUT, raw::read_frame(&mut stream)).await
                {
                    let (_, session_id, _, _) = connect_response_shape(&frame(&body));
                    assert_ne!(session_id, 0, "a real session");
                    return stream;
                }
            }
        }
        tokio::time::sleep(STEP_TIMEOUT / 100).await;
    }
    panic!("no connection slot free under maxClientCnxns");
}
