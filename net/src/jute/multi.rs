//! `multi` and `multiRead` bodies: a run of MultiHeader {type, done, err} + op record pairs,
//! ended by a header whose `done` is true (ZooKeeper ignores the ended header's other fields and
//! every `err` a client sends).
//!
//! ZooKeeper first decodes every op (any failure, an unknown op type, or a mix of read and write
//! ops fails the whole request with MarshallingError), then validates the ops in order and stops
//! at the first failure. A failure this decoder can see (bad create flags, for instance) must
//! still lose to an earlier op that fails in the tree, so it travels to the log as a check of
//! the empty path, which always fails there, and the reply puts the real code in its place.

use corral_engine::types::{ErrorCode, WriteOp};
use corral_engine::wire::Reader;

use super::create::{self, CreateRecord, OpFailure};
use super::read;
use super::request::{read_op, Refusal};
use super::{
    opcode, DecodeOptions, MultiFailure, MultiOpShape, MultiShape, ReadOp, ReplyShape, WriteRequest,
};

/// One op as decoded, before ZooKeeper's per-op validation.
enum ParsedOp {
    Create {
        header_type: i32,
        record: CreateRecord,
    },
    Delete {
        path: Option<String>,
        version: i32,
    },
    SetData {
        path: Option<String>,
        data: Vec<u8>,
        version: i32,
    },
    Check {
        path: Option<String>,
        version: i32,
    },
    Read(ReadOp),
}

impl ParsedOp {
    fn is_read(&self) -> bool {
        matches!(self, ParsedOp::Read(_))
    }
}

/// Decodes every op up to the ending header. Each iteration consumes at least the 9-byte
/// header, so the loop and the vector are bounded by the frame's length.
fn parse_ops(reader: &mut Reader<'_>) -> Result<Vec<ParsedOp>, Refusal> {
    let mut ops: Vec<ParsedOp> = Vec::new();
    loop {
        let op_type = reader.read_i32()?;
        let done = reader.read_bool()?;
        let _client_err = reader.read_i32()?;
        if done {
            return Ok(ops);
        }
        let op = parse_op(op_type, reader)?;
        if ops
            .first()
            .is_some_and(|first| first.is_read() != op.is_read())
        {
            return Err(Refusal::Reply(ErrorCode::MarshallingError));
        }
        ops.push(op);
    }
}

fn parse_op(op_type: i32, reader: &mut Reader<'_>) -> Result<ParsedOp, Refusal> {
    Ok(match op_type {
        opcode::CREATE | opcode::CREATE2 | opcode::CREATE_CONTAINER | opcode::CREATE_TTL => {
            ParsedOp::Create {
                header_type: op_type,
                record: create::read_create_record(reader, op_type == opcode::CREATE_TTL)?,
            }
        }
        opcode::DELETE => ParsedOp::Delete {
            path: read::ustring_opt(reader)?,
            version: reader.read_i32()?,
        },
        opcode::SET_DATA => ParsedOp::SetData {
            path: read::ustring_opt(reader)?,
            data: read::buffer(reader)?,
            version: reader.read_i32()?,
        },
        opcode::CHECK => ParsedOp::Check {
            path: read::ustring_opt(reader)?,
            version: reader.read_i32()?,
        },
        opcode::GET_DATA | opcode::GET_CHILDREN => ParsedOp::Read(read_op(op_type, reader)?),
        _ => return Err(Refusal::Reply(ErrorCode::MarshallingError)),
    })
}

/// The op that stands in the log for an op that decoding already knows fails: the empty path is
/// never valid, so the engine fails it whatever the tree holds.
fn failing_stand_in() -> WriteOp {
    WriteOp::Check {
        path: String::new(),
        version: -1,
    }
}

pub fn decode_multi(
    reader: &mut Reader<'_>,
    options: &DecodeOptions,
) -> Result<WriteRequest, Refusal> {
    let parsed = parse_ops(reader)?;
    // A multi of read ops fails in ZooKeeper on its first op (there is no transaction to log).
    if parsed.iter().any(ParsedOp::is_read) {
        return Err(Refusal::Reply(ErrorCode::MarshallingError));
    }
    let mut ops = Vec::with_capacity(parsed.len());
    let mut shape = MultiShape {
        ops: Vec::with_capacity(parsed.len()),
        failure: None,
    };
    for (index, op) in parsed.into_iter().enumerate() {
        if shape.failure.is_some() {
            // Ops after a failure are never validated; they only need their place in the reply.
            shape.ops.push(MultiOpShape::Check);
            continue;
        }
        match validate_op(op, options) {
            Ok((op, op_shape)) => {
                ops.push(op);
                shape.ops.push(op_shape);
            }
            Err(failure) => {
                let (error, whole_request) = match failure {
                    OpFailure::Op(error) => (error, false),
                    OpFailure::Whole(error) => (error, true),
                };
                ops.push(failing_stand_in());
                shape.ops.push(MultiOpShape::Check);
                shape.failure = Some(MultiFailure {
                    index,
                    error,
                    whole_request,
                });
            }
        }
    }
    Ok(WriteRequest {
        op: WriteOp::Multi(ops),
        shape: ReplyShape::Multi(shape),
    })
}

/// ZooKeeper's per-op checks that need no tree. Null paths fail as they do there: delete and
/// create dereference them (the whole multi fails), setData and check validate them first.
fn validate_op(
    op: ParsedOp,
    options: &DecodeOptions,
) -> Result<(WriteOp, MultiOpShape), OpFailure> {
    let null_path_validated = OpFailure::Op(ErrorCode::BadArguments);
    match op {
        ParsedOp::Create {
            header_type,
            record,
        } => {
            let (op, shape) = create::multi_create(header_type, record, options)?;
            Ok((WriteOp::Create(op), shape))
        }
        ParsedOp::Delete { path, version } => {
            let path = path.ok_or(OpFailure::Whole(ErrorCode::MarshallingError))?;
            Ok((WriteOp::Delete { path, version }, MultiOpShape::Delete))
        }
        ParsedOp::SetData {
            path,
            data,
            version,
        } => {
            let path = path.ok_or(null_path_validated)?;
            let data = data.into();
            let op = WriteOp::SetData {
                path,
                data,
                version,
            };
            Ok((op, MultiOpShape::SetData))
        }
        ParsedOp::Check { path, version } => {
            let path = path.ok_or(null_path_validated)?;
            Ok((WriteOp::Check { path, version }, MultiOpShape::Check))
        }
        // parse_ops and decode_multi leave no read op here.
        ParsedOp::Read(_) => Err(OpFailure::Whole(ErrorCode::MarshallingError)),
    }
}

pub fn decode_multi_read(reader: &mut Reader<'_>) -> Result<Vec<ReadOp>, Refusal> {
    let parsed = parse_ops(reader)?;
    let mut reads = Vec::with_capacity(parsed.len());
    for op in parsed {
        match op {
            ParsedOp::Read(read) => reads.push(read),
            // A multiRead of write ops decodes, then fails on its first op after ZooKeeper has
            // already started the (empty) multi response it sends along with the error.
            _ => return Err(Refusal::ReplyWithEmptyMulti(ErrorCode::MarshallingError)),
        }
    }
    Ok(reads)
}
