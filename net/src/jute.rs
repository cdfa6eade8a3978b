//! ZooKeeper's client protocol: decoding requests, encoding replies, events and the handshake.
//!
//! The connection loop hands this module one frame body at a time (the 4-byte length already
//! stripped) and forwards what comes back. Every quirk of Apache ZooKeeper 3.8 that a client can
//! observe on the wire is decided here, so the caller never inspects opcodes itself:
//!
//! - `connect`: the handshake records (`ConnectRequest` in its 44- and 45-byte forms).
//! - `request`: `decode_request`, one small decoder per request kind.
//! - `create`: which create flags, opcodes and TTLs are valid, and what node they make.
//! - `multi`: `multi` and `multiRead` bodies, including per-op failures found while decoding.
//! - `reply`: replies, notifications and the answers to undecodable requests.
//! - `read`: jute values as ZooKeeper's Java reader sees them (lossy UTF-8, lenient counts).
//!
//! Decoding never panics and never allocates beyond a small multiple of the frame: every count
//! is checked against the bytes that remain before anything is reserved.

mod connect;
mod create;
mod multi;
mod read;
mod reply;
mod request;

use corral_engine::types::{Acl, Data, ErrorCode, Id, Stat, WriteOp};

pub use connect::{decode_connect, encode_connect_response, ConnectRequest, ConnectResponse};
pub use reply::{encode_event, encode_ping_reply, encode_reply, encode_write_reply};
pub use request::{decode_request, decode_request_with};

/// Request types (`ZooDefs.OpCode`).
pub mod opcode {
    pub const NOTIFICATION: i32 = 0;
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
    pub const RECONFIG: i32 = 16;
    pub const CHECK_WATCHES: i32 = 17;
    pub const REMOVE_WATCHES: i32 = 18;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const MULTI_READ: i32 = 22;
    pub const AUTH: i32 = 100;
    pub const SET_WATCHES: i32 = 101;
    pub const SASL: i32 = 102;
    pub const GET_EPHEMERALS: i32 = 103;
    pub const GET_ALL_CHILDREN_NUMBER: i32 = 104;
    pub const SET_WATCHES2: i32 = 105;
    pub const ADD_WATCH: i32 = 106;
    pub const WHO_AM_I: i32 = 107;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
    /// The type of a failed op inside a multi reply.
    pub const ERROR: i32 = -1;
}

/// Reserved xids.
pub mod xid {
    /// Every watch notification carries it.
    pub const NOTIFICATION: i32 = -1;
    /// Ping replies carry it whatever xid the ping had.
    pub const PING: i32 = -2;
    /// What clients send with auth packets (the reply echoes the request's xid).
    pub const AUTH: i32 = -4;
    /// What clients send with setWatches (the reply echoes the request's xid).
    pub const SET_WATCHES: i32 = -8;
}

/// The zxid ZooKeeper 3.8 puts in every notification's reply header (3.9 sends the event's
/// zxid instead; 3.8 clients ignore the field).
pub const NOTIFICATION_ZXID: i64 = -1;

/// The zxid of the reply to an auth or sasl packet: ZooKeeper answers those before the request
/// pipeline, where no zxid is known.
pub const AUTH_REPLY_ZXID: i64 = 0;

/// Largest TTL ZooKeeper accepts: the 40 bits left in an ephemeralOwner once its high byte marks
/// a TTL node and the next two bytes are reserved (about 34 years in milliseconds).
pub const TTL_MS_MAX: i64 = (1 << 40) - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHeader {
    pub xid: i32,
    pub opcode: i32,
}

/// Server settings that change how requests decode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// ZooKeeper's `zookeeper.extendedTypesEnabled`: without it TTL creates answer Unimplemented.
    pub extended_types_enabled: bool,
}

/// A decoded client request. Fields hold what the client sent; a null string arrives as empty
/// except where ZooKeeper treats null specially (noted per variant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Answer with `encode_ping_reply` (xid −2 whatever the request's xid was).
    Ping,
    /// Answer `Reply::Empty` with the close's zxid, then close the connection.
    CloseSession,
    /// create/create2/createContainer/createTTL, delete, setData, setACL, check, multi, sync.
    Write(WriteRequest),
    Exists {
        path: String,
        watch: bool,
    },
    GetData {
        path: String,
        watch: bool,
    },
    GetChildren {
        path: String,
        watch: bool,
    },
    GetChildren2 {
        path: String,
        watch: bool,
    },
    GetAcl {
        path: String,
    },
    GetAllChildrenNumber {
        path: String,
    },
    /// The session's ephemerals whose path starts with `prefix`. A null, blank or `/` prefix
    /// arrives as the empty prefix (all of them), as ZooKeeper trims and compares it.
    GetEphemerals {
        prefix: String,
    },
    /// Ops run one by one, each answering on its own; the ops' watch flags are ignored.
    MultiRead(Vec<ReadOp>),
    /// `mode` is 0 (persistent) or 1 (persistent recursive); others are refused while decoding.
    /// Answer `Reply::AddWatch`.
    AddWatch {
        path: String,
        mode: i32,
    },
    /// `watcher_type` is 1 children, 2 data, 3 any (and 4, 5 persistent kinds from 3.9 clients).
    /// Answer `Reply::Empty`, or NoWatcher.
    CheckWatches {
        path: String,
        watcher_type: i32,
    },
    RemoveWatches {
        path: String,
        watcher_type: i32,
    },
    /// Opcode 101 and 105. Answer `Reply::Empty` (header only) with the request's xid, after
    /// queueing the notifications for watches whose node changed after `relative_zxid`.
    SetWatches(SetWatches),
    /// Answer `Reply::Empty` with zxid `AUTH_REPLY_ZXID`; on failure answer AuthFailed with that
    /// zxid and close the connection. A null scheme arrives empty (no provider: AuthFailed).
    Auth {
        auth_type: i32,
        scheme: String,
        auth: Vec<u8>,
    },
    /// Corral has no SASL: answer `Reply::Sasl(None)` with zxid `AUTH_REPLY_ZXID`, as ZooKeeper
    /// without a SASL configuration does.
    Sasl {
        token: Vec<u8>,
    },
    /// Answer `Reply::WhoAmI` with the session's identities.
    WhoAmI,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadOp {
    GetData { path: String },
    GetChildren { path: String },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetWatches {
    pub relative_zxid: i64,
    pub data: Vec<String>,
    pub exist: Vec<String>,
    pub child: Vec<String>,
    /// Empty for opcode 101.
    pub persistent: Vec<String>,
    /// Empty for opcode 101.
    pub persistent_recursive: Vec<String>,
}

/// A write for the log, and how its result must be rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteRequest {
    pub op: WriteOp,
    pub shape: ReplyShape,
}

/// What the reply to a write looks like once its `OpResult` is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyShape {
    /// CreateResponse {path}: opcode create.
    Create,
    /// Create2Response {path, stat}: create2, createContainer, createTTL.
    Create2,
    /// Header only.
    Delete,
    /// SetDataResponse {stat}.
    SetData,
    /// SetACLResponse {stat}.
    SetAcl,
    /// Header only. (ZooKeeper 3.8 sends nothing at all for a successful standalone check, a
    /// bug: serialising its null stat fails. Corral answers with the bare header.)
    Check,
    /// SyncResponse {path}, the path as the client sent it.
    Sync,
    Multi(MultiShape),
}

/// The shape of a multi's reply: one entry per op the client sent, plus what decoding already
/// knows will fail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MultiShape {
    pub ops: Vec<MultiOpShape>,
    pub failure: Option<MultiFailure>,
}

/// How one successful op of a multi is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MultiOpShape {
    /// Type 1 with {path}: creates of persistent, ephemeral and sequential nodes.
    Create,
    /// Type 15 with {path, stat}: creates of containers and TTL nodes.
    Create2,
    Delete,
    SetData,
    Check,
}

/// An op found invalid while decoding a multi. ZooKeeper validates ops in order and stops at
/// the first failure, so the failure only shows if every earlier op passes. The `WriteOp::Multi`
/// sent to the log therefore holds the ops before `index` followed by a check of the empty path,
/// which always fails; the reply puts `error` in its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultiFailure {
    pub index: usize,
    pub error: ErrorCode,
    /// True when ZooKeeper fails the whole request (header only) rather than the op.
    pub whole_request: bool,
}

/// Why a frame did not become a `Request`, and what ZooKeeper answers. `encode_reply` writes
/// that answer and says whether to close the connection afterwards.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Close the connection without answering (a short header, a broken auth or sasl packet).
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// Answer request `xid` with `code` and keep the connection.
    #[error("request {xid} refused with {code:?}")]
    Reply {
        xid: i32,
        code: ErrorCode,
        /// ZooKeeper appends an empty multi response (a multiRead holding write ops).
        empty_multi_body: bool,
    },
    /// An opcode ZooKeeper does not serve: answer Unimplemented with zxid −1, then close.
    #[error("unknown opcode {opcode}")]
    Unknown { xid: i32, opcode: i32 },
}

/// A read reply's body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// Header only: setWatches, checkWatches, removeWatches, auth, closeSession.
    Empty,
    /// ExistsResponse.
    Stat(Stat),
    Data {
        data: &'a Data,
        stat: Stat,
    },
    Children(&'a [String]),
    Children2 {
        children: &'a [String],
        stat: Stat,
    },
    Acl {
        acl: &'a [Acl],
        stat: Stat,
    },
    Ephemerals(&'a [String]),
    /// GetAllChildrenNumberResponse.
    Number(i32),
    /// The session's identities as ClientInfo {scheme, id} records.
    WhoAmI(&'a [Id]),
    MultiRead(Vec<Result<ReadResult, ErrorCode>>),
    /// addWatch answers with an ErrorResponse holding 0.
    AddWatch,
    /// SetSASLResponse {token}; `None` is the null token.
    Sasl(Option<&'a [u8]>),
}

/// One successful op of a multiRead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadResult {
    Data { data: Data, stat: Stat },
    Children(Vec<String>),
}
