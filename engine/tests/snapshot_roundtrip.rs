//! A state built by applying random txns survives write_state → read_state unchanged: the same
//! node records, sessions and last zxid, the same answer from every read API, and the same
//! results for every txn applied afterwards (which exercises the rebuilt indexes).
//! Seeded: a failure names its seed; rerun one with `SNAPSHOT_SEED=<seed>`.

mod common;

use common::Rng;
use std::io::Write;
use std::sync::Arc;

use corral_engine::snapshot::{read_state, write_state, SnapshotDecodeError};
use corral_engine::state::{NodeRecord, SessionInfo, State, StateBuildError};
use corral_engine::types::{
    data_from_buffer, is_null_data, perms, Acl, CreateMode, CreateOp, Id, Txn, WriteOp,
};
use corral_wal::snapshot::{wal_error_of, SnapshotReader, SnapshotStore};
use corral_wal::WalError;

const SEEDS: u64 = 40;
const STEPS: usize = 400;
const SESSIONS: [i64; 4] = [0x100, 0x200, 0x300, 0x0100_0000_0000_0042];

const NAMES: [&str; 7] = ["a", "b", "s-", "é", "a-b", "z", "long-name-0123456789"];

fn acls() -> Vec<Vec<Acl>> {
    let acl = |perms, scheme: &str, id: &str| Acl {
        perms,
        id: Id::new(scheme, id),
    };
    vec![
        vec![acl(perms::ALL, "world", "anyone")],
        vec![acl(perms::READ, "world", "anyone")],
        vec![
            acl(perms::ALL, "ip", "127.0.0.1"),
            acl(perms::READ | perms::ADMIN, "digest", "user:hash="),
        ],
    ]
}

/// A path under an existing node (or a made-up one, so that some ops fail).
fn random_path(rng: &mut Rng, state: &State) -> String {
    let existing: Vec<String> = state
        .node_records()
        .map(|record| record.path)
        .filter(|path| !path.starts_with("/zookeeper"))
        .collect();
    let parent = rng.pick(&existing).clone();
    let name = rng.pick(&NAMES);
    match (rng.below(4), parent.as_str()) {
        (0, "/") => "/".to_string(),
        (0, _) => parent,
        (_, "/") => format!("/{name}"),
        (_, _) => format!("{parent}/{name}"),
    }
}

fn random_create(rng: &mut Rng, path: String) -> WriteOp {
    let modes = [
        CreateMode::Persistent,
        CreateMode::Ephemeral,
        CreateMode::PersistentSequential,
        CreateMode::EphemeralSequential,
        CreateMode::Container,
        CreateMode::PersistentWithTtl,
        CreateMode::PersistentSequentialWithTtl,
    ];
    let mode = *rng.pick(&modes);
    let data = match rng.below(4) {
        0 => data_from_buffer(None),
        1 => data_from_buffer(Some(&[])),
        _ => Arc::from(vec![rng.below(256) as u8; rng.below(300)]),
    };
    WriteOp::Create(CreateOp {
        path,
        data,
        acl: rng.pick(&acls()).clone(),
        mode,
        ttl_ms: if mode.is_ttl() {
            1 + rng.below(50) as i64
        } else {
            -1
        },
    })
}

fn random_op(rng: &mut Rng, state: &State) -> WriteOp {
    let path = random_path(rng, state);
    let version = *rng.pick(&[-1, 0, 1]);
    match rng.below(20) {
        0..=8 => random_create(rng, path),
        9..=11 => WriteOp::Delete { path, version },
        12..=13 => WriteOp::SetData {
            path,
            data: Arc::from(vec![b'x'; rng.below(40)]),
            version,
        },
        14 => WriteOp::SetAcl {
            path,
            acl: rng.pick(&acls()).clone(),
            version,
        },
        15 => WriteOp::CreateSession {
            timeout_ms: 4000 + rng.below(1000) as i32,
            password: [rng.below(256) as u8; 16],
        },
        16 => WriteOp::CloseSession,
        17 => WriteOp::DeleteContainer { path },
        _ => {
            let second = random_path(rng, state);
            WriteOp::Multi(vec![random_create(rng, path), random_create(rng, second)])
        }
    }
}

fn random_txn(rng: &mut Rng, state: &State, step: usize, time_ms: i64) -> Txn {
    Txn {
        session_id: *rng.pick(&SESSIONS),
        cxid: step as i32,
        time_ms,
        auth: vec![Id::new("ip", "127.0.0.1")],
        op: random_op(rng, state),
    }
}

fn encode(state: &State) -> Vec<u8> {
    let mut bytes = Vec::new();
    write_state(state, &mut bytes).expect("write_state to a Vec");
    bytes
}

fn decode(bytes: &[u8]) -> State {
    match read_state(&mut &bytes[..]) {
        Ok(state) => state,
        Err(error) => panic!("read_state: {error}"),
    }
}

fn sorted_sessions(state: &State) -> Vec<(i64, SessionInfo)> {
    let mut sessions: Vec<(i64, SessionInfo)> = state
        .sessions()
        .map(|(session_id, info)| (session_id, info.clone()))
        .collect();
    sessions.sort_by_key(|(session_id, _)| *session_id);
    sessions
}

/// Every read API gives the same answer on both states.
fn assert_same_reads(original: &State, restored: &State, context: &str) {
    let records: Vec<NodeRecord> = original.node_records().collect();
    assert_eq!(
        restored.node_records().collect::<Vec<_>>(),
        records,
        "{context}"
    );
    for (before, after) in records.iter().zip(restored.node_records()) {
        assert_eq!(is_null_data(&before.data), is_null_data(&after.data));
    }
    assert_eq!(sorted_sessions(restored), sorted_sessions(original));
    assert_eq!(restored.last_zxid(), original.last_zxid());
    assert_eq!(restored.node_count(), original.node_count());
    assert_eq!(
        restored.approximate_data_size(),
        original.approximate_data_size()
    );
    assert_eq!(restored.ephemeral_count(), original.ephemeral_count());
    let viewers = [vec![], vec![Id::new("ip", "127.0.0.1")]];
    for record in &records {
        let path = record.path.as_str();
        assert_eq!(restored.exists(path), original.exists(path));
        for auth in &viewers {
            assert_eq!(restored.get_data(path, auth), original.get_data(path, auth));
            assert_eq!(
                restored.get_children(path, auth),
                original.get_children(path, auth)
            );
            assert_eq!(restored.get_acl(path, auth), original.get_acl(path, auth));
            assert_eq!(
                restored.all_children_number(path, auth),
                original.all_children_number(path, auth)
            );
        }
    }
    for session_id in SESSIONS {
        for prefix in ["/", "/a", "/é", ""] {
            assert_eq!(
                restored.ephemerals(session_id, prefix),
                original.ephemerals(session_id, prefix)
            );
        }
    }
    for now_ms in [0, 1_050, 1_000_000] {
        assert_eq!(restored.housekeeping(now_ms), original.housekeeping(now_ms));
    }
}

fn run_seed(seed: u64) -> Coverage {
    let mut rng = Rng(seed);
    let mut state = State::new();
    let mut time_ms = 1_000;
    for step in 0..STEPS {
        time_ms += rng.below(3) as i64;
        let txn = random_txn(&mut rng, &state, step, time_ms);
        state.apply(&txn);
    }
    let context = format!("seed {seed}");
    let records: Vec<NodeRecord> = state.node_records().collect();
    let kinds = Coverage {
        nodes: records.len(),
        ephemerals: state.ephemeral_count(),
        containers: records
            .iter()
            .filter(|r| r.ephemeral_owner == i64::MIN)
            .count(),
        ttls: records
            .iter()
            .filter(|r| (r.ephemeral_owner >> 56) == -1 && r.ephemeral_owner != i64::MIN)
            .count(),
        null_data: records.iter().filter(|r| is_null_data(&r.data)).count(),
        sessions: state.sessions().count(),
    };
    let bytes = encode(&state);
    let mut restored = decode(&bytes);
    restored.assert_invariants();
    assert_same_reads(&state, &restored, &context);
    // Equal states encode to equal bytes.
    assert_eq!(encode(&restored), bytes, "{context}: re-encoding differs");
    // Both go on identically: results, and the whole state after.
    for step in STEPS..STEPS + 100 {
        time_ms += 1;
        let txn = random_txn(&mut rng, &state, step, time_ms);
        let expected = state.apply(&txn);
        assert_eq!(restored.apply(&txn), expected, "{context} step {step}");
    }
    restored.assert_invariants();
    assert_same_reads(&state, &restored, &context);
    kinds
}

/// What one random state held, to check the generator reaches every kind of node.
#[derive(Debug, Default)]
struct Coverage {
    nodes: usize,
    ephemerals: usize,
    containers: usize,
    ttls: usize,
    null_data: usize,
    sessions: usize,
}

#[test]
fn random_states_survive_a_round_trip() {
    if let Some(seed) = std::env::var("SNAPSHOT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        run_seed(seed);
        return;
    }
    let mut total = Coverage::default();
    for seed in 0..SEEDS {
        let seen = run_seed(seed);
        total.nodes += seen.nodes;
        total.ephemerals += seen.ephemerals;
        total.containers += seen.containers;
        total.ttls += seen.ttls;
        total.null_data += seen.null_data;
        total.sessions += seen.sessions;
    }
    println!("{total:?}");
    let Coverage {
        nodes,
        ephemerals,
        containers,
        ttls,
        null_data,
        sessions,
    } = total;
    assert!(nodes > 40 * 30, "{total:?}");
    assert!(
        ephemerals > 40 && containers > 40 && ttls > 40 && null_data > 40,
        "{total:?}"
    );
    assert!(sessions > 40, "{total:?}");
}

#[test]
fn a_fresh_state_round_trips_and_through_the_snapshot_container() {
    let state = State::new();
    let bytes = encode(&state);
    assert_same_reads(&state, &decode(&bytes), "fresh");

    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open store");
    let mut writer = store.create(12, 3).expect("create");
    write_state(&state, &mut writer).expect("write_state");
    let info = writer.finish().expect("finish");
    let mut reader = SnapshotReader::open(&info.path).expect("open reader");
    let restored = read_state(&mut reader).expect("read_state");
    reader.finish().expect("reader finish");
    assert_same_reads(&state, &restored, "container");
}

/// A state with a few nodes, one ephemeral and one session, for the refusal tests.
fn small_state() -> State {
    let mut state = State::new();
    let ops = [
        WriteOp::CreateSession {
            timeout_ms: 5000,
            password: [3; 16],
        },
        WriteOp::Create(CreateOp {
            path: "/a".to_string(),
            data: Arc::from(b"eph".to_vec()),
            acl: acls()[2].clone(),
            mode: CreateMode::Ephemeral,
            ttl_ms: -1,
        }),
    ];
    for (cxid, op) in ops.into_iter().enumerate() {
        state.apply(&Txn {
            session_id: 0x100,
            cxid: cxid as i32,
            time_ms: 1,
            auth: vec![],
            op,
        });
    }
    state
}

#[test]
fn a_cut_or_padded_body_is_refused_with_its_offset() {
    let bytes = encode(&small_state());
    for length in [0, 3, 20, bytes.len() - 30, bytes.len() - 1] {
        match read_state(&mut &bytes[..length]) {
            Err(SnapshotDecodeError::Invalid { offset, .. }) => {
                assert!(offset < length as u64 || length == 0, "length {length}")
            }
            other => panic!("length {length}: {:?}", other.err()),
        }
    }
    let mut padded = bytes.clone();
    padded.push(5);
    assert!(matches!(
        read_state(&mut &padded[..]),
        Err(SnapshotDecodeError::Invalid { offset, .. }) if offset == bytes.len() as u64
    ));
}

#[test]
fn a_corrupt_block_surfaces_as_an_io_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open store");
    let mut writer = store.create(1, 1).expect("create");
    write_state(&small_state(), &mut writer).expect("write_state");
    let info = writer.finish().expect("finish");
    let mut bytes = std::fs::read(&info.path).expect("read");
    bytes[80] ^= 1;
    std::fs::write(&info.path, bytes).expect("write");
    let mut reader = SnapshotReader::open(&info.path).expect("open reader");
    match read_state(&mut reader) {
        Err(SnapshotDecodeError::Io(error)) => match wal_error_of(&error) {
            Some(WalError::Corrupt { path, offset, .. }) => {
                assert_eq!((path, *offset), (&info.path, 40));
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn records_rebuild_the_same_state_and_refuse_orphans() {
    let state = small_state();
    let records: Vec<NodeRecord> = state.node_records().collect();
    let sessions = sorted_sessions(&state);
    // Reversed input order makes no difference.
    let rebuilt = State::from_records(
        records.iter().rev().cloned(),
        sessions.clone(),
        state.last_zxid(),
    )
    .expect("from_records");
    rebuilt.assert_invariants();
    assert_same_reads(&state, &rebuilt, "rebuilt");

    let ephemeral = records.iter().find(|record| record.path == "/a");
    let mut orphan = ephemeral.cloned().expect("/a exists");
    orphan.ephemeral_owner = 0x999;
    let mut with_orphan = records.clone();
    with_orphan.push(NodeRecord {
        path: "/orphan".to_string(),
        ..orphan
    });
    assert_eq!(
        State::from_records(with_orphan, sessions, 0).err(),
        Some(StateBuildError::OrphanEphemeral {
            path: "/orphan".to_string(),
            session_id: 0x999
        })
    );
}

#[test]
fn write_errors_reach_the_caller() {
    struct Failing;
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let error = write_state(&small_state(), &mut Failing).expect_err("must fail");
    assert_eq!(error.to_string(), "disk full");
}
