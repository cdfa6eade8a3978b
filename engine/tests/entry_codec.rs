//! The log-entry codec: every op round-trips, and corrupt input is an error, never a panic.

use std::sync::Arc;

use corral_engine::entry::{decode_batch, encode_batch, ENTRY_FORMAT_VERSION};
use corral_engine::types::{perms, Acl, CreateMode, CreateOp, Id, Txn, WriteOp};
use corral_engine::wire::WireError;
use proptest::prelude::*;

fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id::new(scheme, id),
    }
}

fn create(path: &str, mode: CreateMode, ttl_ms: i64) -> WriteOp {
    WriteOp::Create(CreateOp {
        path: path.to_owned(),
        data: Arc::from(&b"payload"[..]),
        acl: vec![
            acl(perms::ALL, "world", "anyone"),
            acl(perms::READ, "digest", "user:2Om+GBbT2q/tS6pdvACZbbm7/1A="),
        ],
        mode,
        ttl_ms,
    })
}

/// One op of every kind, every create mode, and a Multi holding the kinds it may hold.
fn every_op() -> Vec<WriteOp> {
    let mut ops: Vec<WriteOp> = (0..=6)
        .filter_map(CreateMode::from_flags)
        .map(|mode| {
            let ttl_ms = if mode.is_ttl() { 60_000 } else { -1 };
            create("/node", mode, ttl_ms)
        })
        .collect();
    ops.extend([
        WriteOp::Delete {
            path: "/a/b".to_owned(),
            version: -1,
        },
        WriteOp::SetData {
            path: "/a".to_owned(),
            data: Arc::from(&[0u8, 255, 7][..]),
            version: 3,
        },
        WriteOp::SetData {
            path: "/empty".to_owned(),
            data: Arc::from(&[][..]),
            version: i32::MAX,
        },
        WriteOp::SetAcl {
            path: "/a".to_owned(),
            acl: vec![acl(perms::ADMIN, "ip", "10.0.0.0/8")],
            version: 0,
        },
        WriteOp::Check {
            path: "/日本".to_owned(),
            version: i32::MIN,
        },
        WriteOp::Multi(vec![
            create("/m/1", CreateMode::EphemeralSequential, -1),
            WriteOp::Check {
                path: "/m".to_owned(),
                version: 2,
            },
            WriteOp::SetData {
                path: "/m".to_owned(),
                data: Arc::from(&b"x"[..]),
                version: -1,
            },
            WriteOp::Delete {
                path: "/m/0".to_owned(),
                version: 5,
            },
        ]),
        WriteOp::Multi(vec![]),
        WriteOp::CreateSession {
            timeout_ms: 30_000,
            password: *b"0123456789abcdef",
        },
        WriteOp::CloseSession,
        WriteOp::DeleteContainer {
            path: "/container".to_owned(),
        },
        WriteOp::Sync {
            path: "/".to_owned(),
        },
        WriteOp::Refused {
            code: corral_engine::types::ErrorCode::BadArguments,
        },
    ]);
    ops
}

fn txn(index: usize, op: WriteOp) -> Txn {
    Txn {
        session_id: 0x0123_4567_89ab_cdef_i64.wrapping_add(index as i64),
        cxid: index as i32 - 3,
        time_ms: 1_764_000_000_000 + index as i64,
        auth: vec![
            Id::new("ip", "127.0.0.1"),
            Id::new("digest", "user:2Om+GBbT2q/tS6pdvACZbbm7/1A="),
        ],
        op,
    }
}

fn encoded(txns: &[Txn]) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode_batch(txns, &mut bytes);
    bytes
}

#[test]
fn every_op_round_trips_alone() {
    for (index, op) in every_op().into_iter().enumerate() {
        let txns = vec![txn(index, op)];
        assert_eq!(decode_batch(&encoded(&txns)), Ok(txns));
    }
}

#[test]
fn a_batch_of_every_op_round_trips() {
    let txns: Vec<Txn> = every_op()
        .into_iter()
        .enumerate()
        .map(|(index, op)| txn(index, op))
        .collect();
    assert_eq!(decode_batch(&encoded(&txns)), Ok(txns));
}

#[test]
fn empty_batch_is_version_and_zero_count() {
    let bytes = encoded(&[]);
    assert_eq!(bytes, vec![ENTRY_FORMAT_VERSION, 0, 0, 0, 0]);
    assert_eq!(decode_batch(&bytes), Ok(vec![]));
}

#[test]
fn encode_appends_to_existing_bytes() {
    let txns = vec![txn(0, WriteOp::CloseSession)];
    let mut bytes = vec![9, 9];
    encode_batch(&txns, &mut bytes);
    assert_eq!(&bytes[..2], &[9, 9]);
    assert_eq!(decode_batch(&bytes[2..]), Ok(txns));
}

#[test]
fn close_session_layout_is_stable() {
    let txns = vec![Txn {
        session_id: 1,
        cxid: 2,
        time_ms: 3,
        auth: vec![],
        op: WriteOp::CloseSession,
    }];
    let expected: Vec<u8> = [
        &[ENTRY_FORMAT_VERSION][..],
        &1i32.to_be_bytes(),
        &1i64.to_be_bytes(),
        &2i32.to_be_bytes(),
        &3i64.to_be_bytes(),
        &0i32.to_be_bytes(),
        &[8],
    ]
    .concat();
    assert_eq!(encoded(&txns), expected);
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut bytes = encoded(&[txn(0, WriteOp::CloseSession)]);
    bytes.push(0);
    assert_eq!(
        decode_batch(&bytes),
        Err(WireError::Invalid("trailing bytes after entry"))
    );
}

#[test]
fn unknown_version_is_rejected() {
    let mut bytes = encoded(&[]);
    bytes[0] = ENTRY_FORMAT_VERSION + 1;
    assert_eq!(
        decode_batch(&bytes),
        Err(WireError::Invalid("unknown entry format version"))
    );
    assert!(decode_batch(&[]).is_err());
}

#[test]
fn every_truncation_is_an_error() {
    let txns: Vec<Txn> = every_op()
        .into_iter()
        .enumerate()
        .map(|(index, op)| txn(index, op))
        .collect();
    let bytes = encoded(&txns);
    for length in 0..bytes.len() {
        assert!(decode_batch(&bytes[..length]).is_err(), "length {length}");
    }
}

/// Builds the bytes of one txn whose op is `op_bytes`, with no auth ids.
fn raw_batch(op_bytes: &[u8]) -> Vec<u8> {
    [
        &[ENTRY_FORMAT_VERSION][..],
        &1i32.to_be_bytes(),
        &7i64.to_be_bytes(),
        &0i32.to_be_bytes(),
        &0i64.to_be_bytes(),
        &0i32.to_be_bytes(),
        op_bytes,
    ]
    .concat()
}

#[test]
fn nested_multi_is_rejected() {
    let inner_multi = [&[6u8][..], &0i32.to_be_bytes()].concat();
    let outer = [&[6u8][..], &1i32.to_be_bytes(), &inner_multi].concat();
    assert_eq!(
        decode_batch(&raw_batch(&outer)),
        Err(WireError::Invalid("Multi nested in a Multi in entry"))
    );
    // The same multi one level up is fine.
    assert!(decode_batch(&raw_batch(&inner_multi)).is_ok());
}

#[test]
#[should_panic(expected = "a Multi nested in a Multi")]
fn encoding_a_nested_multi_is_a_bug() {
    let nested = WriteOp::Multi(vec![WriteOp::Multi(vec![])]);
    encoded(&[txn(0, nested)]);
}

#[test]
fn unknown_tags_flags_and_null_strings_are_rejected() {
    assert_eq!(
        decode_batch(&raw_batch(&[0])),
        Err(WireError::Invalid("unknown op tag in entry"))
    );
    assert_eq!(
        decode_batch(&raw_batch(&[12])),
        Err(WireError::Invalid("unknown op tag in entry"))
    );
    let unknown_code = [&[11u8][..], &12345i32.to_be_bytes()].concat();
    assert_eq!(
        decode_batch(&raw_batch(&unknown_code)),
        Err(WireError::Invalid("unknown error code in entry"))
    );
    let null_path = [&[10u8][..], &(-1i32).to_be_bytes()].concat();
    assert_eq!(
        decode_batch(&raw_batch(&null_path)),
        Err(WireError::Invalid("null string in entry"))
    );
    let bad_flags = [
        &[1u8][..],
        &1i32.to_be_bytes(),
        b"/",
        &0i32.to_be_bytes(),
        &0i32.to_be_bytes(),
        &7i32.to_be_bytes(),
        &(-1i64).to_be_bytes(),
    ]
    .concat();
    assert_eq!(
        decode_batch(&raw_batch(&bad_flags)),
        Err(WireError::Invalid("unknown create flags in entry"))
    );
}

#[test]
fn forged_counts_do_not_allocate() {
    // A count of i32::MAX txns in a 5-byte input must fail before reserving anything.
    let bytes = [&[ENTRY_FORMAT_VERSION][..], &i32::MAX.to_be_bytes()].concat();
    assert!(matches!(
        decode_batch(&bytes),
        Err(WireError::BadLength { .. })
    ));
    let huge_multi = [&[6u8][..], &i32::MAX.to_be_bytes()].concat();
    assert!(matches!(
        decode_batch(&raw_batch(&huge_multi)),
        Err(WireError::BadLength { .. })
    ));
}

fn arb_id() -> impl Strategy<Value = Id> {
    ("[a-z]{0,6}", "\\PC{0,12}").prop_map(|(scheme, id)| Id { scheme, id })
}

fn arb_acl() -> impl Strategy<Value = Vec<Acl>> {
    prop::collection::vec(
        (any::<i32>(), arb_id()).prop_map(|(perms, id)| Acl { perms, id }),
        0..4,
    )
}

fn arb_data() -> impl Strategy<Value = Arc<[u8]>> {
    prop::collection::vec(any::<u8>(), 0..32).prop_map(Arc::from)
}

fn arb_leaf_op() -> impl Strategy<Value = WriteOp> {
    let path = "/\\PC{0,16}";
    prop_oneof![
        (path, arb_data(), arb_acl(), 0..=6i32, any::<i64>()).prop_map(
            |(path, data, acl, flags, ttl_ms)| {
                let mode = CreateMode::from_flags(flags).unwrap_or(CreateMode::Persistent);
                WriteOp::Create(CreateOp {
                    path,
                    data,
                    acl,
                    mode,
                    ttl_ms,
                })
            }
        ),
        (path, any::<i32>()).prop_map(|(path, version)| WriteOp::Delete { path, version }),
        (path, arb_data(), any::<i32>()).prop_map(|(path, data, version)| WriteOp::SetData {
            path,
            data,
            version
        }),
        (path, arb_acl(), any::<i32>()).prop_map(|(path, acl, version)| WriteOp::SetAcl {
            path,
            acl,
            version
        }),
        (path, any::<i32>()).prop_map(|(path, version)| WriteOp::Check { path, version }),
        (any::<i32>(), any::<[u8; 16]>()).prop_map(|(timeout_ms, password)| {
            WriteOp::CreateSession {
                timeout_ms,
                password,
            }
        }),
        Just(WriteOp::CloseSession),
        path.prop_map(|path| WriteOp::DeleteContainer { path }),
        path.prop_map(|path| WriteOp::Sync { path }),
    ]
}

fn arb_op() -> impl Strategy<Value = WriteOp> {
    prop_oneof![
        4 => arb_leaf_op(),
        1 => prop::collection::vec(arb_leaf_op(), 0..5).prop_map(WriteOp::Multi),
    ]
}

fn arb_txn() -> impl Strategy<Value = Txn> {
    (
        any::<i64>(),
        any::<i32>(),
        any::<i64>(),
        prop::collection::vec(arb_id(), 0..3),
        arb_op(),
    )
        .prop_map(|(session_id, cxid, time_ms, auth, op)| Txn {
            session_id,
            cxid,
            time_ms,
            auth,
            op,
        })
}

proptest! {
    #[test]
    fn random_batches_round_trip(txns in prop::collection::vec(arb_txn(), 0..6)) {
        prop_assert_eq!(decode_batch(&encoded(&txns)), Ok(txns));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_batch(&bytes);
        // Past the version byte, so the rest of the decoder sees the random bytes too.
        let versioned = [&[ENTRY_FORMAT_VERSION][..], &bytes].concat();
        let _ = decode_batch(&versioned);
    }

    #[test]
    fn mutated_entries_never_panic_and_decode_consistently(
        txns in prop::collection::vec(arb_txn(), 1..4),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = encoded(&txns);
        for (index, value) in flips {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        // Whatever still decodes must survive another round trip unchanged. (The bytes themselves
        // may differ: a count of -1, jute's null vector, decodes as an empty one.)
        if let Ok(decoded) = decode_batch(&bytes) {
            prop_assert_eq!(decode_batch(&encoded(&decoded)), Ok(decoded));
        }
    }
}

#[test]
fn null_data_stays_null_and_empty_data_stays_empty() {
    use corral_engine::types::{is_null_data, null_data, Data};
    let ops = vec![
        WriteOp::SetData {
            path: "/null".into(),
            data: null_data(),
            version: -1,
        },
        WriteOp::SetData {
            path: "/empty".into(),
            data: Data::from(Vec::new()),
            version: -1,
        },
    ];
    let txns: Vec<Txn> = ops
        .into_iter()
        .enumerate()
        .map(|(index, op)| txn(index, op))
        .collect();
    let decoded = decode_batch(&encoded(&txns)).expect("decodes");
    let nullness: Vec<bool> = decoded
        .iter()
        .map(|txn| match &txn.op {
            WriteOp::SetData { data, .. } => is_null_data(data),
            other => panic!("unexpected op {other:?}"),
        })
        .collect();
    assert_eq!(nullness, vec![true, false]);
}
