//! Zero-filling the next segment in the background, so that rolling over only renames it.
//!
//! Creating a 64 MiB segment takes a few hundred milliseconds on a busy disk; done inline it
//! would stall every append queued behind the roll. A helper thread prepares the file while the
//! current segment fills; the roll waits for it (usually already done) and falls back to creating
//! the segment itself if the spare is missing, failed, or too small.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crate::error::WalError;
use crate::segment::{preallocate_segment, Pacing};

pub(crate) struct SpareSegment {
    sequence: u64,
    segment_bytes: u64,
    worker: Option<JoinHandle<Result<PathBuf, WalError>>>,
}

impl SpareSegment {
    /// Starts preallocating segment `sequence` of `segment_bytes` on a helper thread.
    pub(crate) fn start(dir: &Path, sequence: u64, segment_bytes: u64) -> SpareSegment {
        let dir = dir.to_path_buf();
        let worker = std::thread::Builder::new()
            .name("wal-preallocate".to_string())
            .spawn(move || {
                preallocate_segment(&dir, sequence, segment_bytes, Pacing::ChunkByChunk)
            });
        if let Err(error) = &worker {
            log::warn!(
                "WAL cannot start a preallocation thread ({error}); segments are created inline"
            );
        }
        SpareSegment {
            sequence,
            segment_bytes,
            worker: worker.ok(),
        }
    }

    /// Waits for the spare and returns its (temporary) path if it can serve as segment
    /// `sequence` of at least `segment_bytes`; otherwise discards it.
    pub(crate) fn take(mut self, sequence: u64, segment_bytes: u64) -> Option<PathBuf> {
        let worker = self.worker.take()?;
        match worker.join() {
            Ok(Ok(path)) if self.sequence == sequence && self.segment_bytes >= segment_bytes => {
                Some(path)
            }
            Ok(Ok(path)) => {
                // Harmless if this fails: open deletes leftover temporary files.
                let _ = std::fs::remove_file(path);
                None
            }
            Ok(Err(error)) => {
                log::warn!(
                    "WAL background preallocation failed ({error}); creating the segment inline"
                );
                None
            }
            Err(_) => {
                log::warn!("WAL preallocation thread panicked; creating the segment inline");
                None
            }
        }
    }
}

impl Drop for SpareSegment {
    fn drop(&mut self) {
        // Never leave a thread writing into the directory after the Wal is gone.
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
