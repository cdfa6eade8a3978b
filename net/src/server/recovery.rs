//! Start-up: the newest valid snapshot plus the log after it.
//!
//! Snapshots are tried newest first. A corrupt one is logged (file and offset) and an older one
//! is used only if the log still holds every entry after it, up to at least the index of every
//! newer snapshot that was skipped: otherwise the state those snapshots held is gone and the
//! server refuses to start, naming the corrupt file, rather than silently serving older data.
//! Without any snapshot the log must start at entry 1.

use corral_engine::consensus::{LogRecord, SnapshotBase};
use corral_engine::snapshot::read_state;
use corral_engine::state::State;
use corral_wal::snapshot::{SnapshotInfo, SnapshotReader, SnapshotStore};

use super::snapshotter::Snapshotter;
use super::ServerError;

/// What recovery hands the pipeline: the state as of `base` (a fresh state without a snapshot)
/// and the snapshot thread.
pub struct Startup {
    pub state: State,
    pub base: Option<SnapshotBase>,
    pub snapshotter: Option<Snapshotter>,
}

/// A snapshot that could not be used, and why.
struct Skipped {
    info: SnapshotInfo,
    reason: String,
}

/// Picks the snapshot to start from, given the log recovered from the WAL. Returns the state
/// and its base, or `(State::new(), None)` when the whole log is to be replayed.
pub fn choose_base(
    store: &SnapshotStore,
    records: &[LogRecord],
) -> Result<(State, Option<SnapshotBase>), ServerError> {
    let first_log = records.first().map(|record| record.index);
    let last_log = records.last().map(|record| record.index);
    let snapshots = store
        .list()
        .map_err(|error| ServerError::Snapshot(error.to_string()))?;
    let mut skipped: Vec<Skipped> = Vec::new();
    for info in snapshots {
        let state = match load(&info) {
            Ok(state) => state,
            Err(reason) => {
                log::error!("snapshot {} is unusable: {reason}", info.path.display());
                skipped.push(Skipped { info, reason });
                continue;
            }
        };
        check_log_continues(info.index, first_log, last_log, &skipped)?;
        if !skipped.is_empty() {
            log::warn!(
                "starting from the older snapshot {} and the log after it",
                info.path.display()
            );
        }
        log::info!(
            "snapshot {} loaded: entry {}, {} znodes",
            info.path.display(),
            info.index,
            state.node_count()
        );
        let base = SnapshotBase {
            index: info.index,
            term: info.term,
        };
        return Ok((state, Some(base)));
    }
    check_log_continues(0, first_log, last_log, &skipped)?;
    Ok((State::new(), None))
}

/// Refuses to start unless the log holds every entry after `base` (0: no snapshot), through
/// the newest entry a skipped snapshot is known to have held.
fn check_log_continues(
    base: u64,
    first_log: Option<u64>,
    last_log: Option<u64>,
    skipped: &[Skipped],
) -> Result<(), ServerError> {
    let needed_through = skipped.iter().map(|skip| skip.info.index).max();
    let continues = first_log.is_none_or(|first| first <= base + 1);
    let reaches = match needed_through {
        None => true,
        Some(needed) => last_log.is_some_and(|last| last >= needed) && continues,
    };
    if continues && reaches {
        return Ok(());
    }
    let gap = match (first_log, needed_through) {
        (Some(first), _) if first > base + 1 => {
            format!("the log starts at entry {first}, not at {}", base + 1)
        }
        (_, Some(needed)) => format!(
            "the log ends at entry {}, before entry {needed}",
            last_log.unwrap_or(0)
        ),
        _ => "the log does not continue it".to_string(),
    };
    let what = if base == 0 {
        "no usable snapshot remains".to_string()
    } else {
        format!("the snapshot of entry {base} cannot be used: {gap}")
    };
    let mut message = match skipped.first() {
        Some(newest) => format!(
            "cannot recover: snapshot {} is corrupt ({}), and {what}",
            newest.info.path.display(),
            newest.reason
        ),
        None => format!("cannot recover: {what}; {gap}"),
    };
    for older in skipped.iter().skip(1) {
        message.push_str(&format!(
            "; snapshot {} is corrupt too ({})",
            older.info.path.display(),
            older.reason
        ));
    }
    if base == 0 && skipped.is_empty() {
        message = format!("cannot recover: there is no snapshot and {gap}");
    }
    Err(ServerError::Snapshot(message))
}

/// Reads and verifies one snapshot file whole.
fn load(info: &SnapshotInfo) -> Result<State, String> {
    let mut reader = SnapshotReader::open(&info.path).map_err(|error| error.to_string())?;
    if (reader.index(), reader.term()) != (info.index, info.term) {
        return Err(format!(
            "its header says entry {} term {}, its name entry {} term {}",
            reader.index(),
            reader.term(),
            info.index,
            info.term
        ));
    }
    let state = read_state(&mut reader).map_err(|error| error.to_string())?;
    reader.finish().map_err(|error| error.to_string())?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn skipped(index: u64) -> Skipped {
        Skipped {
            info: SnapshotInfo {
                path: PathBuf::from(format!("/d/snapshot-{index}")),
                index,
                term: 1,
            },
            reason: "bad block at offset 4096".into(),
        }
    }

    #[test]
    fn a_log_from_entry_one_needs_no_snapshot() {
        assert!(check_log_continues(0, Some(1), Some(9), &[]).is_ok());
        assert!(check_log_continues(0, None, None, &[]).is_ok());
        let error = check_log_continues(0, Some(5), Some(9), &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "snapshot: cannot recover: there is no snapshot and the log starts at entry 5, not at 1"
        );
    }

    #[test]
    fn an_older_snapshot_is_used_only_when_the_log_covers_the_newer_one() {
        // Snapshot 10 is corrupt; snapshot 5 plus a log 3..=12 covers everything.
        assert!(check_log_continues(5, Some(3), Some(12), &[skipped(10)]).is_ok());
        // The log was released up to 8: entries 6 and 7 are gone.
        let error = check_log_continues(5, Some(8), Some(12), &[skipped(10)]).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("/d/snapshot-10 is corrupt"), "{text}");
        assert!(
            text.contains("the log starts at entry 8, not at 6"),
            "{text}"
        );
        // An empty log cannot stand in for what snapshot 10 held.
        let error = check_log_continues(5, None, None, &[skipped(10)]).unwrap_err();
        assert!(error.to_string().contains("before entry 10"), "{error}");
        // The newest snapshot itself with an empty log after it is fine.
        assert!(check_log_continues(10, None, None, &[]).is_ok());
    }
}
