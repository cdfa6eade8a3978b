//! A pipelined ZooKeeper protocol client for load generation, on the jute primitives of
//! `corral_engine::wire` and the opcodes of `corral_net::jute`.
//!
//! The server-side encoders of `corral-net` are of no use to a client, so this module writes the
//! client side of the protocol: `ConnectRequest` out and `ConnectResponse` in, request headers
//! and bodies out, reply headers, `Stat`s, data, children, multi results and watch events in.
//!
//! A [`Session`] owns one connection, one read buffer and one write buffer, both reused: the
//! load loop [`queue`](Session::queue)s many requests into the write buffer, sends them with one
//! [`flush`](Session::flush), then takes every complete reply frame already read with
//! [`try_frame`](Session::try_frame) before waiting for more with [`fill`](Session::fill). No
//! allocation happens per request once the buffers have grown to the workload's sizes. Replies
//! come back in request order; the caller matches them by xid.
//!
//! Every decode is bounded by its frame: a frame longer than [`FRAME_BYTES_MAX`] or a body that
//! does not parse as its request's reply is an error for that session, never a panic.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::time::{Duration, Instant};

use corral_engine::types::{ErrorCode, Stat};
use corral_engine::wire::{Reader, WireError, Writer};
use corral_net::jute::{opcode, xid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::limits::{
    CLIENT_READ_BUFFER_BYTES, CLOSE_TIMEOUT, CONNECT_TIMEOUT, EVENTS_QUEUED_MAX, FRAME_BYTES_MAX,
    REQUEST_TIMEOUT,
};

/// Bytes of an encoded `Stat`: four longs, three ints, a long, two ints and a long.
pub const STAT_BYTES: usize = 68;

/// Bytes of a reply header: xid, zxid, err.
const REPLY_HEADER_BYTES: usize = 16;

/// Create flags (ZooKeeper's `CreateMode`).
pub mod create_mode {
    pub const PERSISTENT: i32 = 0;
    pub const EPHEMERAL: i32 = 1;
    pub const PERSISTENT_SEQUENTIAL: i32 = 2;
    pub const EPHEMERAL_SEQUENTIAL: i32 = 3;
}

/// Watch event types (ZooKeeper's `Watcher.Event.EventType`).
pub mod event_type {
    pub const NODE_CREATED: i32 = 1;
    pub const NODE_DELETED: i32 = 2;
    pub const NODE_DATA_CHANGED: i32 = 3;
    pub const NODE_CHILDREN_CHANGED: i32 = 4;
}

/// What can go wrong on a session. Any of these ends the session.
#[derive(Debug)]
pub enum ClientError {
    Io(std::io::Error),
    /// The server sent something that does not parse as what was expected.
    Protocol(String),
    /// The connection closed or a request did not complete in time.
    ConnectionLoss(&'static str),
    /// A sequential call returned a ZooKeeper error code.
    Server {
        opcode: i32,
        error: i32,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(error) => write!(formatter, "i/o error: {error}"),
            ClientError::Protocol(what) => write!(formatter, "protocol error: {what}"),
            ClientError::ConnectionLoss(why) => write!(formatter, "connection lost: {why}"),
            ClientError::Server { opcode, error } => write!(
                formatter,
                "request {opcode} failed with {}",
                error_name(*error)
            ),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<std::io::Error> for ClientError {
    fn from(error: std::io::Error) -> Self {
        ClientError::Io(error)
    }
}

impl From<WireError> for ClientError {
    fn from(error: WireError) -> Self {
        ClientError::Protocol(error.to_string())
    }
}

pub type ClientResult<T> = Result<T, ClientError>;

/// ZooKeeper's name of an error code (`NONODE`, `CONNECTIONLOSS`, …), as KeeperException.Code
/// spells them; unknown codes read as `UNKNOWN`.
pub fn error_name(code: i32) -> &'static str {
    use ErrorCode::*;
    match ErrorCode::from_code(code) {
        Some(Ok) => "OK",
        Some(SystemError) => "SYSTEMERROR",
        Some(RuntimeInconsistency) => "RUNTIMEINCONSISTENCY",
        Some(DataInconsistency) => "DATAINCONSISTENCY",
        Some(ConnectionLoss) => "CONNECTIONLOSS",
        Some(MarshallingError) => "MARSHALLINGERROR",
        Some(Unimplemented) => "UNIMPLEMENTED",
        Some(OperationTimeout) => "OPERATIONTIMEOUT",
        Some(BadArguments) => "BADARGUMENTS",
        Some(NewConfigNoQuorum) => "NEWCONFIGNOQUORUM",
        Some(ReconfigInProgress) => "RECONFIGINPROGRESS",
        Some(ApiError) => "APIERROR",
        Some(NoNode) => "NONODE",
        Some(NoAuth) => "NOAUTH",
        Some(BadVersion) => "BADVERSION",
        Some(NoChildrenForEphemerals) => "NOCHILDRENFOREPHEMERALS",
        Some(NodeExists) => "NODEEXISTS",
        Some(NotEmpty) => "NOTEMPTY",
        Some(SessionExpired) => "SESSIONEXPIRED",
        Some(InvalidCallback) => "INVALIDCALLBACK",
        Some(InvalidAcl) => "INVALIDACL",
        Some(AuthFailed) => "AUTHFAILED",
        Some(SessionMoved) => "SESSIONMOVED",
        Some(NotReadOnly) => "NOTREADONLY",
        Some(EphemeralOnLocalSession) => "EPHEMERALONLOCALSESSION",
        Some(NoWatcher) => "NOWATCHER",
        Some(RequestTimeout) => "REQUESTTIMEOUT",
        Some(ReconfigDisabled) => "RECONFIGDISABLED",
        Some(SessionClosedRequireSasl) => "SESSIONCLOSEDREQUIRESASL",
        Some(QuotaExceeded) => "QUOTAEXCEEDED",
        Some(Throttled) => "THROTTLED",
        None => "UNKNOWN",
    }
}

/// One request, borrowing its path and data so that building it allocates nothing.
#[derive(Clone, Copy, Debug)]
pub enum Op<'a> {
    Create {
        path: &'a str,
        data: &'a [u8],
        flags: i32,
    },
    Delete {
        path: &'a str,
        version: i32,
    },
    SetData {
        path: &'a str,
        data: &'a [u8],
        version: i32,
    },
    GetData {
        path: &'a str,
        watch: bool,
    },
    Exists {
        path: &'a str,
        watch: bool,
    },
    GetChildren {
        path: &'a str,
        watch: bool,
    },
    /// A transaction of creates, deletes and sets (nested multis are not allowed).
    Multi(&'a [Op<'a>]),
    /// A request body encoded by the caller (a multi built in a reused buffer).
    Raw {
        opcode: i32,
        body: &'a [u8],
    },
}

impl Op<'_> {
    pub fn opcode(&self) -> i32 {
        match self {
            Op::Create { .. } => opcode::CREATE,
            Op::Delete { .. } => opcode::DELETE,
            Op::SetData { .. } => opcode::SET_DATA,
            Op::GetData { .. } => opcode::GET_DATA,
            Op::Exists { .. } => opcode::EXISTS,
            Op::GetChildren { .. } => opcode::GET_CHILDREN,
            Op::Multi(_) => opcode::MULTI,
            Op::Raw { opcode, .. } => *opcode,
        }
    }

    /// Appends the request body (no header) in jute layout to `out`.
    pub fn encode_body_into(&self, out: &mut Vec<u8>) {
        self.encode_body(&mut Writer::new(out));
    }

    /// Appends the request body (no header) in jute layout.
    fn encode_body(&self, writer: &mut Writer<'_>) {
        match *self {
            Op::Create { path, data, flags } => {
                writer.string(path).buffer(data);
                // ACL world:anyone with every permission, the only ACL a benchmark needs.
                writer.i32(1).i32(corral_engine::types::perms::ALL);
                writer.string("world").string("anyone").i32(flags);
            }
            Op::Delete { path, version } => {
                writer.string(path).i32(version);
            }
            Op::SetData {
                path,
                data,
                version,
            } => {
                writer.string(path).buffer(data).i32(version);
            }
            Op::GetData { path, watch }
            | Op::Exists { path, watch }
            | Op::GetChildren { path, watch } => {
                writer.string(path).bool(watch);
            }
            Op::Multi(ops) => {
                for op in ops {
                    writer.i32(op.opcode()).bool(false).i32(-1);
                    op.encode_body(writer);
                }
                writer.i32(-1).bool(true).i32(-1);
            }
            Op::Raw { body, .. } => {
                writer.bytes.extend_from_slice(body);
            }
        }
    }
}

/// A reply frame's header and where its body lies in the session's read buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
    body: Range<usize>,
}

/// A watch event as the server sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    pub event_type: i32,
    pub state: i32,
    pub path: String,
}

/// A reply copied out of the read buffer, for the sequential (setup and check) calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedReply {
    pub zxid: i64,
    pub err: i32,
    pub body: Vec<u8>,
}

/// The fields of a `ConnectResponse` a client needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub password: Vec<u8>,
}

/// Encodes a framed `ConnectRequest` for a new session (protocol 0, readOnly false).
pub fn encode_connect_request(timeout_ms: i32, out: &mut Vec<u8>) {
    let start = begin_frame(out);
    let mut writer = Writer::new(out);
    writer.i32(0).i64(0).i32(timeout_ms).i64(0);
    writer.buffer(&[0u8; 16]).bool(false);
    end_frame(out, start);
}

/// Decodes a `ConnectResponse` body (the frame without its length prefix).
pub fn decode_connect_response(body: &[u8]) -> ClientResult<ConnectResponse> {
    let mut reader = Reader::new(body);
    let response = ConnectResponse {
        protocol_version: reader.read_i32()?,
        timeout_ms: reader.read_i32()?,
        session_id: reader.read_i64()?,
        password: reader.read_buffer()?.to_vec(),
    };
    // readOnly is absent from old servers' responses, so it is read only when present.
    if !reader.is_empty() {
        reader.read_bool()?;
    }
    if response.timeout_ms <= 0 {
        // ZooKeeper answers a refused or expired session with a zero timeout.
        return Err(ClientError::ConnectionLoss("session refused or expired"));
    }
    Ok(response)
}

/// Decodes a `Stat`.
pub fn decode_stat(reader: &mut Reader<'_>) -> ClientResult<Stat> {
    Ok(Stat {
        czxid: reader.read_i64()?,
        mzxid: reader.read_i64()?,
        ctime: reader.read_i64()?,
        mtime: reader.read_i64()?,
        version: reader.read_i32()?,
        cversion: reader.read_i32()?,
        aversion: reader.read_i32()?,
        ephemeral_owner: reader.read_i64()?,
        data_length: reader.read_i32()?,
        num_children: reader.read_i32()?,
        pzxid: reader.read_i64()?,
    })
}

/// Decodes a `GetDataResponse`: the data and its `Stat`.
pub fn decode_get_data(body: &[u8]) -> ClientResult<(&[u8], Stat)> {
    let mut reader = Reader::new(body);
    let data = reader.read_buffer()?;
    let stat = decode_stat(&mut reader)?;
    expect_end(&reader)?;
    Ok((data, stat))
}

/// Decodes a `GetChildrenResponse`: the child names.
pub fn decode_children(body: &[u8]) -> ClientResult<Vec<String>> {
    let mut reader = Reader::new(body);
    // Each name takes at least its 4-byte length prefix.
    let count = reader.read_count(4)?;
    let mut names = Vec::with_capacity(count);
    for _ in 0..count {
        names.push(reader.read_string()?.to_string());
    }
    expect_end(&reader)?;
    Ok(names)
}

/// Decodes a `CreateResponse`: the created path.
pub fn decode_create(body: &[u8]) -> ClientResult<&str> {
    let mut reader = Reader::new(body);
    let path = reader.read_string()?;
    expect_end(&reader)?;
    Ok(path)
}

/// Decodes a `WatcherEvent` body.
pub fn decode_event(body: &[u8]) -> ClientResult<WatchEvent> {
    let mut reader = Reader::new(body);
    let event = WatchEvent {
        event_type: reader.read_i32()?,
        state: reader.read_i32()?,
        path: reader.read_string()?.to_string(),
    };
    expect_end(&reader)?;
    Ok(event)
}

/// Walks a `MultiResponse` and returns the error of the transaction: 0 when every op
/// succeeded, else the first op error that is not the RuntimeInconsistency ZooKeeper gives
/// the ops that did not fail themselves.
pub fn decode_multi(body: &[u8]) -> ClientResult<i32> {
    let mut reader = Reader::new(body);
    let mut first_error = 0;
    loop {
        let op_type = reader.read_i32()?;
        let done = reader.read_bool()?;
        // The header's err repeats the op's own result; the ErrorResult body is what counts.
        reader.read_i32()?;
        if done {
            break;
        }
        match op_type {
            opcode::CREATE => {
                reader.read_string()?;
            }
            opcode::CREATE2 => {
                reader.read_string()?;
                decode_stat(&mut reader)?;
            }
            opcode::SET_DATA => {
                decode_stat(&mut reader)?;
            }
            opcode::DELETE | opcode::CHECK => {}
            opcode::ERROR => {
                let op_error = reader.read_i32()?;
                let inconsistency = ErrorCode::RuntimeInconsistency.code();
                if first_error == 0 || (first_error == inconsistency && op_error != 0) {
                    first_error = op_error;
                }
            }
            _ => {
                return Err(ClientError::Protocol(format!(
                    "multi result type {op_type}"
                )))
            }
        }
    }
    expect_end(&reader)?;
    Ok(first_error)
}

/// Checks that a reply with `xid` answers `oldest`, the oldest outstanding request (its xid
/// and what the caller keeps with it; `None`: nothing was outstanding), since replies come back
/// in request order; returns what the caller kept.
pub fn expect_reply<T>(oldest: Option<(i32, T)>, xid: i32) -> ClientResult<T> {
    match oldest {
        None => Err(ClientError::Protocol(format!(
            "reply xid {xid} with no request outstanding"
        ))),
        Some((expected, _)) if expected != xid => Err(ClientError::Protocol(format!(
            "reply xid {xid} while expecting {expected}"
        ))),
        Some((_, kept)) => Ok(kept),
    }
}

/// Checks that a reply body to `request_opcode` parses, without allocating, and returns the
/// operation's error (the header's, or a failed multi's).
pub fn check_reply(request_opcode: i32, header_err: i32, body: &[u8]) -> ClientResult<i32> {
    if header_err != 0 && request_opcode != opcode::MULTI {
        return Ok(header_err);
    }
    let mut reader = Reader::new(body);
    match request_opcode {
        opcode::SET_DATA | opcode::EXISTS => {
            decode_stat(&mut reader)?;
        }
        opcode::GET_DATA => {
            reader.read_buffer()?;
            decode_stat(&mut reader)?;
        }
        opcode::CREATE => {
            reader.read_string()?;
        }
        opcode::GET_CHILDREN => {
            let count = reader.read_count(4)?;
            for _ in 0..count {
                reader.read_string()?;
            }
        }
        opcode::MULTI => {
            let multi_err = decode_multi(body)?;
            return Ok(if header_err != 0 {
                header_err
            } else {
                multi_err
            });
        }
        _ => return Ok(header_err),
    }
    expect_end(&reader)?;
    Ok(0)
}

fn expect_end(reader: &Reader<'_>) -> ClientResult<()> {
    if reader.is_empty() {
        Ok(())
    } else {
        Err(ClientError::Protocol(format!(
            "{} bytes left over after the reply at offset {}",
            reader.remaining(),
            reader.offset()
        )))
    }
}

/// Reserves the length prefix of a frame; [`end_frame`] fills it in.
fn begin_frame(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    start
}

fn end_frame(out: &mut [u8], start: usize) {
    let length = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&length.to_be_bytes());
}

/// Parses the reply header of a frame body.
pub fn decode_reply_header(body: &[u8]) -> ClientResult<(i32, i64, i32)> {
    let mut reader = Reader::new(body);
    Ok((reader.read_i32()?, reader.read_i64()?, reader.read_i32()?))
}

/// One ZooKeeper session over one TCP connection.
pub struct Session {
    stream: TcpStream,
    read: Vec<u8>,
    read_start: usize,
    read_end: usize,
    write: Vec<u8>,
    next_xid: i32,
    session_id: i64,
    timeout_ms: i32,
    last_write: Instant,
    /// Events that arrived while a sequential call waited for its reply.
    events: VecDeque<WatchEvent>,
}

impl Session {
    /// Connects to `address` and establishes a new session asking for `timeout_ms`.
    pub async fn connect(address: &str, timeout_ms: i32) -> ClientResult<Session> {
        let attempt = async {
            let stream = TcpStream::connect(address).await?;
            stream.set_nodelay(true)?;
            let mut session = Session {
                stream,
                read: vec![0; CLIENT_READ_BUFFER_BYTES],
                read_start: 0,
                read_end: 0,
                write: Vec::with_capacity(CLIENT_READ_BUFFER_BYTES),
                next_xid: 1,
                session_id: 0,
                timeout_ms,
                last_write: Instant::now(),
                events: VecDeque::new(),
            };
            encode_connect_request(timeout_ms, &mut session.write);
            session.flush().await?;
            let body = session.next_raw_frame().await?;
            let response = decode_connect_response(&session.read[body])?;
            session.session_id = response.session_id;
            session.timeout_ms = response.timeout_ms;
            Ok(session)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::ConnectionLoss("connect timed out")),
        }
    }

    pub fn session_id(&self) -> i64 {
        self.session_id
    }

    /// The session timeout the server granted.
    pub fn timeout_ms(&self) -> i32 {
        self.timeout_ms
    }

    /// When the next ping is due: a third of the negotiated timeout after the last write, as
    /// ZooKeeper's own clients do, so an idle session never expires.
    pub fn ping_due(&self) -> Instant {
        self.last_write + Duration::from_millis(self.timeout_ms.max(3) as u64 / 3)
    }

    /// Encodes `op` into the write buffer and returns its xid; nothing is sent until `flush`.
    pub fn queue(&mut self, op: &Op<'_>) -> i32 {
        let xid = self.next_xid;
        // Xids stay positive: the negative ones are reserved for pings, events and auth.
        self.next_xid = if self.next_xid == i32::MAX {
            1
        } else {
            self.next_xid + 1
        };
        let start = begin_frame(&mut self.write);
        let mut writer = Writer::new(&mut self.write);
        writer.i32(xid).i32(op.opcode());
        op.encode_body(&mut writer);
        end_frame(&mut self.write, start);
        xid
    }

    /// Queues a ping (xid −2); its reply is skipped by [`try_frame`](Self::try_frame) callers.
    pub fn queue_ping(&mut self) {
        let start = begin_frame(&mut self.write);
        Writer::new(&mut self.write)
            .i32(xid::PING)
            .i32(opcode::PING);
        end_frame(&mut self.write, start);
    }

    /// Bytes queued and not yet sent.
    pub fn queued_bytes(&self) -> usize {
        self.write.len()
    }

    /// Sends everything queued in one write.
    pub async fn flush(&mut self) -> ClientResult<()> {
        if self.write.is_empty() {
            return Ok(());
        }
        self.stream.write_all(&self.write).await?;
        self.write.clear();
        self.last_write = Instant::now();
        Ok(())
    }

    /// Reads more bytes from the socket into the read buffer. Cancel-safe: a cancelled call
    /// loses nothing.
    pub async fn fill(&mut self) -> ClientResult<()> {
        self.make_room()?;
        let count = self.stream.read(&mut self.read[self.read_end..]).await?;
        if count == 0 {
            return Err(ClientError::ConnectionLoss("server closed the connection"));
        }
        self.read_end += count;
        Ok(())
    }

    /// Moves unread bytes to the front of the buffer and grows it when the frame being read
    /// needs more room than is free.
    fn make_room(&mut self) -> ClientResult<()> {
        let wanted = match self.pending_frame_length()? {
            Some(length) => length + 4,
            None => 4,
        };
        if self.read_end < self.read.len() && self.read.len() - self.read_start >= wanted {
            return Ok(());
        }
        self.read.copy_within(self.read_start..self.read_end, 0);
        self.read_end -= self.read_start;
        self.read_start = 0;
        let needed = wanted.max(self.read_end + 1);
        if self.read.len() < needed {
            if needed > FRAME_BYTES_MAX + 4 + CLIENT_READ_BUFFER_BYTES {
                return Err(ClientError::Protocol("replies read but never taken".into()));
            }
            self.read.resize(needed.max(CLIENT_READ_BUFFER_BYTES), 0);
        }
        Ok(())
    }

    /// The length of the frame at the read position, once its prefix has arrived.
    fn pending_frame_length(&self) -> ClientResult<Option<usize>> {
        if self.read_end - self.read_start < 4 {
            return Ok(None);
        }
        let prefix = &self.read[self.read_start..self.read_start + 4];
        let length = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        if length < 0 || length as usize > FRAME_BYTES_MAX {
            return Err(ClientError::Protocol(format!("frame length {length}")));
        }
        Ok(Some(length as usize))
    }

    /// The next complete frame body already in the buffer, without waiting.
    fn try_raw_frame(&mut self) -> ClientResult<Option<Range<usize>>> {
        let Some(length) = self.pending_frame_length()? else {
            return Ok(None);
        };
        if self.read_end - self.read_start < 4 + length {
            return Ok(None);
        }
        let body = self.read_start + 4..self.read_start + 4 + length;
        self.read_start = body.end;
        Ok(Some(body))
    }

    async fn next_raw_frame(&mut self) -> ClientResult<Range<usize>> {
        loop {
            if let Some(body) = self.try_raw_frame()? {
                return Ok(body);
            }
            self.fill().await?;
        }
    }

    /// The next complete reply already read, without waiting. Its body stays valid until the
    /// next `fill`.
    pub fn try_frame(&mut self) -> ClientResult<Option<Frame>> {
        let Some(range) = self.try_raw_frame()? else {
            return Ok(None);
        };
        if range.len() < REPLY_HEADER_BYTES {
            return Err(ClientError::Protocol(format!(
                "reply of {} bytes is shorter than its header",
                range.len()
            )));
        }
        let (xid, zxid, err) = decode_reply_header(&self.read[range.clone()])?;
        Ok(Some(Frame {
            xid,
            zxid,
            err,
            body: range.start + REPLY_HEADER_BYTES..range.end,
        }))
    }

    /// The body of a frame returned by `try_frame`.
    pub fn body(&self, frame: &Frame) -> &[u8] {
        &self.read[frame.body.clone()]
    }

    /// Waits for the next reply, pinging while it waits.
    pub async fn next_frame(&mut self) -> ClientResult<Frame> {
        loop {
            if let Some(frame) = self.try_frame()? {
                return Ok(frame);
            }
            let ping_due = self.ping_due();
            tokio::select! {
                filled = self.fill() => filled?,
                _ = tokio::time::sleep_until(ping_due.into()) => {
                    self.queue_ping();
                    self.flush().await?;
                }
            }
        }
    }

    /// Sends `op` and waits for its reply (bounded by [`REQUEST_TIMEOUT`]); events arriving
    /// meanwhile are kept for [`next_event`](Self::next_event).
    pub async fn call(&mut self, op: &Op<'_>) -> ClientResult<OwnedReply> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.call_unbounded(op)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::ConnectionLoss("request timed out")),
        }
    }

    async fn call_unbounded(&mut self, op: &Op<'_>) -> ClientResult<OwnedReply> {
        let request_xid = self.queue(op);
        self.flush().await?;
        loop {
            let frame = self.next_frame().await?;
            match frame.xid {
                xid::PING => continue,
                xid::NOTIFICATION => self.keep_event(&frame)?,
                found if found == request_xid => {
                    let body = self.body(&frame);
                    check_reply(op.opcode(), frame.err, body)?;
                    return Ok(OwnedReply {
                        zxid: frame.zxid,
                        err: frame.err,
                        body: body.to_vec(),
                    });
                }
                found => {
                    return Err(ClientError::Protocol(format!(
                        "reply xid {found} while waiting for {request_xid}"
                    )))
                }
            }
        }
    }

    fn keep_event(&mut self, frame: &Frame) -> ClientResult<()> {
        if self.events.len() >= EVENTS_QUEUED_MAX {
            return Err(ClientError::Protocol("too many unread watch events".into()));
        }
        let event = decode_event(self.body(frame))?;
        self.events.push_back(event);
        Ok(())
    }

    /// Like [`call`](Self::call), but a ZooKeeper error becomes `ClientError::Server`.
    pub async fn call_ok(&mut self, op: &Op<'_>) -> ClientResult<OwnedReply> {
        let reply = self.call(op).await?;
        let err = check_reply(op.opcode(), reply.err, &reply.body)?;
        if err != 0 {
            return Err(ClientError::Server {
                opcode: op.opcode(),
                error: err,
            });
        }
        Ok(reply)
    }

    /// The next watch event, waiting (and pinging) for one when none is queued; replies to
    /// anything but pings are a protocol error here, since no request is outstanding.
    pub async fn next_event(&mut self) -> ClientResult<WatchEvent> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(event);
            }
            let frame = self.next_frame().await?;
            match frame.xid {
                xid::PING => continue,
                xid::NOTIFICATION => self.keep_event(&frame)?,
                found => {
                    return Err(ClientError::Protocol(format!(
                        "reply xid {found} with no request outstanding"
                    )))
                }
            }
        }
    }

    /// Ends the session with closeSession and waits (briefly) for its reply, so that the
    /// server drops the session's ephemerals and watches now instead of at expiry.
    pub async fn close(mut self) -> ClientResult<()> {
        let closing = async {
            let start = begin_frame(&mut self.write);
            let xid = self.next_xid;
            Writer::new(&mut self.write)
                .i32(xid)
                .i32(opcode::CLOSE_SESSION);
            end_frame(&mut self.write, start);
            self.flush().await?;
            loop {
                match self.next_frame().await {
                    Ok(frame) if frame.xid == xid => return Ok(()),
                    Ok(_) => continue,
                    // Some servers close the connection instead of answering.
                    Err(ClientError::ConnectionLoss(_)) => return Ok(()),
                    Err(error) => return Err(error),
                }
            }
        };
        match tokio::time::timeout(CLOSE_TIMEOUT, closing).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::ConnectionLoss("closeSession timed out")),
        }
    }
}
