//! The one layer every file operation of the crate goes through, so that a [`FaultPlan`] sees
//! all of them (and so that the error of each names its file and offset the same way).

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use crate::error::WalError;
use crate::fault::{FaultPlan, FileOp, Injected};

/// Performs file operations, failing the ones the fault plan (if any) picks.
#[derive(Clone, Debug, Default)]
pub(crate) struct Files {
    faults: Option<Arc<FaultPlan>>,
}

impl Files {
    pub(crate) fn new(faults: Option<Arc<FaultPlan>>) -> Files {
        Files { faults }
    }

    fn inject(&self, op: FileOp, path: &Path, offset: u64, bytes: u64) -> Option<Injected> {
        self.faults
            .as_ref()
            .and_then(|plan| plan.check(op, path, offset, bytes))
    }

    fn fail_if_planned(&self, op: FileOp, path: &Path, offset: u64) -> std::io::Result<()> {
        match self.inject(op, path, offset, 0) {
            Some(injected) => Err(std::io::Error::from_raw_os_error(injected.errno)),
            None => Ok(()),
        }
    }

    /// Creates (or truncates) a new segment file for writing.
    pub(crate) fn create(&self, path: &Path) -> Result<File, WalError> {
        self.fail_if_planned(FileOp::CreateSegment, path, 0)
            .and_then(|()| {
                OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(path)
            })
            .map_err(|e| WalError::io(path, 0, e))
    }

    /// Opens an existing file for writing with extra `open(2)` flags (such as O_DIRECT). Returns
    /// the raw error so the caller can tell a refusal of O_DIRECT from other failures.
    pub(crate) fn open_write(&self, path: &Path, flags: i32) -> std::io::Result<File> {
        self.fail_if_planned(FileOp::Open, path, 0)?;
        OpenOptions::new()
            .write(true)
            .custom_flags(flags)
            .open(path)
    }

    /// Opens (creating if needed, never truncating) a file for writing: the lock file.
    pub(crate) fn open_or_create(&self, path: &Path) -> Result<File, WalError> {
        self.fail_if_planned(FileOp::Open, path, 0)
            .and_then(|()| {
                OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)
            })
            .map_err(|e| WalError::io(path, 0, e))
    }

    /// Writes all of `bytes` at `offset`. Returns the raw error so the caller can tell a refusal
    /// of O_DIRECT from other failures. A planned torn write writes a sector-aligned prefix of
    /// `bytes` first, which keeps it valid for O_DIRECT.
    pub(crate) fn write_at(
        &self,
        file: &File,
        path: &Path,
        bytes: &[u8],
        offset: u64,
    ) -> std::io::Result<()> {
        if let Some(injected) = self.inject(FileOp::Write, path, offset, bytes.len() as u64) {
            if let Some(kept) = injected.torn_bytes {
                let kept = (kept as usize).min(bytes.len());
                file.write_all_at(&bytes[..kept], offset)?;
            }
            return Err(std::io::Error::from_raw_os_error(injected.errno));
        }
        file.write_all_at(bytes, offset)
    }

    /// fdatasync; `offset` only names the place in the error.
    pub(crate) fn sync_data(&self, file: &File, path: &Path, offset: u64) -> Result<(), WalError> {
        self.fail_if_planned(FileOp::Sync, path, offset)
            .and_then(|()| file.sync_data())
            .map_err(|e| WalError::io(path, offset, e))
    }

    /// fsync (data and metadata such as the size).
    pub(crate) fn sync_all(&self, file: &File, path: &Path) -> Result<(), WalError> {
        self.fail_if_planned(FileOp::Sync, path, 0)
            .and_then(|()| file.sync_all())
            .map_err(|e| WalError::io(path, 0, e))
    }

    /// Makes the directory's entries (creations, renames, deletions) durable.
    pub(crate) fn sync_dir(&self, dir: &Path) -> Result<(), WalError> {
        self.fail_if_planned(FileOp::SyncDir, dir, 0)
            .and_then(|()| File::open(dir))
            .and_then(|handle| handle.sync_all())
            .map_err(|e| WalError::io(dir, 0, e))
    }

    /// Renames `from` to `to`; an error names `to`.
    pub(crate) fn rename(&self, from: &Path, to: &Path) -> Result<(), WalError> {
        self.fail_if_planned(FileOp::Rename, from, 0)
            .and_then(|()| std::fs::rename(from, to))
            .map_err(|e| WalError::io(to, 0, e))
    }

    /// Deletes `path`; a file already gone counts as deleted.
    pub(crate) fn remove(&self, path: &Path) -> Result<(), WalError> {
        match self
            .fail_if_planned(FileOp::Remove, path, 0)
            .and_then(|()| std::fs::remove_file(path))
        {
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
            other => other.map_err(|e| WalError::io(path, 0, e)),
        }
    }

    /// Reads a whole file.
    pub(crate) fn read(&self, path: &Path) -> Result<Vec<u8>, WalError> {
        self.fail_if_planned(FileOp::Read, path, 0)
            .and_then(|()| std::fs::read(path))
            .map_err(|e| WalError::io(path, 0, e))
    }
}
