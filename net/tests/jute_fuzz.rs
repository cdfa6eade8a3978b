//! Random and mutated frames never panic the decoders, and what they return stays within a
//! small multiple of the frame's size whatever counts and lengths the bytes claim.

use corral_engine::types::{Acl, WriteOp};
use corral_net::jute::{
    decode_connect, decode_request_with, DecodeError, DecodeOptions, ReadOp, Request,
};
use proptest::prelude::*;

/// Lossy UTF-8 decoding turns one bad byte into a 3-byte U+FFFD, the only way decoded text can
/// outgrow the bytes it came from.
const EXPANSION_MAX: usize = 3;

fn acl_bytes(acl: &[Acl]) -> usize {
    acl.iter()
        .map(|entry| entry.id.scheme.len() + entry.id.id.len())
        .sum()
}

fn write_bytes(op: &WriteOp) -> usize {
    match op {
        WriteOp::Create(create) => create.path.len() + create.data.len() + acl_bytes(&create.acl),
        WriteOp::Delete { path, .. } | WriteOp::Check { path, .. } | WriteOp::Sync { path } => {
            path.len()
        }
        WriteOp::SetData { path, data, .. } => path.len() + data.len(),
        WriteOp::SetAcl { path, acl, .. } => path.len() + acl_bytes(acl),
        WriteOp::Multi(ops) => ops.iter().map(write_bytes).sum(),
        _ => 0,
    }
}

/// The bytes a decoded request holds, and how many elements its vectors hold.
fn payload(request: &Request) -> (usize, usize) {
    let strings = |list: &[String]| list.iter().map(String::len).sum::<usize>();
    match request {
        Request::Write(write) => {
            let elements = match &write.op {
                WriteOp::Multi(ops) => ops.len(),
                _ => 1,
            };
            (write_bytes(&write.op), elements)
        }
        Request::SetWatches(set) => {
            let lists = [
                &set.data,
                &set.exist,
                &set.child,
                &set.persistent,
                &set.persistent_recursive,
            ];
            let bytes = lists.iter().map(|list| strings(list)).sum();
            let elements = lists.iter().map(|list| list.len()).sum();
            (bytes, elements)
        }
        Request::MultiRead(ops) => {
            let bytes = ops
                .iter()
                .map(|op| match op {
                    ReadOp::GetData { path } | ReadOp::GetChildren { path } => path.len(),
                })
                .sum();
            (bytes, ops.len())
        }
        Request::Auth { scheme, auth, .. } => (scheme.len() + auth.len(), 1),
        Request::Sasl { token } => (token.len(), 1),
        Request::Exists { path, .. }
        | Request::GetData { path, .. }
        | Request::GetChildren { path, .. }
        | Request::GetChildren2 { path, .. }
        | Request::GetAcl { path }
        | Request::GetAllChildrenNumber { path }
        | Request::AddWatch { path, .. }
        | Request::CheckWatches { path, .. }
        | Request::RemoveWatches { path, .. } => (path.len(), 1),
        Request::GetEphemerals { prefix } => (prefix.len(), 1),
        Request::Ping | Request::CloseSession | Request::WhoAmI => (0, 0),
    }
}

fn check_request(frame: &[u8], options: &DecodeOptions) {
    match decode_request_with(frame, options) {
        Ok((_, request)) => {
            let (bytes, elements) = payload(&request);
            assert!(
                bytes <= EXPANSION_MAX * frame.len(),
                "{bytes} bytes from {} bytes",
                frame.len()
            );
            // Every vector element or multi op costs at least 4 bytes on the wire.
            assert!(
                elements <= frame.len() / 4 + 1,
                "{elements} elements from {} bytes",
                frame.len()
            );
        }
        Err(error) => {
            // Whatever the error, answering it must not panic either.
            let mut out = Vec::new();
            let close = error.encode_reply(&mut out, 1);
            if let DecodeError::Malformed(_) = error {
                assert!(close && out.is_empty());
            }
        }
    }
}

fn int(value: i32) -> Vec<u8> {
    value.to_be_bytes().to_vec()
}
fn ustring(text: &str) -> Vec<u8> {
    [int(text.len() as i32), text.as_bytes().to_vec()].concat()
}
fn multi_header(op_type: i32, done: bool) -> Vec<u8> {
    [int(op_type), vec![done as u8], int(-1)].concat()
}

/// Valid frames of many kinds, for mutation.
fn seeds() -> Vec<Vec<u8>> {
    let acl = [int(1), int(31), ustring("world"), ustring("anyone")].concat();
    let create = [ustring("/a/b"), ustring("data"), acl.clone(), int(0)].concat();
    vec![
        [int(1), int(1), create.clone()].concat(),
        [
            int(1),
            int(21),
            ustring("/t"),
            ustring("d"),
            acl.clone(),
            int(5),
            1000i64.to_be_bytes().to_vec(),
        ]
        .concat(),
        [int(2), int(4), ustring("/a"), vec![1]].concat(),
        [int(3), int(5), ustring("/a"), ustring("xyz"), int(-1)].concat(),
        [int(4), int(7), ustring("/a"), acl.clone(), int(0)].concat(),
        [
            int(5),
            int(14),
            multi_header(1, false),
            create.clone(),
            multi_header(2, false),
            ustring("/a"),
            int(-1),
            multi_header(13, false),
            ustring("/a"),
            int(3),
            multi_header(-1, true),
        ]
        .concat(),
        [
            int(6),
            int(22),
            multi_header(4, false),
            ustring("/a"),
            vec![0],
            multi_header(8, false),
            ustring("/"),
            vec![1],
            multi_header(-1, true),
        ]
        .concat(),
        [
            int(-8),
            int(105),
            7i64.to_be_bytes().to_vec(),
            int(1),
            ustring("/a"),
            int(0),
            int(1),
            ustring("/b"),
            int(0),
            int(0),
        ]
        .concat(),
        [int(-4), int(100), int(0), ustring("digest"), ustring("u:p")].concat(),
        [int(7), int(106), ustring("/w"), int(1)].concat(),
        [int(8), int(103), ustring("/e")].concat(),
    ]
}

fn connect_seed() -> Vec<u8> {
    [
        int(0),
        0i64.to_be_bytes().to_vec(),
        int(30000),
        0i64.to_be_bytes().to_vec(),
        int(16),
        vec![0; 16],
        vec![0],
    ]
    .concat()
}

#[derive(Debug, Clone)]
enum Mutation {
    Set {
        index: usize,
        value: u8,
    },
    /// Overwrites four bytes with a count or length that lies.
    Count {
        index: usize,
        value: i32,
    },
    Truncate {
        length: usize,
    },
    Insert {
        index: usize,
        bytes: Vec<u8>,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(index, value)| Mutation::Set { index, value }),
        (
            any::<usize>(),
            prop_oneof![
                Just(-1),
                Just(-2),
                Just(i32::MAX),
                Just(i32::MIN),
                Just(0x7fff),
                0..64i32
            ]
        )
            .prop_map(|(index, value)| Mutation::Count { index, value }),
        any::<usize>().prop_map(|length| Mutation::Truncate { length }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(index, bytes)| Mutation::Insert { index, bytes }),
    ]
}

fn apply(frame: &mut Vec<u8>, mutation: &Mutation) {
    if frame.is_empty() {
        return;
    }
    match mutation {
        Mutation::Set { index, value } => {
            let index = index % frame.len();
            frame[index] = *value;
        }
        Mutation::Count { index, value } => {
            if frame.len() >= 4 {
                let index = index % (frame.len() - 3);
                frame[index..index + 4].copy_from_slice(&value.to_be_bytes());
            }
        }
        Mutation::Truncate { length } => frame.truncate(length % (frame.len() + 1)),
        Mutation::Insert { index, bytes } => {
            let index = index % (frame.len() + 1);
            frame.splice(index..index, bytes.iter().copied());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(frame in proptest::collection::vec(any::<u8>(), 0..256), ttl in any::<bool>()) {
        check_request(&frame, &DecodeOptions { extended_types_enabled: ttl });
        if let Ok(connect) = decode_connect(&frame) {
            prop_assert!(connect.password.len() <= frame.len());
        }
    }

    #[test]
    fn random_bodies_after_valid_headers_never_panic(
        opcode in prop_oneof![-12..25i32, 99..109i32],
        body in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let frame = [int(1), int(opcode), body].concat();
        check_request(&frame, &DecodeOptions { extended_types_enabled: true });
    }

    #[test]
    fn mutated_valid_frames_never_panic(
        seed in 0..11usize,
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut frame = seeds()[seed].clone();
        let options = DecodeOptions { extended_types_enabled: true };
        prop_assert!(decode_request_with(&frame, &options).is_ok());
        for mutation in &mutations {
            apply(&mut frame, mutation);
        }
        check_request(&frame, &options);
    }

    #[test]
    fn mutated_connect_frames_never_panic(mutations in proptest::collection::vec(mutation(), 1..6)) {
        let mut frame = connect_seed();
        for mutation in &mutations {
            apply(&mut frame, mutation);
        }
        if let Ok(connect) = decode_connect(&frame) {
            prop_assert!(connect.password.len() + 28 <= frame.len());
        }
    }
}

#[test]
fn a_huge_claimed_count_allocates_nothing() {
    // setWatches claiming 2^31 − 1 paths in a 20-byte frame.
    let frame = [
        int(-8),
        int(101),
        0i64.to_be_bytes().to_vec(),
        int(i32::MAX),
    ]
    .concat();
    let error = decode_request_with(&frame, &DecodeOptions::default()).unwrap_err();
    assert!(matches!(error, DecodeError::Reply { .. }));
}

#[test]
fn a_multi_of_many_tiny_ops_stays_bounded() {
    // 10 000 deletes of "/": the op count is bounded by the frame, at least 17 bytes per op.
    let op = [multi_header(2, false), ustring("/"), int(-1)].concat();
    let mut frame = [int(1), int(14)].concat();
    for _ in 0..10_000 {
        frame.extend_from_slice(&op);
    }
    frame.extend(multi_header(-1, true));
    let (_, request) = decode_request_with(&frame, &DecodeOptions::default()).unwrap();
    let Request::Write(write) = request else {
        panic!("not a write")
    };
    let WriteOp::Multi(ops) = write.op else {
        panic!("not a multi")
    };
    assert_eq!(ops.len(), 10_000);
}
