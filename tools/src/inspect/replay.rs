//! Rebuilding the state a server would serve: a base (the newest usable snapshot, or the empty
//! state at index 0), then the log's entries after it applied through `State::apply`, txn by
//! txn and in log order, exactly as the pipeline applies them at start-up.
//!
//! The base is chosen by the rules of the server's recovery (`net/src/server/recovery.rs`).
//! Every entry the log holds is applied, also past the recorded commit index: a standalone
//! server commits them all when it starts.

use corral_engine::state::State;
use corral_engine::types::{WriteOp, Zxid};

use super::layout::{SnapshotFile, SnapshotListing};
use super::log::{decode_entry, EntryContent, LogScan, Problem};
use super::snapshots::{check_name, load};

/// Where the replay started.
pub enum Base {
    /// The empty tree of a fresh server, before entry 1.
    Empty,
    Snapshot(SnapshotFile),
}

impl Base {
    pub fn index(&self) -> u64 {
        match self {
            Base::Empty => 0,
            Base::Snapshot(file) => file.index,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Base::Empty => "the empty tree".to_string(),
            Base::Snapshot(file) => format!("snapshot {}", file.path.display()),
        }
    }
}

/// The state rebuilt from the files, and what was found on the way.
pub struct Replayed {
    pub base: Base,
    pub state: State,
    /// The index of the last entry applied (the base's when none was).
    pub last_index: u64,
    pub entries_applied: u64,
    /// Snapshots passed over as too new for the zxid asked.
    pub skipped: Vec<String>,
    /// Snapshots passed over as corrupt (recovery falls back past them the same way).
    pub corrupt_snapshots: Vec<Problem>,
    /// Corruption met while applying: the replay stopped at it.
    pub problems: Vec<Problem>,
}

/// Finds the base as the server's recovery does: the newest snapshot that loads (and, when
/// `max_zxid` is given, holds no zxid past it), used only if the log holds every entry after it
/// and, when newer snapshots were corrupt, reaches at least their index (or their state would
/// be silently lost); else the empty state, under the same condition. Err says why no base
/// exists: the server would refuse to start.
fn choose_base(
    listing: &SnapshotListing,
    log: &LogScan,
    max_zxid: Option<Zxid>,
    skipped: &mut Vec<String>,
    corrupt: &mut Vec<Problem>,
) -> Result<(Base, State), String> {
    let mut corrupt_through: Option<u64> = None;
    for file in &listing.snapshots {
        let loaded = match load(&file.path).and_then(|loaded| {
            check_name(file, &loaded)?;
            Ok(loaded)
        }) {
            Ok(loaded) => loaded,
            Err(problem) => {
                corrupt.push(problem);
                corrupt_through = corrupt_through.max(Some(file.index));
                continue;
            }
        };
        if let Some(max) = max_zxid.filter(|max| loaded.state.last_zxid() > *max) {
            skipped.push(format!(
                "{}: holds zxids up to {:#x}, past {max:#x}",
                file.path.display(),
                loaded.state.last_zxid()
            ));
            continue;
        }
        check_log_continues(file.index, log, corrupt_through)?;
        return Ok((Base::Snapshot(file.clone()), loaded.state));
    }
    check_log_continues(0, log, corrupt_through)?;
    Ok((Base::Empty, State::new()))
}

/// Whether the log holds every entry after `base` and reaches `needed_through`.
fn check_log_continues(
    base: u64,
    log: &LogScan,
    needed_through: Option<u64>,
) -> Result<(), String> {
    if let Some(first) = log.first_index().filter(|first| *first > base + 1) {
        return Err(format!(
            "the log starts at entry {first}, not at {} right after {}",
            base + 1,
            if base == 0 {
                "the empty state".to_string()
            } else {
                format!("the snapshot of entry {base}")
            }
        ));
    }
    let last = log.last_index().unwrap_or(0);
    match needed_through {
        Some(needed) if last < needed => Err(format!(
            "a corrupt snapshot held entries through {needed}, and the log ends at entry {last}"
        )),
        _ => Ok(()),
    }
}

/// Rebuilds the state as of the end of the log, or as of `zxid` (the txn that took it applied,
/// nothing after). Err when no base exists.
pub fn replay(
    listing: &SnapshotListing,
    log: &LogScan,
    zxid: Option<Zxid>,
) -> Result<Replayed, String> {
    let (mut skipped, mut corrupt_snapshots) = (Vec::new(), Vec::new());
    let (base, mut state) = choose_base(listing, log, zxid, &mut skipped, &mut corrupt_snapshots)?;
    let mut replayed_index = base.index();
    let mut entries_applied = 0;
    let mut problems = Vec::new();
    'entries: for &at in &log.entries {
        let record = log.record(at);
        if record.index <= base.index() {
            continue;
        }
        let txns = match decode_entry(&record.payload) {
            Ok(EntryContent::Txns(txns)) => txns,
            Ok(EntryContent::Empty | EntryContent::ConfChange) => Vec::new(),
            Err(why) => {
                problems.push(Problem {
                    path: log.segment_path(at).to_path_buf(),
                    offset: Some(record.offset),
                    what: format!("entry {}: {why}", record.index),
                });
                break;
            }
        };
        for txn in &txns {
            let takes_zxid = !matches!(txn.op, WriteOp::Sync { .. });
            if takes_zxid && zxid.is_some_and(|target| state.last_zxid() >= target) {
                break 'entries;
            }
            state.apply(txn);
        }
        replayed_index = record.index;
        entries_applied += 1;
    }
    Ok(Replayed {
        base,
        state,
        last_index: replayed_index,
        entries_applied,
        skipped,
        corrupt_snapshots,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use corral_engine::entry::encode_batch;
    use corral_engine::types::{perms, Acl, CreateMode, CreateOp, Id, Txn};
    use corral_wal::{LogEntry, Wal, WalOptions};

    use super::*;
    use crate::inspect::layout::list_snapshots;

    const SESSION: i64 = 0x55;

    fn txn(op: WriteOp) -> Txn {
        Txn {
            session_id: SESSION,
            cxid: 1,
            time_ms: 1000,
            auth: Vec::new(),
            op,
        }
    }

    fn create(path: &str, data: &[u8]) -> Txn {
        txn(WriteOp::Create(CreateOp {
            path: path.to_string(),
            data: Arc::from(data.to_vec()),
            acl: vec![Acl {
                perms: perms::ALL,
                id: Id::new("world", "anyone"),
            }],
            mode: CreateMode::Persistent,
            ttl_ms: -1,
        }))
    }

    /// The log of the tests: a session, then /a, /b and a set of /a in one entry, then /c.
    fn batches() -> Vec<Vec<Txn>> {
        vec![
            vec![txn(WriteOp::CreateSession {
                timeout_ms: 5000,
                password: [7; 16],
            })],
            vec![
                create("/a", b"1"),
                create("/b", b""),
                txn(WriteOp::SetData {
                    path: "/a".to_string(),
                    data: Arc::from(b"2".to_vec()),
                    version: 0,
                }),
            ],
            vec![create("/c", b"")],
        ]
    }

    fn write_log(dir: &Path, batches: &[Vec<Txn>]) {
        let options = WalOptions {
            segment_bytes: 64 * 1024,
            direct_io: false,
            ..WalOptions::default()
        };
        let (mut wal, _) = Wal::open(dir, options).expect("open wal");
        for (position, batch) in batches.iter().enumerate() {
            let mut payload = vec![0u8];
            encode_batch(batch, &mut payload);
            let entry = LogEntry {
                index: position as u64 + 1,
                term: 1,
                payload,
            };
            wal.append(&[entry.as_entry_ref()], None).expect("append");
        }
    }

    /// Writes the state after the first `entries` batches as a snapshot of that index.
    fn write_snapshot(dir: &Path, entries: usize) {
        let mut state = State::new();
        for batch in &batches()[..entries] {
            for txn in batch {
                state.apply(txn);
            }
        }
        let store = corral_wal::snapshot::SnapshotStore::open(dir).expect("store");
        let mut writer = store.create(entries as u64, 1).expect("create");
        corral_engine::snapshot::write_state(&state, &mut writer).expect("write");
        writer.finish().expect("finish");
    }

    fn data_of(state: &State, path: &str) -> Option<Vec<u8>> {
        state
            .node_records()
            .find(|record| record.path == path)
            .map(|record| record.data.to_vec())
    }

    #[test]
    fn replay_to_a_zxid_stops_inside_an_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_log(&dir.path().join("wal"), &batches());
        let log = LogScan::read(&dir.path().join("wal")).expect("scan");
        let listing = list_snapshots(&dir.path().join("snapshots")).expect("list");
        // zxid 1 opened the session, 2 and 3 created /a and /b; the set (4) is not applied.
        let replayed = replay(&listing, &log, Some(3)).expect("replay");
        assert_eq!(replayed.state.last_zxid(), 3);
        assert_eq!(data_of(&replayed.state, "/a"), Some(b"1".to_vec()));
        assert_eq!(data_of(&replayed.state, "/b"), Some(Vec::new()));
        assert_eq!(replayed.last_index, 1);
        let newest = replay(&listing, &log, None).expect("replay");
        assert_eq!(newest.state.last_zxid(), 5);
        assert_eq!(data_of(&newest.state, "/a"), Some(b"2".to_vec()));
        assert_eq!((newest.last_index, newest.entries_applied), (3, 3));
    }

    #[test]
    fn a_corrupt_snapshot_falls_back_only_when_the_log_reaches_past_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let snapshots = dir.path().join("snapshots");
        write_snapshot(&snapshots, 2);
        write_log(&dir.path().join("wal"), &batches());
        let listing = list_snapshots(&snapshots).expect("list");
        let log = LogScan::read(&dir.path().join("wal")).expect("scan");
        let replayed = replay(&listing, &log, None).expect("replay");
        assert!(matches!(replayed.base, Base::Snapshot(ref file) if file.index == 2));
        assert_eq!(
            (replayed.entries_applied, replayed.state.last_zxid()),
            (1, 5)
        );

        let file = &listing.snapshots[0].path;
        let mut bytes = std::fs::read(file).expect("read");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(file, &bytes).expect("write");
        let fallback = replay(&listing, &log, None).expect("replay");
        assert!(matches!(fallback.base, Base::Empty));
        assert_eq!(fallback.corrupt_snapshots.len(), 1);
        assert_eq!(fallback.corrupt_snapshots[0].path, *file);
        assert_eq!(fallback.state.last_zxid(), 5);

        let short = tempfile::tempdir().expect("tempdir");
        write_log(short.path(), &batches()[..1]);
        let short_log = LogScan::read(short.path()).expect("scan");
        assert_eq!(
            replay(&listing, &short_log, None).err(),
            Some(
                "a corrupt snapshot held entries through 2, and the log ends at entry 1"
                    .to_string()
            )
        );
    }
}
