//! Fault injection under the WAL, for tests: a [`FaultPlan`] in `WalOptions::faults` makes chosen
//! file operations fail with a chosen errno, or write only part of their bytes first (a torn
//! write). Every file operation of the crate goes through one internal layer that consults the
//! plan, the background preallocation thread's included. Production code passes `None`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::limits::SECTOR_BYTES;

/// The kinds of file operation the WAL performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileOp {
    /// Creating a new segment file (before it is zero-filled).
    CreateSegment,
    /// Opening an existing file (a segment for appends, the lock file, a spare to recycle).
    Open,
    /// A positioned write: a frame, a seal, a segment header, zeros.
    Write,
    /// fdatasync or fsync of a file.
    Sync,
    /// fsync of the log directory.
    SyncDir,
    Rename,
    Remove,
    /// Reading a whole segment at open.
    Read,
}

/// One file operation, as a plan's predicate sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOpInfo {
    pub op: FileOp,
    /// The file (for `Rename`, the source; for `SyncDir`, the directory).
    pub path: PathBuf,
    /// File offset of a write or of what a sync makes durable (0 where none applies).
    pub offset: u64,
    /// Bytes of a write (0 for other operations).
    pub bytes: u64,
}

impl FileOpInfo {
    /// Whether the operation touches a file with this extension (`"log"`, `"tmp"`, `"spare"`).
    pub fn has_extension(&self, extension: &str) -> bool {
        self.path.extension().is_some_and(|e| e == extension)
    }
}

/// Which operations of a fault's kind fail.
pub enum Trigger {
    /// Only the n-th operation of the kind (counting from 1 the operations done while the plan
    /// was armed, since the fault was added).
    Nth(u64),
    /// Every operation of the kind, while the plan is armed.
    Every,
    /// Every operation of the kind for which the predicate holds.
    When(Box<dyn Fn(&FileOpInfo) -> bool + Send + Sync>),
}

impl std::fmt::Debug for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::Nth(n) => write!(f, "Nth({n})"),
            Trigger::Every => write!(f, "Every"),
            Trigger::When(_) => write!(f, "When(..)"),
        }
    }
}

#[derive(Debug)]
struct Fault {
    op: FileOp,
    trigger: Trigger,
    errno: i32,
    /// For writes: bytes written before failing (rounded down to whole sectors).
    torn_bytes: Option<u64>,
    seen: u64,
}

/// What the file layer must do for one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Injected {
    pub(crate) errno: i32,
    /// Write this many leading bytes before failing (writes only).
    pub(crate) torn_bytes: Option<u64>,
}

/// A list of faults to inject, shared (through an `Arc`) by the `Wal` and its helper thread.
#[derive(Debug, Default)]
pub struct FaultPlan {
    faults: Mutex<Vec<Fault>>,
    disarmed: AtomicBool,
    injected: AtomicU64,
}

impl FaultPlan {
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// Adds a fault: the operations of kind `op` chosen by `trigger` fail with `errno` (such as
    /// `libc::ENOSPC` or `libc::EIO`) without doing anything.
    pub fn fail(self, op: FileOp, trigger: Trigger, errno: i32) -> FaultPlan {
        self.push(op, trigger, errno, None)
    }

    /// Adds a torn write: the writes chosen by `trigger` write their first `kept_bytes` (rounded
    /// down to whole sectors, the unit a disk tears at) and then fail with `errno`.
    pub fn tear(self, trigger: Trigger, kept_bytes: u64, errno: i32) -> FaultPlan {
        let kept = kept_bytes / SECTOR_BYTES * SECTOR_BYTES;
        self.push(FileOp::Write, trigger, errno, Some(kept))
    }

    fn push(self, op: FileOp, trigger: Trigger, errno: i32, torn_bytes: Option<u64>) -> FaultPlan {
        self.lock().push(Fault {
            op,
            trigger,
            errno,
            torn_bytes,
            seen: 0,
        });
        self
    }

    /// Stops injecting (as when space returns); operations are no longer counted either.
    pub fn disarm(&self) {
        self.disarmed.store(true, Ordering::SeqCst);
    }

    /// Resumes injecting after `disarm`.
    pub fn arm(&self) {
        self.disarmed.store(false, Ordering::SeqCst);
    }

    /// How many operations have failed so far because of this plan.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        // A panic while holding the lock (in a predicate) leaves the list itself intact.
        self.faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts the operation against every fault of its kind and returns the first that fires.
    pub(crate) fn check(
        &self,
        op: FileOp,
        path: &Path,
        offset: u64,
        bytes: u64,
    ) -> Option<Injected> {
        if self.disarmed.load(Ordering::SeqCst) {
            return None;
        }
        let info = FileOpInfo {
            op,
            path: path.to_path_buf(),
            offset,
            bytes,
        };
        let mut fired = None;
        for fault in self.lock().iter_mut().filter(|fault| fault.op == op) {
            fault.seen += 1;
            let fires = match &fault.trigger {
                Trigger::Nth(n) => fault.seen == *n,
                Trigger::Every => true,
                Trigger::When(predicate) => predicate(&info),
            };
            if fires && fired.is_none() {
                fired = Some(Injected {
                    errno: fault.errno,
                    torn_bytes: fault.torn_bytes,
                });
            }
        }
        if fired.is_some() {
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
        fired
    }
}
