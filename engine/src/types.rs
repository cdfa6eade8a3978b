//! The values every layer shares: stats, ACLs, error codes, create modes, the write operations
//! that travel through the log, their results, and the watch triggers that apply produces.
//!
//! These types are the contract between `corral-net` (which decodes them from and encodes them to
//! the client protocol) and this crate (which applies them). Keep them free of I/O.

use std::sync::Arc;

pub type Zxid = i64;
pub type SessionId = i64;

/// ZooKeeper's Stat, field for field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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

pub mod perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 2;
    pub const CREATE: i32 = 4;
    pub const DELETE: i32 = 8;
    pub const ADMIN: i32 = 16;
    pub const ALL: i32 = 31;
}

/// ephemeralOwner of a container node.
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;
/// High byte that marks a TTL node's ephemeralOwner.
pub const TTL_EPHEMERAL_OWNER_HIGH_BYTE: u8 = 0xff;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    pub scheme: String,
    pub id: String,
}

impl Id {
    pub fn new(scheme: &str, id: &str) -> Self {
        Id {
            scheme: scheme.to_owned(),
            id: id.to_owned(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Acl {
    pub perms: i32,
    pub id: Id,
}

/// ZooKeeper's KeeperException codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    Ok = 0,
    SystemError = -1,
    RuntimeInconsistency = -2,
    DataInconsistency = -3,
    ConnectionLoss = -4,
    MarshallingError = -5,
    Unimplemented = -6,
    OperationTimeout = -7,
    BadArguments = -8,
    NewConfigNoQuorum = -13,
    ReconfigInProgress = -14,
    ApiError = -100,
    NoNode = -101,
    NoAuth = -102,
    BadVersion = -103,
    NoChildrenForEphemerals = -108,
    NodeExists = -110,
    NotEmpty = -111,
    SessionExpired = -112,
    InvalidCallback = -113,
    InvalidAcl = -114,
    AuthFailed = -115,
    SessionMoved = -118,
    NotReadOnly = -119,
    EphemeralOnLocalSession = -120,
    NoWatcher = -121,
    RequestTimeout = -122,
    ReconfigDisabled = -123,
    SessionClosedRequireSasl = -124,
    QuotaExceeded = -125,
    Throttled = -127,
}

impl ErrorCode {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<ErrorCode> {
        use ErrorCode::*;
        const ALL: [ErrorCode; 31] = [
            Ok,
            SystemError,
            RuntimeInconsistency,
            DataInconsistency,
            ConnectionLoss,
            MarshallingError,
            Unimplemented,
            OperationTimeout,
            BadArguments,
            NewConfigNoQuorum,
            ReconfigInProgress,
            ApiError,
            NoNode,
            NoAuth,
            BadVersion,
            NoChildrenForEphemerals,
            NodeExists,
            NotEmpty,
            SessionExpired,
            InvalidCallback,
            InvalidAcl,
            AuthFailed,
            SessionMoved,
            NotReadOnly,
            EphemeralOnLocalSession,
            NoWatcher,
            RequestTimeout,
            ReconfigDisabled,
            SessionClosedRequireSasl,
            QuotaExceeded,
            Throttled,
        ];
        ALL.into_iter().find(|error| error.code() == code)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CreateMode {
    Persistent,
    Ephemeral,
    PersistentSequential,
    EphemeralSequential,
    Container,
    PersistentWithTtl,
    PersistentSequentialWithTtl,
}

impl CreateMode {
    pub fn from_flags(flags: i32) -> Option<CreateMode> {
        use CreateMode::*;
        Some(match flags {
            0 => Persistent,
            1 => Ephemeral,
            2 => PersistentSequential,
            3 => EphemeralSequential,
            4 => Container,
            5 => PersistentWithTtl,
            6 => PersistentSequentialWithTtl,
            _ => return None,
        })
    }

    pub fn flags(self) -> i32 {
        use CreateMode::*;
        match self {
            Persistent => 0,
            Ephemeral => 1,
            PersistentSequential => 2,
            EphemeralSequential => 3,
            Container => 4,
            PersistentWithTtl => 5,
            PersistentSequentialWithTtl => 6,
        }
    }

    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    pub fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

/// Node data shared between tree versions and responses without copying.
pub type Data = Arc<[u8]>;

/// ZooKeeper keeps null data (a create or setData that sent no buffer) apart from empty data:
/// it reads back as a null buffer (length −1). Null data is this one shared empty value,
/// recognised by identity, so every layer passes it through unchanged.
pub fn null_data() -> Data {
    static NULL: std::sync::OnceLock<Data> = std::sync::OnceLock::new();
    NULL.get_or_init(|| Arc::from(Vec::new())).clone()
}

pub fn is_null_data(data: &Data) -> bool {
    data.is_empty() && Arc::ptr_eq(data, &null_data())
}

/// Data as read from a jute buffer: the null buffer becomes `null_data()`.
pub fn data_from_buffer(buffer: Option<&[u8]>) -> Data {
    match buffer {
        Some(bytes) => Arc::from(bytes),
        None => null_data(),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateOp {
    pub path: String,
    pub data: Data,
    pub acl: Vec<Acl>,
    pub mode: CreateMode,
    /// Milliseconds; meaningful only for the TTL modes, −1 otherwise.
    pub ttl_ms: i64,
}

/// A state-changing operation: what a log entry carries. Apply is a pure function of the
/// current state and a `Txn`; it reads no clock and no randomness (the leader's time and any
/// generated values travel inside the `Txn`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    Create(CreateOp),
    Delete {
        path: String,
        version: i32,
    },
    SetData {
        path: String,
        data: Data,
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
    /// Only Create, Delete, SetData and Check may appear inside (ZooKeeper's rule).
    Multi(Vec<WriteOp>),
    /// Opens `Txn::session_id`, which the leader chose.
    CreateSession {
        timeout_ms: i32,
        password: [u8; 16],
    },
    /// Closes `Txn::session_id` and deletes its ephemerals (found by apply, not listed here).
    CloseSession,
    /// Leader housekeeping: removes an empty container or an expired TTL node, if it still is one.
    DeleteContainer {
        path: String,
    },
    /// Orders behind every earlier write; changes nothing and takes no zxid.
    Sync {
        path: String,
    },
    /// A write refused before it reached the tree (a malformed body, bad create flags): like
    /// ZooKeeper's error txn it takes a zxid, changes nothing and fails with `code`.
    Refused {
        code: ErrorCode,
    },
}

/// One client write (or leader housekeeping) in a log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    pub session_id: SessionId,
    pub cxid: i32,
    /// The leader's wall clock, ms since the epoch; becomes ctime/mtime.
    pub time_ms: i64,
    /// The session's authenticated identities (including `ip:<addr>`), for ACL checks.
    pub auth: Vec<Id>,
    pub op: WriteOp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpResult {
    Create {
        path: String,
        stat: Stat,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    SetAcl {
        stat: Stat,
    },
    Check,
    /// One result per op; when the multi failed, every entry is `Error` (ZooKeeper's codes:
    /// the failing op carries its code, ops before it `Ok`, ops after it RuntimeInconsistency).
    Multi(Vec<OpResult>),
    SessionCreated {
        session_id: SessionId,
        timeout_ms: i32,
        password: [u8; 16],
    },
    SessionClosed,
    Sync {
        path: String,
    },
    Error(ErrorCode),
}

/// Watch event types as sent to clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    NodeCreated = 1,
    NodeDeleted = 2,
    NodeDataChanged = 3,
    NodeChildrenChanged = 4,
}

/// A change that may fire watches, produced by apply in the order the changes happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchTrigger {
    pub path: String,
    pub event: EventType,
    pub zxid: Zxid,
}

/// What applying one `Txn` produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The zxid this txn took. As in ZooKeeper a failed write takes one too (its error txn is
    /// logged); only `Sync` takes none and reports the last zxid.
    pub zxid: Zxid,
    pub result: OpResult,
    pub triggers: Vec<WatchTrigger>,
}
