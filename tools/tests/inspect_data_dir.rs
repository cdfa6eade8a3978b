//! `corral-inspect` on the files of a real `corral` server: the tree it prints equals the tree
//! a client read before the server stopped (paths, data, every stat field, ACLs), `--zxid`
//! shows an earlier moment, `wal --txns` lists the creates, `verify` passes a clean directory
//! and names the file and offset of a flipped byte, and snapshots show up once written.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use common::raw::{self, RawSession, Writer};
use common::{digest_id, Server};

/// Session timeout of the test's session: it must outlive the stop, so its ephemeral stays.
const SESSION_TIMEOUT_MS: i32 = 30_000;
/// Txns between two snapshots in the snapshot test: small, so a few dozen writes make several.
const SNAP_COUNT: usize = 10;
/// Writes the snapshot test makes: several snapshots' and several segments' worth, so the
/// server releases the start of the log.
const SNAPSHOT_TEST_WRITES: usize = 60;
/// WAL segment size (zoo.cfg's preAllocSize, KiB) of the snapshot test: 16 frames a segment.
const SEGMENT_KIB: u64 = 64;

/// The expected `tree --stat --acl --data` lines by path, read through a client.
type TreeLines = BTreeMap<String, String>;

/// Starts a Corral server for a test, or `None` (with the reason printed) when the suite runs
/// against Apache ZooKeeper, whose files this tool does not read.
fn start_corral(config_lines: &[&str]) -> Option<Server> {
    if std::env::var_os("CORRAL_TEST_ZK").is_some() {
        println!("skipped: corral-inspect reads Corral's files; CORRAL_TEST_ZK is set");
        return None;
    }
    Some(Server::start_with(config_lines))
}

fn inspect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_corral-inspect"))
        .args(args)
        .output()
        .expect("run corral-inspect")
}

fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `args` and checks the exit status, showing both streams when it differs.
fn inspect_expecting(args: &[&str], status: i32) -> String {
    let output = inspect(args);
    assert_eq!(
        output.status.code(),
        Some(status),
        "corral-inspect {args:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        stdout_of(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout_of(&output)
}

fn expect_ok(reply: &raw::Reply, what: &str) {
    assert_eq!(reply.err, raw::err::OK, "{what}");
}

async fn create(session: &mut RawSession, path: &str, data: Option<&[u8]>, flags: i32) -> String {
    let open = [(31, "world", "anyone")];
    let body = match data {
        Some(data) => raw::create_body(path, data, &open, flags),
        // A null buffer: ZooKeeper keeps it apart from empty data.
        None => Writer::new()
            .str(path)
            .int(-1)
            .acls(&open)
            .int(flags)
            .into_vec(),
    };
    let reply = session.request(raw::op::CREATE, &body).await;
    expect_ok(&reply, &format!("create {path}"));
    reply.reader().str()
}

async fn set_data(session: &mut RawSession, path: &str, data: &[u8], version: i32) -> raw::Stat {
    let body = Writer::new().str(path).buf(data).int(version).into_vec();
    let reply = session.request(raw::op::SET_DATA, &body).await;
    expect_ok(&reply, &format!("setData {path}"));
    reply.reader().stat()
}

/// Builds a tree with every kind of value and stat change: plain, empty, null and binary
/// data, versions, an ACL change, a digest ACL, sequential names with a gap, an ephemeral.
/// Returns the zxid of the first of two sets of `/it/a` (when it held "a1").
async fn build_tree(session: &mut RawSession, user_id: &str) -> i64 {
    create(session, "/it", Some(b"root"), 0).await;
    create(session, "/it/a", Some(b"a0"), 0).await;
    create(session, "/it/a/b", Some(b""), 0).await;
    let first_set = set_data(session, "/it/a", b"a1", 0).await;
    set_data(session, "/it/a", b"a2", 1).await;
    create(session, "/it/null", None, 0).await;
    create(session, "/it/bin", Some(&[0, 1, 2, 255]), 0).await;
    let secure_acl = [(31, "digest", user_id), (1, "world", "anyone")];
    let body = raw::create_body("/it/secure", b"s", &secure_acl, 0);
    expect_ok(
        &session.request(raw::op::CREATE, &body).await,
        "create secure",
    );
    let body = Writer::new()
        .str("/it/a/b")
        .acls(&[(3, "world", "anyone")])
        .int(0)
        .into_vec();
    expect_ok(&session.request(raw::op::SET_ACL, &body).await, "setACL");
    let mut sequential = Vec::new();
    for _ in 0..3 {
        sequential.push(create(session, "/it/seq-", Some(b"q"), 2).await);
    }
    let body = Writer::new().str(&sequential[1]).int(-1).into_vec();
    expect_ok(&session.request(raw::op::DELETE, &body).await, "delete");
    create(session, "/it/eph", Some(b"e"), 1).await;
    first_set.mzxid
}

fn perm_letters(perms: i32) -> String {
    [(4, 'c'), (8, 'd'), (1, 'r'), (2, 'w'), (16, 'a')]
        .iter()
        .filter(|(bit, _)| perms & bit != 0)
        .map(|(_, letter)| *letter)
        .collect()
}

/// The data word `tree --data` prints for this test's values.
fn data_word(data: &Option<Vec<u8>>) -> String {
    match data {
        None => "null".to_string(),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) if text.chars().all(|c| !c.is_control()) => format!("\"{text}\""),
            _ => {
                let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
                format!("0x{hex}")
            }
        },
    }
}

fn stat_words(stat: &raw::Stat) -> String {
    format!(
        "czxid={:#x} mzxid={:#x} ctime={} mtime={} version={} cversion={} aversion={} \
         ephemeralOwner={:#x} dataLength={} numChildren={} pzxid={:#x}",
        stat.czxid,
        stat.mzxid,
        stat.ctime,
        stat.mtime,
        stat.version,
        stat.cversion,
        stat.aversion,
        stat.ephemeral_owner,
        stat.data_length,
        stat.num_children,
        stat.pzxid
    )
}

/// Reads every node (data, stat, ACL) through the session and renders the line
/// `tree --stat --acl --data` must print for it.
async fn read_tree_lines(session: &mut RawSession) -> TreeLines {
    let mut lines = TreeLines::new();
    let mut pending = vec!["/".to_string()];
    while let Some(path) = pending.pop() {
        let body = raw::path_watch_body(&path, false);
        let reply = session.request(raw::op::GET_DATA, &body).await;
        expect_ok(&reply, &format!("getData {path}"));
        let mut reader = reply.reader();
        let data = reader.buf();
        let stat = reader.stat();
        let reply = session.request(raw::op::GET_CHILDREN, &body).await;
        expect_ok(&reply, &format!("getChildren {path}"));
        for child in reply.reader().strings() {
            let prefix = if path == "/" { "" } else { path.as_str() };
            pending.push(format!("{prefix}/{child}"));
        }
        let reply = session
            .request(raw::op::GET_ACL, &Writer::new().str(&path).into_vec())
            .await;
        expect_ok(&reply, &format!("getACL {path}"));
        let mut reader = reply.reader();
        let acl: Vec<String> = (0..reader.int())
            .map(|_| {
                let perms = reader.int();
                let scheme = reader.str();
                let id = reader.str();
                format!("{scheme}:{id}:{}", perm_letters(perms))
            })
            .collect();
        let line = format!(
            "{path} {} acl={} data={}",
            stat_words(&stat),
            acl.join(","),
            data_word(&data)
        );
        lines.insert(path, line);
    }
    lines
}

fn lines_by_path(output: &str) -> TreeLines {
    output
        .lines()
        .map(|line| {
            let path = line.split(' ').next().unwrap_or_default();
            (path.to_string(), line.to_string())
        })
        .collect()
}

/// Opens a session with the digest identity, so getACL shows digest ids unmasked.
async fn admin_session(server: &Server, user: &str, password: &str) -> RawSession {
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    let credentials = format!("{user}:{password}");
    assert_eq!(
        session.auth("digest", credentials.as_bytes()).await,
        raw::err::OK
    );
    session
}

#[tokio::test]
async fn inspect_tree_zxid_wal_and_verify_match_what_clients_saw() {
    let Some(mut server) = start_corral(&[]) else {
        return;
    };
    let user_id = digest_id("user", "pw");
    let mut session = admin_session(&server, "user", "pw").await;
    let first_set_zxid = build_tree(&mut session, &user_id).await;
    let expected = read_tree_lines(&mut session).await;
    server.stop_gracefully();
    let data_dir = server.data_dir().to_path_buf();
    let dir = data_dir.to_str().expect("utf-8 temp path");

    let tree = inspect_expecting(&["tree", dir, "--stat", "--acl", "--data"], 0);
    assert_eq!(lines_by_path(&tree), expected);

    // As of the first set of /it/a: its value then, and nothing created later.
    let zxid = format!("{first_set_zxid:#x}");
    let earlier = lines_by_path(&inspect_expecting(
        &["tree", dir, "--zxid", &zxid, "--data"],
        0,
    ));
    assert_eq!(
        earlier.get("/it/a").map(String::as_str),
        Some("/it/a data=\"a1\"")
    );
    assert!(earlier.contains_key("/it/a/b"));
    assert!(!earlier.contains_key("/it/null"), "{earlier:?}");
    let plain = inspect_expecting(&["tree", dir], 0);
    assert!(plain.lines().any(|line| line == "/it/eph"), "{plain}");
    inspect_expecting(&["tree", dir, "--zxid", "0x7fffffff"], 1);

    check_wal_txns(dir, &expected);
    let report = inspect_expecting(&["verify", dir], 0);
    assert!(report.contains("the server would start"), "{report}");
    assert!(!report.contains("CORRUPT"), "{report}");

    torn_tail_is_not_corruption(&data_dir);
    flip_byte_before_tail_and_verify(&data_dir);
}

/// Junk after the last frame of the last segment is what a crash mid-write leaves: `verify`
/// names it a torn tail and still passes, and the tree is unchanged.
fn torn_tail_is_not_corruption(data_dir: &Path) {
    let segments = corral_wal::scan::scan_dir(&data_dir.join("wal")).expect("scan");
    let last = segments.last().expect("a segment");
    let mut bytes = std::fs::read(&last.path).expect("read segment");
    let junk_at = bytes.len() - 16;
    bytes[junk_at..].fill(0xab);
    std::fs::write(&last.path, &bytes).expect("write segment");
    let dir = data_dir.to_str().expect("utf-8 temp path");
    let report = inspect_expecting(&["verify", dir], 0);
    let torn = format!("torn tail {} at offset ", last.path.display());
    assert!(report.contains(&torn), "{report}");
    assert!(report.contains("the server would start"), "{report}");
    assert!(!report.contains("CORRUPT"), "{report}");
}

/// `wal --txns` lists every create under the zxid that made the node.
fn check_wal_txns(dir: &str, expected: &TreeLines) {
    let listing = inspect_expecting(&["wal", dir, "--txns"], 0);
    for path in ["/it/a", "/it/secure", "/it/eph"] {
        let czxid = expected[path]
            .split(' ')
            .find_map(|word| word.strip_prefix("czxid="))
            .expect("czxid word")
            .to_string();
        let wanted = format!("txn zxid={czxid} ");
        let create = format!(" create {path} ");
        assert!(
            listing
                .lines()
                .any(|line| line.contains(&wanted) && line.contains(&create)),
            "no create of {path} at zxid {czxid} in\n{listing}"
        );
    }
    let with_records = inspect_expecting(&["wal", dir, "--records"], 0);
    assert!(with_records.contains(" hardstate term="), "{with_records}");
}

/// Flips the first byte of a record in the first frame, which is not the last one: `verify`
/// must call it corruption (not a torn tail) and name the segment and an offset in that frame.
fn flip_byte_before_tail_and_verify(data_dir: &Path) {
    let wal_dir = data_dir.join("wal");
    let segments = corral_wal::scan::scan_dir(&wal_dir).expect("scan");
    let frames: usize = segments.iter().map(|segment| segment.frames.len()).sum();
    assert!(frames >= 2, "the test needs a frame before the tail");
    let segment = &segments[0];
    let frame = &segment.frames[0];
    let frame_end = segment
        .frames
        .get(1)
        .map_or(segment.bytes, |next| next.offset);
    let target = frame.records[0].offset;
    let mut bytes = std::fs::read(&segment.path).expect("read segment");
    bytes[target as usize] ^= 0x5a;
    std::fs::write(&segment.path, &bytes).expect("write segment");

    let dir = data_dir.to_str().expect("utf-8 temp path");
    let report = inspect_expecting(&["verify", dir], 1);
    let prefix = format!("CORRUPT {} at offset ", segment.path.display());
    let offset: u64 = report
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.split(':').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix}… line in\n{report}"));
    assert!(
        (frame.offset..frame_end).contains(&offset),
        "offset {offset} is outside the damaged frame {}..{frame_end}\n{report}",
        frame.offset
    );
    assert!(report.contains("the server would NOT start"), "{report}");
    assert!(!report.contains("torn tail"), "{report}");
    inspect_expecting(&["tree", dir], 1);
}

#[tokio::test]
async fn snapshots_are_listed_verified_and_give_the_same_tree() {
    let snap_count = format!("snapCount={SNAP_COUNT}");
    let segment_kib = format!("preAllocSize={SEGMENT_KIB}");
    let Some(mut server) = start_corral(&[&snap_count, &segment_kib]) else {
        return;
    };
    let mut session = admin_session(&server, "user", "pw").await;
    create(&mut session, "/s", Some(b"s"), 0).await;
    for round in 0..SNAPSHOT_TEST_WRITES {
        let path = format!("/s/n{}", round % 7);
        if round < 7 {
            create(&mut session, &path, Some(b"v"), 0).await;
        } else {
            set_data(&mut session, &path, format!("v{round}").as_bytes(), -1).await;
        }
    }
    let expected = read_tree_lines(&mut session).await;
    server.stop_gracefully();
    let dir = server
        .data_dir()
        .to_str()
        .expect("utf-8 temp path")
        .to_string();

    let listing = inspect_expecting(&["snapshots", &dir], 0);
    let valid: Vec<&str> = listing
        .lines()
        .filter(|line| line.starts_with("snapshot index=") && line.contains(" valid "))
        .collect();
    assert!(!valid.is_empty(), "no valid snapshot listed:\n{listing}");
    let report = inspect_expecting(&["verify", &dir], 0);
    assert!(report.contains("start: from snapshot "), "{report}");
    let tree = inspect_expecting(&["tree", &dir, "--stat", "--acl", "--data"], 0);
    assert_eq!(lines_by_path(&tree), expected);

    // The zxid of the last set, counted from a snapshot when the log no longer starts at 1.
    let last = format!("/s/n{}", (SNAPSHOT_TEST_WRITES - 1) % 7);
    let mzxid = expected[&last]
        .split(' ')
        .find_map(|word| word.strip_prefix("mzxid="))
        .expect("mzxid word")
        .to_string();
    let txns = inspect_expecting(&["wal", &dir, "--txns"], 0);
    let wanted = format!("zxid={mzxid} ");
    let set = format!(" setData {last} ");
    assert!(
        txns.lines()
            .any(|line| line.contains(&wanted) && line.contains(&set)),
        "no set of {last} at zxid {mzxid} in\n{txns}"
    );

    let newest = valid[0]
        .split(' ')
        .next_back()
        .expect("snapshot path")
        .to_string();
    let summary = inspect_expecting(&["snapshot", &newest, "--tree"], 0);
    assert!(
        summary.starts_with(&format!("snapshot {newest} index=")),
        "{summary}"
    );
    assert!(
        summary.lines().any(|line| line.starts_with("/s czxid=")),
        "{summary}"
    );
    let from_file = inspect_expecting(&["tree", "--snapshot", &newest], 0);
    assert!(from_file.lines().any(|line| line == "/s"), "{from_file}");

    // As of an older snapshot's last zxid, the tree is exactly what that snapshot holds.
    let oldest = valid.last().expect("a valid snapshot");
    let words: Vec<&str> = oldest.split(' ').collect();
    let zxid = words
        .iter()
        .find_map(|word| word.strip_prefix("lastZxid="))
        .expect("lastZxid word");
    let path = words.last().expect("snapshot path");
    let flags = ["--stat", "--acl", "--data"];
    let as_of_zxid = inspect_expecting(&[&["tree", &dir, "--zxid", zxid][..], &flags].concat(), 0);
    let as_of_file = inspect_expecting(&[&["tree", "--snapshot", path][..], &flags].concat(), 0);
    assert_eq!(as_of_zxid, as_of_file);
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let help = inspect_expecting(&["--help"], 0);
    assert!(help.contains("verify DATA_DIR"), "{help}");
    inspect_expecting(&[], 2);
    inspect_expecting(&["frobnicate"], 2);
    inspect_expecting(&["tree"], 2);
    inspect_expecting(&["tree", "/nonexistent-corral-dir"], 2);
    inspect_expecting(&["wal", "/", "--bogus"], 2);
    inspect_expecting(&["snapshots", "/nonexistent-corral-dir"], 2);
    inspect_expecting(&["snapshot", "/nonexistent-corral-file"], 2);
}
