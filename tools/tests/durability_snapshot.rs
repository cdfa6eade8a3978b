//! Snapshots and compaction through the server: snapshots appear every `snapCount` txns, old
//! ones are purged to `autopurge.snapRetainCount`, the log before the oldest kept one is
//! released, and a restart (graceful or kill -9) rebuilds the same tree, zxids and sessions
//! from the newest valid snapshot plus the log. A corrupt newest snapshot falls back to an
//! older one when the log covers it, and the server refuses to start when it does not. A full
//! log disk fails writes with SystemError while reads go on, and writes resume once space
//! returns.
//!
//! Corral only: the file layout is Corral's (ZooKeeper's own snapshots are tested elsewhere).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::raw::{self, RawSession, Writer};
use common::{read_tree, Server};

/// ZooKeeper's error code for a write the server could not log.
const SYSTEM_ERROR: i32 = -1;
/// Small log segments (KiB), so that a few hundred writes span many of them.
const SEGMENT_KIB: &str = "32";
const OPEN_ACL: &[(i32, &str, &str)] = &[(31, "world", "anyone")];
/// How long the background snapshot thread may take to catch up in a debug build.
const SETTLE: Duration = Duration::from_secs(15);

/// The tests need the `corral` binary's own files: skipped against ZooKeeper.
fn corral_only(test: &str) -> bool {
    if std::env::var("CORRAL_TEST_ZK").is_ok() {
        println!("{test}: skipped, CORRAL_TEST_ZK is set and this test reads Corral's files");
        return false;
    }
    true
}

fn files(dir: &Path, prefix: &str, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| {
                    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    name.starts_with(prefix) && name.ends_with(suffix)
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

fn snapshots(server: &Server) -> Vec<PathBuf> {
    files(&server.data_dir().join("snapshots"), "snapshot-", ".snap")
}

fn segments(server: &Server) -> Vec<PathBuf> {
    files(&server.data_dir().join("wal"), "wal-", ".log")
}

/// Waits until `done` holds, failing with `what` and the server log after `SETTLE`.
fn wait_until(server: &Server, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + SETTLE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn create(session: &mut RawSession, path: &str, data: &[u8], flags: i32) -> i32 {
    let body = raw::create_body(path, data, OPEN_ACL, flags);
    session.request_err(raw::op::CREATE, &body).await
}

async fn set_data(session: &mut RawSession, path: &str, data: &[u8]) -> i32 {
    let body = Writer::new().str(path).buf(data).int(-1).into_vec();
    session.request_err(raw::op::SET_DATA, &body).await
}

/// `count` sequential writes under `root`: creates of `root/n<i>`, then sets of their data,
/// one request at a time so that each is its own log frame.
async fn write_many(session: &mut RawSession, root: &str, count: usize) {
    for i in 0..count {
        let path = format!("{root}/n{}", i % 40);
        let code = if i < 40 {
            create(session, &path, format!("v{i}").as_bytes(), 0).await
        } else {
            set_data(session, &path, format!("v{i}").as_bytes()).await
        };
        assert_eq!(code, raw::err::OK, "write {i} to {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_purged_the_log_released_and_restarts_keep_everything() {
    if !corral_only("snapshots_are_purged_the_log_released_and_restarts_keep_everything") {
        return;
    }
    let mut server = Server::start_with(&["snapCount=40", &format!("preAllocSize={SEGMENT_KIB}")]);
    let address = server.address();
    let mut owner = RawSession::connect(&address, 30_000).await;
    assert_eq!(create(&mut owner, "/snap", b"root", 0).await, raw::err::OK);
    let ephemeral = raw::create_body("/snap/owned", b"e", OPEN_ACL, 1);
    assert_eq!(
        owner.request_err(raw::op::CREATE, &ephemeral).await,
        raw::err::OK
    );
    write_many(&mut owner, "/snap", 400).await;

    // 400+ txns at snapCount=40: about ten snapshots, purged to the default three.
    wait_until(&server, "three snapshots after purging", || {
        snapshots(&server).len() == 3
    });
    let first_segment = server
        .data_dir()
        .join("wal")
        .join(format!("wal-{:020}.log", 1));
    wait_until(&server, "the first log segment to be released", || {
        !first_segment.exists()
    });
    // The log is kept only from the oldest retained snapshot on (about 3 × 40 one-frame
    // writes), a fraction of the segments the 400 writes went through.
    let kept = segments(&server);
    let newest_sequence = kept
        .last()
        .and_then(|path| {
            path.file_name()?
                .to_str()?
                .get(4..24)?
                .parse::<usize>()
                .ok()
        })
        .expect("a segment named wal-<sequence>.log");
    assert!(
        kept.len() * 2 < newest_sequence,
        "{} of {newest_sequence} segments kept after compaction: {kept:?}",
        kept.len()
    );

    let before = read_tree(&address).await;
    assert_eq!(before["/snap/owned"].1.ephemeral_owner, owner.session_id);
    assert_eq!(before["/snap/n39"].0, b"v399");
    let (session_id, password) = (owner.session_id, owner.password.clone());
    owner.abandon();

    server.restart();
    let after_restart = read_tree(&server.address()).await;
    assert_eq!(after_restart, before, "tree after a graceful restart");
    server.kill9_and_restart();
    let after_kill = read_tree(&server.address()).await;
    assert_eq!(after_kill, before, "tree after kill -9");

    // The owner's session survived both restarts: it resumes and still owns its node.
    let mut resumed = RawSession::resume(&server.address(), session_id, &password, 30_000)
        .await
        .expect("the owner's session survives restarts");
    let reply = resumed
        .request(raw::op::EXISTS, &raw::path_watch_body("/snap/owned", false))
        .await;
    assert_eq!(reply.err, raw::err::OK);
    assert_eq!(reply.reader().stat().ephemeral_owner, session_id);
    resumed.close().await;
}

/// Overwrites 16 bytes in the middle of `path` with a fixed pattern (idempotent, unlike a
/// flip: a file corrupted twice stays corrupt).
fn corrupt_middle(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read snapshot");
    let middle = bytes.len() / 2;
    let end = (middle + 16).min(bytes.len());
    bytes[middle..end].fill(0xee);
    std::fs::write(path, bytes).expect("write snapshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_snapshot_falls_back_to_an_older_one_or_refuses_to_start() {
    if !corral_only("a_corrupt_snapshot_falls_back_to_an_older_one_or_refuses_to_start") {
        return;
    }
    let mut server = Server::start_with(&["snapCount=30", &format!("preAllocSize={SEGMENT_KIB}")]);
    let mut session = RawSession::connect(&server.address(), 30_000).await;
    assert_eq!(create(&mut session, "/fall", b"", 0).await, raw::err::OK);
    write_many(&mut session, "/fall", 300).await;
    session.close().await;
    wait_until(&server, "three snapshots", || snapshots(&server).len() == 3);
    let first_segment = server
        .data_dir()
        .join("wal")
        .join(format!("wal-{:020}.log", 1));
    wait_until(&server, "the first log segment to be released", || {
        !first_segment.exists()
    });
    let before = read_tree(&server.address()).await;
    server.stop_gracefully();

    // The newest snapshot is corrupt; the log still covers the one before it.
    let kept = snapshots(&server);
    let newest = kept.last().expect("a snapshot").clone();
    corrupt_middle(&newest);
    if let Err((status, log)) = server.try_start_again() {
        panic!("no fallback to an older snapshot ({status}):\n{log}");
    }
    let log = server.log();
    assert!(
        log.contains(&format!("snapshot {} is unusable", newest.display())),
        "the log names the corrupt file:\n{log}"
    );
    assert!(log.contains("offset"), "the log names the offset:\n{log}");
    let mut after = read_tree(&server.address()).await;
    // Reading the tree opened and closed a session; compare the nodes only.
    after.retain(|path, _| before.contains_key(path));
    assert_eq!(after, before, "tree after falling back");
    server.stop_gracefully();

    // Every snapshot corrupt, and the log released long ago: no fallback can be complete.
    for path in snapshots(&server) {
        corrupt_middle(&path);
    }
    let newest = snapshots(&server).last().expect("a snapshot").clone();
    match server.try_start_again() {
        Ok(()) => panic!("started without a usable snapshot:\n{}", server.log()),
        Err((status, log)) => {
            assert!(!status.success(), "{status}");
            assert!(
                log.contains(&format!("cannot recover: snapshot {}", newest.display())),
                "the refusal names the corrupt file:\n{log}"
            );
        }
    }
}

/// A small tmpfs for the log, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(kib: u64) -> Result<SmallDisk, String> {
        let dir = tempfile::Builder::new()
            .prefix("corral-full-")
            .tempdir()
            .map_err(|error| error.to_string())?;
        let output = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|error| format!("mount cannot run: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "mount -t tmpfs refused: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk with a ballast file, returning its path.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("ballast");
        let mut file = std::fs::File::create(&path).expect("create ballast");
        let chunk = vec![0xbb_u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// A server whose log directory is a 1 MiB loop-mounted filesystem, with 16 KiB segments.
struct SmallDiskServer {
    server: Server,
    disk: SmallDisk,
}

impl SmallDiskServer {
    /// Starts one for `test`, or prints why this machine cannot and returns None.
    fn start(test: &str) -> Option<SmallDiskServer> {
        if !corral_only(test) {
            return None;
        }
        let disk = match SmallDisk::mount(1024) {
            Ok(disk) => disk,
            Err(why) => {
                println!("{test}: skipped, {why}");
                return None;
            }
        };
        let log_dir = format!("dataLogDir={}", disk.path().display());
        let server = Server::start_with(&[&log_dir, "preAllocSize=16"]);
        Some(SmallDiskServer { server, disk })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_log_disk_fails_writes_but_not_reads_and_writes_resume() {
    let Some(SmallDiskServer { mut server, disk }) =
        SmallDiskServer::start("a_full_log_disk_fails_writes_but_not_reads_and_writes_resume")
    else {
        return;
    };
    let mut session = RawSession::connect(&server.address(), 30_000).await;
    assert_eq!(create(&mut session, "/full", b"0", 0).await, raw::err::OK);
    let ballast = disk.fill();

    // Writes go on into the segment and the spare prepared before the disk filled; then one
    // needs a new segment and fails.
    let acknowledged = set_until_disk_full(&server, &mut session, "/full").await;
    assert!(
        server.log().contains("write-ahead log append failed"),
        "the failure is logged:\n{}",
        server.log()
    );
    // Further writes fail too, while reads and pings go on in the same session.
    let create_code = create(&mut session, "/full/child", b"", 0).await;
    assert_eq!(create_code, SYSTEM_ERROR);
    let reply = session
        .request(raw::op::GET_DATA, &raw::path_watch_body("/full", false))
        .await;
    assert_eq!(reply.err, raw::err::OK);
    assert_eq!(
        reply.reader().buf(),
        Some(format!("{acknowledged}").into_bytes())
    );
    session.ping().await;
    let exists = session
        .request(raw::op::EXISTS, &raw::path_watch_body("/full/child", false))
        .await;
    assert_eq!(
        exists.err,
        raw::err::NO_NODE,
        "the failed create was not applied"
    );
    // A new session is a write too: its connection is closed instead of answered.
    let (_stream, refused) = raw::handshake(&server.address(), 30_000, 0, &[]).await;
    assert_eq!(refused, None, "a session created on a full disk");

    // Space returns: the next write succeeds.
    std::fs::remove_file(&ballast).expect("remove ballast");
    assert_eq!(
        set_data(&mut session, "/full", b"after").await,
        raw::err::OK
    );
    assert_eq!(
        create(&mut session, "/full/child", b"c", 0).await,
        raw::err::OK
    );
    session.close().await;

    let before = read_tree(&server.address()).await;
    assert_eq!(before["/full"].0, b"after");
    assert_eq!(before["/full"].1.version as usize, acknowledged + 1);
    server.restart();
    let mut after = read_tree(&server.address()).await;
    after.retain(|path, _| before.contains_key(path));
    assert_eq!(after, before, "every acknowledged write survives a restart");
    drop(server);
    drop(disk);
}

/// Sets `path` until a write fails with SystemError (the disk is full); returns how many
/// were acknowledged.
async fn set_until_disk_full(server: &Server, session: &mut RawSession, path: &str) -> usize {
    for i in 1..=200 {
        match set_data(session, path, format!("{i}").as_bytes()).await {
            0 => {}
            SYSTEM_ERROR => return i - 1,
            other => panic!("write {i}: unexpected error {other}"),
        }
    }
    panic!("200 writes fit a full disk?\n{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_that_cannot_be_logged_fails_and_the_session_lives_on() {
    let Some(SmallDiskServer { server, disk }) =
        SmallDiskServer::start("a_close_that_cannot_be_logged_fails_and_the_session_lives_on")
    else {
        return;
    };
    let address = server.address();
    let mut owner = RawSession::connect(&address, 30_000).await;
    assert_eq!(create(&mut owner, "/closing", b"0", 0).await, raw::err::OK);
    let ephemeral = raw::create_body("/closing/owned", b"e", OPEN_ACL, 1);
    assert_eq!(
        owner.request_err(raw::op::CREATE, &ephemeral).await,
        raw::err::OK
    );
    let ballast = disk.fill();
    set_until_disk_full(&server, &mut owner, "/closing").await;

    // The close cannot reach the log: the client hears SystemError, not OK, and the
    // connection is closed after the reply, as ZooKeeper closes it after any closeSession.
    let xid = owner.send(raw::op::CLOSE_SESSION, &[]).await;
    let reply = owner.read_reply(xid).await;
    assert_eq!(reply.err, SYSTEM_ERROR, "closeSession on a full disk");
    assert!(
        owner.read_any().await.is_none(),
        "the connection closes after the close's reply"
    );
    assert!(
        server.log().contains("closeSession of session"),
        "the failed close is logged:\n{}",
        server.log()
    );

    // The session lives on: once space returns it resumes, its ephemeral node still there,
    // and a second close succeeds and removes the node.
    std::fs::remove_file(&ballast).expect("remove ballast");
    let mut resumed = RawSession::resume(&address, owner.session_id, &owner.password, 30_000)
        .await
        .expect("the session whose close failed is still alive");
    let exists = resumed
        .request(
            raw::op::EXISTS,
            &raw::path_watch_body("/closing/owned", false),
        )
        .await;
    assert_eq!(exists.err, raw::err::OK);
    assert_eq!(exists.reader().stat().ephemeral_owner, owner.session_id);
    resumed.close().await;
    let tree = read_tree(&address).await;
    assert!(tree.contains_key("/closing"));
    assert!(
        !tree.contains_key("/closing/owned"),
        "the ephemeral node goes with the closed session"
    );
    drop(server);
    drop(disk);
}

/// The numbers of the log line "snapshot PATH written (…; BYTES bytes in MS ms; N written, …)".
fn snapshot_log_lines(log: &str) -> Vec<(PathBuf, u64, u64)> {
    log.lines()
        .filter_map(|line| {
            let rest = &line[line.find("snapshot /")? + "snapshot ".len()..];
            let (path, rest) = rest.split_once(" written (")?;
            let (_, rest) = rest.split_once("; ")?;
            let (bytes, rest) = rest.split_once(" bytes in ")?;
            let (ms, _) = rest.split_once(" ms;")?;
            Some((PathBuf::from(path), bytes.parse().ok()?, ms.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_snapshot_is_logged_with_its_size_duration_and_counts() {
    if !corral_only("each_snapshot_is_logged_with_its_size_duration_and_counts") {
        return;
    }
    let server = Server::start_with(&["snapCount=20", "autopurge.snapRetainCount=10"]);
    let mut session = RawSession::connect(&server.address(), 30_000).await;
    assert_eq!(create(&mut session, "/logged", b"", 0).await, raw::err::OK);
    write_many(&mut session, "/logged", 50).await;
    wait_until(&server, "the second snapshot's log line", || {
        server.log().contains("2 written, 0 failed so far")
    });
    let lines = snapshot_log_lines(&server.log());
    assert!(lines.len() >= 2, "{lines:?}\n{}", server.log());
    for (path, bytes, _ms) in &lines {
        let size = std::fs::metadata(path).map(|meta| meta.len()).unwrap_or(0);
        assert_eq!(*bytes, size, "logged size of {}", path.display());
        assert!(*bytes > 0);
    }
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_shutdown_leaves_no_half_made_segment() {
    if !corral_only("a_clean_shutdown_leaves_no_half_made_segment") {
        return;
    }
    let mut server = Server::start_with(&["preAllocSize=16"]);
    let mut session = RawSession::connect(&server.address(), 30_000).await;
    assert_eq!(create(&mut session, "/clean", b"", 0).await, raw::err::OK);
    // Enough one-frame writes to roll through several 16 KiB segments, so a spare is always
    // being zero-filled in the background.
    write_many(&mut session, "/clean", 120).await;
    session.close().await;
    server.stop_gracefully();
    let wal = server.data_dir().join("wal");
    assert_eq!(files(&wal, "wal-", ".tmp"), Vec::<PathBuf>::new());
    assert!(segments(&server).len() > 1, "{:?}", segments(&server));
}
