//! The client codec of `corral-net`: decoding the common requests from complete frames, and
//! encoding their replies and a watch event into a reused output buffer, as a connection does.
//!
//! `cargo bench -p corral-bench --bench jute_codec`
//!
//! Frames are built here field by field in ZooKeeper's jute layout (what a Java or C client
//! sends, without the 4-byte length prefix that the connection strips); each is decoded once
//! before measuring and must decode to the expected request. Groups:
//! - `jute_decode`: create, setData (100-byte values), getData, exists, getChildren, and a multi
//!   of 10 ops (creates, setDatas, checks and deletes); throughput in frame bytes.
//! - `jute_encode`: the exists reply (a Stat), a setData reply, a getData reply (100 bytes plus
//!   its Stat), a getChildren reply of 100 names, the multi's reply, and a watch event;
//!   throughput in bytes written.
//! - `jute_elements`: the multi decode and encode per op, and the 100-name list per name.
//!
//! `CORRAL_BENCH_CLOCK=cpu` times with the thread's CPU time (see `support::BenchClock`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use corral_engine::types::{perms, Data, OpResult, Stat, WriteOp};
use corral_engine::wire::Writer;
use corral_net::jute::{
    decode_request, encode_event, encode_reply, encode_write_reply, opcode, Reply, ReplyShape,
    Request, WriteRequest, NOTIFICATION_ZXID,
};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

mod support;
use support::BenchClock;

/// Data size of the create and setData requests and of the getData reply: the size the
/// comparison with ZooKeeper uses.
const VALUE_BYTES: usize = 100;
/// Ops in the multi request and its reply.
const MULTI_OPS: usize = 10;
/// Names in the getChildren reply.
const CHILDREN: usize = 100;
/// A leaf path as `corral_bench::tree` lays out a million nodes.
const LEAF_PATH: &str = "/bench/d00042/n0000042000";
/// ZooKeeper's KeeperState.SyncConnected, the state of every event a live session receives.
const STATE_SYNC_CONNECTED: i32 = 3;
/// EventType.NodeDataChanged.
const EVENT_NODE_DATA_CHANGED: i32 = 3;

/// A request frame body: RequestHeader {xid, type} then the record.
fn frame(xid: i32, op: i32, record: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut writer = Writer::new(&mut bytes);
    writer.i32(xid).i32(op);
    record(&mut writer);
    bytes
}

/// CreateRequest {path, data, acl, flags} with the open ACL (world:anyone, all permissions).
fn create_record(writer: &mut Writer<'_>, path: &str, value: &[u8]) {
    writer.string(path).buffer(value);
    writer
        .i32(1)
        .i32(perms::ALL)
        .string("world")
        .string("anyone");
    writer.i32(0);
}

/// SetDataRequest {path, data, version}, version −1 (any).
fn set_data_record(writer: &mut Writer<'_>, path: &str, value: &[u8]) {
    writer.string(path).buffer(value).i32(-1);
}

/// A multi of `MULTI_OPS` ops cycling through create, setData, check and delete: each op is
/// MultiHeader {type, done = false, err = −1} + its record, then the ending header.
fn multi_frame(value: &[u8]) -> Vec<u8> {
    frame(10, opcode::MULTI, |writer| {
        for index in 0..MULTI_OPS {
            let path = format!("/bench/d00007/m{index:010}");
            let kind = [
                opcode::CREATE,
                opcode::SET_DATA,
                opcode::CHECK,
                opcode::DELETE,
            ][index % 4];
            writer.i32(kind).bool(false).i32(-1);
            match kind {
                opcode::CREATE => create_record(writer, &path, value),
                opcode::SET_DATA => set_data_record(writer, &path, value),
                // CheckVersionRequest and DeleteRequest are both {path, version}.
                _ => {
                    writer.string(&path).i32(3);
                }
            }
        }
        writer.i32(-1).bool(true).i32(-1);
    })
}

/// The request frames by name, each checked to decode to what it was built as.
fn request_frames() -> Vec<(&'static str, Vec<u8>)> {
    let value = vec![b'v'; VALUE_BYTES];
    let frames = vec![
        (
            "create",
            frame(1, opcode::CREATE, |writer| {
                create_record(writer, LEAF_PATH, &value)
            }),
        ),
        (
            "set_data",
            frame(2, opcode::SET_DATA, |writer| {
                set_data_record(writer, LEAF_PATH, &value)
            }),
        ),
        (
            "get_data",
            frame(3, opcode::GET_DATA, |writer| {
                writer.string(LEAF_PATH).bool(false);
            }),
        ),
        (
            "exists",
            frame(4, opcode::EXISTS, |writer| {
                writer.string(LEAF_PATH).bool(true);
            }),
        ),
        (
            "get_children",
            frame(5, opcode::GET_CHILDREN, |writer| {
                writer.string("/bench/d00042").bool(false);
            }),
        ),
        ("multi_10", multi_frame(&value)),
    ];
    for (name, bytes) in &frames {
        let decoded = decode_request(bytes).map(|(_, request)| request);
        let expected = match (*name, &decoded) {
            ("create", Ok(Request::Write(write))) => matches!(write.op, WriteOp::Create(_)),
            ("set_data", Ok(Request::Write(write))) => matches!(write.op, WriteOp::SetData { .. }),
            ("get_data", Ok(Request::GetData { .. })) => true,
            ("exists", Ok(Request::Exists { watch: true, .. })) => true,
            ("get_children", Ok(Request::GetChildren { .. })) => true,
            ("multi_10", Ok(Request::Write(write))) => {
                matches!(&write.op, WriteOp::Multi(ops) if ops.len() == MULTI_OPS)
            }
            _ => false,
        };
        assert!(expected, "frame {name} decoded to {decoded:?}");
    }
    frames
}

fn jute_decode(criterion: &mut Criterion<BenchClock>) {
    let mut group = criterion.benchmark_group("jute_decode");
    configure(&mut group);
    for (name, bytes) in request_frames() {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |bencher| {
            bencher.iter(|| black_box(decode_request(black_box(&bytes))))
        });
    }
    group.finish();
}

/// A Stat as a setData on a node created long ago leaves it.
fn sample_stat() -> Stat {
    Stat {
        czxid: 0x1_0000_0042,
        mzxid: 0x1_0004_2a17,
        ctime: 1_764_000_000_000,
        mtime: 1_764_000_123_456,
        version: 17,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: VALUE_BYTES as i32,
        num_children: 0,
        pzxid: 0x1_0000_0042,
    }
}

/// The multi request's reply shape (from decoding it) and its successful results.
fn multi_reply_parts() -> (ReplyShape, OpResult) {
    let frames = request_frames();
    let multi = frames.iter().find(|(name, _)| *name == "multi_10");
    let Some(Ok((_, Request::Write(WriteRequest { op, shape })))) =
        multi.map(|(_, bytes)| decode_request(bytes))
    else {
        panic!("the multi frame does not decode to a write");
    };
    let WriteOp::Multi(ops) = op else {
        panic!("the multi frame decodes to {op:?}");
    };
    let results = ops
        .iter()
        .map(|op| match op {
            WriteOp::Create(create) => OpResult::Create {
                path: create.path.clone(),
                stat: sample_stat(),
            },
            WriteOp::SetData { .. } => OpResult::SetData {
                stat: sample_stat(),
            },
            WriteOp::Check { .. } => OpResult::Check,
            WriteOp::Delete { .. } => OpResult::Delete,
            other => panic!("unexpected op in the multi: {other:?}"),
        })
        .collect();
    (shape, OpResult::Multi(results))
}

/// One encoder: appends a complete framed reply to `out`.
type Encoder<'a> = Box<dyn Fn(&mut Vec<u8>) + 'a>;

fn jute_encode(criterion: &mut Criterion<BenchClock>) {
    let data: Data = Arc::from(vec![b'v'; VALUE_BYTES]);
    let children: Vec<String> = (0..CHILDREN).map(|index| format!("n{index:010}")).collect();
    let (multi_shape, multi_result) = multi_reply_parts();
    let set_result = OpResult::SetData {
        stat: sample_stat(),
    };
    let zxid = 0x1_0004_2a18;
    let encoders: Vec<(&str, Encoder<'_>)> = vec![
        (
            "exists_stat",
            Box::new(|out| encode_reply(out, 4, zxid, Ok(Reply::Stat(sample_stat())))),
        ),
        (
            "set_data_stat",
            Box::new(|out| encode_write_reply(out, 2, zxid, &ReplyShape::SetData, &set_result)),
        ),
        (
            "get_data_100b",
            Box::new(|out| {
                let reply = Reply::Data {
                    data: &data,
                    stat: sample_stat(),
                };
                encode_reply(out, 3, zxid, Ok(reply))
            }),
        ),
        (
            "get_children_100",
            Box::new(|out| encode_reply(out, 5, zxid, Ok(Reply::Children(&children)))),
        ),
        (
            "multi_10",
            Box::new(|out| encode_write_reply(out, 10, zxid, &multi_shape, &multi_result)),
        ),
        (
            "watch_event",
            Box::new(|out| {
                encode_event(
                    out,
                    NOTIFICATION_ZXID,
                    EVENT_NODE_DATA_CHANGED,
                    STATE_SYNC_CONNECTED,
                    LEAF_PATH,
                )
            }),
        ),
    ];
    let mut group = criterion.benchmark_group("jute_encode");
    configure(&mut group);
    let mut out = Vec::with_capacity(64 * 1024);
    for (name, encode) in &encoders {
        out.clear();
        encode(&mut out);
        group.throughput(Throughput::Bytes(out.len() as u64));
        group.bench_function(*name, |bencher| {
            bencher.iter(|| {
                // The connection's output buffer is reused: only the first reply grows it.
                out.clear();
                encode(&mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

/// The list-shaped records again, with throughput per element (op or name).
fn jute_elements(criterion: &mut Criterion<BenchClock>) {
    let frames = request_frames();
    let multi_frame = frames
        .iter()
        .find(|(name, _)| *name == "multi_10")
        .map(|(_, bytes)| bytes.clone())
        .unwrap_or_default();
    let children: Vec<String> = (0..CHILDREN).map(|index| format!("n{index:010}")).collect();
    let (multi_shape, multi_result) = multi_reply_parts();
    let mut group = criterion.benchmark_group("jute_elements");
    configure(&mut group);
    let mut out = Vec::with_capacity(64 * 1024);
    group.throughput(Throughput::Elements(MULTI_OPS as u64));
    group.bench_function("decode_multi_per_op", |bencher| {
        bencher.iter(|| black_box(decode_request(black_box(&multi_frame))))
    });
    group.bench_function("encode_multi_reply_per_op", |bencher| {
        bencher.iter(|| {
            out.clear();
            encode_write_reply(&mut out, 10, 1, &multi_shape, &multi_result);
            black_box(out.len())
        })
    });
    group.throughput(Throughput::Elements(CHILDREN as u64));
    group.bench_function("encode_children_per_name", |bencher| {
        bencher.iter(|| {
            out.clear();
            encode_reply(&mut out, 5, 1, Ok(Reply::Children(&children)));
            black_box(out.len())
        })
    });
    group.finish();
}

/// Each codec call takes well under a microsecond to a few microseconds: a short warm-up and a
/// few seconds of samples give tight intervals and keep the whole bench near a minute.
fn configure(group: &mut BenchmarkGroup<'_, BenchClock>) {
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(BenchClock::from_env());
    targets = jute_decode, jute_encode, jute_elements
}
criterion_main!(benches);
