//! The client codec against bytes laid out by hand from the ZooKeeper protocol (PROTOCOL.md).

use corral_bench::client::{
    check_reply, decode_children, decode_connect_response, decode_event, decode_get_data,
    decode_multi, decode_reply_header, decode_stat, encode_connect_request, ClientError,
};
use corral_engine::wire::Reader;
use corral_net::jute::opcode;

fn stat_bytes() -> Vec<u8> {
    let mut bytes = Vec::new();
    for long in [0x10i64, 0x20, 1_700_000_000_000, 1_700_000_000_500] {
        bytes.extend_from_slice(&long.to_be_bytes());
    }
    for int in [3i32, 2, 0] {
        bytes.extend_from_slice(&int.to_be_bytes());
    }
    bytes.extend_from_slice(&0x1234_5678_9abc_def0i64.to_be_bytes());
    bytes.extend_from_slice(&5i32.to_be_bytes());
    bytes.extend_from_slice(&7i32.to_be_bytes());
    bytes.extend_from_slice(&0x30i64.to_be_bytes());
    bytes
}

#[test]
fn connect_request_is_the_45_byte_zookeeper_layout() {
    let mut out = Vec::new();
    encode_connect_request(30_000, &mut out);
    // Length prefix, then protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly.
    assert_eq!(&out[..4], &45u32.to_be_bytes());
    assert_eq!(out.len(), 49);
    assert_eq!(&out[4..8], &0i32.to_be_bytes());
    assert_eq!(&out[16..20], &30_000i32.to_be_bytes());
    assert_eq!(&out[28..32], &16i32.to_be_bytes());
    assert_eq!(out[48], 0);
}

#[test]
fn connect_response_decodes_with_and_without_read_only() {
    let mut body = Vec::new();
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&6000i32.to_be_bytes());
    body.extend_from_slice(&0x0100_0000_0000_0042i64.to_be_bytes());
    body.extend_from_slice(&16i32.to_be_bytes());
    body.extend_from_slice(&[7u8; 16]);
    let old = decode_connect_response(&body).expect("without readOnly");
    body.push(0);
    let new = decode_connect_response(&body).expect("with readOnly");
    assert_eq!(old, new);
    assert_eq!(new.timeout_ms, 6000);
    assert_eq!(new.session_id, 0x0100_0000_0000_0042);
    assert_eq!(new.password, vec![7u8; 16]);
}

#[test]
fn refused_session_with_zero_timeout_is_an_error() {
    let mut body = vec![0u8; 4 + 4 + 8];
    body.extend_from_slice(&0i32.to_be_bytes());
    assert!(matches!(
        decode_connect_response(&body),
        Err(ClientError::ConnectionLoss(_))
    ));
}

#[test]
fn get_data_reply_decodes_data_and_stat() {
    let mut frame = Vec::new();
    frame.extend_from_slice(&9i32.to_be_bytes());
    frame.extend_from_slice(&0x40i64.to_be_bytes());
    frame.extend_from_slice(&0i32.to_be_bytes());
    frame.extend_from_slice(&5i32.to_be_bytes());
    frame.extend_from_slice(b"hello");
    frame.extend_from_slice(&stat_bytes());
    assert_eq!(decode_reply_header(&frame).expect("header"), (9, 0x40, 0));
    let (data, stat) = decode_get_data(&frame[16..]).expect("body");
    assert_eq!(data, b"hello");
    assert_eq!(stat.czxid, 0x10);
    assert_eq!(stat.version, 3);
    assert_eq!(stat.cversion, 2);
    assert_eq!(stat.ephemeral_owner, 0x1234_5678_9abc_def0);
    assert_eq!(stat.data_length, 5);
    assert_eq!(stat.num_children, 7);
    assert_eq!(stat.pzxid, 0x30);
    assert_eq!(
        check_reply(opcode::GET_DATA, 0, &frame[16..]).expect("valid"),
        0
    );
}

#[test]
fn a_stat_reply_is_68_bytes_and_trailing_bytes_are_rejected() {
    let stat = stat_bytes();
    assert_eq!(stat.len(), 68);
    let mut reader = Reader::new(&stat);
    assert_eq!(decode_stat(&mut reader).expect("stat").mzxid, 0x20);
    assert!(check_reply(opcode::SET_DATA, 0, &stat).is_ok());
    let mut longer = stat.clone();
    longer.push(1);
    assert!(check_reply(opcode::SET_DATA, 0, &longer).is_err());
    assert!(check_reply(opcode::SET_DATA, 0, &stat[..60]).is_err());
    // An error reply has no body and returns its code.
    assert_eq!(
        check_reply(opcode::SET_DATA, -101, &[]).expect("error"),
        -101
    );
}

#[test]
fn children_reply_and_forged_counts() {
    let mut body = Vec::new();
    body.extend_from_slice(&2i32.to_be_bytes());
    for name in ["a", "bc"] {
        body.extend_from_slice(&(name.len() as i32).to_be_bytes());
        body.extend_from_slice(name.as_bytes());
    }
    assert_eq!(decode_children(&body).expect("children"), vec!["a", "bc"]);
    // A count far beyond the frame must fail without allocating for it.
    let forged = i32::MAX.to_be_bytes();
    assert!(decode_children(&forged).is_err());
}

#[test]
fn multi_reply_reports_the_failing_op() {
    let mut ok = Vec::new();
    // setData result, create result, then the end marker.
    ok.extend_from_slice(&opcode::SET_DATA.to_be_bytes());
    ok.push(0);
    ok.extend_from_slice(&0i32.to_be_bytes());
    ok.extend_from_slice(&stat_bytes());
    ok.extend_from_slice(&opcode::CREATE.to_be_bytes());
    ok.push(0);
    ok.extend_from_slice(&0i32.to_be_bytes());
    ok.extend_from_slice(&2i32.to_be_bytes());
    ok.extend_from_slice(b"/a");
    ok.extend_from_slice(&(-1i32).to_be_bytes());
    ok.push(1);
    ok.extend_from_slice(&(-1i32).to_be_bytes());
    assert_eq!(decode_multi(&ok).expect("multi"), 0);

    let mut failed = Vec::new();
    for err in [0i32, -110] {
        failed.extend_from_slice(&opcode::ERROR.to_be_bytes());
        failed.push(0);
        failed.extend_from_slice(&err.to_be_bytes());
        let body_err = if err == 0 { -2 } else { err };
        failed.extend_from_slice(&body_err.to_be_bytes());
    }
    failed.extend_from_slice(&(-1i32).to_be_bytes());
    failed.push(1);
    failed.extend_from_slice(&(-1i32).to_be_bytes());
    assert_eq!(decode_multi(&failed).expect("multi"), -110);
    assert_eq!(check_reply(opcode::MULTI, 0, &failed).expect("multi"), -110);
}

#[test]
fn watch_event_decodes() {
    let mut body = Vec::new();
    body.extend_from_slice(&3i32.to_be_bytes());
    body.extend_from_slice(&3i32.to_be_bytes());
    body.extend_from_slice(&4i32.to_be_bytes());
    body.extend_from_slice(b"/w/x");
    let event = decode_event(&body).expect("event");
    assert_eq!(
        (event.event_type, event.state, event.path.as_str()),
        (3, 3, "/w/x")
    );
}

#[test]
fn a_reply_must_answer_the_oldest_outstanding_request() {
    use corral_bench::client::expect_reply;
    assert_eq!(expect_reply(Some((7, "kept")), 7).ok(), Some("kept"));
    let out_of_order = expect_reply(Some((7, ())), 8).err().map(|e| e.to_string());
    assert!(
        out_of_order
            .as_deref()
            .is_some_and(|m| m.contains("reply xid 8 while expecting 7")),
        "{out_of_order:?}"
    );
    let unasked = expect_reply::<()>(None, 3).err().map(|e| e.to_string());
    assert!(
        unasked
            .as_deref()
            .is_some_and(|m| m.contains("reply xid 3 with no request outstanding")),
        "{unasked:?}"
    );
}
