//! The errors of the importer. Every problem found in a ZooKeeper file names the file and the
//! byte offset where it was found, so an operator can look at it with a hex dump.

use std::fmt;
use std::path::PathBuf;

use corral_engine::state::StateBuildError;
use corral_wal::WalError;

/// Why bytes at an offset do not parse; the file is added by the caller that knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub offset: u64,
    pub reason: String,
    /// The input ended inside the value: a torn write when it happens at a log's tail.
    pub truncated: bool,
}

impl Fault {
    pub fn invalid(offset: u64, reason: impl Into<String>) -> Fault {
        Fault {
            offset,
            reason: reason.into(),
            truncated: false,
        }
    }

    pub fn truncated(offset: u64, reason: impl Into<String>) -> Fault {
        Fault {
            offset,
            reason: reason.into(),
            truncated: true,
        }
    }

    pub fn in_file(self, file: impl Into<PathBuf>) -> FormatError {
        FormatError {
            file: file.into(),
            offset: self.offset,
            reason: self.reason,
        }
    }
}

/// A ZooKeeper file that does not hold what its format says it should.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    pub file: PathBuf,
    pub offset: u64,
    pub reason: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {}: {}",
            self.file.display(),
            self.offset,
            self.reason
        )
    }
}

/// Why an import failed.
#[derive(Debug)]
pub enum ImportError {
    /// The command line is wrong.
    Usage(String),
    /// A file or directory could not be read or written.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A ZooKeeper file is corrupt or not in a format this importer knows.
    Format(FormatError),
    /// The data directory holds nothing this importer can start from.
    NoSnapshot { dir: PathBuf, reasons: Vec<String> },
    /// The ZooKeeper snapshot is compressed (`zookeeper.snapshot.compression.method`).
    Compressed { path: PathBuf },
    /// The logs do not hold every txn between the snapshot and the last logged zxid.
    Gap {
        file: PathBuf,
        offset: u64,
        after_zxid: i64,
        found_zxid: i64,
    },
    /// The target directory already holds something.
    TargetNotEmpty { path: PathBuf },
    /// The replayed tree is not one Corral can hold.
    Build(StateBuildError),
    /// Writing the Corral snapshot failed.
    Wal(WalError),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Usage(message) => write!(f, "{message}"),
            ImportError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ImportError::Format(error) => write!(f, "{error}"),
            ImportError::NoSnapshot { dir, reasons } if reasons.is_empty() => write!(
                f,
                "{}: no ZooKeeper snapshot (snapshot.<zxid>) to import from",
                dir.display()
            ),
            ImportError::NoSnapshot { dir, reasons } => write!(
                f,
                "{}: no valid ZooKeeper snapshot: {}",
                dir.display(),
                reasons.join("; ")
            ),
            ImportError::Compressed { path } => write!(
                f,
                "{}: compressed snapshots are not supported; restart ZooKeeper without \
                 zookeeper.snapshot.compression.method so that it writes a plain snapshot",
                path.display()
            ),
            ImportError::Gap {
                file,
                offset,
                after_zxid,
                found_zxid,
            } if found_zxid <= after_zxid => write!(
                f,
                "{} at offset {offset}: txn {found_zxid:#x} comes after txn {after_zxid:#x}: \
                 the logs are out of order",
                file.display()
            ),
            ImportError::Gap {
                file,
                offset,
                after_zxid,
                found_zxid,
            } => write!(
                f,
                "{} at offset {offset}: txn {found_zxid:#x} follows {after_zxid:#x}: the logs \
                 miss the txns between them",
                file.display()
            ),
            ImportError::TargetNotEmpty { path } => write!(
                f,
                "{}: target directory is not empty; import only into a new directory",
                path.display()
            ),
            ImportError::Build(error) => write!(f, "the imported tree is not valid: {error}"),
            ImportError::Wal(error) => write!(f, "writing the Corral snapshot failed: {error}"),
        }
    }
}

impl std::error::Error for ImportError {}

impl From<FormatError> for ImportError {
    fn from(error: FormatError) -> Self {
        ImportError::Format(error)
    }
}

impl From<StateBuildError> for ImportError {
    fn from(error: StateBuildError) -> Self {
        ImportError::Build(error)
    }
}

impl From<WalError> for ImportError {
    fn from(error: WalError) -> Self {
        ImportError::Wal(error)
    }
}

/// Attaches the path to an I/O error.
pub fn io_error(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ImportError {
    let path = path.into();
    move |source| ImportError::Io { path, source }
}
