//! Which creates ZooKeeper 3.8 accepts, and what node each one makes.
//!
//! The flags pick a `CreateMode`, but the request type picks the transaction ZooKeeper logs, and
//! the transaction decides the node: a plain create (opcode 1 or 15) with the container flag
//! makes a persistent node, while createContainer (19) makes a container whatever its flags say.
//! Inside a multi the header's type only selects the record layout; the op type is re-derived
//! from the flags. These rules were checked against a running ZooKeeper 3.8.0.

use corral_engine::types::{data_from_buffer, CreateMode, CreateOp, Data, ErrorCode};
use corral_engine::wire::{Reader, WireResult};

use super::read::{self, AclList};
use super::{opcode, DecodeOptions, MultiOpShape, ReplyShape, TTL_MS_MAX};

/// A request ZooKeeper refuses before touching the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpFailure {
    /// The op fails with this code (inside a multi: only this op, in its place).
    Op(ErrorCode),
    /// The whole request fails, even inside a multi (ZooKeeper hit a runtime exception).
    Whole(ErrorCode),
}

/// CreateRequest, or CreateTTLRequest when `ttl` is set.
pub struct CreateRecord {
    pub path: Option<String>,
    pub data: Data,
    pub acl: AclList,
    pub flags: i32,
    pub ttl: Option<i64>,
}

pub fn read_create_record(reader: &mut Reader<'_>, with_ttl: bool) -> WireResult<CreateRecord> {
    let path = read::ustring_opt(reader)?;
    let data = data_from_buffer(reader.read_buffer_opt()?);
    let acl = read::acl_list(reader)?;
    let flags = reader.read_i32()?;
    let ttl = if with_ttl {
        Some(reader.read_i64()?)
    } else {
        None
    };
    Ok(CreateRecord {
        path,
        data,
        acl,
        flags,
        ttl,
    })
}

/// The transaction a create becomes in ZooKeeper, which fixes the kind of node made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TxnKind {
    Plain,
    Container,
    Ttl,
}

/// A create sent on its own, as opcode create, create2, createContainer or createTTL.
pub fn standalone_create(
    request_opcode: i32,
    record: CreateRecord,
    options: &DecodeOptions,
) -> Result<(CreateOp, ReplyShape), OpFailure> {
    let kind = match request_opcode {
        opcode::CREATE_CONTAINER => TxnKind::Container,
        opcode::CREATE_TTL => TxnKind::Ttl,
        _ => TxnKind::Plain,
    };
    let ttl = record.ttl.unwrap_or(-1);
    let op = prepare(kind, ttl, record, options)?;
    let shape = if request_opcode == opcode::CREATE {
        ReplyShape::Create
    } else {
        ReplyShape::Create2
    };
    Ok((op, shape))
}

/// A create inside a multi, whose header said `header_type`.
pub fn multi_create(
    header_type: i32,
    record: CreateRecord,
    options: &DecodeOptions,
) -> Result<(CreateOp, MultiOpShape), OpFailure> {
    // ZooKeeper rebuilds the op from the flags, reading unknown flags as persistent for now
    // (they fail properly below).
    let lenient_mode = CreateMode::from_flags(record.flags).unwrap_or(CreateMode::Persistent);
    let (kind, ttl) = if lenient_mode.is_ttl() {
        if header_type != opcode::CREATE_TTL {
            // The op becomes a TTL create holding a record without a TTL; ZooKeeper's cast
            // fails and the whole multi answers MarshallingError.
            return Err(OpFailure::Whole(ErrorCode::MarshallingError));
        }
        (TxnKind::Ttl, record.ttl.unwrap_or(-1))
    } else if lenient_mode == CreateMode::Container {
        (TxnKind::Container, -1)
    } else {
        // A TTL given with non-TTL flags is dropped when the op is rebuilt.
        (TxnKind::Plain, -1)
    };
    let op = prepare(kind, ttl, record, options)?;
    let shape = match kind {
        TxnKind::Plain => MultiOpShape::Create,
        TxnKind::Container | TxnKind::Ttl => MultiOpShape::Create2,
    };
    Ok((op, shape))
}

/// ZooKeeper's checks in their order: the flags, whether TTLs are enabled, the TTL's range, then
/// (after the engine's path check, which Corral runs later) the null fields that crash it.
fn prepare(
    kind: TxnKind,
    ttl: i64,
    record: CreateRecord,
    options: &DecodeOptions,
) -> Result<CreateOp, OpFailure> {
    let flag_mode =
        CreateMode::from_flags(record.flags).ok_or(OpFailure::Op(ErrorCode::BadArguments))?;
    if flag_mode.is_ttl() && !options.extended_types_enabled {
        return Err(OpFailure::Op(ErrorCode::Unimplemented));
    }
    let ttl_valid = if flag_mode.is_ttl() {
        (1..=TTL_MS_MAX).contains(&ttl)
    } else {
        ttl < 0
    };
    if !ttl_valid {
        return Err(OpFailure::Op(ErrorCode::BadArguments));
    }
    let (mode, ttl_ms) = node_mode(kind, flag_mode, ttl)?;
    let path = record
        .path
        .ok_or(OpFailure::Whole(ErrorCode::MarshallingError))?;
    if record.acl.has_null_world_id {
        return Err(OpFailure::Whole(ErrorCode::MarshallingError));
    }
    Ok(CreateOp {
        path,
        data: record.data,
        acl: record.acl.acl,
        mode,
        ttl_ms,
    })
}

/// The node the transaction makes, given flags that already passed validation.
fn node_mode(
    kind: TxnKind,
    flag_mode: CreateMode,
    ttl: i64,
) -> Result<(CreateMode, i64), OpFailure> {
    match kind {
        // A plain create cannot carry TTL flags here (its TTL of −1 failed above), and the
        // container flag alone does not make a container.
        TxnKind::Plain if flag_mode == CreateMode::Container => Ok((CreateMode::Persistent, -1)),
        TxnKind::Plain => Ok((flag_mode, -1)),
        // ZooKeeper would make a sequential container here, which Corral's modes cannot
        // express; refusing it is a deliberate difference no real client runs into.
        TxnKind::Container if flag_mode.is_sequential() => {
            Err(OpFailure::Op(ErrorCode::BadArguments))
        }
        TxnKind::Container => Ok((CreateMode::Container, -1)),
        TxnKind::Ttl if flag_mode.is_ttl() => Ok((flag_mode, ttl)),
        // createTTL with non-TTL flags and a negative TTL passes ZooKeeper's checks and then
        // throws while being applied; refusing it up front is the sane reading.
        TxnKind::Ttl => Err(OpFailure::Op(ErrorCode::BadArguments)),
    }
}
