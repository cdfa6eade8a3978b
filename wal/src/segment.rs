//! Segment files: naming, listing, preallocation, and the O_DIRECT write path with its fallback.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::WalError;
use crate::limits::{SECTOR_BYTES, ZERO_CHUNK_BYTES};

const SEGMENT_PREFIX: &str = "wal-";
const SEGMENT_SUFFIX: &str = ".log";
/// A segment being zero-filled; renamed to its final name only once complete and durable.
const PREALLOCATING_SUFFIX: &str = ".log.tmp";

/// Set once the fallback to buffered I/O has been logged, so the warning appears once per process.
static DIRECT_IO_FALLBACK_WARNED: AtomicBool = AtomicBool::new(false);

pub(crate) fn segment_file_name(sequence: u64) -> String {
    format!("{SEGMENT_PREFIX}{sequence:020}{SEGMENT_SUFFIX}")
}

fn parse_sequence(name: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix(SEGMENT_PREFIX)?.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Lists the segments of `dir` in sequence order and deletes leftovers of interrupted
/// preallocations, which never held a record.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let mut segments = Vec::new();
    let listing = std::fs::read_dir(dir).map_err(|e| WalError::io(dir, 0, e))?;
    for dirent in listing {
        let dirent = dirent.map_err(|e| WalError::io(dir, 0, e))?;
        let name = dirent.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(sequence) = parse_sequence(name, SEGMENT_SUFFIX) {
            segments.push((sequence, dirent.path()));
        } else if parse_sequence(name, PREALLOCATING_SUFFIX).is_some() {
            let path = dirent.path();
            std::fs::remove_file(&path).map_err(|e| WalError::io(&path, 0, e))?;
        }
    }
    segments.sort_unstable();
    for pair in segments.windows(2) {
        if pair[1].0 != pair[0].0 + 1 {
            return Err(WalError::corrupt(
                dir,
                0,
                format!(
                    "segments {} to {} are missing",
                    pair[0].0 + 1,
                    pair[1].0 - 1
                ),
            ));
        }
    }
    Ok(segments)
}

/// Creates segment `sequence` of `segment_bytes` zeros, durable (file and directory entry) on
/// return.
pub(crate) fn create_segment(
    dir: &Path,
    sequence: u64,
    segment_bytes: u64,
) -> Result<PathBuf, WalError> {
    let temporary = preallocate_segment(dir, sequence, segment_bytes, Pacing::AtOnce)?;
    install_segment(dir, &temporary, sequence)
}

/// How zero-filling shares the disk with concurrent appends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pacing {
    /// Write everything, then sync once: fastest when nothing else waits on the disk.
    AtOnce,
    /// Sync after every chunk: a concurrent append's fdatasync then waits behind at most one
    /// chunk of writeback instead of the whole segment (measured here: spikes of 200-300 ms
    /// with `AtOnce` running beside small appends).
    ChunkByChunk,
}

/// Zero-fills `wal-<sequence>.log.tmp` to `segment_bytes` and syncs it; returns its path. Zeros
/// are written rather than fallocated: a later fdatasync then has no block allocation or size
/// change to commit, which is what keeps appends fast. The temporary name keeps a half-filled
/// file from ever being taken for a segment.
pub(crate) fn preallocate_segment(
    dir: &Path,
    sequence: u64,
    segment_bytes: u64,
    pacing: Pacing,
) -> Result<PathBuf, WalError> {
    assert!(segment_bytes > 0 && segment_bytes.is_multiple_of(SECTOR_BYTES));
    let temporary = dir.join(format!(
        "{SEGMENT_PREFIX}{sequence:020}{PREALLOCATING_SUFFIX}"
    ));
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temporary)
        .map_err(|e| WalError::io(&temporary, 0, e))?;
    match pacing {
        Pacing::AtOnce => write_zeros(&file, &temporary, 0, segment_bytes)?,
        Pacing::ChunkByChunk => {
            let mut offset = 0;
            while offset < segment_bytes {
                let end = segment_bytes.min(offset + ZERO_CHUNK_BYTES);
                write_zeros(&file, &temporary, offset, end)?;
                file.sync_data()
                    .map_err(|e| WalError::io(&temporary, offset, e))?;
                offset = end;
            }
        }
    }
    file.sync_all()
        .map_err(|e| WalError::io(&temporary, 0, e))?;
    Ok(temporary)
}

/// Renames a preallocated file to segment `sequence` and makes the new name durable.
pub(crate) fn install_segment(
    dir: &Path,
    temporary: &Path,
    sequence: u64,
) -> Result<PathBuf, WalError> {
    let path = dir.join(segment_file_name(sequence));
    std::fs::rename(temporary, &path).map_err(|e| WalError::io(&path, 0, e))?;
    sync_dir(dir)?;
    Ok(path)
}

/// Writes zeros over `[start, end)` of `file` with ordinary buffered writes (the caller syncs).
pub(crate) fn write_zeros(file: &File, path: &Path, start: u64, end: u64) -> Result<(), WalError> {
    let zeros = vec![0u8; ZERO_CHUNK_BYTES as usize];
    let mut offset = start;
    while offset < end {
        let chunk = (end - offset).min(ZERO_CHUNK_BYTES) as usize;
        file.write_all_at(&zeros[..chunk], offset)
            .map_err(|e| WalError::io(path, offset, e))?;
        offset += chunk as u64;
    }
    Ok(())
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), WalError> {
    let handle = File::open(dir).map_err(|e| WalError::io(dir, 0, e))?;
    handle.sync_all().map_err(|e| WalError::io(dir, 0, e))
}

/// The segment appends go to, opened for writing with O_DIRECT when asked and possible.
pub(crate) struct ActiveSegment {
    pub(crate) sequence: u64,
    pub(crate) path: PathBuf,
    pub(crate) file: File,
    /// Size of the preallocated file; no write goes beyond it.
    pub(crate) segment_bytes: u64,
    /// Where the next frame starts; always a sector boundary.
    pub(crate) write_offset: u64,
    pub(crate) direct_io: bool,
}

impl ActiveSegment {
    pub(crate) fn open(
        sequence: u64,
        path: PathBuf,
        segment_bytes: u64,
        write_offset: u64,
        direct_io: bool,
    ) -> Result<ActiveSegment, WalError> {
        assert!(write_offset.is_multiple_of(SECTOR_BYTES) && write_offset <= segment_bytes);
        let (file, direct_io) = open_for_writing(&path, direct_io)?;
        Ok(ActiveSegment {
            sequence,
            path,
            file,
            segment_bytes,
            write_offset,
            direct_io,
        })
    }

    /// Writes one whole frame at the write offset and makes it durable with one fdatasync.
    pub(crate) fn write_frame(&mut self, frame: &[u8]) -> Result<(), WalError> {
        let offset = self.write_offset;
        assert!((frame.len() as u64).is_multiple_of(SECTOR_BYTES));
        assert!((frame.as_ptr() as u64).is_multiple_of(SECTOR_BYTES));
        assert!(offset + frame.len() as u64 <= self.segment_bytes);
        match self.file.write_all_at(frame, offset) {
            Err(error) if self.direct_io && refuses_direct_io(&error) => {
                // The filesystem accepted O_DIRECT at open but not for writes: retry buffered.
                let (file, _) = open_for_writing(&self.path, false)?;
                self.file = file;
                self.direct_io = false;
                warn_direct_io_fallback(&self.path);
                self.file
                    .write_all_at(frame, offset)
                    .map_err(|e| WalError::io(&self.path, offset, e))?;
            }
            Err(error) => return Err(WalError::io(&self.path, offset, error)),
            Ok(()) => {}
        }
        self.file
            .sync_data()
            .map_err(|e| WalError::io(&self.path, offset, e))?;
        self.write_offset += frame.len() as u64;
        Ok(())
    }
}

/// Opens `path` for writing, with O_DIRECT if `direct_io` and the filesystem allows it; returns
/// whether O_DIRECT is in effect.
fn open_for_writing(path: &Path, direct_io: bool) -> Result<(File, bool), WalError> {
    let open = |flags: i32| {
        OpenOptions::new()
            .write(true)
            .custom_flags(flags)
            .open(path)
    };
    if !direct_io {
        let file = open(0).map_err(|e| WalError::io(path, 0, e))?;
        return Ok((file, false));
    }
    match open(libc::O_DIRECT) {
        Ok(file) => Ok((file, true)),
        Err(error) if refuses_direct_io(&error) => {
            warn_direct_io_fallback(path);
            let file = open(0).map_err(|e| WalError::io(path, 0, e))?;
            Ok((file, false))
        }
        Err(error) => Err(WalError::io(path, 0, error)),
    }
}

/// Whether an error means "this filesystem does not do O_DIRECT" (EINVAL, as from older tmpfs).
pub(crate) fn refuses_direct_io(error: &std::io::Error) -> bool {
    error.kind() == ErrorKind::InvalidInput || error.raw_os_error() == Some(libc::EINVAL)
}

fn warn_direct_io_fallback(path: &Path) {
    if !DIRECT_IO_FALLBACK_WARNED.swap(true, Ordering::Relaxed) {
        log::warn!(
            "filesystem of {} refuses O_DIRECT; the WAL falls back to buffered writes + fdatasync",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_by_sequence_and_parse_back() {
        assert_eq!(segment_file_name(42), "wal-00000000000000000042.log");
        assert_eq!(
            parse_sequence("wal-00000000000000000042.log", SEGMENT_SUFFIX),
            Some(42)
        );
        assert_eq!(parse_sequence("wal-42.log", SEGMENT_SUFFIX), None);
        assert_eq!(
            parse_sequence("wal-0000000000000000004x.log", SEGMENT_SUFFIX),
            None
        );
        assert!(segment_file_name(9) < segment_file_name(10));
    }

    #[test]
    fn einval_counts_as_refusing_direct_io_but_other_errors_do_not() {
        assert!(refuses_direct_io(&std::io::Error::from_raw_os_error(
            libc::EINVAL
        )));
        assert!(!refuses_direct_io(&std::io::Error::from_raw_os_error(
            libc::EIO
        )));
        assert!(!refuses_direct_io(&std::io::Error::from_raw_os_error(
            libc::ENOSPC
        )));
    }
}
