//! Encode and decode times of a large snapshot. Ignored by default (it needs a release build to
//! mean anything); run with
//! `cargo test --release -p corral-engine --test snapshot_scale -- --ignored --nocapture`.
//! `SNAPSHOT_SCALE_NODES` overrides the node count (default 1,000,000 of 100 bytes each).

use std::sync::Arc;
use std::time::Instant;

use corral_engine::snapshot::{read_state, write_state};
use corral_engine::state::{NodeRecord, SessionInfo, State};
use corral_engine::types::{perms, Acl, Id};
use corral_wal::snapshot::{SnapshotReader, SnapshotStore};

const DATA_BYTES: usize = 100;
/// Children per directory: a thousand directories of a thousand nodes for the default count.
const FAN_OUT: usize = 1000;

/// A tree of `count` leaves of `DATA_BYTES` under `count / FAN_OUT` directories, a tenth of
/// the leaves ephemeral (of 100 sessions), two ACL lists shared by everything.
fn big_state(count: usize) -> State {
    let open = vec![Acl {
        perms: perms::ALL,
        id: Id::new("world", "anyone"),
    }];
    let private = vec![Acl {
        perms: perms::ALL,
        id: Id::new("digest", "app:0123456789abcdefghijklmnopq="),
    }];
    let base = State::new();
    let mut records: Vec<NodeRecord> = base.node_records().collect();
    let record = |path: String, data: Vec<u8>, acl: &Vec<Acl>, owner: i64| NodeRecord {
        path,
        data: Arc::from(data),
        acl: acl.clone(),
        czxid: 5,
        mzxid: 6,
        pzxid: 7,
        ctime_ms: 1_700_000_000_000,
        mtime_ms: 1_700_000_000_001,
        version: 1,
        aversion: 0,
        child_creates: 0,
        ephemeral_owner: owner,
    };
    let directories = count.div_ceil(FAN_OUT);
    records.push(record("/app".to_string(), Vec::new(), &open, 0));
    for directory in 0..directories {
        records.push(record(
            format!("/app/d{directory:05}"),
            Vec::new(),
            &open,
            0,
        ));
    }
    for leaf in 0..count {
        let path = format!("/app/d{:05}/n{:010}", leaf / FAN_OUT, leaf);
        let acl = if leaf % 2 == 0 { &open } else { &private };
        let owner = if leaf % 10 == 0 {
            1 + (leaf % 100) as i64
        } else {
            0
        };
        records.push(record(
            path,
            vec![(leaf % 251) as u8; DATA_BYTES],
            acl,
            owner,
        ));
    }
    let sessions = (1..=100).map(|session_id| {
        let info = SessionInfo {
            timeout_ms: 30_000,
            password: [session_id as u8; 16],
        };
        (session_id, info)
    });
    match State::from_records(records, sessions, 1_000_000) {
        Ok(state) => state,
        Err(error) => panic!("from_records: {error}"),
    }
}

/// CPU time of this thread in ns, from the scheduler (wall time is meaningless on a machine
/// shared with builds); 0 where /proc does not have it.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Runs `work`, printing its wall and CPU time under `label`.
fn timed<T>(label: &str, work: impl FnOnce() -> T) -> T {
    let (wall, cpu) = (Instant::now(), cpu_ns());
    let result = work();
    let cpu_ms = (cpu_ns() - cpu) as f64 / 1e6;
    println!("{label}: {:?} wall, {cpu_ms:.0} ms CPU", wall.elapsed());
    result
}

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn measure_a_million_node_snapshot() {
    let count = std::env::var("SNAPSHOT_SCALE_NODES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1_000_000);
    let state = timed("from_records", || big_state(count));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open store");
    let info = timed("encode + fsync", || {
        let mut writer = store.create(1, 1).expect("create");
        write_state(&state, &mut writer).expect("write_state");
        writer.finish().expect("finish")
    });
    let bytes = std::fs::metadata(&info.path).expect("stat").len();
    let restored = timed("decode", || {
        let mut reader = SnapshotReader::open(&info.path).expect("open reader");
        let restored = read_state(&mut reader).expect("read_state");
        reader.finish().expect("reader finish");
        restored
    });
    println!(
        "{} nodes, file {bytes} bytes ({:.1} MiB)",
        state.node_count() - 1,
        bytes as f64 / (1024.0 * 1024.0)
    );
    assert_eq!(restored.node_count(), state.node_count());
    assert_eq!(restored.ephemeral_count(), count.div_ceil(10));
    assert_eq!(
        restored.approximate_data_size(),
        state.approximate_data_size()
    );
    timed("assert_invariants", || restored.assert_invariants());
    timed("drop", || drop((state, restored)));
}
