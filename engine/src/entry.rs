//! The binary encoding of a log entry: a batch of `Txn`s.
//!
//! Layout (all integers big-endian, strings and buffers as jute's `int length` + bytes, see
//! `crate::wire`):
//!
//! ```text
//! entry    := version:u8 (= ENTRY_FORMAT_VERSION) count:i32 txn{count}
//! txn      := session_id:i64 cxid:i32 time_ms:i64 auth_count:i32 id{auth_count} op
//! id       := scheme:string id:string
//! acl      := perms:i32 id
//! op       := tag:u8 body
//!   1 Create          path:string data:buffer acl_count:i32 acl{acl_count} flags:i32 ttl_ms:i64
//!   2 Delete          path:string version:i32
//!   3 SetData         path:string data:buffer version:i32
//!   4 SetAcl          path:string acl_count:i32 acl{acl_count} version:i32
//!   5 Check           path:string version:i32
//!   6 Multi           op_count:i32 op{op_count}   (its ops may not be Multi)
//!   7 CreateSession   timeout_ms:i32 password:16 bytes
//!   8 CloseSession    (no body)
//!   9 DeleteContainer path:string
//!  10 Sync            path:string
//!  11 Refused         code:i32
//! ```
//!
//! The entry carries no checksum: the WAL checksums every record it stores. Decoding never
//! panics, allocates only in proportion to the bytes it was given, refuses null strings (the
//! encoder never writes them), unknown tags and create flags, a Multi inside a Multi, and
//! trailing bytes.

use crate::limits::ENTRY_MULTI_DEPTH_MAX;
use crate::types::{Acl, CreateMode, CreateOp, Id, Txn, WriteOp};
use crate::wire::{Reader, WireError, WireResult, Writer};

/// The first byte of every entry; bump it when the layout changes, and keep decoding old ones.
pub const ENTRY_FORMAT_VERSION: u8 = 1;

const TAG_CREATE: u8 = 1;
const TAG_DELETE: u8 = 2;
const TAG_SET_DATA: u8 = 3;
const TAG_SET_ACL: u8 = 4;
const TAG_CHECK: u8 = 5;
const TAG_MULTI: u8 = 6;
const TAG_CREATE_SESSION: u8 = 7;
const TAG_CLOSE_SESSION: u8 = 8;
const TAG_DELETE_CONTAINER: u8 = 9;
const TAG_SYNC: u8 = 10;
const TAG_REFUSED: u8 = 11;

/// The length of a session password.
const PASSWORD_BYTES: usize = 16;
/// The fewest bytes a `Txn` can take: ids, times, an empty auth count and a bodiless op tag.
const TXN_BYTES_MIN: usize = 8 + 4 + 8 + 4 + 1;
/// The fewest bytes an `Id` can take: two empty strings.
const ID_BYTES_MIN: usize = 4 + 4;
/// The fewest bytes an `Acl` can take: perms and an `Id`.
const ACL_BYTES_MIN: usize = 4 + ID_BYTES_MIN;
/// The fewest bytes an op can take: a bodiless tag.
const OP_BYTES_MIN: usize = 1;

/// Appends the encoding of `txns` to `out` (which may already hold bytes, so buffers can be
/// reused). Asserts the invariant decoding relies on: no Multi nests another Multi.
pub fn encode_batch(txns: &[Txn], out: &mut Vec<u8>) {
    let mut writer = Writer::new(out);
    writer.u8(ENTRY_FORMAT_VERSION);
    writer.i32(count_i32(txns.len()));
    for txn in txns {
        writer
            .i64(txn.session_id)
            .i32(txn.cxid)
            .i64(txn.time_ms)
            .i32(count_i32(txn.auth.len()));
        for id in &txn.auth {
            write_id(&mut writer, id);
        }
        write_op(&mut writer, &txn.op, 0);
    }
}

/// A count as the i32 the layout stores. A batch is far below `i32::MAX` items long (entries
/// are bounded in bytes), so a larger one is a bug upstream.
fn count_i32(count: usize) -> i32 {
    assert!(
        count <= i32::MAX as usize,
        "entry count {count} overflows i32"
    );
    count as i32
}

fn write_id(writer: &mut Writer<'_>, id: &Id) {
    writer.string(&id.scheme).string(&id.id);
}

fn write_acl(writer: &mut Writer<'_>, acl: &[Acl]) {
    writer.i32(count_i32(acl.len()));
    for entry in acl {
        writer.i32(entry.perms);
        write_id(writer, &entry.id);
    }
}

fn write_op(writer: &mut Writer<'_>, op: &WriteOp, depth: usize) {
    match op {
        WriteOp::Create(create) => {
            writer.u8(TAG_CREATE).string(&create.path);
            write_data(writer, &create.data);
            write_acl(writer, &create.acl);
            writer.i32(create.mode.flags()).i64(create.ttl_ms);
        }
        WriteOp::Delete { path, version } => {
            writer.u8(TAG_DELETE).string(path).i32(*version);
        }
        WriteOp::SetData {
            path,
            data,
            version,
        } => {
            writer.u8(TAG_SET_DATA).string(path);
            write_data(writer, data);
            writer.i32(*version);
        }
        WriteOp::SetAcl { path, acl, version } => {
            writer.u8(TAG_SET_ACL).string(path);
            write_acl(writer, acl);
            writer.i32(*version);
        }
        WriteOp::Check { path, version } => {
            writer.u8(TAG_CHECK).string(path).i32(*version);
        }
        WriteOp::Multi(ops) => {
            assert!(depth < ENTRY_MULTI_DEPTH_MAX, "a Multi nested in a Multi");
            writer.u8(TAG_MULTI).i32(count_i32(ops.len()));
            for inner in ops {
                write_op(writer, inner, depth + 1);
            }
        }
        WriteOp::CreateSession {
            timeout_ms,
            password,
        } => {
            writer.u8(TAG_CREATE_SESSION).i32(*timeout_ms);
            writer.bytes.extend_from_slice(password);
        }
        WriteOp::CloseSession => {
            writer.u8(TAG_CLOSE_SESSION);
        }
        WriteOp::DeleteContainer { path } => {
            writer.u8(TAG_DELETE_CONTAINER).string(path);
        }
        WriteOp::Refused { code } => {
            writer.u8(TAG_REFUSED).i32(code.code());
        }
        WriteOp::Sync { path } => {
            writer.u8(TAG_SYNC).string(path);
        }
    }
}

/// Decodes an entry written by `encode_batch`. Any malformed input is an error, never a panic.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Txn>, WireError> {
    let mut reader = Reader::new(bytes);
    let version = reader.read_u8()?;
    if version != ENTRY_FORMAT_VERSION {
        return Err(WireError::Invalid("unknown entry format version"));
    }
    let count = reader.read_count(TXN_BYTES_MIN)?;
    let mut txns = Vec::with_capacity(count);
    for _ in 0..count {
        txns.push(read_txn(&mut reader)?);
    }
    if !reader.is_empty() {
        return Err(WireError::Invalid("trailing bytes after entry"));
    }
    Ok(txns)
}

fn read_txn(reader: &mut Reader<'_>) -> WireResult<Txn> {
    let session_id = reader.read_i64()?;
    let cxid = reader.read_i32()?;
    let time_ms = reader.read_i64()?;
    let auth_count = reader.read_count(ID_BYTES_MIN)?;
    let mut auth = Vec::with_capacity(auth_count);
    for _ in 0..auth_count {
        auth.push(read_id(reader)?);
    }
    let op = read_op(reader, 0)?;
    Ok(Txn {
        session_id,
        cxid,
        time_ms,
        auth,
        op,
    })
}

/// A string the encoder wrote; the null string never comes from `encode_batch`.
fn read_string(reader: &mut Reader<'_>) -> WireResult<String> {
    match reader.read_string_opt()? {
        Some(text) => Ok(text.to_owned()),
        None => Err(WireError::Invalid("null string in entry")),
    }
}

/// Node data; the null buffer is ZooKeeper's null data, kept apart from empty data.
fn read_data(reader: &mut Reader<'_>) -> WireResult<crate::types::Data> {
    Ok(crate::types::data_from_buffer(reader.read_buffer_opt()?))
}

fn write_data(writer: &mut Writer<'_>, data: &crate::types::Data) {
    if crate::types::is_null_data(data) {
        writer.null_buffer();
    } else {
        writer.buffer(data);
    }
}

fn read_id(reader: &mut Reader<'_>) -> WireResult<Id> {
    let scheme = read_string(reader)?;
    let id = read_string(reader)?;
    Ok(Id { scheme, id })
}

fn read_acl(reader: &mut Reader<'_>) -> WireResult<Vec<Acl>> {
    let count = reader.read_count(ACL_BYTES_MIN)?;
    let mut acl = Vec::with_capacity(count);
    for _ in 0..count {
        let perms = reader.read_i32()?;
        let id = read_id(reader)?;
        acl.push(Acl { perms, id });
    }
    Ok(acl)
}

fn read_op(reader: &mut Reader<'_>, depth: usize) -> WireResult<WriteOp> {
    let op = match reader.read_u8()? {
        TAG_CREATE => WriteOp::Create(read_create(reader)?),
        TAG_DELETE => WriteOp::Delete {
            path: read_string(reader)?,
            version: reader.read_i32()?,
        },
        TAG_SET_DATA => WriteOp::SetData {
            path: read_string(reader)?,
            data: read_data(reader)?,
            version: reader.read_i32()?,
        },
        TAG_SET_ACL => WriteOp::SetAcl {
            path: read_string(reader)?,
            acl: read_acl(reader)?,
            version: reader.read_i32()?,
        },
        TAG_CHECK => WriteOp::Check {
            path: read_string(reader)?,
            version: reader.read_i32()?,
        },
        TAG_MULTI => WriteOp::Multi(read_multi(reader, depth)?),
        TAG_CREATE_SESSION => read_create_session(reader)?,
        TAG_CLOSE_SESSION => WriteOp::CloseSession,
        TAG_DELETE_CONTAINER => WriteOp::DeleteContainer {
            path: read_string(reader)?,
        },
        TAG_SYNC => WriteOp::Sync {
            path: read_string(reader)?,
        },
        TAG_REFUSED => WriteOp::Refused {
            code: crate::types::ErrorCode::from_code(reader.read_i32()?)
                .ok_or(WireError::Invalid("unknown error code in entry"))?,
        },
        _ => return Err(WireError::Invalid("unknown op tag in entry")),
    };
    Ok(op)
}

fn read_create(reader: &mut Reader<'_>) -> WireResult<CreateOp> {
    let path = read_string(reader)?;
    let data = read_data(reader)?;
    let acl = read_acl(reader)?;
    let mode = CreateMode::from_flags(reader.read_i32()?)
        .ok_or(WireError::Invalid("unknown create flags in entry"))?;
    let ttl_ms = reader.read_i64()?;
    Ok(CreateOp {
        path,
        data,
        acl,
        mode,
        ttl_ms,
    })
}

fn read_multi(reader: &mut Reader<'_>, depth: usize) -> WireResult<Vec<WriteOp>> {
    if depth >= ENTRY_MULTI_DEPTH_MAX {
        return Err(WireError::Invalid("Multi nested in a Multi in entry"));
    }
    let count = reader.read_count(OP_BYTES_MIN)?;
    let mut ops = Vec::with_capacity(count);
    for _ in 0..count {
        ops.push(read_op(reader, depth + 1)?);
    }
    Ok(ops)
}

fn read_create_session(reader: &mut Reader<'_>) -> WireResult<WriteOp> {
    let timeout_ms = reader.read_i32()?;
    let mut password = [0u8; PASSWORD_BYTES];
    password.copy_from_slice(reader.take(PASSWORD_BYTES)?);
    Ok(WriteOp::CreateSession {
        timeout_ms,
        password,
    })
}
