//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use corral_wal::{HardState, LogEntry, LogEntryRef, Wal, WalOptions};
use tempfile::TempDir;

/// Segment size used by the tests: the header sector, four one-sector frames and the seal
/// sector, so a few appends roll over.
pub const TEST_SEGMENT_BYTES: u64 = 24 * 1024;
/// Frame header and record header sizes, from the documented on-disk format.
pub const FRAME_HEADER_BYTES: u64 = 48;
pub const RECORD_HEADER_BYTES: u64 = 32;
/// The segment header at the start of every segment file, and where its fields lie.
pub const SEGMENT_HEADER_BYTES: u64 = 48;
pub const SEGMENT_HEADER_STALE_END: usize = 24;
pub const HARD_STATE_RECORD_BYTES: u64 = RECORD_HEADER_BYTES + 24;
pub const SECTOR: u64 = 4096;

/// A directory on the repository disk (where O_DIRECT works) and its options, plus a tempfile
/// directory with buffered writes: every test runs against both.
pub fn test_dirs(segment_bytes: u64) -> Vec<(TempDir, WalOptions)> {
    let direct_root =
        std::env::var("CORRAL_WAL_TEST_DIR").unwrap_or_else(|_| "/work/tmp-wal".to_string());
    let direct = if Path::new(&direct_root).is_dir() {
        tempfile::Builder::new()
            .prefix("wal-test")
            .tempdir_in(&direct_root)
    } else {
        tempfile::tempdir()
    }
    .expect("create test dir");
    let buffered = tempfile::tempdir().expect("create test dir");
    vec![
        (
            direct,
            WalOptions {
                segment_bytes,
                direct_io: true,
                force_sync: true,
                faults: None,
            },
        ),
        (
            buffered,
            WalOptions {
                segment_bytes,
                direct_io: false,
                force_sync: true,
                faults: None,
            },
        ),
    ]
}

pub fn entry(index: u64, term: u64, payload_bytes: usize) -> LogEntry {
    // Payloads never contain a zero byte, so a torn tail's extent is easy to predict.
    let payload = (0..payload_bytes)
        .map(|i| (1 + (index as usize * 7 + i) % 250) as u8)
        .collect();
    LogEntry {
        index,
        term,
        payload,
    }
}

pub fn entries(first: u64, count: u64, term: u64, payload_bytes: usize) -> Vec<LogEntry> {
    (first..first + count)
        .map(|index| entry(index, term, payload_bytes))
        .collect()
}

pub fn refs(entries: &[LogEntry]) -> Vec<LogEntryRef<'_>> {
    entries.iter().map(LogEntry::as_entry_ref).collect()
}

pub fn append(wal: &mut Wal, entries: &[LogEntry], hard_state: Option<HardState>) {
    wal.append(&refs(entries), hard_state.as_ref())
        .expect("append");
}

/// Bytes of a frame's header and records, padding excluded (per the documented format).
pub fn frame_body_end(entries: &[LogEntry], hard_state: bool) -> u64 {
    let records: u64 = entries
        .iter()
        .map(|e| RECORD_HEADER_BYTES + e.payload.len() as u64)
        .sum();
    FRAME_HEADER_BYTES
        + records
        + if hard_state {
            HARD_STATE_RECORD_BYTES
        } else {
            0
        }
}

pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list dir")
        .map(|d| d.expect("dirent").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

/// Copies every file of `from` into the empty directory `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    for dirent in std::fs::read_dir(from).expect("list dir") {
        let path = dirent.expect("dirent").path();
        std::fs::copy(&path, to.join(path.file_name().expect("file name"))).expect("copy");
    }
}

pub fn overwrite(path: &Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    file.write_all_at(bytes, offset).expect("write");
    file.sync_all().expect("sync");
}

pub fn read_file(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read")
}

/// The `stale_end` field of a segment's header (see the documented format): bytes below it may
/// hold stale frames of a recycled segment's earlier use.
pub fn stale_end(segment: &Path) -> u64 {
    let bytes = read_file(segment);
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[SEGMENT_HEADER_STALE_END..SEGMENT_HEADER_STALE_END + 8]);
    u64::from_le_bytes(word)
}

/// The indexes of entries, for assertion messages short enough to read.
pub fn indexes(entries: &[LogEntry]) -> Vec<u64> {
    entries.iter().map(|e| e.index).collect()
}
