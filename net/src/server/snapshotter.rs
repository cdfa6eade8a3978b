//! Snapshots are written on a std thread of their own ("corral-snapshot"), so the applier never
//! waits for one: it hands over a clone of the state (cheap: the tree is a persistent map, so
//! the clone shares every node with the live state) with the raft position it holds, and goes
//! on applying. One snapshot runs at a time.
//!
//! After a snapshot is durable, the thread deletes all but the newest `retain` snapshots, then
//! asks the WAL thread to release the log before the oldest snapshot kept, so that a corrupt
//! newest snapshot can still be replaced by an older one plus the log after it.

use std::io::Write;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use corral_engine::snapshot::write_state;
use corral_engine::state::State;
use corral_wal::snapshot::{SnapshotInfo, SnapshotStore};

use super::stats::SnapshotStats;
use super::wal_thread::WalReleaser;
use super::ServerError;

/// A state to write, as of raft entry `index` of term `term`.
struct Job {
    state: State,
    index: u64,
    term: u64,
    /// Where the thread counts this snapshot's outcome, duration and size.
    counters: Arc<SnapshotStats>,
}

/// How a snapshot ended. The snapshot thread counts and logs it; the snapshotter only learns
/// from it that the thread is free again.
#[derive(Debug)]
pub enum Outcome {
    Written { info: SnapshotInfo },
    Failed { index: u64, reason: String },
}

pub struct Snapshotter {
    jobs: flume::Sender<Job>,
    outcomes: flume::Receiver<Outcome>,
    running: bool,
    counters: Arc<SnapshotStats>,
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
                // Snapshots must cost the shards and the WAL as little CPU as possible.
                corral_wal::snapshot::lower_thread_priority();
                for job in inbox.iter() {
                    let outcome = write_and_count(&store, retain, &wal, job);
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
            counters: Arc::new(SnapshotStats::default()),
            _thread: thread,
        })
    }

    /// Counts the snapshots begun from now on in `counters` (the server's stats) rather than
    /// in the snapshotter's own, so that the four-letter words can show them.
    pub fn report_to(&mut self, counters: Arc<SnapshotStats>) {
        self.counters = counters;
    }

    /// Whether a snapshot is being written; collects the outcome of a finished one (the
    /// snapshot thread has already counted and logged it).
    pub fn is_running(&mut self) -> bool {
        while self.outcomes.try_recv().is_ok() {
            self.running = false;
        }
        self.running
    }

    /// Starts writing `state` (as of entry `index`, term `term`) unless one is running.
    /// Returns whether it started.
    pub fn begin(&mut self, state: State, index: u64, term: u64) -> bool {
        if self.is_running() {
            return false;
        }
        let counters = self.counters.clone();
        let job = Job {
            state,
            index,
            term,
            counters,
        };
        match self.jobs.try_send(job) {
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

/// Writes one snapshot as `write_one` does, then counts and logs how it ended, with its
/// duration and size, on the snapshot thread (so the counters are current even when no write
/// comes after it to collect the outcome).
fn write_and_count(store: &SnapshotStore, retain: usize, wal: &WalReleaser, job: Job) -> Outcome {
    let counters = job.counters.clone();
    let started = Instant::now();
    let outcome = write_one(store, retain, wal, job);
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match &outcome {
        Outcome::Written { info } => {
            // The size is for operators only; a file that cannot be measured counts as 0.
            let bytes = std::fs::metadata(&info.path).map_or(0, |meta| meta.len());
            counters.record_written(elapsed_ms, bytes);
            log::info!(
                "snapshot {} written (entry {}, term {}; {bytes} bytes in {elapsed_ms} ms; \
                 {} written, {} failed so far)",
                info.path.display(),
                info.index,
                info.term,
                counters.written(),
                counters.failed.load(std::sync::atomic::Ordering::Relaxed),
            );
        }
        Outcome::Failed { index, reason } => {
            counters.record_failed();
            // Not fatal: the log still holds everything; the next threshold retries.
            log::error!(
                "snapshot at entry {index} failed after {elapsed_ms} ms: {reason} \
                 ({} failed so far)",
                counters.failed.load(std::sync::atomic::Ordering::Relaxed),
            );
        }
    }
    outcome
}

/// Writes one snapshot, then purges old ones and releases the log they no longer need.
fn write_one(store: &SnapshotStore, retain: usize, wal: &WalReleaser, job: Job) -> Outcome {
    let Job {
        state, index, term, ..
    } = job;
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
