//! Parser and replay tests on small hand-built byte images.

use std::path::Path;

use corral_engine::types::{perms, Acl, Id};
use corral_engine::wire::Writer;

use super::error::FormatError;
use super::input::{Adler32, Input};
use super::snapshot::{parse_snapshot, StatPersisted, SNAP_MAGIC};
use super::tree::ZkTree;
use super::txn::{op, ZkTxn};
use super::txnlog::{parse_log, LogEnd, LogRecord, LOG_MAGIC};

const SESSION: i64 = 0x0100_0000_0000_0007;

fn stat(zxid: i64, cversion: i32, owner: i64) -> StatPersisted {
    StatPersisted {
        czxid: zxid,
        mzxid: zxid,
        ctime_ms: 1000 + zxid,
        mtime_ms: 1000 + zxid,
        version: 0,
        cversion,
        aversion: 0,
        ephemeral_owner: owner,
        pzxid: zxid,
    }
}

fn put_stat(w: &mut Writer<'_>, s: &StatPersisted) {
    w.i64(s.czxid).i64(s.mzxid).i64(s.ctime_ms).i64(s.mtime_ms);
    w.i32(s.version).i32(s.cversion).i32(s.aversion);
    w.i64(s.ephemeral_owner).i64(s.pzxid);
}

fn put_acl(w: &mut Writer<'_>, acl: &[Acl]) {
    w.i32(acl.len() as i32);
    for entry in acl {
        w.i32(entry.perms)
            .string(&entry.id.scheme)
            .string(&entry.id.id);
    }
}

fn digest_acl() -> Vec<Acl> {
    vec![Acl {
        perms: perms::READ | perms::ADMIN,
        id: Id::new("digest", "u:hash="),
    }]
}

/// A snapshot at zxid 5: root, /zookeeper, /zookeeper/quota, /a (null data, digest ACL) and
/// /a/e (ephemeral of SESSION); with a digest and its second seal when `digest` is set.
fn snapshot_image(digest: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut w = Writer::new(&mut bytes);
    w.i32(SNAP_MAGIC).i32(2).i64(-1);
    w.i32(1).i64(SESSION).i32(6000);
    w.i32(1).i64(1);
    put_acl(&mut w, &digest_acl());
    let nodes: [(&str, Option<&[u8]>, i64, StatPersisted); 5] = [
        ("", Some(b""), -1, stat(0, 1, 0)),
        ("/zookeeper", Some(b""), -1, stat(0, 0, 0)),
        ("/zookeeper/quota", Some(b""), -1, stat(0, 0, 0)),
        ("/a", None, 1, stat(3, 1, 0)),
        ("/a/e", Some(b"\x00\x01"), -1, stat(4, 0, SESSION)),
    ];
    for (path, data, acl, node_stat) in &nodes {
        w.string(path);
        match data {
            Some(data) => w.buffer(data),
            None => w.null_buffer(),
        };
        w.i64(*acl);
        put_stat(&mut w, node_stat);
    }
    w.string("/");
    seal(&mut bytes);
    if digest {
        let mut w = Writer::new(&mut bytes);
        w.i64(5).i32(2).i64(0x1234);
        seal(&mut bytes);
    }
    bytes
}

fn seal(bytes: &mut Vec<u8>) {
    let checksum = Adler32::of(bytes);
    Writer::new(bytes).i64(i64::from(checksum)).string("/");
}

#[test]
fn snapshot_image_parses_with_sessions_acls_nodes_and_digest() {
    let image = snapshot_image(true);
    let snapshot = parse_snapshot(&mut Input::of_slice(&image, 0)).unwrap();
    assert_eq!(snapshot.dbid, -1);
    assert_eq!(snapshot.sessions, vec![(SESSION, 6000)]);
    assert_eq!(snapshot.digest, Some((5, 2, 0x1234)));
    let paths: Vec<&str> = snapshot.nodes.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(paths, ["", "/zookeeper", "/zookeeper/quota", "/a", "/a/e"]);
    assert_eq!(snapshot.nodes[3].data, None);
    assert_eq!(snapshot.nodes[3].acl.to_vec(), digest_acl());
    assert_eq!(snapshot.nodes[4].data.as_deref(), Some(&b"\x00\x01"[..]));
    assert_eq!(snapshot.nodes[4].acl[0].id, Id::new("world", "anyone"));
    assert_eq!(snapshot.nodes[4].stat, stat(4, 0, SESSION));
    let without = snapshot_image(false);
    let snapshot = parse_snapshot(&mut Input::of_slice(&without, 0)).unwrap();
    assert_eq!(snapshot.digest, None);
}

#[test]
fn snapshot_with_a_flipped_byte_fails_at_its_seal() {
    let mut image = snapshot_image(false);
    let seal_offset = image.len() - 8 - 5;
    // Flip a byte of /a's data length area: still parses, but the checksum cannot match.
    let position = image.len() - 40;
    image[position] ^= 0x01;
    let fault = parse_snapshot(&mut Input::of_slice(&image, 0)).unwrap_err();
    assert_eq!(fault.offset, seal_offset as u64, "{fault:?}");
    assert!(fault.reason.contains("checksum mismatch"), "{fault:?}");
}

#[test]
fn snapshot_referring_to_an_unknown_acl_fails_naming_the_node() {
    let mut image = snapshot_image(false);
    // /a's ACL id (1) is the only 8-byte value 1 after the cache; make it 9.
    let a_path = image
        .windows(6)
        .position(|w| w == b"\x00\x00\x00\x02/a")
        .unwrap();
    let acl_offset = a_path + 6 + 4;
    image[acl_offset + 7] = 9;
    let fault = parse_snapshot(&mut Input::of_slice(&image, 0)).unwrap_err();
    assert_eq!(fault.offset, acl_offset as u64);
    assert!(fault.reason.contains("\"/a\""), "{fault:?}");
}

/// One log record: checksum, length, body, end byte.
fn record(header: (i64, i32, i64, i64, i32), body: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
    let mut inner = Vec::new();
    let mut w = Writer::new(&mut inner);
    let (client, cxid, zxid, time, op_type) = header;
    w.i64(client).i32(cxid).i64(zxid).i64(time).i32(op_type);
    body(&mut w);
    let mut bytes = Vec::new();
    let mut w = Writer::new(&mut bytes);
    w.i64(i64::from(Adler32::of(&inner)))
        .buffer(&inner)
        .u8(b'B');
    bytes
}

fn log_header() -> Vec<u8> {
    let mut bytes = Vec::new();
    Writer::new(&mut bytes).i32(LOG_MAGIC).i32(2).i64(0);
    bytes
}

/// A log of: createSession (zxid 6), create /a/x ephemeral (7), a multi setData /a + delete
/// /a/e (8, with a digest), then 64 preallocated zero bytes.
fn log_records() -> Vec<Vec<u8>> {
    vec![
        record((SESSION, 0, 6, 2006, op::CREATE_SESSION), |w| {
            w.i32(4000);
        }),
        record((SESSION, 1, 7, 2007, op::CREATE), |w| {
            w.string("/a/x").buffer(b"x");
            put_acl(w, &digest_acl());
            w.bool(true).i32(2);
        }),
        record((SESSION, 2, 8, 2008, op::MULTI), |w| {
            let mut set = Vec::new();
            Writer::new(&mut set).string("/a").buffer(b"new").i32(1);
            let mut delete = Vec::new();
            Writer::new(&mut delete).string("/a/e");
            w.i32(2);
            w.i32(op::SET_DATA).buffer(&set);
            w.i32(op::DELETE).buffer(&delete);
            w.i32(2).i64(0x77);
        }),
    ]
}

fn log_image(records: &[Vec<u8>], zeros: usize) -> Vec<u8> {
    let mut image = log_header();
    for record in records {
        image.extend_from_slice(record);
    }
    image.resize(image.len() + zeros, 0);
    image
}

fn parse(image: &[u8], newest: bool) -> Result<(Vec<LogRecord>, LogEnd), FormatError> {
    let mut records = Vec::new();
    let end = parse_log(
        &mut Input::of_slice(image, 0),
        newest,
        |record| {
            records.push(record);
            Ok::<(), FormatError>(())
        },
        Path::new("log.6"),
    )?;
    Ok((records, end))
}

#[test]
fn log_image_parses_every_record_up_to_the_preallocated_zeros() {
    let records = log_records();
    let (parsed, end) = parse(&log_image(&records, 64), false).unwrap();
    assert_eq!(end, LogEnd::Clean);
    assert_eq!(parsed.len(), 3);
    assert_eq!(parsed[0].offset, 16);
    assert_eq!(parsed[1].offset, 16 + records[0].len() as u64);
    assert_eq!(
        parsed[0].entry.txn,
        ZkTxn::CreateSession { timeout_ms: 4000 }
    );
    let ZkTxn::Create(create) = &parsed[1].entry.txn else {
        panic!("not a create: {:?}", parsed[1].entry.txn);
    };
    assert_eq!(create.path, "/a/x");
    assert_eq!(create.ephemeral_owner, SESSION);
    assert_eq!(create.parent_cversion, 2);
    assert!(create.fix_cversion_on_exists);
    assert_eq!(parsed[2].entry.digest, Some((2, 0x77)));
    assert_eq!(
        parsed[2].entry.txn,
        ZkTxn::Multi(vec![
            ZkTxn::SetData {
                path: "/a".to_string(),
                data: Some(b"new".to_vec()),
                version: 1
            },
            ZkTxn::Delete {
                path: "/a/e".to_string()
            },
        ])
    );
    // Without preallocation the file simply ends after the last record.
    let (parsed, end) = parse(&log_image(&records, 0), false).unwrap();
    assert_eq!((parsed.len(), end), (3, LogEnd::Clean));
}

#[test]
fn bad_checksum_before_the_tail_is_an_error_with_its_offset() {
    let records = log_records();
    let mut image = log_image(&records, 64);
    let second = 16 + records[0].len();
    // The last byte of the second record's body (its parentCVersion).
    image[second + records[1].len() - 2] ^= 0x40;
    let error = parse(&image, true).unwrap_err();
    assert_eq!(error.offset, second as u64);
    assert_eq!(error.file, Path::new("log.6"));
    assert!(error.reason.contains("checksum mismatch"), "{error}");
}

#[test]
fn torn_last_record_of_the_newest_log_is_reported_and_ignored() {
    let records = log_records();
    let last = 16 + records[0].len() + records[1].len();
    // Cut inside the last record's body.
    let mut image = log_image(&records, 0);
    image.truncate(last + 20);
    let (parsed, end) = parse(&image, true).unwrap();
    assert_eq!(parsed.len(), 2);
    let LogEnd::TornTail { offset, .. } = end else {
        panic!("not torn: {end:?}");
    };
    assert_eq!(offset, last as u64);
    // The same damage in an older log is corruption.
    let error = parse(&image, false).unwrap_err();
    assert_eq!(error.offset, last as u64);
    // A half-written last record in preallocated space: bad checksum, then only zeros.
    let mut image = log_image(&records, 64);
    image[last + 30] ^= 0xff;
    let (parsed, end) = parse(&image, true).unwrap();
    assert_eq!(parsed.len(), 2);
    assert!(matches!(end, LogEnd::TornTail { offset, .. } if offset == last as u64));
}

#[test]
fn unknown_txn_type_is_an_error_naming_the_offset() {
    let mut records = log_records();
    records.push(record((SESSION, 3, 9, 2009, 99), |w| {
        w.i32(0);
    }));
    let image = log_image(&records, 0);
    let start: usize = 16 + records[..3].iter().map(Vec::len).sum::<usize>();
    let error = parse(&image, true).unwrap_err();
    // The type field sits after the checksum (8), the length (4) and 28 header bytes.
    assert_eq!(error.offset, (start + 12 + 28) as u64, "{error}");
    assert!(error.reason.contains("unknown txn type 99"), "{error}");
}

#[test]
fn replay_follows_zookeepers_fuzzy_snapshot_rules() {
    let image = snapshot_image(false);
    let snapshot = parse_snapshot(&mut Input::of_slice(&image, 0)).unwrap();
    let mut tree = ZkTree::from_snapshot(snapshot.nodes, &snapshot.sessions, 5).unwrap();
    let (parsed, _) = parse(&log_image(&log_records(), 0), true).unwrap();
    for record in &parsed {
        tree.apply(&record.entry.header, &record.entry.txn);
    }
    // A create already in a fuzzy snapshot: NodeExists, but the parent's count still rises.
    let header = super::txn::TxnHeader {
        client_id: SESSION,
        cxid: 4,
        zxid: 9,
        time_ms: 2009,
        op_type: op::CREATE,
    };
    let again = parsed[1].entry.txn.clone();
    let ZkTxn::Create(mut create) = again else {
        panic!()
    };
    create.parent_cversion = 5;
    tree.apply(&header, &ZkTxn::Create(create));
    // Closing the session deletes its remaining ephemeral (/a/x) at zxid 10.
    let close = super::txn::TxnHeader {
        zxid: 10,
        op_type: op::CLOSE_SESSION,
        ..header
    };
    tree.apply(
        &close,
        &ZkTxn::CloseSession {
            paths_to_delete: None,
        },
    );
    assert_eq!(tree.last_zxid, 10);
    assert!(tree.sessions.is_empty());
    assert_eq!(tree.skipped_ops, 1);
    let records = tree.into_records();
    let paths: Vec<&str> = records.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/", "/a", "/zookeeper", "/zookeeper/quota"]);
    let a = &records[1];
    assert_eq!(a.data.as_ref(), b"new");
    assert_eq!((a.version, a.mzxid, a.mtime_ms), (1, 8, 2008));
    assert_eq!(a.child_creates, 5);
    assert_eq!(a.pzxid, 10);
    assert_eq!(a.acl, digest_acl());
}

#[test]
fn passwords_match_zookeepers_generate_passwd() {
    let hex = |bytes: [u8; 16]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    // Values printed by java.util.Random(id ^ 0xB3415C00L).nextBytes(new byte[16]).
    assert_eq!(
        hex(super::password::zookeeper_password(0x0100_0001_2345_6789)),
        "b11647e5db8ff1c8bd6768eac33a41ce"
    );
    assert_eq!(
        hex(super::password::zookeeper_password(1)),
        "054cc74a37327db215e702e20c73f005"
    );
    assert_eq!(
        hex(super::password::zookeeper_password(i64::MAX)),
        "20f62cb5648dc2d771471c8a2486a9ee"
    );
}

#[test]
fn options_parse_and_reject() {
    let args: Vec<String> = ["--from", "/zk", "--to", "/c", "--log-from", "/zl"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let options = super::ImportOptions::parse(&args).unwrap();
    assert_eq!(options.from, Path::new("/zk"));
    assert_eq!(options.log_from.as_deref(), Some(Path::new("/zl")));
    assert_eq!(options.to, Path::new("/c"));
    assert!(super::ImportOptions::parse(&args[..2]).is_err());
    assert!(super::ImportOptions::parse(&["--bogus".to_string()]).is_err());
}

/// A ZooKeeper data directory holding `files` in its `version-2/`.
fn zk_dir(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let version_dir = dir.path().join("version-2");
    std::fs::create_dir(&version_dir).expect("mkdir version-2");
    for (name, bytes) in files {
        std::fs::write(version_dir.join(name), bytes).expect("write file");
    }
    dir
}

fn options(from: &Path, to: &Path) -> super::ImportOptions {
    super::ImportOptions {
        from: from.to_path_buf(),
        log_from: None,
        to: to.to_path_buf(),
    }
}

fn read_corral(path: &Path) -> corral_engine::state::State {
    let mut reader = corral_wal::snapshot::SnapshotReader::open(path).expect("open snapshot");
    let state = corral_engine::snapshot::read_state(&mut reader).expect("read state");
    reader.finish().expect("snapshot trailer");
    state
}

#[test]
fn import_replays_the_log_over_the_snapshot_into_a_corral_snapshot() {
    let zk = zk_dir(&[
        ("snapshot.5", snapshot_image(true)),
        ("log.6", log_image(&log_records(), 64)),
    ]);
    let target = tempfile::tempdir().expect("tempdir");
    let summary = super::import(&options(zk.path(), target.path())).expect("import");
    assert_eq!(summary.snapshot_zxid, 5);
    assert_eq!((summary.txns_applied, summary.ops_skipped), (3, 0));
    assert_eq!(
        (summary.nodes, summary.sessions, summary.last_zxid),
        (5, 1, 8)
    );
    assert_eq!(summary.torn_tail, None);
    let state = read_corral(&summary.written);
    assert_eq!(state.last_zxid(), 8);
    let x = state.exists("/a/x").expect("/a/x imported");
    assert_eq!((x.czxid, x.ctime, x.ephemeral_owner), (7, 2007, SESSION));
    assert_eq!(state.exists("/a/e"), None, "deleted by the multi");
    let a = state.exists("/a").expect("/a");
    // Two child creates, one child left: ZooKeeper shows cversion 2 * 2 - 1.
    assert_eq!(
        (a.version, a.cversion, a.num_children, a.pzxid),
        (1, 3, 1, 8)
    );
    let session = state.session(SESSION).expect("session imported");
    assert_eq!(session.timeout_ms, 4000);
    assert_eq!(
        session.password,
        super::password::zookeeper_password(SESSION)
    );
    let again = super::import(&options(zk.path(), target.path())).unwrap_err();
    assert!(
        matches!(again, super::ImportError::TargetNotEmpty { .. }),
        "{again}"
    );
}

#[test]
fn a_log_that_misses_txns_after_the_snapshot_is_a_gap_error() {
    let records = log_records();
    let zk = zk_dir(&[
        ("snapshot.5", snapshot_image(false)),
        ("log.7", log_image(&records[1..], 0)),
    ]);
    let target = tempfile::tempdir().expect("tempdir");
    let error = super::import(&options(zk.path(), &target.path().join("c"))).unwrap_err();
    let super::ImportError::Gap {
        offset,
        after_zxid,
        found_zxid,
        ..
    } = error
    else {
        panic!("not a gap: {error}");
    };
    assert_eq!((offset, after_zxid, found_zxid), (16, 5, 7));
}

#[test]
fn a_corrupt_newest_snapshot_falls_back_to_an_older_one_the_logs_cover() {
    let mut corrupt = snapshot_image(false);
    let position = corrupt.len() - 40;
    corrupt[position] ^= 0x01;
    let zk = zk_dir(&[
        ("snapshot.5", snapshot_image(false)),
        ("snapshot.7", corrupt),
        ("log.6", log_image(&log_records(), 0)),
    ]);
    let target = tempfile::tempdir().expect("tempdir");
    let summary = super::import(&options(zk.path(), &target.path().join("c"))).expect("import");
    assert_eq!(summary.snapshot_zxid, 5);
    assert_eq!(summary.skipped_snapshots.len(), 1);
    assert!(summary.skipped_snapshots[0].contains("snapshot.7 at offset"));
    assert_eq!(summary.last_zxid, 8);
}

#[test]
fn compressed_and_missing_snapshots_are_refused() {
    let target = tempfile::tempdir().expect("tempdir");
    let zk = zk_dir(&[("snapshot.5.gz", vec![0x1f, 0x8b])]);
    let error = super::import(&options(zk.path(), target.path())).unwrap_err();
    assert!(
        matches!(error, super::ImportError::Compressed { .. }),
        "{error}"
    );
    let zk = zk_dir(&[("log.1", log_image(&log_records(), 0))]);
    let error = super::import(&options(zk.path(), target.path())).unwrap_err();
    assert!(
        matches!(error, super::ImportError::NoSnapshot { .. }),
        "{error}"
    );
}

#[test]
fn close_session_body_of_twelve_bytes_is_a_list_only_when_it_reads_as_one() {
    let header = |w: &mut Writer<'_>| {
        w.i64(SESSION)
            .i32(9)
            .i64(20)
            .i64(3000)
            .i32(op::CLOSE_SESSION);
    };
    let mut digest_only = Vec::new();
    header(&mut Writer::new(&mut digest_only));
    Writer::new(&mut digest_only).i32(2).i64(0x55);
    let entry = super::txn::decode_entry(&digest_only, 0).unwrap();
    assert_eq!(
        entry.txn,
        ZkTxn::CloseSession {
            paths_to_delete: None
        }
    );
    assert_eq!(entry.digest, Some((2, 0x55)));
    let mut list_only = Vec::new();
    header(&mut Writer::new(&mut list_only));
    Writer::new(&mut list_only).i32(1).string("/a/b");
    let entry = super::txn::decode_entry(&list_only, 0).unwrap();
    assert_eq!(
        entry.txn,
        ZkTxn::CloseSession {
            paths_to_delete: Some(vec!["/a/b".to_string()])
        }
    );
    assert_eq!(entry.digest, None);
}

#[test]
fn files_with_unknown_suffixes_are_not_zookeeper_data() {
    // An interrupted snapshot's .tmp file sorts after snapshot.5 but must be ignored.
    let zk = zk_dir(&[
        ("snapshot.5", snapshot_image(false)),
        ("snapshot.9.tmp", vec![1, 2, 3]),
        ("log.6", log_image(&log_records(), 0)),
        ("log.6.bak", vec![0xff; 40]),
    ]);
    let target = tempfile::tempdir().expect("tempdir");
    let summary = super::import(&options(zk.path(), target.path())).expect("import");
    assert_eq!(summary.skipped_snapshots, Vec::<String>::new());
    assert_eq!(summary.logs.len(), 1);
    assert_eq!(summary.last_zxid, 8);
}
