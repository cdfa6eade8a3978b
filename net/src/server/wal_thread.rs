//! The write-ahead log runs on a thread of its own: a write plus fdatasync blocks for tens of
//! microseconds to milliseconds, and the pipeline shard keeps serving its connections (and
//! gathering the next batch) meanwhile.
//!
//! Two kinds of jobs reach the thread, in one queue so they never race on the `Wal`: appends
//! from the pipeline, and releases of the log before a snapshot from the snapshot thread.
//!
//! The pipeline may hand over the next append before the previous one is durable. Appends are
//! written in queue order; when one fails, every later append of the same generation is refused
//! unwritten (its entries would follow the failed ones in the log), until the pipeline has
//! forgotten them all and starts a new generation (`WalHandle::discard_in_flight`).

use std::path::Path;
use std::thread::JoinHandle;

use corral_engine::consensus::{HardState, LogRecord};
use corral_wal::{HardState as WalHardState, LogEntryRef, Wal, WalError, WalOptions};

use super::ServerError;
use crate::limits::WAL_QUEUE_MAX;

enum Job {
    Append {
        records: Vec<LogRecord>,
        hard_state: Option<HardState>,
        /// Appends after a failed one in the same generation are refused unwritten.
        generation: u64,
        /// Ok carries the WAL's appended bytes since it was opened.
        done: flume::Sender<Result<u64, String>>,
    },
    /// Release the segments whose entries all lie before `before` (a snapshot covers them).
    Release { before: u64 },
}

/// Why an append did not make its records durable.
#[derive(Debug)]
pub enum AppendError {
    /// The disk refused (ENOSPC, EIO...): the writes fail, the WAL is repaired before the next
    /// append, and the server goes on.
    Failed(String),
    /// The WAL thread is gone: nothing can be made durable any more.
    Stopped,
}

impl From<AppendError> for ServerError {
    fn from(error: AppendError) -> ServerError {
        match error {
            AppendError::Failed(reason) => ServerError::Wal(reason),
            AppendError::Stopped => ServerError::Wal("the WAL thread stopped".into()),
        }
    }
}

pub struct WalHandle {
    jobs: flume::Sender<Job>,
    /// The generation of the appends handed over from now on.
    generation: u64,
}

/// An append handed to the WAL thread, not yet known to be durable.
pub struct PendingAppend {
    wait: flume::Receiver<Result<u64, String>>,
}

/// Lets the snapshot thread release the log before a snapshot it wrote.
#[derive(Clone)]
pub struct WalReleaser {
    jobs: flume::Sender<Job>,
}

/// What the log held at start-up.
pub struct RecoveredLog {
    pub records: Vec<LogRecord>,
    pub hard_state: Option<HardState>,
}

pub fn open(
    dir: &Path,
    options: WalOptions,
) -> Result<(WalHandle, JoinHandle<()>, RecoveredLog), ServerError> {
    let (wal, recovered) =
        Wal::open(dir, options).map_err(|error| ServerError::Wal(error.to_string()))?;
    if recovered.truncated_tail_bytes > 0 {
        log::warn!(
            "write-ahead log: truncated a torn tail of {} bytes after the last valid record",
            recovered.truncated_tail_bytes
        );
    }
    let records = recovered
        .entries
        .into_iter()
        .map(|entry| LogRecord {
            index: entry.index,
            term: entry.term,
            payload: entry.payload,
        })
        .collect();
    let hard_state = recovered.hard_state.map(|state| HardState {
        term: state.term,
        vote: state.vote,
        commit: state.commit,
    });
    let (jobs, inbox) = flume::bounded::<Job>(WAL_QUEUE_MAX);
    let thread = std::thread::Builder::new()
        .name("corral-wal".into())
        .spawn(move || serve(wal, inbox))
        .map_err(|error| ServerError::Io(format!("cannot start the WAL thread: {error}")))?;
    Ok((
        WalHandle {
            jobs,
            generation: 0,
        },
        thread,
        RecoveredLog {
            records,
            hard_state,
        },
    ))
}

/// The WAL thread's loop; it ends when every handle and releaser is gone.
fn serve(mut wal: Wal, inbox: flume::Receiver<Job>) {
    // The generation whose append failed: its later appends are refused.
    let mut failed_generation = None;
    for job in inbox.iter() {
        match job {
            Job::Append {
                records,
                hard_state,
                generation,
                done,
            } => {
                let result = if failed_generation == Some(generation) {
                    Err("discarded: an earlier append in flight failed".to_string())
                } else {
                    append(&mut wal, &records, hard_state)
                        .map(|()| wal.appended_bytes())
                        .map_err(|error| error.to_string())
                };
                if result.is_err() {
                    failed_generation = Some(generation);
                }
                // The pipeline drops the answers of appends it discarded.
                let _ = done.send(result);
            }
            Job::Release { before } => match wal.release_before(before) {
                Ok(0) => {}
                Ok(released) => log::info!(
                    "write-ahead log: released {released} segment(s) before entry {before}"
                ),
                // The next snapshot releases again; meanwhile the log only keeps more.
                Err(error) => log::warn!("write-ahead log: release before {before}: {error}"),
            },
        }
    }
}

/// Appends one ready, first repairing the log if the previous append failed: the failed
/// frame's bytes are overwritten so recovery never sees them, and appends go on from the last
/// acknowledged frame.
fn append(
    wal: &mut Wal,
    records: &[LogRecord],
    hard_state: Option<HardState>,
) -> Result<(), WalError> {
    if wal.is_poisoned() {
        wal.repair()?;
    }
    let entries: Vec<LogEntryRef<'_>> = records
        .iter()
        .map(|record| LogEntryRef {
            index: record.index,
            term: record.term,
            payload: &record.payload,
        })
        .collect();
    let hard_state = hard_state.map(|state| WalHardState {
        term: state.term,
        vote: state.vote,
        commit: state.commit,
    });
    wal.append(&entries, hard_state.as_ref())
}

impl WalHandle {
    /// Hands an append to the WAL thread, behind the ones already handed over; waits only while
    /// the thread's queue is full.
    pub async fn submit(
        &self,
        records: Vec<LogRecord>,
        hard_state: Option<HardState>,
    ) -> Result<PendingAppend, AppendError> {
        let (done, wait) = flume::bounded(1);
        self.jobs
            .send_async(Job::Append {
                records,
                hard_state,
                generation: self.generation,
                done,
            })
            .await
            .map_err(|_| AppendError::Stopped)?;
        Ok(PendingAppend { wait })
    }

    /// After a failed append: the appends handed over since are refused unwritten, and the
    /// ones handed over from now on are written again (the log is repaired first).
    pub fn discard_in_flight(&mut self) {
        self.generation += 1;
    }

    pub fn releaser(&self) -> WalReleaser {
        WalReleaser {
            jobs: self.jobs.clone(),
        }
    }
}

impl PendingAppend {
    /// Durable when this returns Ok, which carries the bytes appended since the WAL opened.
    /// Cancel-safe: dropping the future before it completes loses no answer.
    pub async fn done(&self) -> Result<u64, AppendError> {
        match self.wait.recv_async().await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(reason)) => Err(AppendError::Failed(reason)),
            Err(_) => Err(AppendError::Stopped),
        }
    }
}

impl WalReleaser {
    /// Asks the WAL thread to release the segments before `before`; blocks while its queue is
    /// full (called from the snapshot thread only).
    pub fn release_before(&self, before: u64) {
        if self.jobs.send(Job::Release { before }).is_err() {
            log::debug!("the WAL thread stopped; release before {before} dropped");
        }
    }
}
