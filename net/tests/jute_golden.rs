//! Golden bytes for the client codec. Replies marked "captured" were recorded from a running
//! Apache ZooKeeper 3.8.0 answering the same request; the rest are built by hand from
//! zookeeper.jute.

use corral_engine::types::{
    Acl, CreateMode, CreateOp, Data, ErrorCode, Id, OpResult, Stat, WriteOp,
};
use corral_net::jute::{
    decode_connect, decode_request, decode_request_with, encode_connect_response, encode_event,
    encode_ping_reply, encode_reply, encode_write_reply, ConnectResponse, DecodeError,
    DecodeOptions, MultiFailure, MultiOpShape, MultiShape, ReadOp, ReadResult, Reply, ReplyShape,
    Request, RequestHeader, SetWatches,
};

// ----- byte builders, mirroring the jute encodings -----

fn int(value: i32) -> Vec<u8> {
    value.to_be_bytes().to_vec()
}
fn long(value: i64) -> Vec<u8> {
    value.to_be_bytes().to_vec()
}
fn boolean(value: bool) -> Vec<u8> {
    vec![value as u8]
}
fn buffer(bytes: &[u8]) -> Vec<u8> {
    [int(bytes.len() as i32), bytes.to_vec()].concat()
}
fn ustring(text: &str) -> Vec<u8> {
    buffer(text.as_bytes())
}
fn null() -> Vec<u8> {
    int(-1)
}
fn hex(text: &str) -> Vec<u8> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (0..clean.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&clean[index..index + 2], 16).unwrap())
        .collect()
}
fn world_acl() -> Vec<u8> {
    [int(1), int(31), ustring("world"), ustring("anyone")].concat()
}
fn request(xid: i32, opcode: i32, body: &[Vec<u8>]) -> Vec<u8> {
    [vec![int(xid), int(opcode)], body.to_vec()]
        .concat()
        .concat()
}
fn multi_header(op_type: i32, done: bool, err: i32) -> Vec<u8> {
    [int(op_type), boolean(done), int(err)].concat()
}
fn multi_end() -> Vec<u8> {
    multi_header(-1, true, -1)
}
fn create_body(path: &str, flags: i32) -> Vec<u8> {
    [ustring(path), buffer(b"x"), world_acl(), int(flags)].concat()
}
fn framed(body: &[u8]) -> Vec<u8> {
    [int(body.len() as i32), body.to_vec()].concat()
}

fn world() -> Vec<Acl> {
    vec![Acl {
        perms: 31,
        id: Id::new("world", "anyone"),
    }]
}

fn decode_ok(frame: &[u8]) -> (RequestHeader, Request) {
    decode_request(frame).expect("decodes")
}

fn refusal(xid: i32, code: ErrorCode) -> DecodeError {
    DecodeError::Reply {
        xid,
        code,
        empty_multi_body: false,
    }
}

const TTL_ON: DecodeOptions = DecodeOptions {
    extended_types_enabled: true,
};

/// The stat ZooKeeper returned for `/c` (czxid 0x12) in the captured create2 reply.
fn captured_stat() -> Stat {
    Stat {
        czxid: 0x12,
        mzxid: 0x12,
        ctime: 0x1a2122ea31b,
        mtime: 0x1a2122ea31b,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 1,
        num_children: 0,
        pzxid: 0x12,
    }
}
const CAPTURED_STAT_HEX: &str =
    "0000000000000012 0000000000000012 000001a2122ea31b 000001a2122ea31b
    00000000 00000000 00000000 0000000000000000 00000001 00000000 0000000000000012";

// ----- connect -----

#[test]
fn connect_request_of_45_bytes_has_read_only_flag() {
    let frame = [
        int(0),
        long(7),
        int(30000),
        long(0),
        buffer(&[0; 16]),
        boolean(true),
    ]
    .concat();
    assert_eq!(frame.len(), 45);
    let connect = decode_connect(&frame).unwrap();
    assert_eq!(connect.last_zxid_seen, 7);
    assert_eq!(connect.timeout_ms, 30000);
    assert_eq!(connect.password, vec![0; 16]);
    assert!(connect.read_only);
    assert!(connect.read_only_present);
}

#[test]
fn connect_request_of_44_bytes_is_an_old_client() {
    let frame = [
        int(0),
        long(0),
        int(4000),
        long(0x100000bd3a20001),
        buffer(&[9; 16]),
    ]
    .concat();
    assert_eq!(frame.len(), 44);
    let connect = decode_connect(&frame).unwrap();
    assert_eq!(connect.session_id, 0x100000bd3a20001);
    assert!(!connect.read_only);
    assert!(!connect.read_only_present);
}

#[test]
fn connect_request_ignores_trailing_bytes_and_reads_null_password_as_empty() {
    let frame = [
        int(0),
        long(0),
        int(1),
        long(0),
        null(),
        boolean(false),
        b"junk".to_vec(),
    ]
    .concat();
    let connect = decode_connect(&frame).unwrap();
    assert!(connect.password.is_empty());
    assert!(connect.read_only_present);
}

#[test]
fn connect_request_too_short_is_malformed() {
    let frame = [int(0), long(0), int(30000), long(0)].concat();
    assert!(matches!(
        decode_connect(&frame),
        Err(DecodeError::Malformed(_))
    ));
    let frame = [int(0), long(0), int(30000), long(0), int(16), vec![0; 15]].concat();
    assert!(matches!(
        decode_connect(&frame),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn connect_response_matches_captured_bytes() {
    let mut password = [0u8; 16];
    password.copy_from_slice(&hex("bf914ec369fe32205fc4f7878e273bda"));
    let response = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 30000,
        session_id: 0x100000bd3a20001,
        password,
        read_only: false,
    };
    let mut out = Vec::new();
    encode_connect_response(&mut out, &response, true);
    // Captured: 37 bytes for a client that sent readOnly.
    let body =
        hex("00000000 00007530 0100000bd3a20001 00000010 bf914ec369fe32205fc4f7878e273bda 00");
    assert_eq!(out, framed(&body));
    out.clear();
    encode_connect_response(&mut out, &response, false);
    // Captured: 36 bytes for a 44-byte ConnectRequest.
    assert_eq!(out, framed(&body[..36]));
}

// ----- header-level failures -----

#[test]
fn short_header_is_malformed() {
    for frame in [vec![], vec![0; 4], vec![0; 7]] {
        assert!(matches!(
            decode_request(&frame),
            Err(DecodeError::Malformed(_))
        ));
    }
}

#[test]
fn unknown_opcodes_are_answered_unimplemented_then_closed() {
    for opcode in [0, -1, 10, 99, 1000, -10] {
        let error = decode_request(&request(5, opcode, &[])).unwrap_err();
        assert_eq!(error, DecodeError::Unknown { xid: 5, opcode });
        let mut out = Vec::new();
        assert!(error.encode_reply(&mut out, 0x40));
        // Captured: header {5, −1, −6} and no body.
        assert_eq!(out, framed(&[int(5), long(-1), int(-6)].concat()));
    }
}

#[test]
fn delete_container_from_a_client_is_bad_arguments() {
    let error = decode_request(&request(5, 20, &[ustring("/g")])).unwrap_err();
    assert_eq!(error, refusal(5, ErrorCode::BadArguments));
    let mut out = Vec::new();
    assert!(!error.encode_reply(&mut out, 0x4d));
    assert_eq!(out, framed(&[int(5), long(0x4d), int(-8)].concat()));
}

#[test]
fn reconfig_is_disabled_and_a_broken_one_is_a_marshalling_error() {
    let body = [null(), null(), null(), long(-1)];
    let error = decode_request(&request(5, 16, &body)).unwrap_err();
    assert_eq!(error, refusal(5, ErrorCode::ReconfigDisabled));
    let error = decode_request(&request(5, 16, &[null()])).unwrap_err();
    assert_eq!(error, refusal(5, ErrorCode::MarshallingError));
}

// ----- reads -----

#[test]
fn path_and_watch_requests_decode() {
    type Build = fn(String, bool) -> Request;
    let cases: [(i32, Build); 4] = [
        (3, |path, watch| Request::Exists { path, watch }),
        (4, |path, watch| Request::GetData { path, watch }),
        (8, |path, watch| Request::GetChildren { path, watch }),
        (12, |path, watch| Request::GetChildren2 { path, watch }),
    ];
    for (opcode, build) in cases {
        let (header, decoded) = decode_ok(&request(9, opcode, &[ustring("/a/b"), boolean(true)]));
        assert_eq!(header, RequestHeader { xid: 9, opcode });
        assert_eq!(decoded, build("/a/b".into(), true));
    }
}

#[test]
fn truncated_read_is_a_marshalling_error_not_a_close() {
    // Captured: getData without its watch byte answers {23, zxid, −5}.
    let error = decode_request(&request(23, 4, &[ustring("/a")])).unwrap_err();
    assert_eq!(error, refusal(23, ErrorCode::MarshallingError));
    let mut out = Vec::new();
    assert!(!error.encode_reply(&mut out, 0x18));
    assert_eq!(out, framed(&[int(23), long(0x18), int(-5)].concat()));
}

#[test]
fn null_paths_fail_as_zookeeper_fails_them() {
    let exists = request(8, 3, &[null(), boolean(false)]);
    assert_eq!(
        decode_request(&exists).unwrap_err(),
        refusal(8, ErrorCode::MarshallingError)
    );
    let set_data = request(7, 5, &[null(), buffer(b""), int(-1)]);
    assert_eq!(
        decode_request(&set_data).unwrap_err(),
        refusal(7, ErrorCode::BadArguments)
    );
    let delete = request(6, 2, &[null(), int(-1)]);
    assert_eq!(
        decode_request(&delete).unwrap_err(),
        refusal(6, ErrorCode::MarshallingError)
    );
}

#[test]
fn exists_with_nul_is_bad_arguments() {
    let frame = request(30, 3, &[ustring("/a\0b"), boolean(false)]);
    assert_eq!(
        decode_request(&frame).unwrap_err(),
        refusal(30, ErrorCode::BadArguments)
    );
}

#[test]
fn invalid_utf8_is_replaced_as_java_does() {
    let frame = request(31, 4, &[buffer(b"/\xff\xfe"), boolean(false)]);
    let (_, decoded) = decode_ok(&frame);
    assert_eq!(
        decoded,
        Request::GetData {
            path: "/\u{fffd}\u{fffd}".into(),
            watch: false
        }
    );
}

#[test]
fn acl_getters_ephemerals_and_counts_decode() {
    assert_eq!(
        decode_ok(&request(1, 6, &[ustring("/a")])).1,
        Request::GetAcl { path: "/a".into() }
    );
    assert_eq!(
        decode_ok(&request(1, 104, &[ustring("/")])).1,
        Request::GetAllChildrenNumber { path: "/".into() }
    );
    for (prefix, expected) in [("/", ""), ("  ", ""), (" / ", ""), ("/app", "/app")] {
        assert_eq!(
            decode_ok(&request(1, 103, &[ustring(prefix)])).1,
            Request::GetEphemerals {
                prefix: expected.into()
            }
        );
    }
    assert_eq!(
        decode_ok(&request(1, 103, &[null()])).1,
        Request::GetEphemerals { prefix: "".into() }
    );
}

#[test]
fn ping_close_and_who_am_i_ignore_their_bodies() {
    assert_eq!(
        decode_ok(&request(-2, 11, &[b"extra".to_vec()])).1,
        Request::Ping
    );
    assert_eq!(decode_ok(&request(5, -11, &[])).1, Request::CloseSession);
    assert_eq!(decode_ok(&request(16, 107, &[])).1, Request::WhoAmI);
}

#[test]
fn watch_management_requests_decode_and_validate_their_kinds() {
    let add = decode_ok(&request(17, 106, &[ustring("/a"), int(1)])).1;
    assert_eq!(
        add,
        Request::AddWatch {
            path: "/a".into(),
            mode: 1
        }
    );
    let bad_mode = request(18, 106, &[ustring("/a"), int(7)]);
    assert_eq!(
        decode_request(&bad_mode).unwrap_err(),
        refusal(18, ErrorCode::MarshallingError)
    );
    let check = decode_ok(&request(19, 17, &[ustring("/a"), int(3)])).1;
    assert_eq!(
        check,
        Request::CheckWatches {
            path: "/a".into(),
            watcher_type: 3
        }
    );
    let remove = decode_ok(&request(22, 18, &[ustring("/a"), int(2)])).1;
    assert_eq!(
        remove,
        Request::RemoveWatches {
            path: "/a".into(),
            watcher_type: 2
        }
    );
    let bad_type = request(21, 17, &[ustring("/b"), int(9)]);
    assert_eq!(
        decode_request(&bad_type).unwrap_err(),
        refusal(21, ErrorCode::MarshallingError)
    );
}

#[test]
fn set_watches_both_versions_decode() {
    let v1 = request(
        -8,
        101,
        &[long(0x3d), int(1), ustring("/a"), int(0), int(-1)],
    );
    let expected = SetWatches {
        relative_zxid: 0x3d,
        data: vec!["/a".into()],
        ..SetWatches::default()
    };
    assert_eq!(decode_ok(&v1).1, Request::SetWatches(expected));
    let v2 = request(
        -8,
        105,
        &[
            long(0),
            int(0),
            int(0),
            int(0),
            int(1),
            ustring("/b"),
            int(2),
            ustring("/c"),
            ustring("/d"),
        ],
    );
    let expected = SetWatches {
        persistent: vec!["/b".into()],
        persistent_recursive: vec!["/c".into(), "/d".into()],
        ..SetWatches::default()
    };
    assert_eq!(decode_ok(&v2).1, Request::SetWatches(expected));
    let truncated = request(24, 101, &[long(0), int(1)]);
    assert_eq!(
        decode_request(&truncated).unwrap_err(),
        refusal(24, ErrorCode::MarshallingError)
    );
}

#[test]
fn auth_and_sasl_decode_and_close_when_broken() {
    let auth = request(-4, 100, &[int(0), ustring("digest"), buffer(b"u:p")]);
    assert_eq!(
        decode_ok(&auth).1,
        Request::Auth {
            auth_type: 0,
            scheme: "digest".into(),
            auth: b"u:p".to_vec()
        }
    );
    let broken = request(-4, 100, &[int(0), ustring("digest")]);
    let error = decode_request(&broken).unwrap_err();
    assert!(matches!(error, DecodeError::Malformed(_)));
    assert!(error.encode_reply(&mut Vec::new(), 0));
    let sasl = request(5, 102, &[buffer(b"token")]);
    assert_eq!(
        decode_ok(&sasl).1,
        Request::Sasl {
            token: b"token".to_vec()
        }
    );
}

#[test]
fn multi_read_decodes_reads_and_drops_watch_flags() {
    let frame = request(
        16,
        22,
        &[
            multi_header(4, false, -1),
            ustring("/m"),
            boolean(true),
            multi_header(8, false, -1),
            ustring("/n"),
            boolean(false),
            multi_end(),
        ],
    );
    assert_eq!(
        decode_ok(&frame).1,
        Request::MultiRead(vec![
            ReadOp::GetData { path: "/m".into() },
            ReadOp::GetChildren { path: "/n".into() }
        ])
    );
}

#[test]
fn multi_read_of_write_ops_answers_error_with_empty_multi_body() {
    let frame = request(
        18,
        22,
        &[
            multi_header(1, false, -1),
            create_body("/m/z", 0),
            multi_end(),
        ],
    );
    let error = decode_request(&frame).unwrap_err();
    let mut out = Vec::new();
    assert!(!error.encode_reply(&mut out, 0x2b));
    // Captured: (18, 0x2b, −5, 'ffffffff01ffffffff').
    assert_eq!(
        out,
        framed(&[int(18), long(0x2b), int(-5), hex("ffffffff01ffffffff")].concat())
    );
    // A mix of reads and writes fails while decoding: header only.
    let mixed = request(
        13,
        22,
        &[
            multi_header(4, false, -1),
            ustring("/m"),
            boolean(false),
            multi_header(1, false, -1),
            create_body("/x", 0),
            multi_end(),
        ],
    );
    assert_eq!(
        decode_request(&mixed).unwrap_err(),
        refusal(13, ErrorCode::MarshallingError)
    );
}

// ----- writes -----

fn write_of(frame: &[u8], options: &DecodeOptions) -> (WriteOp, ReplyShape) {
    match decode_request_with(frame, options) {
        Ok((_, Request::Write(write))) => (write.op, write.shape),
        other => panic!("not a write: {other:?}"),
    }
}

fn create_op(path: &str, mode: CreateMode, ttl_ms: i64) -> WriteOp {
    WriteOp::Create(CreateOp {
        path: path.into(),
        data: b"x".to_vec().into(),
        acl: world(),
        mode,
        ttl_ms,
    })
}

#[test]
fn create_opcodes_pick_node_kind_and_reply_shape() {
    let options = TTL_ON;
    let cases = [
        (1, 0, None, CreateMode::Persistent, -1, ReplyShape::Create),
        (
            1,
            3,
            None,
            CreateMode::EphemeralSequential,
            -1,
            ReplyShape::Create,
        ),
        (15, 1, None, CreateMode::Ephemeral, -1, ReplyShape::Create2),
        // The container flag on a plain create makes a persistent node (checked on 3.8.0).
        (1, 4, None, CreateMode::Persistent, -1, ReplyShape::Create),
        // createContainer makes a container whatever the flags.
        (19, 0, None, CreateMode::Container, -1, ReplyShape::Create2),
        (19, 4, None, CreateMode::Container, -1, ReplyShape::Create2),
        (
            21,
            5,
            Some(1000),
            CreateMode::PersistentWithTtl,
            1000,
            ReplyShape::Create2,
        ),
        (
            21,
            6,
            Some((1 << 40) - 1),
            CreateMode::PersistentSequentialWithTtl,
            (1 << 40) - 1,
            ReplyShape::Create2,
        ),
    ];
    for (opcode, flags, ttl, mode, ttl_ms, shape) in cases {
        let mut body = vec![create_body("/c", flags)];
        body.extend(ttl.map(long));
        let (op, got_shape) = write_of(&request(1, opcode, &body), &options);
        assert_eq!(
            op,
            create_op("/c", mode, ttl_ms),
            "opcode {opcode} flags {flags}"
        );
        assert_eq!(got_shape, shape);
    }
}

#[test]
fn invalid_creates_are_refused_with_zookeepers_codes() {
    let bad = |opcode: i32, flags: i32, ttl: Option<i64>, options: &DecodeOptions| {
        let mut body = vec![create_body("/c", flags)];
        body.extend(ttl.map(long));
        decode_request_with(&request(9, opcode, &body), options).unwrap_err()
    };
    let off = DecodeOptions::default();
    // All captured from 3.8.0 with extendedTypesEnabled.
    assert_eq!(
        bad(1, 7, None, &TTL_ON),
        refusal(9, ErrorCode::BadArguments)
    );
    assert_eq!(
        bad(1, -1, None, &TTL_ON),
        refusal(9, ErrorCode::BadArguments)
    );
    assert_eq!(
        bad(1, 5, None, &TTL_ON),
        refusal(9, ErrorCode::BadArguments)
    );
    assert_eq!(
        bad(21, 5, Some(0), &TTL_ON),
        refusal(9, ErrorCode::BadArguments)
    );
    assert_eq!(
        bad(21, 5, Some(1 << 40), &TTL_ON),
        refusal(9, ErrorCode::BadArguments)
    );
    assert_eq!(
        bad(21, 0, Some(100), &TTL_ON),
        refusal(9, ErrorCode::BadArguments)
    );
    // TTL creates without extended types: Unimplemented comes before the TTL's range.
    assert_eq!(
        bad(21, 5, Some(0), &off),
        refusal(9, ErrorCode::Unimplemented)
    );
    assert_eq!(bad(1, 6, None, &off), refusal(9, ErrorCode::Unimplemented));
    // A create without its flags.
    let truncated = request(18, 1, &[ustring("/h"), buffer(b"x"), world_acl()]);
    assert_eq!(
        decode_request(&truncated).unwrap_err(),
        refusal(18, ErrorCode::MarshallingError)
    );
}

#[test]
fn null_and_negative_acl_counts_read_as_empty_lists() {
    for count in [-1, -5] {
        let frame = request(7, 1, &[ustring("/c"), buffer(b"x"), int(count), int(0)]);
        let (op, _) = write_of(&frame, &DecodeOptions::default());
        let WriteOp::Create(create) = op else {
            panic!("not a create")
        };
        assert!(
            create.acl.is_empty(),
            "the engine answers InvalidACL for it"
        );
    }
    let oversized = request(16, 1, &[ustring("/x"), buffer(b""), int(1000), int(0)]);
    assert_eq!(
        decode_request(&oversized).unwrap_err(),
        refusal(16, ErrorCode::MarshallingError)
    );
    let world_null_id = request(
        12,
        1,
        &[
            ustring("/a"),
            buffer(b""),
            int(1),
            int(31),
            ustring("world"),
            null(),
            int(0),
        ],
    );
    assert_eq!(
        decode_request(&world_null_id).unwrap_err(),
        refusal(12, ErrorCode::MarshallingError)
    );
}

#[test]
fn other_writes_decode() {
    let options = DecodeOptions::default();
    let (op, shape) = write_of(&request(1, 2, &[ustring("/a"), int(3)]), &options);
    assert_eq!(
        (op, shape),
        (
            WriteOp::Delete {
                path: "/a".into(),
                version: 3
            },
            ReplyShape::Delete
        )
    );
    let (op, shape) = write_of(
        &request(1, 5, &[ustring("/a"), buffer(b"yz"), int(-1)]),
        &options,
    );
    assert_eq!(
        op,
        WriteOp::SetData {
            path: "/a".into(),
            data: b"yz".to_vec().into(),
            version: -1
        }
    );
    assert_eq!(shape, ReplyShape::SetData);
    let (op, shape) = write_of(
        &request(1, 7, &[ustring("/a"), world_acl(), int(2)]),
        &options,
    );
    assert_eq!(
        op,
        WriteOp::SetAcl {
            path: "/a".into(),
            acl: world(),
            version: 2
        }
    );
    assert_eq!(shape, ReplyShape::SetAcl);
    let (op, shape) = write_of(&request(1, 13, &[ustring("/a"), int(0)]), &options);
    assert_eq!(
        (op, shape),
        (
            WriteOp::Check {
                path: "/a".into(),
                version: 0
            },
            ReplyShape::Check
        )
    );
    let (op, shape) = write_of(&request(1, 9, &[ustring("bad path")]), &options);
    assert_eq!(
        (op, shape),
        (
            WriteOp::Sync {
                path: "bad path".into()
            },
            ReplyShape::Sync
        )
    );
    // Trailing bytes after a complete record are ignored (captured).
    let trailing = [
        request(19, 1, &[create_body("/h", 0)]),
        b"trailing".to_vec(),
    ]
    .concat();
    assert_eq!(
        write_of(&trailing, &options).0,
        create_op("/h", CreateMode::Persistent, -1)
    );
}

// ----- multi -----

fn multi_of(frame: &[u8], options: &DecodeOptions) -> (Vec<WriteOp>, MultiShape) {
    match write_of(frame, options) {
        (WriteOp::Multi(ops), ReplyShape::Multi(shape)) => (ops, shape),
        other => panic!("not a multi: {other:?}"),
    }
}

fn stand_in() -> WriteOp {
    WriteOp::Check {
        path: String::new(),
        version: -1,
    }
}

#[test]
fn multi_ops_take_their_kind_from_the_flags() {
    let frame = request(
        2,
        14,
        &[
            multi_header(15, false, -1),
            create_body("/m/b", 0),
            multi_header(1, false, -1),
            create_body("/m/k", 4),
            multi_header(19, false, -1),
            create_body("/m/p", 0),
            multi_header(5, false, 77),
            ustring("/m"),
            buffer(b"z"),
            int(-1),
            multi_header(13, false, -1),
            ustring("/m"),
            int(1),
            multi_header(2, false, -1),
            ustring("/m/a"),
            int(-1),
            multi_end(),
        ],
    );
    let (ops, shape) = multi_of(&frame, &DecodeOptions::default());
    assert_eq!(
        ops,
        vec![
            create_op("/m/b", CreateMode::Persistent, -1),
            create_op("/m/k", CreateMode::Container, -1),
            create_op("/m/p", CreateMode::Persistent, -1),
            WriteOp::SetData {
                path: "/m".into(),
                data: b"z".to_vec().into(),
                version: -1
            },
            WriteOp::Check {
                path: "/m".into(),
                version: 1
            },
            WriteOp::Delete {
                path: "/m/a".into(),
                version: -1
            },
        ]
    );
    use MultiOpShape::*;
    assert_eq!(
        shape.ops,
        vec![Create, Create2, Create, SetData, Check, Delete]
    );
    assert_eq!(shape.failure, None);
}

#[test]
fn multi_bad_flags_fail_in_place_behind_a_stand_in() {
    let frame = request(
        5,
        14,
        &[
            multi_header(5, false, -1),
            ustring("/m"),
            buffer(b"z"),
            int(-1),
            multi_header(1, false, -1),
            create_body("/m/d", 9),
            multi_header(5, false, -1),
            ustring("/m"),
            buffer(b"z"),
            int(-1),
            multi_end(),
        ],
    );
    let (ops, shape) = multi_of(&frame, &DecodeOptions::default());
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[1], stand_in());
    assert_eq!(shape.ops.len(), 3);
    assert_eq!(
        shape.failure,
        Some(MultiFailure {
            index: 1,
            error: ErrorCode::BadArguments,
            whole_request: false
        })
    );
    // The engine fails the stand-in (op 1); op 0 passed.
    let result = OpResult::Multi(vec![
        OpResult::Error(ErrorCode::Ok),
        OpResult::Error(ErrorCode::BadArguments),
    ]);
    let mut out = Vec::new();
    encode_write_reply(&mut out, 5, 0x21, &ReplyShape::Multi(shape), &result);
    // Captured: (5, 0x21, 0, ...).
    let body = hex(
        "ffffffff000000000000000000 ffffffff00fffffff8fffffff8 ffffffff00fffffffefffffffe ffffffff01ffffffff",
    );
    assert_eq!(out, framed(&[int(5), long(0x21), int(0), body].concat()));
}

#[test]
fn multi_earlier_tree_failure_hides_a_decoded_failure() {
    let shape = MultiShape {
        ops: vec![
            MultiOpShape::Delete,
            MultiOpShape::Check,
            MultiOpShape::Check,
        ],
        failure: Some(MultiFailure {
            index: 1,
            error: ErrorCode::MarshallingError,
            whole_request: true,
        }),
    };
    let result = OpResult::Multi(vec![
        OpResult::Error(ErrorCode::NoNode),
        OpResult::Error(ErrorCode::RuntimeInconsistency),
    ]);
    let mut out = Vec::new();
    encode_write_reply(
        &mut out,
        3,
        0x1f,
        &ReplyShape::Multi(shape.clone()),
        &result,
    );
    let body = hex("ffffffff00ffffff9bffffff9b ffffffff00fffffffefffffffe ffffffff00fffffffefffffffe ffffffff01ffffffff");
    assert_eq!(out, framed(&[int(3), long(0x1f), int(0), body].concat()));
    // When the stand-in is what failed, the whole request fails: header only.
    let result = OpResult::Multi(vec![
        OpResult::Error(ErrorCode::Ok),
        OpResult::Error(ErrorCode::BadArguments),
    ]);
    out.clear();
    encode_write_reply(&mut out, 3, 0x1f, &ReplyShape::Multi(shape), &result);
    assert_eq!(out, framed(&[int(3), long(0x1f), int(-5)].concat()));
}

#[test]
fn multi_ttl_flags_under_a_plain_create_header_fail_the_whole_request() {
    let frame = request(
        7,
        14,
        &[
            multi_header(1, false, -1),
            create_body("/m/t", 5),
            multi_end(),
        ],
    );
    let (ops, shape) = multi_of(&frame, &TTL_ON);
    assert_eq!(ops, vec![stand_in()]);
    assert_eq!(
        shape.failure,
        Some(MultiFailure {
            index: 0,
            error: ErrorCode::MarshallingError,
            whole_request: true
        })
    );
}

#[test]
fn multi_create_ttl_header_with_plain_flags_drops_the_ttl() {
    let frame = request(
        24,
        14,
        &[
            multi_header(21, false, -1),
            create_body("/m/h", 0),
            long(5),
            multi_end(),
        ],
    );
    let (ops, shape) = multi_of(&frame, &TTL_ON);
    assert_eq!(ops, vec![create_op("/m/h", CreateMode::Persistent, -1)]);
    assert_eq!(shape.ops, vec![MultiOpShape::Create]);
}

#[test]
fn multi_whole_request_failures() {
    let cases = [
        // A read op in a multi, a mix, a missing end, a sync op, a setACL op: all captured −5.
        vec![
            multi_header(4, false, -1),
            ustring("/m"),
            boolean(false),
            multi_end(),
        ],
        vec![multi_header(1, false, -1), create_body("/m/y", 0)],
        vec![multi_header(9, false, -1), ustring("/m"), multi_end()],
        vec![
            multi_header(7, false, -1),
            ustring("/m"),
            world_acl(),
            int(-1),
            multi_end(),
        ],
        vec![],
    ];
    for body in cases {
        let error = decode_request(&request(12, 14, &body)).unwrap_err();
        assert_eq!(error, refusal(12, ErrorCode::MarshallingError));
    }
}

#[test]
fn multi_that_starts_done_is_empty() {
    let frame = request(
        21,
        14,
        &[
            multi_header(1, true, -1),
            create_body("/m/f", 0),
            multi_end(),
        ],
    );
    let (ops, shape) = multi_of(&frame, &DecodeOptions::default());
    assert!(ops.is_empty());
    let mut out = Vec::new();
    encode_write_reply(
        &mut out,
        21,
        0x2e,
        &ReplyShape::Multi(shape),
        &OpResult::Multi(vec![]),
    );
    // Captured: (21, 0x2e, 0, 'ffffffff01ffffffff').
    assert_eq!(
        out,
        framed(&[int(21), long(0x2e), int(0), hex("ffffffff01ffffffff")].concat())
    );
}

#[test]
fn multi_success_reply_matches_capture() {
    let stat_a = Stat {
        czxid: 0x1d,
        mzxid: 0x1e,
        ctime: 0x1a2122f0ee3,
        mtime: 0x1a2122f0ee7,
        version: 1,
        cversion: 2,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 1,
        num_children: 2,
        pzxid: 0x1e,
    };
    let shape = MultiShape {
        ops: vec![
            MultiOpShape::Create,
            MultiOpShape::Create,
            MultiOpShape::SetData,
            MultiOpShape::Check,
            MultiOpShape::Delete,
        ],
        failure: None,
    };
    let result = OpResult::Multi(vec![
        OpResult::Create {
            path: "/m/a".into(),
            stat: Stat::default(),
        },
        OpResult::Create {
            path: "/m/b".into(),
            stat: Stat::default(),
        },
        OpResult::SetData { stat: stat_a },
        OpResult::Check,
        OpResult::Delete,
    ]);
    let mut out = Vec::new();
    encode_write_reply(&mut out, 2, 0x1e, &ReplyShape::Multi(shape), &result);
    // Captured from a multi [create, create2, setData, check, delete]: the create2 header
    // still answers a type-1 result.
    let body = hex(concat!(
        "000000010000000000000000042f6d2f61000000010000000000000000042f6d2f620000000500000000",
        "00000000000000001d000000000000001e000001a2122f0ee3000001a2122f0ee70000000100000002",
        "0000000000000000000000000000000100000002000000000000001e0000000d000000000000000002",
        "0000000000ffffffff01ffffffff",
    ));
    assert_eq!(out, framed(&[int(2), long(0x1e), int(0), body].concat()));
}

// ----- replies -----

#[test]
fn create_replies_match_capture() {
    let mut out = Vec::new();
    let result = OpResult::Create {
        path: "/a".into(),
        stat: Stat::default(),
    };
    encode_write_reply(&mut out, 1, 7, &ReplyShape::Create, &result);
    assert_eq!(
        out,
        framed(&[int(1), long(7), int(0), hex("000000022f61")].concat())
    );
    out.clear();
    let result = OpResult::Create {
        path: "/c".into(),
        stat: captured_stat(),
    };
    encode_write_reply(&mut out, 12, 0x12, &ReplyShape::Create2, &result);
    let body = [hex("000000022f63"), hex(CAPTURED_STAT_HEX)].concat();
    assert_eq!(out, framed(&[int(12), long(0x12), int(0), body].concat()));
    out.clear();
    encode_write_reply(
        &mut out,
        2,
        8,
        &ReplyShape::Create,
        &OpResult::Error(ErrorCode::NodeExists),
    );
    assert_eq!(out, framed(&[int(2), long(8), int(-110)].concat()));
}

#[test]
fn other_write_replies() {
    let stat = captured_stat();
    let cases: [(ReplyShape, OpResult, Vec<u8>); 5] = [
        (ReplyShape::Delete, OpResult::Delete, vec![]),
        (ReplyShape::Check, OpResult::Check, vec![]),
        (
            ReplyShape::SetData,
            OpResult::SetData { stat },
            hex(CAPTURED_STAT_HEX),
        ),
        (
            ReplyShape::SetAcl,
            OpResult::SetAcl { stat },
            hex(CAPTURED_STAT_HEX),
        ),
        (
            ReplyShape::Sync,
            OpResult::Sync { path: "/a".into() },
            hex("000000022f61"),
        ),
    ];
    for (shape, result, body) in cases {
        let mut out = Vec::new();
        encode_write_reply(&mut out, 4, 0x3b, &shape, &result);
        assert_eq!(
            out,
            framed(&[int(4), long(0x3b), int(0), body].concat()),
            "{shape:?}"
        );
    }
    let mut out = Vec::new();
    encode_write_reply(&mut out, 4, 9, &ReplyShape::SetData, &OpResult::Delete);
    assert_eq!(
        out,
        framed(&[int(4), long(9), int(ErrorCode::SystemError.code())].concat())
    );
}

#[test]
fn read_replies_match_capture() {
    let stat = captured_stat();
    let acl = world();
    let children = vec!["b".to_string(), "k3".to_string()];
    let ids = vec![Id::new("ip", "127.0.0.1")];
    let x_data = Data::from(&b"x"[..]);
    let cases: Vec<(Result<Reply<'_>, ErrorCode>, Vec<u8>)> = vec![
        (Err(ErrorCode::NoNode), vec![]),
        (Ok(Reply::Empty), vec![]),
        (Ok(Reply::Stat(stat)), hex(CAPTURED_STAT_HEX)),
        (
            Ok(Reply::Data {
                data: &x_data,
                stat,
            }),
            [hex("0000000178"), hex(CAPTURED_STAT_HEX)].concat(),
        ),
        (
            Ok(Reply::Children(&children)),
            hex("00000002 0000000162 000000026b33"),
        ),
        (
            Ok(Reply::Children2 {
                children: &children,
                stat,
            }),
            [
                hex("00000002 0000000162 000000026b33"),
                hex(CAPTURED_STAT_HEX),
            ]
            .concat(),
        ),
        (
            Ok(Reply::Acl { acl: &acl, stat }),
            [
                hex("00000001 0000001f 00000005776f726c64 00000006616e796f6e65"),
                hex(CAPTURED_STAT_HEX),
            ]
            .concat(),
        ),
        (Ok(Reply::Ephemerals(&[])), hex("00000000")),
        (Ok(Reply::Number(19)), hex("00000013")),
        (
            Ok(Reply::WhoAmI(&ids)),
            hex("00000001000000026970000000093132372e302e302e31"),
        ),
        (Ok(Reply::AddWatch), hex("00000000")),
        (Ok(Reply::Sasl(None)), hex("ffffffff")),
    ];
    for (reply, body) in cases {
        let error = reply.as_ref().err().map_or(0, |code| code.code());
        let mut out = Vec::new();
        encode_reply(&mut out, 14, 0x3d, reply.clone());
        assert_eq!(
            out,
            framed(&[int(14), long(0x3d), int(error), body].concat()),
            "{reply:?}"
        );
    }
}

#[test]
fn multi_read_reply_matches_capture() {
    let stat = Stat {
        czxid: 0x1d,
        mzxid: 0x1e,
        ctime: 0x1a2122f0ee3,
        mtime: 0x1a2122f0ee7,
        version: 1,
        cversion: 7,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 1,
        num_children: 5,
        pzxid: 0x27,
    };
    let children: Vec<String> = ["k3", "b", "k", "t", "k2"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let results = vec![
        Ok(ReadResult::Data {
            data: b"z".to_vec().into(),
            stat,
        }),
        Ok(ReadResult::Children(children)),
        Err(ErrorCode::NoNode),
        Err(ErrorCode::NoNode),
    ];
    let mut out = Vec::new();
    encode_reply(&mut out, 16, 0x2b, Ok(Reply::MultiRead(results)));
    let body = hex(
        "000000040000000000 000000017a 000000000000001d 000000000000001e 000001a2122f0ee3
         000001a2122f0ee7 00000001 00000007 00000000 0000000000000000 00000001 00000005
         0000000000000027 000000080000000000 00000005 000000026b33 0000000162 000000016b
         0000000174 000000026b32 ffffffff00ffffff9bffffff9b ffffffff00ffffff9bffffff9b
         ffffffff01ffffffff",
    );
    assert_eq!(out, framed(&[int(16), long(0x2b), int(0), body].concat()));
}

#[test]
fn ping_and_event_replies_match_capture() {
    let mut out = Vec::new();
    encode_ping_reply(&mut out, 0x3b);
    assert_eq!(out, framed(&[int(-2), long(0x3b), int(0)].concat()));
    out.clear();
    // Captured: a NodeDataChanged for /a in state SyncConnected, zxid −1 in 3.8.
    encode_event(&mut out, -1, 3, 3, "/a");
    let body = [
        int(-1),
        long(-1),
        int(0),
        hex("0000000300000003000000022f61"),
    ]
    .concat();
    assert_eq!(out, framed(&body));
}

#[test]
fn replies_append_to_the_callers_buffer() {
    let mut out = b"previous".to_vec();
    encode_ping_reply(&mut out, 1);
    encode_reply(&mut out, 3, 1, Err(ErrorCode::NoNode));
    assert_eq!(&out[..8], b"previous");
    assert_eq!(&out[8..12], &int(16)[..]);
    assert_eq!(out.len(), 8 + 2 * 20);
}

// ----- frames a real client sent (zkCli.sh 3.8.0 through a logging proxy) -----

#[test]
fn zkcli_frames_decode() {
    let connect = decode_connect(&hex(
        "00000000 0000000000000000 00007530 0000000000000000 00000010 00000000000000000000000000000000 00",
    ))
    .unwrap();
    assert_eq!(
        (connect.timeout_ms, connect.read_only_present),
        (30000, true)
    );
    // create /cli hello
    let frame = hex(concat!(
        "0000000100000001000000042f636c690000000568656c6c6f000000010000001f",
        "00000005776f726c6400000006616e796f6e6500000000"
    ));
    let write = write_of(&frame, &DecodeOptions::default());
    let WriteOp::Create(create) = write.0 else {
        panic!("not a create")
    };
    assert_eq!(
        (create.path.as_str(), &create.data[..]),
        ("/cli", &b"hello"[..])
    );
    assert_eq!((create.mode, create.acl), (CreateMode::Persistent, world()));
    assert_eq!(write.1, ReplyShape::Create);
    // create -e -s /cli/seq data
    let frame = hex(concat!(
        "0000000200000001000000082f636c692f7365710000000464617461000000010000001f",
        "00000005776f726c6400000006616e796f6e6500000003"
    ));
    let WriteOp::Create(create) = write_of(&frame, &DecodeOptions::default()).0 else {
        panic!("not a create")
    };
    assert_eq!(create.mode, CreateMode::EphemeralSequential);
    // get /cli, ls /cli (getChildren2), stat /cli (exists), getAcl /cli
    let reads = [
        (
            "0000000300000004000000042f636c6900",
            Request::GetData {
                path: "/cli".into(),
                watch: false,
            },
        ),
        (
            "000000040000000c000000042f636c6900",
            Request::GetChildren2 {
                path: "/cli".into(),
                watch: false,
            },
        ),
        (
            "0000000600000003000000042f636c6900",
            Request::Exists {
                path: "/cli".into(),
                watch: false,
            },
        ),
        (
            "0000000700000006000000042f636c69",
            Request::GetAcl {
                path: "/cli".into(),
            },
        ),
    ];
    for (frame, expected) in reads {
        assert_eq!(decode_ok(&hex(frame)).1, expected);
    }
    // set /cli world
    let frame = hex("0000000500000005000000042f636c6900000005776f726c64ffffffff");
    let expected = WriteOp::SetData {
        path: "/cli".into(),
        data: b"world".to_vec().into(),
        version: -1,
    };
    assert_eq!(
        write_of(&frame, &DecodeOptions::default()),
        (expected, ReplyShape::SetData)
    );
    // create -c /cont x: createContainer with the container flag.
    let frame = hex(concat!(
        "0000000800000013000000052f636f6e740000000178000000010000001f",
        "00000005776f726c6400000006616e796f6e6500000004"
    ));
    let (op, shape) = write_of(&frame, &DecodeOptions::default());
    assert_eq!(
        op,
        WriteOp::Create(CreateOp {
            path: "/cont".into(),
            data: b"x".to_vec().into(),
            acl: world(),
            mode: CreateMode::Container,
            ttl_ms: -1,
        })
    );
    assert_eq!(shape, ReplyShape::Create2);
    // delete /cont, close
    let frame = hex("0000000900000002000000052f636f6e74ffffffff");
    assert_eq!(
        write_of(&frame, &DecodeOptions::default()).0,
        WriteOp::Delete {
            path: "/cont".into(),
            version: -1
        }
    );
    assert_eq!(
        decode_ok(&hex("0000000afffffff5")),
        (
            RequestHeader {
                xid: 10,
                opcode: -11
            },
            Request::CloseSession
        )
    );
}

#[test]
fn zkcli_replies_encode_identically() {
    let mut out = Vec::new();
    let result = OpResult::Create {
        path: "/cli/seq0000000000".into(),
        stat: Stat::default(),
    };
    encode_write_reply(&mut out, 2, 0x7d, &ReplyShape::Create, &result);
    assert_eq!(
        out,
        framed(&hex(
            "00000002000000000000007d00000000000000122f636c692f73657130303030303030303030"
        ))
    );
    out.clear();
    encode_write_reply(&mut out, 9, 0x80, &ReplyShape::Delete, &OpResult::Delete);
    assert_eq!(out, framed(&hex("00000009000000000000008000000000")));
    out.clear();
    let stat = Stat {
        czxid: 0x7c,
        mzxid: 0x7c,
        ctime: 0x1a2124caf37,
        mtime: 0x1a2124caf37,
        version: 0,
        cversion: 1,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 5,
        num_children: 1,
        pzxid: 0x7d,
    };
    encode_reply(
        &mut out,
        3,
        0x7d,
        Ok(Reply::Data {
            data: &Data::from(&b"hello"[..]),
            stat,
        }),
    );
    assert_eq!(
        out,
        framed(&hex(concat!(
        "00000003000000000000007d000000000000000568656c6c6f000000000000007c000000000000007c",
        "000001a2124caf37000001a2124caf3700000000000000010000000000000000000000000000000500000001",
        "000000000000007d"
    )))
    );
}
