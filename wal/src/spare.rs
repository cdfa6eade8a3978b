//! Zero-filling the next segment in the background, so that rolling over only renames it.
//!
//! Creating a 64 MiB segment takes a few hundred milliseconds on a busy disk; done inline it
//! would stall every append queued behind the roll. A helper thread prepares the file while the
//! current segment fills; the roll waits for it (usually already done) and falls back to creating
//! the segment itself if the spare is missing, failed, or too small.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crate::error::WalError;
use crate::fileio::Files;
use crate::format::SegmentHeader;
use crate::segment::{new_salt, preallocate_segment, Pacing};

pub(crate) struct SpareSegment {
    sequence: u64,
    salt: u64,
    segment_bytes: u64,
    /// Kept so that a spare never used is deleted through the same (fault-injectable) layer.
    files: Files,
    worker: Option<JoinHandle<Result<PathBuf, WalError>>>,
}

/// What became of a spare when the roll came.
pub(crate) enum SpareOutcome {
    /// Ready as the temporary file of the segment asked for, with this salt.
    Ready { path: PathBuf, salt: u64 },
    /// Prepared for another sequence or size (and deleted), or never started.
    Unusable,
    /// The preallocation failed (its file is already deleted); the roll reports it.
    Failed(WalError),
}

impl SpareSegment {
    /// Starts preallocating segment `sequence` of `segment_bytes` on a helper thread.
    pub(crate) fn start(
        files: &Files,
        dir: &Path,
        sequence: u64,
        segment_bytes: u64,
    ) -> SpareSegment {
        let dir = dir.to_path_buf();
        let worker_files = files.clone();
        let salt = new_salt(sequence);
        let header = SegmentHeader {
            sequence,
            salt,
            stale_end: 0,
        };
        let worker = std::thread::Builder::new()
            .name("wal-preallocate".to_string())
            .spawn(move || {
                preallocate_segment(
                    &worker_files,
                    &dir,
                    &header,
                    segment_bytes,
                    Pacing::ChunkByChunk,
                )
            });
        if let Err(error) = &worker {
            log::warn!(
                "WAL cannot start a preallocation thread ({error}); segments are created inline"
            );
        }
        SpareSegment {
            sequence,
            salt,
            segment_bytes,
            files: files.clone(),
            worker: worker.ok(),
        }
    }

    /// Waits for the spare and returns it if it can serve as segment `sequence` of exactly
    /// `segment_bytes`; otherwise deletes it (`files` deletes, so a fault plan sees it).
    pub(crate) fn take(mut self, files: &Files, sequence: u64, segment_bytes: u64) -> SpareOutcome {
        let Some(worker) = self.worker.take() else {
            return SpareOutcome::Unusable;
        };
        match worker.join() {
            Ok(Ok(path)) if self.sequence == sequence && self.segment_bytes == segment_bytes => {
                SpareOutcome::Ready {
                    path,
                    salt: self.salt,
                }
            }
            Ok(Ok(path)) => {
                // Harmless if this fails: open deletes leftover temporary files.
                if let Err(error) = files.remove(&path) {
                    log::warn!("WAL cannot delete an unused spare segment: {error}");
                }
                SpareOutcome::Unusable
            }
            Ok(Err(error)) => SpareOutcome::Failed(error),
            Err(_) => {
                log::warn!("WAL preallocation thread panicked; creating the segment inline");
                SpareOutcome::Unusable
            }
        }
    }
}

impl Drop for SpareSegment {
    fn drop(&mut self) {
        // Never leave a thread writing into the directory after the Wal is gone, nor its
        // finished file: a clean shutdown leaves no `.log.tmp` behind (open would delete it).
        if let Some(worker) = self.worker.take() {
            if let Ok(Ok(path)) = worker.join() {
                if let Err(error) = self.files.remove(&path) {
                    log::warn!("WAL cannot delete an unused spare segment: {error}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::SECTOR_BYTES;

    fn temporaries(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|entry| entry.file_name().into_string().ok())
                    .filter(|name| name.ends_with(".tmp"))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_spare_dropped_unused_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let files = Files::new(None);
        let spare = SpareSegment::start(&files, dir.path(), 7, 64 * SECTOR_BYTES);
        drop(spare);
        assert_eq!(temporaries(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn a_spare_taken_for_its_segment_is_kept_until_installed() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let files = Files::new(None);
        let bytes = 64 * SECTOR_BYTES;
        let spare = SpareSegment::start(&files, dir.path(), 7, bytes);
        match spare.take(&files, 7, bytes) {
            SpareOutcome::Ready { path, .. } => {
                assert!(path.exists(), "{} exists", path.display());
                assert_eq!(
                    std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
                    bytes
                );
            }
            SpareOutcome::Unusable => panic!("the spare was unusable"),
            SpareOutcome::Failed(error) => panic!("the spare failed: {error}"),
        }
    }
}
