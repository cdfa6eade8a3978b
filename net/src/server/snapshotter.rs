//! Snapshots are written on a std thread of their own ("corral-snapshot"), so the applier never
//! waits for one: it hands over a clone of the state (cheap: the tree is a persistent map, so
//! the clone shares every node with the live state) with the raft position it holds, and goes
//! on applying. One snapshot runs at a time.
//!
//! After a snapshot is durable, the thread deletes all but the newest `retain` snapshots, then
//! asks the WAL thread to release the log before the oldest snapshot kept, so that a corrupt
//! newest snapshot can still be replaced by an older one plus the log after it.

use std::io::Write;
use std::thread::JoinHandle;

use corral_engine::snapshot::write_state;
use corral_engine::state::State;
use corral_wal::snapshot::{SnapshotInfo, SnapshotStore};

use super::wal_thread::WalReleaser;
use super::ServerError;

/// A state to write, as of raft entry `index` of term `term`.
struct Job {
    state: State,
    index: u64,
    term: u64,
}

/// How a snapshot ended, for the pipeline's counters and logs.
#[derive(Debug)]
pub enum Outcome {
    Written { info: SnapshotInfo },
    Failed { index: u64, reason: String },
}

pub struct Snapshotter {
    jobs: flume::Sender<Job>,
    outcomes: flume::Receiver<Outcome>,
    running: bool,
    written: u64,
    failed: u64,
    _thread: JoinHandle<()>,
}

impl Snapshotter {
    /// Starts the snapshot thread over `store`, keeping `retain` snapshots.
    pub fn start(
        store: SnapshotStore,
        retain: usize,
        wal: WalReleaser,
    ) -> Result<Snapshotter, ServerError> {
        assert!(retain >= 1);
        // One job at a time: `begin` is refused while one runs, so the queue never holds more.
        let (jobs, inbox) = flume::bounded::<Job>(1);
        let (report, outcomes) = flume::unbounded();
        let thread = std::thread::Builder::new()
            .name("corral-snapshot".into())
            .spawn(move || {
                for job in inbox.iter() {
                    let outcome = write_one(&store, retain, &wal, job);
                    if report.send(outcome).is_err() {
                        break;
                    }
                }
            })
            .map_err(|error| {
                ServerError::Io(format!("cannot start the snapshot thread: {error}"))
            })?;
        Ok(Snapshotter {
            jobs,
            outcomes,
            running: false,
            written: 0,
            failed: 0,
            _thread: thread,
        })
    }

    /// Whether a snapshot is being written; collects the outcome of a finished one.
    pub fn is_running(&mut self) -> bool {
        while let Ok(outcome) = self.outcomes.try_recv() {
            self.running = false;
            match outcome {
                Outcome::Written { info } => {
                    self.written += 1;
                    log::info!(
                        "snapshot {} written (entry {}, term {}; {} written, {} failed so far)",
                        info.path.display(),
                        info.index,
                        info.term,
                        self.written,
                        self.failed
                    );
                }
                Outcome::Failed { index, reason } => {
                    self.failed += 1;
                    // Not fatal: the log still holds everything; the next threshold retries.
                    log::error!(
                        "snapshot at entry {index} failed: {reason} ({} failed so far)",
                        self.failed
                    );
                }
            }
        }
        self.running
    }

    /// Starts writing `state` (as of entry `index`, term `term`) unless one is running.
    /// Returns whether it started.
    pub fn begin(&mut self, state: State, index: u64, term: u64) -> bool {
        if self.is_running() {
            return false;
        }
        match self.jobs.try_send(Job { state, index, term }) {
            Ok(()) => {
                self.running = true;
                true
            }
            Err(_) => {
                log::error!("the snapshot thread is gone; no snapshot at entry {index}");
                false
            }
        }
    }
}

/// Writes one snapshot, then purges old ones and releases the log they no longer need.
fn write_one(store: &SnapshotStore, retain: usize, wal: &WalReleaser, job: Job) -> Outcome {
    let Job { state, index, term } = job;
    let failed = |reason: String| Outcome::Failed { index, reason };
    let mut writer = match store.create(index, term) {
        Ok(writer) => writer,
        Err(error) => return failed(error.to_string()),
    };
    if let Err(error) = write_state(&state, &mut writer).and_then(|()| writer.flush()) {
        // Dropping the writer leaves a .tmp file that the next open of the store deletes.
        return failed(error.to_string());
    }
    drop(state);
    let info = match writer.finish() {
        Ok(info) => info,
        Err(error) => return failed(error.to_string()),
    };
    match store.purge(retain) {
        Ok(deleted) => {
            for old in deleted {
                log::info!("snapshot {} purged", old.path.display());
            }
        }
        Err(error) => log::warn!("purging old snapshots: {error}"),
    }
    // The log is kept from the oldest snapshot still on disk on, whatever purge managed.
    match store.list() {
        Ok(kept) => {
            if let Some(oldest) = kept.last() {
                wal.release_before(oldest.index + 1);
            }
        }
        Err(error) => log::warn!("listing snapshots: {error}"),
    }
    Outcome::Written { info }
}
