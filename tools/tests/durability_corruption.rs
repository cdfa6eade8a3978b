//! Damaged write-ahead logs, in seeded random trials: recovery keeps every record before the
//! damage and drops only a torn tail; damage before the tail stops the server with the file
//! and offset named, never silently.
//!
//! Each trial writes a known history through one session (one request at a time, so each
//! acknowledged write has its own frame or shares one with its neighbours in order), kills the
//! server with SIGKILL, finds the frames with `corral_wal::scan::scan_dir` (the format is never
//! hard-coded here: a write's frame is the one whose record payloads hold its unique data),
//! damages the log and restarts:
//! - truncating the last segment inside or after its last frames, or flipping bytes in the
//!   last frame, must leave a server that serves exactly the writes of the frames before the
//!   damaged one, logs that it truncated a torn tail, and carries on with higher zxids;
//! - flipping a byte in an earlier frame must make the server refuse to start, with a non-zero
//!   exit status and an error naming the segment file and an offset inside that frame.
//!
//! - flipping bytes in the newest snapshot, or truncating it, must leave a server that either
//!   falls back to an older snapshot and serves every acknowledged write, or refuses to start
//!   naming the file.
//!
//! `CORRAL_CORRUPTION_TRIALS` (default 4 per kind) and `CORRAL_CORRUPTION_SEED` (to replay).
//! Corral only: these tests edit Corral's own files.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::raw::{self, RawSession, Stat};
use common::{read_tree, Server, TestRng, Tree};
use corral_wal::scan::{scan_dir, ScannedSegment};
use corral_wal::snapshot::SnapshotStore;

/// Trials of each kind when `CORRAL_CORRUPTION_TRIALS` is unset.
const TRIALS_DEFAULT: usize = 4;
/// Acknowledged writes before the kill, drawn per trial: enough that the last frames of the log
/// hold client writes, not the set-up.
const WRITES: std::ops::Range<u64> = 20..60;
/// Acknowledged writes before the kill in the snapshot trials: several snapCounts' worth, so
/// that several snapshots exist.
const SNAPSHOT_WRITES: std::ops::Range<u64> = 80..160;
/// Percent of snapshot trials that truncate the newest snapshot rather than flip its bytes.
const SNAPSHOT_TRUNCATE_PERCENT: u64 = 40;
/// Percent of writes that set an existing node rather than create one.
const SET_PERCENT: u64 = 30;
/// Percent of payloads that span several sectors.
const LARGE_PAYLOAD_PERCENT: u64 = 15;
const LARGE_PAYLOAD_BYTES: std::ops::Range<u64> = 1000..9000;
const SMALL_PAYLOAD_BYTES: std::ops::Range<u64> = 0..64;
/// Bytes flipped in the last frame, drawn per trial.
const FLIPPED_BYTES: std::ops::Range<u64> = 1..4;
/// How many of the last frames a truncation may cut into.
const TRUNCATED_FRAMES_MAX: usize = 3;
/// Session timeout of the writing session.
const SESSION_TIMEOUT_MS: i32 = 10_000;
/// The directory all writes go to.
const DIR: &str = "/c";

/// Small segments in half the trials, so frames sit in several segments and an earlier frame
/// is often in an earlier file.
fn config(rng: &mut TestRng) -> &'static [&'static str] {
    if rng.percent(50) {
        &["preAllocSize=16"]
    } else {
        &[]
    }
}

fn trials() -> usize {
    match std::env::var("CORRAL_CORRUPTION_TRIALS") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("CORRAL_CORRUPTION_TRIALS={text} is not a count")),
        Err(_) => TRIALS_DEFAULT,
    }
}

/// One acknowledged write: the node it left behind.
#[derive(Clone, Debug)]
struct Write {
    path: String,
    data: Vec<u8>,
    stat: Stat,
}

/// The nodes under `DIR` after the first `count` writes.
fn state_after(writes: &[Write], count: usize) -> BTreeMap<String, (Vec<u8>, Stat)> {
    let mut nodes = BTreeMap::new();
    for write in &writes[..count] {
        nodes.insert(write.path.clone(), (write.data.clone(), write.stat));
    }
    nodes
}

fn nodes_under_dir(tree: &Tree) -> BTreeMap<String, (Vec<u8>, Stat)> {
    tree.iter()
        .filter(|(path, _)| path.starts_with(&format!("{DIR}/")))
        .map(|(path, node)| (path.clone(), node.clone()))
        .collect()
}

fn payload(rng: &mut TestRng, label: &str) -> Vec<u8> {
    let padding = if rng.percent(LARGE_PAYLOAD_PERCENT) {
        rng.range(LARGE_PAYLOAD_BYTES)
    } else {
        rng.range(SMALL_PAYLOAD_BYTES)
    };
    let mut data = format!("{label}.").into_bytes();
    data.resize(data.len() + padding as usize, b'x');
    data
}

/// Writes a history of `count` writes (drawn) one request at a time and returns every
/// acknowledged result.
async fn write_history(
    server: &Server,
    rng: &mut TestRng,
    count: std::ops::Range<u64>,
) -> Vec<Write> {
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    let body = raw::create_body(DIR, b"", raw::OPEN_ACL, 0);
    assert_eq!(
        session.request_err(raw::op::CREATE, &body).await,
        raw::err::OK
    );
    let count = rng.range(count) as usize;
    let mut writes: Vec<Write> = Vec::new();
    let mut versions: BTreeMap<String, i32> = BTreeMap::new();
    for index in 0..count {
        let data = payload(rng, &format!("c.o{index}"));
        let write = if !versions.is_empty() && rng.percent(SET_PERCENT) {
            let paths: Vec<String> = versions.keys().cloned().collect();
            let path = paths[rng.index(paths.len())].clone();
            let body = raw::Writer::new()
                .str(&path)
                .buf(&data)
                .int(versions[&path])
                .into_vec();
            let reply = session.request(raw::op::SET_DATA, &body).await;
            assert_eq!(reply.err, raw::err::OK, "set {path}");
            Write {
                stat: reply.reader().stat(),
                path,
                data,
            }
        } else {
            let path = format!("{DIR}/n{index}");
            let body = raw::create_body(&path, &data, raw::OPEN_ACL, 0);
            let reply = session.request(raw::op::CREATE2, &body).await;
            assert_eq!(reply.err, raw::err::OK, "create {path}");
            let mut reader = reply.reader();
            assert_eq!(reader.str(), path);
            Write {
                stat: reader.stat(),
                path,
                data,
            }
        };
        versions.insert(write.path.clone(), write.stat.version);
        writes.push(write);
    }
    session.abandon();
    writes
}

/// A valid frame of the log, in log order, with the byte range its header and records cover.
#[derive(Clone, Debug)]
struct Frame {
    segment: PathBuf,
    segment_is_last: bool,
    start: u64,
    /// End of its last record (sector padding excluded).
    end: u64,
    payloads: Vec<Vec<u8>>,
}

fn frames_of(segments: &[ScannedSegment]) -> Vec<Frame> {
    let mut frames = Vec::new();
    for (position, segment) in segments.iter().enumerate() {
        for frame in &segment.frames {
            let first = frame.records.first().expect("a frame holds records");
            frames.push(Frame {
                segment: segment.path.clone(),
                segment_is_last: position + 1 == segments.len(),
                start: frame.offset,
                // The records follow the frame header and fill `body_bytes`.
                end: first.offset + u64::from(frame.body_bytes),
                payloads: frame
                    .records
                    .iter()
                    .map(|record| record.payload.clone())
                    .collect(),
            });
        }
    }
    frames
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// For each write, the index of the frame that holds it (found by its unique data).
fn frame_of_each_write(frames: &[Frame], writes: &[Write]) -> Vec<usize> {
    let located: Vec<usize> = writes
        .iter()
        .enumerate()
        .map(|(index, write)| {
            frames
                .iter()
                .position(|frame| {
                    frame
                        .payloads
                        .iter()
                        .any(|payload| contains(payload, &write.data))
                })
                .unwrap_or_else(|| panic!("write {index} ({}) is in no WAL frame", write.path))
        })
        .collect();
    assert!(
        located.windows(2).all(|pair| pair[0] <= pair[1]),
        "writes acknowledged one after another lie in frames out of order: {located:?}"
    );
    located
}

/// A server killed after a known history, with its log scanned.
struct Crashed {
    server: Server,
    writes: Vec<Write>,
    frames: Vec<Frame>,
    frame_of_write: Vec<usize>,
}

async fn crash_after_history(rng: &mut TestRng) -> Crashed {
    let mut server = Server::start_with(config(rng));
    let writes = write_history(&server, rng, WRITES).await;
    tokio::task::block_in_place(|| server.kill9());
    let segments = scan_dir(&server.data_dir().join("wal")).expect("scan the log");
    let frames = frames_of(&segments);
    let frame_of_write = frame_of_each_write(&frames, &writes);
    Crashed {
        server,
        writes,
        frames,
        frame_of_write,
    }
}

impl Crashed {
    /// Writes that lie in frames before frame `damaged`: what recovery must keep.
    fn writes_before(&self, damaged: usize) -> usize {
        self.frame_of_write
            .iter()
            .filter(|&&frame| frame < damaged)
            .count()
    }

    /// Restarts on the damaged log and checks that exactly the first `kept` writes are served,
    /// that `torn` decides whether a torn tail is logged, and that writes go on above them.
    async fn expect_recovered_prefix(&mut self, kept: usize, torn: bool, context: &str) {
        let log_before = self.server.log().len();
        if let Err((status, log)) = tokio::task::block_in_place(|| self.server.try_start_again()) {
            panic!("{context}: the server refused a log with a torn tail ({status}):\n{log}");
        }
        let recovered = read_tree(&self.server.address()).await;
        let expected = state_after(&self.writes, kept);
        let found = nodes_under_dir(&recovered);
        assert_eq!(
            found.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{context}: nodes after recovery (expected the first {kept} of {} writes)",
            self.writes.len()
        );
        assert_eq!(found, expected, "{context}: node contents after recovery");
        let log = self.server.log()[log_before..].to_string();
        assert_eq!(
            log.contains("torn tail"),
            torn,
            "{context}: torn tail logged?\n{log}"
        );
        self.check_writes_go_on(&recovered, context).await;
    }

    /// A new write gets a zxid above all the recovered tree holds, and a clean restart then
    /// keeps the tree exactly: the torn bytes were really discarded.
    async fn check_writes_go_on(&mut self, recovered: &Tree, context: &str) {
        let highest = recovered
            .values()
            .flat_map(|(_, stat)| [stat.czxid, stat.mzxid, stat.pzxid])
            .max()
            .unwrap_or(0);
        let mut session = RawSession::connect(&self.server.address(), SESSION_TIMEOUT_MS).await;
        let body = raw::create_body(&format!("{DIR}/after"), b"after", raw::OPEN_ACL, 0);
        let reply = session.request(raw::op::CREATE2, &body).await;
        assert_eq!(reply.err, raw::err::OK, "{context}: create after recovery");
        let mut reader = reply.reader();
        let _ = reader.str();
        let stat = reader.stat();
        assert!(
            stat.czxid > highest,
            "{context}: zxid {} after {highest}",
            stat.czxid
        );
        session.close().await;
        let before = read_tree(&self.server.address()).await;
        tokio::task::block_in_place(|| self.server.restart());
        let after = read_tree(&self.server.address()).await;
        assert_eq!(
            before, after,
            "{context}: tree changed across a clean restart after recovery"
        );
    }
}

/// `count` distinct offsets in `range`, ascending (two flips of one byte could cancel out).
fn distinct_offsets(rng: &mut TestRng, count: u64, range: std::ops::Range<u64>) -> Vec<u64> {
    let mut offsets: Vec<u64> = (0..count).map(|_| rng.range(range.clone())).collect();
    offsets.sort_unstable();
    offsets.dedup();
    offsets
}

fn flip_bytes(path: &Path, offsets: &[u64], rng: &mut TestRng) {
    let mut bytes = std::fs::read(path).expect("read segment");
    for &offset in offsets {
        let mask = rng.range(1..256) as u8;
        bytes[usize::try_from(offset).expect("offset fits usize")] ^= mask;
    }
    std::fs::write(path, bytes).expect("write segment");
}

/// (a) The last segment cut at a random offset inside one of its last frames or after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_last_segment_recovers_the_frames_before_the_cut() {
    if Server::external_configured() || std::env::var("CORRAL_TEST_ZK").is_ok() {
        return;
    }
    let seed = common::fault_seed("CORRAL_CORRUPTION_SEED");
    for trial in 0..trials() {
        let mut rng = TestRng::new(seed ^ (trial as u64 + 1).wrapping_mul(0x5851_f42d));
        let mut crashed = crash_after_history(&mut rng).await;
        let last = crashed.frames.len() - 1;
        let last_segment = crashed.frames[last].segment.clone();
        assert!(
            crashed.frames[last].segment_is_last,
            "the last frame is in the last segment"
        );
        let length = std::fs::metadata(&last_segment).expect("segment").len();
        // A frame among the last few of the last segment, or the zeros after them.
        let candidates: Vec<usize> = (last.saturating_sub(TRUNCATED_FRAMES_MAX - 1)..=last)
            .filter(|&index| crashed.frames[index].segment == last_segment)
            .collect();
        let (cut, damaged) = if rng.percent(25) {
            (rng.range(crashed.frames[last].end..length + 1), last + 1)
        } else {
            let index = candidates[rng.index(candidates.len())];
            let frame = &crashed.frames[index];
            (rng.range(frame.start..frame.end), index)
        };
        let torn = damaged <= last && cut > crashed.frames[damaged].start;
        let context = format!(
            "seed {seed} trial {trial}: {} cut at {cut} (frame {damaged} of {})",
            last_segment.display(),
            crashed.frames.len()
        );
        println!("{context}");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&last_segment)
            .expect("open");
        file.set_len(cut).expect("truncate");
        drop(file);
        let kept = crashed.writes_before(damaged);
        crashed.expect_recovered_prefix(kept, torn, &context).await;
    }
}

/// (b) Random bytes of the last frame flipped: the frame is a torn tail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_bytes_in_the_last_frame_are_a_torn_tail() {
    if Server::external_configured() || std::env::var("CORRAL_TEST_ZK").is_ok() {
        return;
    }
    let seed = common::fault_seed("CORRAL_CORRUPTION_SEED");
    for trial in 0..trials() {
        let mut rng = TestRng::new(seed ^ (trial as u64 + 1).wrapping_mul(0x2545_f491));
        let mut crashed = crash_after_history(&mut rng).await;
        let last = crashed.frames.len() - 1;
        let frame = crashed.frames[last].clone();
        assert!(
            frame.segment_is_last,
            "the last frame is in the last segment"
        );
        let count = rng.range(FLIPPED_BYTES);
        let offsets = distinct_offsets(&mut rng, count, frame.start..frame.end);
        let context = format!(
            "seed {seed} trial {trial}: {} bytes {offsets:?} flipped (last frame {}..{})",
            frame.segment.display(),
            frame.start,
            frame.end
        );
        println!("{context}");
        flip_bytes(&frame.segment, &offsets, &mut rng);
        let kept = crashed.writes_before(last);
        crashed.expect_recovered_prefix(kept, true, &context).await;
    }
}

/// (c) A byte flipped in a frame before the last: recovery refuses, naming file and offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_byte_before_the_last_frame_stops_the_server() {
    if Server::external_configured() || std::env::var("CORRAL_TEST_ZK").is_ok() {
        return;
    }
    let seed = common::fault_seed("CORRAL_CORRUPTION_SEED");
    for trial in 0..trials() {
        let mut rng = TestRng::new(seed ^ (trial as u64 + 1).wrapping_mul(0x1405_7b7e));
        let mut crashed = crash_after_history(&mut rng).await;
        let last = crashed.frames.len() - 1;
        let damaged = rng.index(last);
        let frame = crashed.frames[damaged].clone();
        let offset = rng.range(frame.start..frame.end);
        let context = format!(
            "seed {seed} trial {trial}: {} byte {offset} flipped (frame {damaged} of {}, {}..{})",
            frame.segment.display(),
            crashed.frames.len(),
            frame.start,
            frame.end
        );
        println!("{context}");
        flip_bytes(&frame.segment, &[offset], &mut rng);
        let (status, log) = match tokio::task::block_in_place(|| crashed.server.try_start_again()) {
            Ok(()) => {
                let served = nodes_under_dir(&read_tree(&crashed.server.address()).await).len();
                panic!("{context}: the server started on a corrupt log, serving {served} nodes");
            }
            Err(refused) => refused,
        };
        assert!(!status.success(), "{context}: exit status {status}");
        let file_name = frame
            .segment
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        assert!(
            log.contains(&file_name),
            "{context}: the error does not name {file_name}:\n{log}"
        );
        let named = named_offsets(&log);
        assert!(
            named
                .iter()
                .any(|&named| (frame.start..frame.end).contains(&named)),
            "{context}: the error names offsets {named:?}, none inside the damaged frame:\n{log}"
        );
    }
}

/// Every number that follows the word "offset" in `log`.
fn named_offsets(log: &str) -> Vec<u64> {
    log.split("offset")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect()
}

#[test]
fn named_offsets_finds_every_offset() {
    let log = "corral: WAL corrupt: /d/wal-1.log at offset 8192: bad checksum (offset 8200)";
    assert_eq!(named_offsets(log), vec![8192, 8200]);
}

/// Small snapCounts, so that a history leaves several snapshots (at least the three retained).
fn snapshot_config(rng: &mut TestRng) -> &'static [&'static str] {
    if rng.percent(50) {
        &["snapCount=10", "preAllocSize=16"]
    } else {
        &["snapCount=25"]
    }
}

/// (3) The newest snapshot flipped or truncated: the server falls back to an older snapshot,
/// saying which file it passed over, and serves every acknowledged write; or it refuses to
/// start naming the file. Never less.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_newest_snapshot_falls_back_or_stops_the_server() {
    if Server::external_configured() || std::env::var("CORRAL_TEST_ZK").is_ok() {
        return;
    }
    let seed = common::fault_seed("CORRAL_CORRUPTION_SEED");
    for trial in 0..trials() {
        let mut rng = TestRng::new(seed ^ (trial as u64 + 1).wrapping_mul(0x9e37_79b9));
        let mut server = Server::start_with(snapshot_config(&mut rng));
        let writes = write_history(&server, &mut rng, SNAPSHOT_WRITES).await;
        tokio::task::block_in_place(|| server.kill9());
        let store = SnapshotStore::open(&server.data_dir().join("snapshots")).expect("snapshots");
        let snapshots = store.list().expect("list snapshots");
        assert!(
            !snapshots.is_empty(),
            "seed {seed} trial {trial}: no snapshot after {} writes",
            writes.len()
        );
        let newest = &snapshots[0].path;
        let damage = damage_snapshot(newest, &mut rng);
        let context = format!(
            "seed {seed} trial {trial}: {} of {} snapshots, {damage}",
            newest.display(),
            snapshots.len()
        );
        let name = newest
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let log_before = server.log().len();
        match tokio::task::block_in_place(|| server.try_start_again()) {
            Ok(()) => {
                let log = server.log()[log_before..].to_string();
                assert!(
                    log.contains(&name),
                    "{context}: fell back without naming the damaged snapshot:\n{log}"
                );
                let served = nodes_under_dir(&read_tree(&server.address()).await);
                assert_eq!(
                    served,
                    state_after(&writes, writes.len()),
                    "{context}: started, but not with every acknowledged write"
                );
                println!("{context}: fell back, served all {} writes", writes.len());
            }
            Err((status, log)) => {
                assert!(!status.success(), "{context}: exit status {status}");
                assert!(
                    log.contains(&name),
                    "{context}: the error does not name {name}:\n{log}"
                );
                println!("{context}: refused to start ({status})");
            }
        }
    }
}

/// Truncates the snapshot at a random offset or flips a few of its bytes; says which.
fn damage_snapshot(path: &Path, rng: &mut TestRng) -> String {
    let length = std::fs::metadata(path).expect("snapshot").len();
    if rng.percent(SNAPSHOT_TRUNCATE_PERCENT) {
        let cut = rng.range(0..length);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .expect("open");
        file.set_len(cut).expect("truncate");
        format!("cut at {cut} of {length} bytes")
    } else {
        let count = rng.range(FLIPPED_BYTES);
        let offsets = distinct_offsets(rng, count, 0..length);
        flip_bytes(path, &offsets, rng);
        format!("bytes {offsets:?} of {length} flipped")
    }
}
