//! The one error type of the crate.

use std::path::PathBuf;

/// Everything `Wal` can fail with. After an `Io` error from `append` the log is poisoned (see
/// `WalError::Poisoned`): what reached the disk is unknown until the log is reopened.
#[derive(thiserror::Error, Debug)]
pub enum WalError {
    /// An operating-system call failed on `path`; `offset` is the file offset involved (0 when the
    /// call has none, such as open or rename).
    #[error("WAL I/O error on {} at offset {offset}: {source}", path.display())]
    Io {
        path: PathBuf,
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    /// The log holds bytes that no crash can explain: recovery refuses to guess.
    #[error("WAL corrupt: {} at offset {offset}: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// An entry's payload exceeds `limits::ENTRY_BYTES_MAX`.
    #[error("WAL entry {index} has a {bytes}-byte payload, over the limit of {max}")]
    EntryTooLarge { index: u64, bytes: u64, max: u64 },
    /// One append would make a frame over `limits::FRAME_BYTES_MAX`; split the batch.
    #[error("WAL append of {bytes} bytes is over the frame limit of {max}")]
    FrameTooLarge { bytes: u64, max: u64 },
    /// Entries must be contiguous, start at 1 or later, and start no later than `last_index + 1`.
    #[error("WAL entry index {index} given where {expected} was expected")]
    NotContiguous { index: u64, expected: String },
    /// `WalOptions` out of range.
    #[error("WAL options invalid: {reason}")]
    InvalidOptions { reason: String },
    /// Another `Wal` (in this or another process) holds the directory.
    #[error("WAL directory {} is locked by another process", path.display())]
    Locked { path: PathBuf },
    /// An earlier append failed with an I/O error; reopen the log to learn what is durable.
    #[error("WAL unusable after an earlier I/O error; reopen it")]
    Poisoned,
}

/// Errors compare by their fields; I/O errors by path, offset and error kind (the OS error text
/// is not part of the comparison), so tests can assert whole errors.
impl PartialEq for WalError {
    fn eq(&self, other: &WalError) -> bool {
        use WalError::*;
        match (self, other) {
            (
                Io {
                    path,
                    offset,
                    source,
                },
                Io {
                    path: other_path,
                    offset: other_offset,
                    source: other_source,
                },
            ) => {
                path == other_path && offset == other_offset && source.kind() == other_source.kind()
            }
            (
                Corrupt {
                    path,
                    offset,
                    reason,
                },
                Corrupt {
                    path: other_path,
                    offset: other_offset,
                    reason: other_reason,
                },
            ) => path == other_path && offset == other_offset && reason == other_reason,
            (
                EntryTooLarge { index, bytes, max },
                EntryTooLarge {
                    index: other_index,
                    bytes: other_bytes,
                    max: other_max,
                },
            ) => index == other_index && bytes == other_bytes && max == other_max,
            (
                FrameTooLarge { bytes, max },
                FrameTooLarge {
                    bytes: other_bytes,
                    max: other_max,
                },
            ) => bytes == other_bytes && max == other_max,
            (
                NotContiguous { index, expected },
                NotContiguous {
                    index: other_index,
                    expected: other_expected,
                },
            ) => index == other_index && expected == other_expected,
            (
                InvalidOptions { reason },
                InvalidOptions {
                    reason: other_reason,
                },
            ) => reason == other_reason,
            (Locked { path }, Locked { path: other_path }) => path == other_path,
            (Poisoned, Poisoned) => true,
            _ => false,
        }
    }
}

impl WalError {
    pub(crate) fn io(path: impl Into<PathBuf>, offset: u64, source: std::io::Error) -> WalError {
        WalError::Io {
            path: path.into(),
            offset,
            source,
        }
    }

    pub(crate) fn corrupt(
        path: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> WalError {
        WalError::Corrupt {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }
}
