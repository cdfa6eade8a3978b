//! ZooKeeper's logged transactions (`org.apache.zookeeper.txn` in zookeeper.jute): the header,
//! the record of each op type a 3.4–3.8 log can hold, and the optional 3.6+ digest.

use corral_engine::types::{Acl, CONTAINER_EPHEMERAL_OWNER, TTL_EPHEMERAL_OWNER_HIGH_BYTE};

use super::error::Fault;
use super::input::Input;
use super::limits;

/// ZooKeeper's `ZooDefs.OpCode` values that appear in logs.
pub mod op {
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const SET_DATA: i32 = 5;
    pub const SET_ACL: i32 = 7;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const RECONFIG: i32 = 16;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
    pub const ERROR: i32 = -1;
}

/// Every type a 3.8 log record can have at top level.
const TOP_LEVEL_TYPES: [i32; 14] = [
    op::CREATE,
    op::DELETE,
    op::SET_DATA,
    op::SET_ACL,
    op::CHECK,
    op::MULTI,
    op::CREATE2,
    op::RECONFIG,
    op::CREATE_CONTAINER,
    op::DELETE_CONTAINER,
    op::CREATE_TTL,
    op::CREATE_SESSION,
    op::CLOSE_SESSION,
    op::ERROR,
];

/// Bytes of a `TxnDigest` (version int, tree digest long), which 3.6+ appends to each record.
const TXN_DIGEST_BYTES: u64 = 12;
/// The longest TTL ZooKeeper encodes: the low 40 bits of ephemeralOwner.
const TTL_MS_MAX: i64 = (1 << 40) - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnHeader {
    pub client_id: i64,
    pub cxid: i32,
    pub zxid: i64,
    pub time_ms: i64,
    pub op_type: i32,
}

/// A node creation of any kind, with the ephemeralOwner it stores already worked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateTxn {
    pub path: String,
    pub data: Option<Vec<u8>>,
    /// `None` is a null vector, which ZooKeeper's ACL cache turns into world:anyone ALL.
    pub acl: Option<Vec<Acl>>,
    pub ephemeral_owner: i64,
    /// −1 asks replay to use the parent's current count plus one (3.4's V0 records).
    pub parent_cversion: i32,
    /// Only plain `create` records get ZooKeeper's NodeExists cversion fix-up on replay.
    pub fix_cversion_on_exists: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkTxn {
    Create(CreateTxn),
    /// delete and deleteContainer.
    Delete {
        path: String,
    },
    /// setData and reconfig (which sets /zookeeper/config).
    SetData {
        path: String,
        data: Option<Vec<u8>>,
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Option<Vec<Acl>>,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
    CreateSession {
        timeout_ms: i32,
    },
    /// `None` for logs written without CloseSessionTxn (before 3.6, or with it disabled).
    CloseSession {
        paths_to_delete: Option<Vec<String>>,
    },
    Error {
        code: i32,
    },
    /// The ops of a multi; a multi holding an error sub-txn failed as a whole and changes
    /// nothing, so it is decoded as an empty list.
    Multi(Vec<ZkTxn>),
}

/// One decoded log record body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnEntry {
    pub header: TxnHeader,
    pub txn: ZkTxn,
    /// The 3.6+ TxnDigest (version, tree digest) when present.
    pub digest: Option<(i32, i64)>,
}

/// Decodes a record body (what the log's length prefix covers) that starts at file offset
/// `base`. Every byte must be accounted for.
pub fn decode_entry(bytes: &[u8], base: u64) -> Result<TxnEntry, Fault> {
    let mut input = Input::of_slice(bytes, base);
    let header = TxnHeader {
        client_id: input.i64("txn header clientId")?,
        cxid: input.i32("txn header cxid")?,
        zxid: input.i64("txn header zxid")?,
        time_ms: input.i64("txn header time")?,
        op_type: 0,
    };
    let type_offset = input.offset();
    let header = TxnHeader {
        op_type: input.i32("txn header type")?,
        ..header
    };
    if !TOP_LEVEL_TYPES.contains(&header.op_type) {
        return Err(Fault::invalid(
            type_offset,
            format!("unknown txn type {}", header.op_type),
        ));
    }
    let txn = decode_top_level(&mut input, &header)?;
    let digest = match input.remaining() {
        0 => None,
        TXN_DIGEST_BYTES => Some((input.i32("digest version")?, input.i64("tree digest")?)),
        left => {
            return Err(Fault::invalid(
                input.offset(),
                format!("{left} bytes left after a type {} txn", header.op_type),
            ))
        }
    };
    Ok(TxnEntry {
        header,
        txn,
        digest,
    })
}

fn decode_top_level(input: &mut Input<&[u8]>, header: &TxnHeader) -> Result<ZkTxn, Fault> {
    match header.op_type {
        op::CREATE_SESSION => Ok(ZkTxn::CreateSession {
            timeout_ms: input.i32("session timeout")?,
        }),
        op::CLOSE_SESSION => decode_close_session(input),
        op::MULTI => decode_multi(input, header.client_id),
        other => decode_op(input, other, header.client_id),
    }
}

/// CloseSessionTxn (3.6+) lists the ephemerals to delete; older logs, and servers with
/// `zookeeper.closeSessionTxn.enabled=false`, write no body, though 3.6+ may still append a
/// digest. Twelve bytes are therefore either a digest alone or a list without digest: they are a
/// list only if they decode as one exactly, with absolute paths.
fn decode_close_session(input: &mut Input<&[u8]>) -> Result<ZkTxn, Fault> {
    let left = input.remaining();
    if left == 0 {
        return Ok(ZkTxn::CloseSession {
            paths_to_delete: None,
        });
    }
    if left == TXN_DIGEST_BYTES {
        let mut probe = input.clone();
        let is_list = matches!(read_path_list(&mut probe), Ok(Some(paths))
            if probe.remaining() == 0 && paths.iter().all(|path| path.starts_with('/')));
        if !is_list {
            return Ok(ZkTxn::CloseSession {
                paths_to_delete: None,
            });
        }
    }
    Ok(ZkTxn::CloseSession {
        paths_to_delete: read_path_list(input)?,
    })
}

fn read_path_list(input: &mut Input<&[u8]>) -> Result<Option<Vec<String>>, Fault> {
    let Some(count) = input.count_opt("paths2Delete", 4)? else {
        return Ok(None);
    };
    let mut paths = Vec::with_capacity(count);
    for _ in 0..count {
        paths.push(input.string("path to delete")?);
    }
    Ok(Some(paths))
}

fn decode_multi(input: &mut Input<&[u8]>, client_id: i64) -> Result<ZkTxn, Fault> {
    let offset = input.offset();
    // type (4) and a buffer length (4) at the least.
    let count = input.count_opt("multi txns", 8)?.unwrap_or(0);
    if count > limits::MULTI_OPS_MAX {
        return Err(Fault::invalid(offset, format!("multi of {count} ops")));
    }
    let mut ops = Vec::with_capacity(count);
    let mut failed = false;
    for _ in 0..count {
        let op_offset = input.offset();
        let op_type = input.i32("multi op type")?;
        let body = input.buffer_opt("multi op body")?.unwrap_or_default();
        let body_base = op_offset + 8;
        let mut sub = Input::of_slice(&body, body_base);
        let txn = match op_type {
            op::CREATE
            | op::CREATE_TTL
            | op::CREATE_CONTAINER
            | op::DELETE
            | op::DELETE_CONTAINER
            | op::SET_DATA
            | op::CHECK
            | op::ERROR => decode_op(&mut sub, op_type, client_id)?,
            other => {
                return Err(Fault::invalid(
                    op_offset,
                    format!("op type {other} cannot appear inside a multi"),
                ))
            }
        };
        failed |= op_type == op::ERROR;
        ops.push(txn);
    }
    Ok(ZkTxn::Multi(if failed { Vec::new() } else { ops }))
}

/// The record of one op type, at top level or inside a multi.
fn decode_op(input: &mut Input<&[u8]>, op_type: i32, client_id: i64) -> Result<ZkTxn, Fault> {
    let offset = input.offset();
    Ok(match op_type {
        op::CREATE | op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
            ZkTxn::Create(decode_create(input, op_type, client_id)?)
        }
        op::DELETE | op::DELETE_CONTAINER => ZkTxn::Delete {
            path: input.string("delete path")?,
        },
        op::SET_DATA | op::RECONFIG => ZkTxn::SetData {
            path: input.string("setData path")?,
            data: input.buffer_opt("setData data")?,
            version: input.i32("setData version")?,
        },
        op::SET_ACL => ZkTxn::SetAcl {
            path: input.string("setACL path")?,
            acl: input.acl_list_opt("setACL acl")?,
            version: input.i32("setACL version")?,
        },
        op::CHECK => ZkTxn::Check {
            path: input.string("check path")?,
            version: input.i32("check version")?,
        },
        op::ERROR => ZkTxn::Error {
            code: input.i32("error code")?,
        },
        other => return Err(Fault::invalid(offset, format!("unknown txn type {other}"))),
    })
}

/// The four create records: CreateTxn (create, create2), CreateContainerTxn and CreateTTLTxn
/// share path, data and ACL, then differ in what says which kind of node it is.
fn decode_create(
    input: &mut Input<&[u8]>,
    op_type: i32,
    client_id: i64,
) -> Result<CreateTxn, Fault> {
    let path = input.string("create path")?;
    let data = input.buffer_opt("create data")?;
    let acl = input.acl_list_opt("create acl")?;
    let (ephemeral_owner, parent_cversion) = match op_type {
        op::CREATE_CONTAINER => (
            CONTAINER_EPHEMERAL_OWNER,
            input.i32("create parentCVersion")?,
        ),
        op::CREATE_TTL => {
            let parent_cversion = input.i32("create parentCVersion")?;
            let ttl_offset = input.offset();
            let ttl_ms = input.i64("create ttl")?;
            if ttl_ms <= 0 || ttl_ms > TTL_MS_MAX {
                let reason = format!("ttl {ttl_ms} out of range");
                return Err(Fault::invalid(ttl_offset, reason));
            }
            let marker = i64::from(TTL_EPHEMERAL_OWNER_HIGH_BYTE) << 56;
            (marker | ttl_ms, parent_cversion)
        }
        _ => {
            let ephemeral = input.bool("create ephemeral")?;
            // A 3.4 V0 record ends here: replay then counts on from the parent's cversion.
            let parent_cversion = if input.remaining() == 0 {
                -1
            } else {
                input.i32("create parentCVersion")?
            };
            (if ephemeral { client_id } else { 0 }, parent_cversion)
        }
    };
    Ok(CreateTxn {
        path,
        data,
        acl,
        ephemeral_owner,
        parent_cversion,
        fix_cversion_on_exists: op_type == op::CREATE,
    })
}
