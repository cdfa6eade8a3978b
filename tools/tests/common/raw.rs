//! A hand-rolled ZooKeeper client connection for what the client crate cannot express: sessions
//! that stop pinging, raw error codes, checkWatches, malformed or unusual requests.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::STEP_TIMEOUT;

/// Opcodes (zookeeper.jute / ZooDefs.OpCode).
pub mod op {
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_ACL: i32 = 6;
    pub const SET_ACL: i32 = 7;
    pub const GET_CHILDREN: i32 = 8;
    pub const SYNC: i32 = 9;
    pub const PING: i32 = 11;
    pub const GET_CHILDREN2: i32 = 12;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const CHECK_WATCHES: i32 = 17;
    pub const REMOVE_WATCHES: i32 = 18;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const CREATE_TTL: i32 = 21;
    pub const MULTI_READ: i32 = 22;
    pub const AUTH: i32 = 100;
    pub const SET_WATCHES: i32 = 101;
    pub const GET_EPHEMERALS: i32 = 103;
    pub const GET_ALL_CHILDREN_NUMBER: i32 = 104;
    pub const ADD_WATCH: i32 = 106;
    pub const WHO_AM_I: i32 = 107;
    pub const CLOSE_SESSION: i32 = -11;
}

/// Error codes (KeeperException.Code).
pub mod err {
    pub const OK: i32 = 0;
    pub const RUNTIME_INCONSISTENCY: i32 = -2;
    pub const MARSHALLING_ERROR: i32 = -5;
    pub const UNIMPLEMENTED: i32 = -6;
    pub const BAD_ARGUMENTS: i32 = -8;
    pub const NO_NODE: i32 = -101;
    pub const NO_AUTH: i32 = -102;
    pub const BAD_VERSION: i32 = -103;
    pub const NO_CHILDREN_FOR_EPHEMERALS: i32 = -108;
    pub const NODE_EXISTS: i32 = -110;
    pub const NOT_EMPTY: i32 = -111;
    pub const SESSION_EXPIRED: i32 = -112;
    pub const INVALID_ACL: i32 = -114;
    pub const AUTH_FAILED: i32 = -115;
    pub const NO_WATCHER: i32 = -121;
}

/// Special xids.
pub const XID_NOTIFICATION: i32 = -1;
pub const XID_PING: i32 = -2;
pub const XID_AUTH: i32 = -4;
pub const XID_SET_WATCHES: i32 = -8;

/// Jute encoder.
#[derive(Default, Debug, Clone)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn new() -> Writer {
        Writer(Vec::new())
    }
    pub fn int(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn long(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn bool(mut self, v: bool) -> Self {
        self.0.push(u8::from(v));
        self
    }
    pub fn buf(self, v: &[u8]) -> Self {
        let len = i32::try_from(v.len()).expect("buffer fits i32");
        let mut me = self.int(len);
        me.0.extend_from_slice(v);
        me
    }
    pub fn str(self, v: &str) -> Self {
        self.buf(v.as_bytes())
    }
    /// A vector<ACL> of (perms, scheme, id).
    pub fn acls(self, acls: &[(i32, &str, &str)]) -> Self {
        let len = i32::try_from(acls.len()).expect("acl count fits i32");
        let mut me = self.int(len);
        for (perms, scheme, id) in acls {
            me = me.int(*perms).str(scheme).str(id);
        }
        me
    }
    pub fn bytes(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

/// Jute decoder over a reply body; panics (failing the test) on truncated input.
#[derive(Debug)]
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        assert!(
            self.0.len() >= n,
            "reply truncated: need {n} bytes, have {}",
            self.0.len()
        );
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }
    pub fn int(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().expect("4 bytes"))
    }
    pub fn long(&mut self) -> i64 {
        i64::from_be_bytes(self.take(8).try_into().expect("8 bytes"))
    }
    pub fn bool(&mut self) -> bool {
        self.take(1)[0] != 0
    }
    /// A buffer; `None` for the null encoding (length −1).
    pub fn buf(&mut self) -> Option<Vec<u8>> {
        let len = self.int();
        if len < 0 {
            return None;
        }
        Some(
            self.take(usize::try_from(len).expect("non-negative"))
                .to_vec(),
        )
    }
    pub fn str(&mut self) -> String {
        String::from_utf8(self.buf().unwrap_or_default()).expect("utf-8 string")
    }
    pub fn strings(&mut self) -> Vec<String> {
        let count = self.int();
        (0..count.max(0)).map(|_| self.str()).collect()
    }
    pub fn stat(&mut self) -> Stat {
        Stat {
            czxid: self.long(),
            mzxid: self.long(),
            ctime: self.long(),
            mtime: self.long(),
            version: self.int(),
            cversion: self.int(),
            aversion: self.int(),
            ephemeral_owner: self.long(),
            data_length: self.int(),
            num_children: self.int(),
            pzxid: self.long(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub password: Vec<u8>,
}

/// One frame from the server after the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn reader(&self) -> Reader<'_> {
        Reader(&self.body)
    }
}

/// A watch notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherEvent {
    pub event_type: i32,
    pub state: i32,
    pub path: String,
}

/// A session over one TCP connection, driven entirely by the test (no automatic pings).
pub struct RawSession {
    pub stream: TcpStream,
    pub session_id: i64,
    pub password: Vec<u8>,
    pub timeout_ms: i32,
    next_xid: i32,
    /// Notifications that arrived while waiting for a reply.
    pub events: VecDeque<WatcherEvent>,
}

async fn bounded<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(STEP_TIMEOUT, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {STEP_TIMEOUT:?}: {what}"),
    }
}

/// Writes one length-prefixed frame.
pub async fn write_frame(stream: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(payload.len()).expect("frame fits u32");
    let mut frame = Vec::with_capacity(payload.len() + 4);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame).await
}

/// Reads one length-prefixed frame; `Ok(None)` when the server closed the connection.
pub async fn read_frame(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).await?;
    Ok(Some(body))
}

/// Encodes a ConnectRequest (45-byte form with readOnly).
pub fn connect_request(
    timeout_ms: i32,
    session_id: i64,
    password: &[u8],
    last_zxid_seen: i64,
) -> Vec<u8> {
    let password = if password.is_empty() {
        vec![0u8; 16]
    } else {
        password.to_vec()
    };
    Writer::new()
        .int(0)
        .long(last_zxid_seen)
        .int(timeout_ms)
        .long(session_id)
        .buf(&password)
        .bool(false)
        .into_vec()
}

/// Opens a TCP connection and performs the handshake; `None` when the server closes the
/// connection instead of answering.
pub async fn handshake(
    address: &str,
    timeout_ms: i32,
    session_id: i64,
    password: &[u8],
) -> (TcpStream, Option<ConnectResponse>) {
    let mut stream = bounded("tcp connect", TcpStream::connect(address))
        .await
        .expect("tcp connect");
    stream.set_nodelay(true).ok();
    let request = connect_request(timeout_ms, session_id, password, 0);
    bounded("send connect", write_frame(&mut stream, &request))
        .await
        .expect("send connect request");
    let frame = bounded("connect response", read_frame(&mut stream)).await;
    let response = match frame {
        Ok(Some(body)) => {
            let mut r = Reader(&body);
            Some(ConnectResponse {
                protocol_version: r.int(),
                timeout_ms: r.int(),
                session_id: r.long(),
                password: r.buf().unwrap_or_default(),
            })
        }
        _ => None,
    };
    (stream, response)
}

impl RawSession {
    /// Creates a new session asking for `timeout_ms`.
    pub async fn connect(address: &str, timeout_ms: i32) -> RawSession {
        let (stream, response) = handshake(address, timeout_ms, 0, &[]).await;
        let response = response.expect("server closed the connection during the handshake");
        assert_ne!(
            response.session_id, 0,
            "server refused a new session: {response:?}"
        );
        RawSession {
            stream,
            session_id: response.session_id,
            password: response.password,
            timeout_ms: response.timeout_ms,
            next_xid: 1,
            events: VecDeque::new(),
        }
    }

    /// Resumes an existing session on a new connection; `None` when the server refuses it
    /// (a refused session is answered with timeout 0 and session id 0, then closed).
    pub async fn resume(
        address: &str,
        session_id: i64,
        password: &[u8],
        timeout_ms: i32,
    ) -> Option<RawSession> {
        let (stream, response) = handshake(address, timeout_ms, session_id, password).await;
        let response = response?;
        if response.session_id != session_id || response.timeout_ms == 0 {
            return None;
        }
        Some(RawSession {
            stream,
            session_id,
            password: response.password,
            timeout_ms: response.timeout_ms,
            next_xid: 1,
            events: VecDeque::new(),
        })
    }

    /// Sends a request without waiting; returns its xid.
    pub async fn send(&mut self, op: i32, body: &[u8]) -> i32 {
        let xid = self.next_xid;
        self.next_xid += 1;
        self.send_with_xid(xid, op, body).await;
        xid
    }

    pub async fn send_with_xid(&mut self, xid: i32, op: i32, body: &[u8]) {
        let payload = Writer::new().int(xid).int(op).bytes(body).into_vec();
        bounded("send request", write_frame(&mut self.stream, &payload))
            .await
            .expect("send request");
    }

    /// Reads the next frame of any kind; `None` when the server closed the connection.
    pub async fn read_any(&mut self) -> Option<Reply> {
        let frame = bounded("read frame", read_frame(&mut self.stream))
            .await
            .ok()??;
        let mut r = Reader(&frame);
        let xid = r.int();
        let zxid = r.long();
        let err = r.int();
        Some(Reply {
            xid,
            zxid,
            err,
            body: r.0.to_vec(),
        })
    }

    /// Reads frames until the reply with `xid`, queueing notifications in `events`.
    pub async fn read_reply(&mut self, xid: i32) -> Reply {
        loop {
            let reply = self
                .read_any()
                .await
                .expect("server closed the connection while a reply was due");
            if reply.xid == XID_NOTIFICATION {
                self.events.push_back(parse_event(&reply));
            } else if reply.xid == xid {
                return reply;
            } else if reply.xid != XID_PING {
                panic!(
                    "unexpected reply xid {} while waiting for {xid}: {reply:?}",
                    reply.xid
                );
            }
        }
    }

    /// Sends a request and waits for its reply.
    pub async fn request(&mut self, op: i32, body: &[u8]) -> Reply {
        let xid = self.send(op, body).await;
        self.read_reply(xid).await
    }

    /// Sends a request and returns only its reply's error code.
    pub async fn request_err(&mut self, op: i32, body: &[u8]) -> i32 {
        self.request(op, body).await.err
    }

    /// The next watch notification (queued or read from the wire).
    pub async fn next_event(&mut self) -> WatcherEvent {
        if let Some(event) = self.events.pop_front() {
            return event;
        }
        loop {
            let reply = self
                .read_any()
                .await
                .expect("server closed the connection while an event was due");
            if reply.xid == XID_NOTIFICATION {
                return parse_event(&reply);
            }
            assert_eq!(
                reply.xid, XID_PING,
                "unexpected frame while waiting for an event: {reply:?}"
            );
        }
    }

    pub async fn ping(&mut self) {
        self.send_with_xid(XID_PING, op::PING, &[]).await;
        let reply = self.read_reply(XID_PING).await;
        assert_eq!(reply.err, err::OK);
    }

    /// Sends an auth packet (scheme, credentials) and returns the reply's error code.
    pub async fn auth(&mut self, scheme: &str, credentials: &[u8]) -> i32 {
        let body = Writer::new().int(0).str(scheme).buf(credentials).into_vec();
        self.send_with_xid(XID_AUTH, op::AUTH, &body).await;
        self.read_reply(XID_AUTH).await.err
    }

    /// Closes the session politely.
    pub async fn close(mut self) {
        let xid = self.send(op::CLOSE_SESSION, &[]).await;
        let reply = self.read_reply(xid).await;
        assert_eq!(reply.err, err::OK);
    }

    /// Drops the TCP connection without closing the session (it expires later).
    pub fn abandon(self) {
        drop(self.stream);
    }

    /// How long until the server must consider this session expired, plus slack.
    pub fn expiry_bound(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.timeout_ms).unwrap_or(0) * 2 + 4000)
    }
}

pub fn parse_event(reply: &Reply) -> WatcherEvent {
    let mut r = reply.reader();
    WatcherEvent {
        event_type: r.int(),
        state: r.int(),
        path: r.str(),
    }
}

/// Body of a create/create2/createContainer request.
pub fn create_body(path: &str, data: &[u8], acls: &[(i32, &str, &str)], flags: i32) -> Vec<u8> {
    Writer::new()
        .str(path)
        .buf(data)
        .acls(acls)
        .int(flags)
        .into_vec()
}

/// Body of a createTTL request.
pub fn create_ttl_body(
    path: &str,
    data: &[u8],
    acls: &[(i32, &str, &str)],
    flags: i32,
    ttl_ms: i64,
) -> Vec<u8> {
    Writer::new()
        .str(path)
        .buf(data)
        .acls(acls)
        .int(flags)
        .long(ttl_ms)
        .into_vec()
}

/// `world:anyone` with all permissions.
pub const OPEN_ACL: &[(i32, &str, &str)] = &[(31, "world", "anyone")];

/// Body of a request that is just a path and a boolean watch flag.
pub fn path_watch_body(path: &str, watch: bool) -> Vec<u8> {
    Writer::new().str(path).bool(watch).into_vec()
}

/// Body of checkWatches / removeWatches: path and watcher type (1 children, 2 data, 3 any).
pub fn watches_body(path: &str, watcher_type: i32) -> Vec<u8> {
    Writer::new().str(path).int(watcher_type).into_vec()
}

/// Body of a multi (or multiRead) request from `(opcode, op body)` pairs.
pub fn multi_body(ops: &[(i32, Vec<u8>)]) -> Vec<u8> {
    let mut w = Writer::new();
    for (op, body) in ops {
        w = w.int(*op).bool(false).int(-1).bytes(body);
    }
    w.int(-1).bool(true).int(-1).into_vec()
}

/// One result of a multi reply: its type (the op's opcode, or −1 for an error result), the
/// header's err field, the ErrorResult's code (0 for non-errors), and the created path or stat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiResult {
    pub op: i32,
    pub header_err: i32,
    pub err: i32,
    pub path: Option<String>,
    pub stat: Option<Stat>,
    pub data: Option<Vec<u8>>,
    pub children: Option<Vec<String>>,
}

/// Parses a multi or multiRead reply body.
pub fn parse_multi(reply: &Reply) -> Vec<MultiResult> {
    let mut r = reply.reader();
    let mut results = Vec::new();
    loop {
        let op = r.int();
        let done = r.bool();
        let header_err = r.int();
        if done {
            return results;
        }
        let mut result = MultiResult {
            op,
            header_err,
            err: 0,
            path: None,
            stat: None,
            data: None,
            children: None,
        };
        match op {
            -1 => result.err = r.int(),
            op::CREATE => result.path = Some(r.str()),
            op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
                result.path = Some(r.str());
                result.stat = Some(r.stat());
            }
            op::SET_DATA => result.stat = Some(r.stat()),
            op::DELETE | op::CHECK => {}
            op::GET_DATA => {
                result.data = r.buf();
                result.stat = Some(r.stat());
            }
            op::GET_CHILDREN => result.children = Some(r.strings()),
            other => panic!("unexpected op {other} in multi reply"),
        }
        results.push(result);
    }
}
