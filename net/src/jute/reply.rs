//! Replies, notifications and the answers to undecodable requests, each appended to a caller's
//! buffer with its 4-byte length prefix so that one socket write can carry many.
//!
//! Every reply starts with ReplyHeader {xid, zxid, err}. A failed request is the header alone,
//! except a multi (its header says Ok and each op carries its code) and a multiRead (each op
//! fails on its own).

use corral_engine::types::{is_null_data, Acl, Data, ErrorCode, OpResult, Stat};
use corral_engine::wire::Writer;

use super::{opcode, xid, DecodeError, MultiOpShape, MultiShape, ReadResult, Reply, ReplyShape};

/// Appends a length prefix, then whatever `body` writes, then patches the length in.
pub fn framed(out: &mut Vec<u8>, body: impl FnOnce(&mut Writer<'_>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    body(&mut Writer::new(out));
    let length = out.len() - start - 4;
    // Replies are built from values bounded by the server's own limits, far below 2 GiB.
    let length = i32::try_from(length).unwrap_or(i32::MAX);
    out[start..start + 4].copy_from_slice(&length.to_be_bytes());
}

fn reply_header(writer: &mut Writer<'_>, xid: i32, zxid: i64, error: ErrorCode) {
    writer.i32(xid).i64(zxid).i32(error.code());
}

pub fn write_stat(writer: &mut Writer<'_>, stat: &Stat) {
    writer
        .i64(stat.czxid)
        .i64(stat.mzxid)
        .i64(stat.ctime)
        .i64(stat.mtime)
        .i32(stat.version)
        .i32(stat.cversion)
        .i32(stat.aversion)
        .i64(stat.ephemeral_owner)
        .i32(stat.data_length)
        .i32(stat.num_children)
        .i64(stat.pzxid);
}

fn write_strings(writer: &mut Writer<'_>, strings: &[String]) {
    writer.i32(vector_length(strings.len()));
    for string in strings {
        writer.string(string);
    }
}

fn write_acl(writer: &mut Writer<'_>, acl: &[Acl]) {
    writer.i32(vector_length(acl.len()));
    for entry in acl {
        writer
            .i32(entry.perms)
            .string(&entry.id.scheme)
            .string(&entry.id.id);
    }
}

fn vector_length(length: usize) -> i32 {
    i32::try_from(length).unwrap_or(i32::MAX)
}

/// A read's reply, or the error header. The caller passes the last applied zxid.
pub fn encode_reply(out: &mut Vec<u8>, xid: i32, zxid: i64, reply: Result<Reply<'_>, ErrorCode>) {
    framed(out, |writer| match reply {
        Err(error) => reply_header(writer, xid, zxid, error),
        Ok(reply) => {
            reply_header(writer, xid, zxid, ErrorCode::Ok);
            write_reply_body(writer, reply);
        }
    });
}

fn write_reply_body(writer: &mut Writer<'_>, reply: Reply<'_>) {
    match reply {
        Reply::Empty => {}
        Reply::Stat(stat) => write_stat(writer, &stat),
        Reply::Data { data, stat } => {
            write_data(writer, data);
            write_stat(writer, &stat);
        }
        Reply::Children(children) | Reply::Ephemerals(children) => write_strings(writer, children),
        Reply::Children2 { children, stat } => {
            write_strings(writer, children);
            write_stat(writer, &stat);
        }
        Reply::Acl { acl, stat } => {
            write_acl(writer, acl);
            write_stat(writer, &stat);
        }
        Reply::Number(number) => {
            writer.i32(number);
        }
        Reply::WhoAmI(ids) => {
            writer.i32(vector_length(ids.len()));
            for id in ids {
                writer.string(&id.scheme).string(&id.id);
            }
        }
        Reply::MultiRead(results) => write_multi_read(writer, &results),
        Reply::AddWatch => {
            writer.i32(0);
        }
        Reply::Sasl(Some(token)) => {
            writer.buffer(token);
        }
        Reply::Sasl(None) => {
            writer.null_buffer();
        }
    }
}

fn multi_header(writer: &mut Writer<'_>, op_type: i32, error: ErrorCode) {
    writer.i32(op_type).bool(false).i32(error.code());
}

fn multi_error(writer: &mut Writer<'_>, error: ErrorCode) {
    multi_header(writer, opcode::ERROR, error);
    writer.i32(error.code());
}

fn multi_end(writer: &mut Writer<'_>) {
    writer.i32(-1).bool(true).i32(-1);
}

fn write_multi_read(writer: &mut Writer<'_>, results: &[Result<ReadResult, ErrorCode>]) {
    for result in results {
        match result {
            Ok(ReadResult::Data { data, stat }) => {
                multi_header(writer, opcode::GET_DATA, ErrorCode::Ok);
                write_data(writer, data);
                write_stat(writer, stat);
            }
            Ok(ReadResult::Children(children)) => {
                multi_header(writer, opcode::GET_CHILDREN, ErrorCode::Ok);
                write_strings(writer, children);
            }
            Err(error) => multi_error(writer, *error),
        }
    }
    multi_end(writer);
}

/// The reply to a ping: xid −2 whatever the ping's xid was, and the last applied zxid.
pub fn encode_ping_reply(out: &mut Vec<u8>, zxid: i64) {
    encode_reply(out, xid::PING, zxid, Ok(Reply::Empty));
}

/// A watch notification: ReplyHeader {−1, zxid, 0} + WatcherEvent {type, state, path}.
/// ZooKeeper 3.8 sends `NOTIFICATION_ZXID` (−1) as the zxid.
pub fn encode_event(out: &mut Vec<u8>, zxid: i64, event_type: i32, state: i32, path: &str) {
    framed(out, |writer| {
        reply_header(writer, xid::NOTIFICATION, zxid, ErrorCode::Ok);
        writer.i32(event_type).i32(state).string(path);
    });
}

impl DecodeError {
    /// Appends ZooKeeper's answer to the undecodable request, if it sends one, and returns
    /// whether the connection must be closed once the answer is out. `last_zxid` is the last
    /// applied zxid. (ZooKeeper logs an error transaction for a refused write, so its reply
    /// carries a fresh zxid; Corral's carries the last one.)
    pub fn encode_reply(&self, out: &mut Vec<u8>, last_zxid: i64) -> bool {
        match self {
            DecodeError::Malformed(_) => true,
            DecodeError::Reply {
                xid,
                code,
                empty_multi_body,
            } => {
                framed(out, |writer| {
                    reply_header(writer, *xid, last_zxid, *code);
                    if *empty_multi_body {
                        multi_end(writer);
                    }
                });
                false
            }
            DecodeError::Unknown { xid, .. } => {
                // Answered before any zxid is assigned, hence −1.
                encode_reply(out, *xid, -1, Err(ErrorCode::Unimplemented));
                true
            }
        }
    }
}

/// A write's reply from its result. `zxid` is the zxid the write took (`Applied::zxid`).
pub fn encode_write_reply(
    out: &mut Vec<u8>,
    xid: i32,
    zxid: i64,
    shape: &ReplyShape,
    result: &OpResult,
) {
    framed(out, |writer| {
        if let OpResult::Error(error) = result {
            reply_header(writer, xid, zxid, *error);
            return;
        }
        if let (ReplyShape::Multi(multi), OpResult::Multi(results)) = (shape, result) {
            write_multi(writer, xid, zxid, multi, results);
            return;
        }
        // Written in place (no body buffer per reply); a mismatch is rolled back.
        let start = writer.bytes.len();
        reply_header(writer, xid, zxid, ErrorCode::Ok);
        if let Err(mismatch) = write_single_body(writer, shape, result) {
            log::error!("write result {result:?} does not fit reply shape {shape:?}: {mismatch}");
            writer.bytes.truncate(start);
            reply_header(writer, xid, zxid, ErrorCode::SystemError);
        }
    });
}

fn write_single_body(
    writer: &mut Writer<'_>,
    shape: &ReplyShape,
    result: &OpResult,
) -> Result<(), &'static str> {
    match (shape, result) {
        (ReplyShape::Create, OpResult::Create { path, .. }) => {
            writer.string(path);
        }
        (ReplyShape::Create2, OpResult::Create { path, stat }) => {
            writer.string(path);
            write_stat(writer, stat);
        }
        (ReplyShape::Delete, OpResult::Delete) | (ReplyShape::Check, OpResult::Check) => {}
        (ReplyShape::SetData, OpResult::SetData { stat })
        | (ReplyShape::SetAcl, OpResult::SetAcl { stat }) => write_stat(writer, stat),
        (ReplyShape::Sync, OpResult::Sync { path }) => {
            writer.string(path);
        }
        _ => return Err("mismatched kinds"),
    }
    Ok(())
}

/// A multi's reply. Its header says Ok unless the whole request failed; when an op failed,
/// every op is an ErrorResult: those before it Ok, it its code, those after it
/// RuntimeInconsistency (the engine reports those codes; ops the log never saw are after it).
fn write_multi(
    writer: &mut Writer<'_>,
    xid: i32,
    zxid: i64,
    shape: &MultiShape,
    results: &[OpResult],
) {
    let first_failure = results
        .iter()
        .position(|result| matches!(result, OpResult::Error(code) if *code != ErrorCode::Ok));
    // The stand-in for a failure found while decoding is the last op sent to the log, so it
    // fails only if nothing before it did; an earlier failure hides it, as in ZooKeeper.
    let decoded_failure = shape
        .failure
        .filter(|failure| first_failure.is_none_or(|index| index == failure.index));
    if let Some(failure) = decoded_failure {
        if first_failure.is_none() {
            log::error!("the engine accepted the failing stand-in of multi op {failure:?}");
        }
        if failure.whole_request {
            reply_header(writer, xid, zxid, failure.error);
            return;
        }
    } else if first_failure.is_none() {
        let start = writer.bytes.len();
        reply_header(writer, xid, zxid, ErrorCode::Ok);
        if write_multi_success(writer, &shape.ops, results).is_err() {
            log::error!("multi results {results:?} do not fit reply shape {shape:?}");
            writer.bytes.truncate(start);
            reply_header(writer, xid, zxid, ErrorCode::SystemError);
            return;
        }
        multi_end(writer);
        return;
    }
    reply_header(writer, xid, zxid, ErrorCode::Ok);
    for index in 0..shape.ops.len() {
        let error = match (decoded_failure, results.get(index)) {
            (Some(failure), _) if failure.index == index => failure.error,
            (_, Some(OpResult::Error(code))) => *code,
            (_, Some(_)) => ErrorCode::Ok,
            (_, None) => ErrorCode::RuntimeInconsistency,
        };
        multi_error(writer, error);
    }
    multi_end(writer);
}

fn write_multi_success(
    writer: &mut Writer<'_>,
    shapes: &[MultiOpShape],
    results: &[OpResult],
) -> Result<(), ()> {
    if shapes.len() != results.len() {
        return Err(());
    }
    for (shape, result) in shapes.iter().zip(results) {
        match (shape, result) {
            (MultiOpShape::Create, OpResult::Create { path, .. }) => {
                multi_header(writer, opcode::CREATE, ErrorCode::Ok);
                writer.string(path);
            }
            (MultiOpShape::Create2, OpResult::Create { path, stat }) => {
                multi_header(writer, opcode::CREATE2, ErrorCode::Ok);
                writer.string(path);
                write_stat(writer, stat);
            }
            (MultiOpShape::Delete, OpResult::Delete) => {
                multi_header(writer, opcode::DELETE, ErrorCode::Ok)
            }
            (MultiOpShape::SetData, OpResult::SetData { stat }) => {
                multi_header(writer, opcode::SET_DATA, ErrorCode::Ok);
                write_stat(writer, stat);
            }
            (MultiOpShape::Check, OpResult::Check) => {
                multi_header(writer, opcode::CHECK, ErrorCode::Ok)
            }
            _ => return Err(()),
        }
    }
    Ok(())
}

/// Node data; ZooKeeper's null data goes out as the null buffer.
fn write_data(writer: &mut Writer<'_>, data: &Data) {
    if is_null_data(data) {
        writer.null_buffer();
    } else {
        writer.buffer(data);
    }
}
