//! `decode_request`: the request header, then one small decoder per request kind.
//!
//! How ZooKeeper 3.8 treats a request it cannot use decides the error here:
//! - a header shorter than 8 bytes, or a broken auth or sasl body, closes the connection;
//! - any other body that does not decode is answered with MarshallingError and the connection
//!   stays open (bytes after a complete record are ignored);
//! - an opcode it does not serve is answered with Unimplemented, then the connection closes.

use corral_engine::types::{data_from_buffer, ErrorCode, WriteOp};
use corral_engine::wire::{Reader, WireError};

use super::create::{self, OpFailure};
use super::{multi, opcode, read};
use super::{
    DecodeError, DecodeOptions, ReadOp, ReplyShape, Request, RequestHeader, SetWatches,
    WriteRequest,
};

/// Decodes a request with ZooKeeper's default options (TTL nodes disabled).
pub fn decode_request(frame: &[u8]) -> Result<(RequestHeader, Request), DecodeError> {
    decode_request_with(frame, &DecodeOptions::default())
}

pub fn decode_request_with(
    frame: &[u8],
    options: &DecodeOptions,
) -> Result<(RequestHeader, Request), DecodeError> {
    let mut reader = Reader::new(frame);
    let header = read_header(&mut reader)?;
    match decode_body(header.opcode, &mut reader, options) {
        Ok(request) => Ok((header, request)),
        Err(refusal) => Err(refusal.into_decode_error(header)),
    }
}

fn read_header(reader: &mut Reader<'_>) -> Result<RequestHeader, DecodeError> {
    let header = (|| -> Result<RequestHeader, WireError> {
        Ok(RequestHeader {
            xid: reader.read_i32()?,
            opcode: reader.read_i32()?,
        })
    })();
    header.map_err(|error| DecodeError::Malformed(format!("request header: {error}")))
}

/// Why a body did not become a request; `into_decode_error` adds the header.
#[derive(Debug)]
pub enum Refusal {
    Reply(ErrorCode),
    /// MarshallingError followed by an empty multi response.
    ReplyWithEmptyMulti(ErrorCode),
    Close(String),
    Unknown,
}

impl From<WireError> for Refusal {
    /// A record that does not decode is what Java's reader reports as an IOException, which
    /// ZooKeeper's request processors turn into MarshallingError.
    fn from(_: WireError) -> Self {
        Refusal::Reply(ErrorCode::MarshallingError)
    }
}

impl From<OpFailure> for Refusal {
    fn from(failure: OpFailure) -> Self {
        match failure {
            OpFailure::Op(error) | OpFailure::Whole(error) => Refusal::Reply(error),
        }
    }
}

impl Refusal {
    fn into_decode_error(self, header: RequestHeader) -> DecodeError {
        match self {
            Refusal::Reply(code) => DecodeError::Reply {
                xid: header.xid,
                code,
                empty_multi_body: false,
            },
            Refusal::ReplyWithEmptyMulti(code) => DecodeError::Reply {
                xid: header.xid,
                code,
                empty_multi_body: true,
            },
            Refusal::Close(reason) => DecodeError::Malformed(reason),
            Refusal::Unknown => DecodeError::Unknown {
                xid: header.xid,
                opcode: header.opcode,
            },
        }
    }
}

type Decoded = Result<Request, Refusal>;

fn decode_body(opcode: i32, reader: &mut Reader<'_>, options: &DecodeOptions) -> Decoded {
    match opcode {
        // These carry no body that ZooKeeper reads.
        opcode::PING => Ok(Request::Ping),
        opcode::CLOSE_SESSION => Ok(Request::CloseSession),
        opcode::WHO_AM_I => Ok(Request::WhoAmI),
        opcode::AUTH => auth(reader),
        opcode::SASL => sasl(reader),
        opcode::EXISTS => exists(reader),
        opcode::GET_DATA => path_and_watch(reader, |path, watch| Request::GetData { path, watch }),
        opcode::GET_CHILDREN => {
            path_and_watch(reader, |path, watch| Request::GetChildren { path, watch })
        }
        opcode::GET_CHILDREN2 => {
            path_and_watch(reader, |path, watch| Request::GetChildren2 { path, watch })
        }
        opcode::GET_ACL => Ok(Request::GetAcl {
            path: path(reader, ErrorCode::MarshallingError)?,
        }),
        opcode::GET_ALL_CHILDREN_NUMBER => Ok(Request::GetAllChildrenNumber {
            path: path(reader, ErrorCode::MarshallingError)?,
        }),
        opcode::GET_EPHEMERALS => get_ephemerals(reader),
        opcode::MULTI_READ => multi::decode_multi_read(reader).map(Request::MultiRead),
        opcode::ADD_WATCH => add_watch(reader),
        opcode::CHECK_WATCHES | opcode::REMOVE_WATCHES => watcher_request(opcode, reader),
        opcode::SET_WATCHES | opcode::SET_WATCHES2 => set_watches(opcode, reader),
        _ => decode_write(opcode, reader, options).map(Request::Write),
    }
}

fn decode_write(
    opcode: i32,
    reader: &mut Reader<'_>,
    options: &DecodeOptions,
) -> Result<WriteRequest, Refusal> {
    let (op, shape) = match opcode {
        opcode::CREATE | opcode::CREATE2 | opcode::CREATE_CONTAINER | opcode::CREATE_TTL => {
            let record = create::read_create_record(reader, opcode == opcode::CREATE_TTL)?;
            let (op, shape) = create::standalone_create(opcode, record, options)?;
            (WriteOp::Create(op), shape)
        }
        opcode::DELETE => (delete(reader)?, ReplyShape::Delete),
        opcode::SET_DATA => (set_data(reader)?, ReplyShape::SetData),
        opcode::SET_ACL => (set_acl(reader)?, ReplyShape::SetAcl),
        opcode::CHECK => (check(reader)?, ReplyShape::Check),
        opcode::SYNC => {
            // ZooKeeper echoes the path without validating it.
            let path = path(reader, ErrorCode::MarshallingError)?;
            (WriteOp::Sync { path }, ReplyShape::Sync)
        }
        opcode::MULTI => return multi::decode_multi(reader, options),
        opcode::RECONFIG => return Err(reconfig(reader)),
        // ZooKeeper reads the "path" of a client's deleteContainer from the whole frame,
        // header included; the header's zero bytes make every such path invalid.
        opcode::DELETE_CONTAINER => return Err(Refusal::Reply(ErrorCode::BadArguments)),
        // Everything else, including createSession (which ZooKeeper would answer with a second
        // ConnectResponse in the middle of the stream), notification (0) and error (−1).
        _ => return Err(Refusal::Unknown),
    };
    Ok(WriteRequest { op, shape })
}

/// A path; a null path fails with `null_error`, the code ZooKeeper ends up with for this
/// request kind (MarshallingError where it dereferences the null, BadArguments where it
/// validates first).
fn path(reader: &mut Reader<'_>, null_error: ErrorCode) -> Result<String, Refusal> {
    read::ustring_opt(reader)?.ok_or(Refusal::Reply(null_error))
}

fn path_and_watch(reader: &mut Reader<'_>, build: fn(String, bool) -> Request) -> Decoded {
    let path = path(reader, ErrorCode::MarshallingError)?;
    let watch = reader.read_bool()?;
    Ok(build(path, watch))
}

fn exists(reader: &mut Reader<'_>) -> Decoded {
    let request = path_and_watch(reader, |path, watch| Request::Exists { path, watch })?;
    match &request {
        // exists is the one read where ZooKeeper checks for a NUL before looking the path up.
        Request::Exists { path, .. } if path.contains('\0') => {
            Err(Refusal::Reply(ErrorCode::BadArguments))
        }
        _ => Ok(request),
    }
}

fn get_ephemerals(reader: &mut Reader<'_>) -> Decoded {
    let prefix = read::ustring(reader)?;
    // ZooKeeper returns every ephemeral for a blank or "/" prefix (after Java's trim, which
    // strips every character up to U+0020) and otherwise filters with the untrimmed prefix.
    let trimmed = prefix.trim_matches(|character: char| character <= ' ');
    let prefix = if trimmed.is_empty() || trimmed == "/" {
        String::new()
    } else {
        prefix
    };
    Ok(Request::GetEphemerals { prefix })
}

fn add_watch(reader: &mut Reader<'_>) -> Decoded {
    let path = path(reader, ErrorCode::MarshallingError)?;
    let mode = reader.read_i32()?;
    // ZooKeeper's mode lookup throws for anything but persistent (0) and recursive (1).
    if !(0..=1).contains(&mode) {
        return Err(Refusal::Reply(ErrorCode::MarshallingError));
    }
    Ok(Request::AddWatch { path, mode })
}

fn watcher_request(opcode: i32, reader: &mut Reader<'_>) -> Decoded {
    let path = path(reader, ErrorCode::MarshallingError)?;
    let watcher_type = reader.read_i32()?;
    // 3.8 knows children (1), data (2) and any (3) and throws for others; 3.9 clients may also
    // name the persistent kinds (4, 5), which Corral accepts.
    if !(1..=5).contains(&watcher_type) {
        return Err(Refusal::Reply(ErrorCode::MarshallingError));
    }
    Ok(if opcode == opcode::CHECK_WATCHES {
        Request::CheckWatches { path, watcher_type }
    } else {
        Request::RemoveWatches { path, watcher_type }
    })
}

fn set_watches(opcode: i32, reader: &mut Reader<'_>) -> Decoded {
    let mut watches = SetWatches {
        relative_zxid: reader.read_i64()?,
        data: read::ustring_vector(reader)?,
        exist: read::ustring_vector(reader)?,
        child: read::ustring_vector(reader)?,
        ..SetWatches::default()
    };
    if opcode == opcode::SET_WATCHES2 {
        watches.persistent = read::ustring_vector(reader)?;
        watches.persistent_recursive = read::ustring_vector(reader)?;
    }
    Ok(Request::SetWatches(watches))
}

/// ZooKeeper reads auth and sasl packets outside its request pipeline, where a record that does
/// not decode closes the connection.
fn auth(reader: &mut Reader<'_>) -> Decoded {
    let close = |error: WireError| Refusal::Close(format!("auth packet: {error}"));
    let auth_type = reader.read_i32().map_err(close)?;
    let scheme = read::ustring(reader).map_err(close)?;
    let auth = read::buffer(reader).map_err(close)?;
    Ok(Request::Auth {
        auth_type,
        scheme,
        auth,
    })
}

fn sasl(reader: &mut Reader<'_>) -> Decoded {
    let token = read::buffer(reader).map_err(|error| Refusal::Close(format!("sasl: {error}")))?;
    Ok(Request::Sasl { token })
}

fn delete(reader: &mut Reader<'_>) -> Result<WriteOp, Refusal> {
    let path = path(reader, ErrorCode::MarshallingError)?;
    let version = reader.read_i32()?;
    Ok(WriteOp::Delete { path, version })
}

fn set_data(reader: &mut Reader<'_>) -> Result<WriteOp, Refusal> {
    let path = read::ustring_opt(reader)?;
    let data = data_from_buffer(reader.read_buffer_opt()?);
    let version = reader.read_i32()?;
    let path = path.ok_or(Refusal::Reply(ErrorCode::BadArguments))?;
    Ok(WriteOp::SetData {
        path,
        data,
        version,
    })
}

fn set_acl(reader: &mut Reader<'_>) -> Result<WriteOp, Refusal> {
    let path = read::ustring_opt(reader)?;
    let acl = read::acl_list(reader)?;
    let version = reader.read_i32()?;
    let path = path.ok_or(Refusal::Reply(ErrorCode::BadArguments))?;
    if acl.has_null_world_id {
        return Err(Refusal::Reply(ErrorCode::MarshallingError));
    }
    Ok(WriteOp::SetAcl {
        path,
        acl: acl.acl,
        version,
    })
}

fn check(reader: &mut Reader<'_>) -> Result<WriteOp, Refusal> {
    let path = read::ustring_opt(reader)?;
    let version = reader.read_i32()?;
    let path = path.ok_or(Refusal::Reply(ErrorCode::BadArguments))?;
    Ok(WriteOp::Check { path, version })
}

/// Corral does not support dynamic reconfiguration: ZooKeeper without `reconfigEnabled` decodes
/// the ReconfigRequest and answers ReconfigDisabled.
fn reconfig(reader: &mut Reader<'_>) -> Refusal {
    let record = (|| -> Result<(), WireError> {
        for _field in ["joiningServers", "leavingServers", "newMembers"] {
            read::ustring_opt(reader)?;
        }
        reader.read_i64()?;
        Ok(())
    })();
    match record {
        Ok(()) => Refusal::Reply(ErrorCode::ReconfigDisabled),
        Err(error) => error.into(),
    }
}

/// The read ops of a multiRead, as `multi` decodes them.
pub fn read_op(opcode: i32, reader: &mut Reader<'_>) -> Result<ReadOp, Refusal> {
    let path = path(reader, ErrorCode::MarshallingError)?;
    // The watch flag is read and then dropped, as ZooKeeper does.
    reader.read_bool()?;
    Ok(if opcode == opcode::GET_DATA {
        ReadOp::GetData { path }
    } else {
        ReadOp::GetChildren { path }
    })
}
