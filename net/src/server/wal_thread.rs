//! The write-ahead log runs on a thread of its own: a write plus fdatasync blocks for tens of
//! microseconds to milliseconds, and the pipeline shard keeps serving its connections (and
//! gathering the next batch) meanwhile.

use std::path::Path;
use std::thread::JoinHandle;

use corral_engine::consensus::{HardState, LogRecord};
use corral_wal::{HardState as WalHardState, LogEntryRef, Wal, WalOptions};

use super::ServerError;
use crate::limits::WAL_QUEUE_MAX;

struct Job {
    records: Vec<LogRecord>,
    hard_state: Option<HardState>,
    done: flume::Sender<Result<(), String>>,
}

pub struct WalHandle {
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
    let (mut wal, recovered) =
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
        .spawn(move || {
            for job in inbox.iter() {
                let entries: Vec<LogEntryRef<'_>> = job
                    .records
                    .iter()
                    .map(|record| LogEntryRef {
                        index: record.index,
                        term: record.term,
                        payload: &record.payload,
                    })
                    .collect();
                let hard_state = job.hard_state.map(|state| WalHardState {
                    term: state.term,
                    vote: state.vote,
                    commit: state.commit,
                });
                let result = wal
                    .append(&entries, hard_state.as_ref())
                    .map_err(|error| error.to_string());
                let _ = job.done.send(result);
            }
        })
        .map_err(|error| ServerError::Io(format!("cannot start the WAL thread: {error}")))?;
    Ok((
        WalHandle { jobs },
        thread,
        RecoveredLog {
            records,
            hard_state,
        },
    ))
}

impl WalHandle {
    /// Durable when this returns Ok.
    pub async fn append(
        &self,
        records: Vec<LogRecord>,
        hard_state: Option<HardState>,
    ) -> Result<(), ServerError> {
        let (done, wait) = flume::bounded(1);
        self.jobs
            .send_async(Job {
                records,
                hard_state,
                done,
            })
            .await
            .map_err(|_| ServerError::Wal("the WAL thread stopped".into()))?;
        match wait.recv_async().await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(ServerError::Wal(reason)),
            Err(_) => Err(ServerError::Wal("the WAL thread stopped".into())),
        }
    }
}
