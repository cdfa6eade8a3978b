//! Segment files: naming, listing, preallocation, and the O_DIRECT write path with its fallback.

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::aligned::AlignedBuffer;
use crate::error::WalError;
use crate::fileio::Files;
use crate::format::{encode_segment_header, SegmentHeader};
use crate::limits::{SECTOR_BYTES, ZERO_CHUNK_BYTES};

const SEGMENT_PREFIX: &str = "wal-";
const SEGMENT_SUFFIX: &str = ".log";
/// A segment being zero-filled; renamed to its final name only once complete and durable.
const PREALLOCATING_SUFFIX: &str = ".log.tmp";
/// A released segment kept to be recycled, named after its old sequence.
const SPARE_SUFFIX: &str = ".spare";

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

/// Lists the segment files of `dir` in sequence order, changing nothing (for read-only tools).
pub(crate) fn list_segment_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    list_files(dir, SEGMENT_SUFFIX)
}

/// The spares of `dir` (released segments kept for recycling), by old sequence.
pub(crate) fn list_spares(dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    list_files(dir, SPARE_SUFFIX)
}

/// The name a released segment is kept under until it is recycled.
pub(crate) fn spare_path(dir: &Path, old_sequence: u64) -> PathBuf {
    dir.join(format!("{SEGMENT_PREFIX}{old_sequence:020}{SPARE_SUFFIX}"))
}

/// Files of `dir` named `wal-<20 digits><suffix>`, sorted by their number.
fn list_files(dir: &Path, suffix: &str) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let mut found = Vec::new();
    let listing = std::fs::read_dir(dir).map_err(|e| WalError::io(dir, 0, e))?;
    for dirent in listing {
        let dirent = dirent.map_err(|e| WalError::io(dir, 0, e))?;
        let name = dirent.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(sequence) = parse_sequence(name, suffix) {
            found.push((sequence, dirent.path()));
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// Lists the segments of `dir` in sequence order and deletes leftovers of interrupted
/// preallocations, which never held a record. A gap in the sequences is corruption.
pub(crate) fn list_segments(files: &Files, dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    for (_, path) in list_files(dir, PREALLOCATING_SUFFIX)? {
        files.remove(&path)?;
    }
    let segments = list_segment_files(dir)?;
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

/// A random 64-bit number for a segment's new use (see `FramePlace`). Falls back to a mix of the
/// clock and the sequence if the kernel's generator fails, which keeps salts distinct between
/// uses of one file, which is what matters against stale frames.
pub(crate) fn new_salt(sequence: u64) -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: getrandom writes at most `bytes.len()` bytes into the buffer it is given.
    let filled = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if filled == bytes.len() as isize {
        return u64::from_le_bytes(bytes);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    nanos ^ sequence.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15
}

/// Creates segment `sequence` of `segment_bytes` (zeros after its header), durable (file and
/// directory entry) on return. On failure the temporary file is deleted if possible.
pub(crate) fn create_segment(
    files: &Files,
    dir: &Path,
    header: &SegmentHeader,
    segment_bytes: u64,
) -> Result<PathBuf, WalError> {
    let temporary = preallocate_segment(files, dir, header, segment_bytes, Pacing::AtOnce)?;
    install_segment(files, dir, &temporary, header.sequence)
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

/// The temporary name a segment is prepared under.
pub(crate) fn temporary_path(dir: &Path, sequence: u64) -> PathBuf {
    dir.join(format!(
        "{SEGMENT_PREFIX}{sequence:020}{PREALLOCATING_SUFFIX}"
    ))
}

/// Zero-fills `wal-<sequence>.log.tmp` to `segment_bytes`, writes the segment header into its
/// first sector and syncs it; returns its path. Zeros are written rather than fallocated: a later
/// fdatasync then has no block allocation or size change to commit, which is what keeps appends
/// fast. The temporary name keeps a half-made file from ever being taken for a segment. On
/// failure the file is deleted (best effort) so the space it took is returned at once.
pub(crate) fn preallocate_segment(
    files: &Files,
    dir: &Path,
    header: &SegmentHeader,
    segment_bytes: u64,
    pacing: Pacing,
) -> Result<PathBuf, WalError> {
    assert!(segment_bytes > 0 && segment_bytes.is_multiple_of(SECTOR_BYTES));
    assert_eq!(header.stale_end, 0, "a fresh segment holds no stale bytes");
    let temporary = temporary_path(dir, header.sequence);
    let result = fill_segment(files, &temporary, header, segment_bytes, pacing);
    if result.is_err() {
        if let Err(error) = files.remove(&temporary) {
            log::warn!("WAL cannot delete a failed preallocation: {error}");
        }
    }
    result.map(|()| temporary)
}

fn fill_segment(
    files: &Files,
    temporary: &Path,
    header: &SegmentHeader,
    segment_bytes: u64,
    pacing: Pacing,
) -> Result<(), WalError> {
    let file = files.create(temporary)?;
    match pacing {
        Pacing::AtOnce => write_zeros(files, &file, temporary, 0, segment_bytes)?,
        Pacing::ChunkByChunk => {
            let mut offset = 0;
            while offset < segment_bytes {
                let end = segment_bytes.min(offset + ZERO_CHUNK_BYTES);
                write_zeros(files, &file, temporary, offset, end)?;
                files.sync_data(&file, temporary, offset)?;
                offset = end;
            }
        }
    }
    let mut sector = AlignedBuffer::with_capacity(SECTOR_BYTES as usize);
    encode_segment_header(&mut sector, header);
    files
        .write_at(&file, temporary, sector.as_slice(), 0)
        .map_err(|e| WalError::io(temporary, 0, e))?;
    files.sync_all(&file, temporary)
}

/// Turns the spare `spare` (a released segment) into the temporary file of a new segment: writes
/// the new header (whose `stale_end` covers the whole file, as any byte may be stale) and syncs.
/// The old frames stay; the new salt and sequence tell them apart from the new ones.
pub(crate) fn recycle_spare(
    files: &Files,
    spare: &Path,
    sequence: u64,
    salt: u64,
) -> Result<(), WalError> {
    let file = files
        .open_write(spare, 0)
        .map_err(|e| WalError::io(spare, 0, e))?;
    let bytes = file
        .metadata()
        .map_err(|e| WalError::io(spare, 0, e))?
        .len();
    let header = SegmentHeader {
        sequence,
        salt,
        stale_end: bytes,
    };
    let mut sector = AlignedBuffer::with_capacity(SECTOR_BYTES as usize);
    encode_segment_header(&mut sector, &header);
    files
        .write_at(&file, spare, sector.as_slice(), 0)
        .map_err(|e| WalError::io(spare, 0, e))?;
    files.sync_data(&file, spare, 0)
}

/// Renames a prepared file to segment `sequence` and makes the new name durable.
pub(crate) fn install_segment(
    files: &Files,
    dir: &Path,
    temporary: &Path,
    sequence: u64,
) -> Result<PathBuf, WalError> {
    let path = dir.join(segment_file_name(sequence));
    files.rename(temporary, &path)?;
    files.sync_dir(dir)?;
    Ok(path)
}

/// Writes zeros over `[start, end)` of `file` with ordinary buffered writes (the caller syncs).
pub(crate) fn write_zeros(
    files: &Files,
    file: &File,
    path: &Path,
    start: u64,
    end: u64,
) -> Result<(), WalError> {
    let zeros = vec![0u8; ZERO_CHUNK_BYTES as usize];
    let mut offset = start;
    while offset < end {
        let chunk = (end - offset).min(ZERO_CHUNK_BYTES) as usize;
        files
            .write_at(file, path, &zeros[..chunk], offset)
            .map_err(|e| WalError::io(path, offset, e))?;
        offset += chunk as u64;
    }
    Ok(())
}

/// The segment appends go to, opened for writing with O_DIRECT when asked and possible.
pub(crate) struct ActiveSegment {
    pub(crate) sequence: u64,
    pub(crate) salt: u64,
    pub(crate) path: PathBuf,
    file: File,
    files: Files,
    /// Size of the preallocated file; no write goes beyond it.
    pub(crate) segment_bytes: u64,
    /// Where the next frame starts; always a sector boundary.
    pub(crate) write_offset: u64,
    pub(crate) direct_io: bool,
    /// The seal is written: no frame may follow.
    pub(crate) sealed: bool,
}

/// Where appends resume in a segment.
pub(crate) struct SegmentPosition {
    pub(crate) sequence: u64,
    pub(crate) salt: u64,
    pub(crate) path: PathBuf,
    pub(crate) segment_bytes: u64,
    pub(crate) write_offset: u64,
    pub(crate) sealed: bool,
}

impl ActiveSegment {
    pub(crate) fn open(
        files: &Files,
        position: SegmentPosition,
        direct_io: bool,
    ) -> Result<ActiveSegment, WalError> {
        let write_offset = position.write_offset;
        assert!(
            write_offset.is_multiple_of(SECTOR_BYTES) && write_offset <= position.segment_bytes
        );
        assert!(
            write_offset >= SECTOR_BYTES,
            "frames follow the segment header"
        );
        let (file, direct_io) = open_for_writing(files, &position.path, direct_io)?;
        Ok(ActiveSegment {
            sequence: position.sequence,
            salt: position.salt,
            path: position.path,
            file,
            files: files.clone(),
            segment_bytes: position.segment_bytes,
            write_offset,
            direct_io,
            sealed: position.sealed,
        })
    }

    /// Opens the file again (after a failure, whose error state the old descriptor may keep).
    pub(crate) fn reopen(&mut self) -> Result<(), WalError> {
        let (file, direct_io) = open_for_writing(&self.files, &self.path, self.direct_io)?;
        self.file = file;
        self.direct_io = direct_io;
        Ok(())
    }

    /// Whether a frame of `bytes` fits before the sector kept for the seal.
    pub(crate) fn fits(&self, bytes: u64) -> bool {
        !self.sealed && self.write_offset + bytes + SECTOR_BYTES <= self.segment_bytes
    }

    /// Writes one whole frame at the write offset and, if `sync`, makes it durable with one
    /// fdatasync.
    pub(crate) fn write_frame(&mut self, frame: &[u8], sync: bool) -> Result<(), WalError> {
        assert!(!self.sealed);
        assert!(self.write_offset + frame.len() as u64 + SECTOR_BYTES <= self.segment_bytes);
        if sync {
            self.write_synced(frame, self.write_offset)?;
        } else {
            self.write_unsynced(frame, self.write_offset)?;
        }
        self.write_offset += frame.len() as u64;
        Ok(())
    }

    /// Writes the one-sector seal at the write offset (the sector kept free for it), durably.
    pub(crate) fn write_seal(&mut self, seal: &[u8]) -> Result<(), WalError> {
        assert!(!self.sealed && seal.len() as u64 == SECTOR_BYTES);
        assert!(self.write_offset + SECTOR_BYTES <= self.segment_bytes);
        self.write_synced(seal, self.write_offset)?;
        self.sealed = true;
        Ok(())
    }

    /// Overwrites `[start, end)` (sector-aligned) with zeros and syncs: repair after a failed
    /// write, so nothing of it can be read back.
    pub(crate) fn zero(&mut self, start: u64, end: u64) -> Result<(), WalError> {
        assert!(start.is_multiple_of(SECTOR_BYTES) && end.is_multiple_of(SECTOR_BYTES));
        let chunk = (end - start).clamp(SECTOR_BYTES, ZERO_CHUNK_BYTES) as usize;
        let mut zeros = AlignedBuffer::with_capacity(chunk);
        zeros.extend_zeros(chunk);
        let mut offset = start;
        while offset < end {
            let bytes = ((end - offset) as usize).min(chunk);
            self.write_unsynced(&zeros.as_slice()[..bytes], offset)?;
            offset += bytes as u64;
        }
        self.files.sync_data(&self.file, &self.path, start)
    }

    fn write_synced(&mut self, bytes: &[u8], offset: u64) -> Result<(), WalError> {
        self.write_unsynced(bytes, offset)?;
        self.files.sync_data(&self.file, &self.path, offset)
    }

    fn write_unsynced(&mut self, bytes: &[u8], offset: u64) -> Result<(), WalError> {
        assert!((bytes.len() as u64).is_multiple_of(SECTOR_BYTES));
        assert!((bytes.as_ptr() as u64).is_multiple_of(SECTOR_BYTES));
        assert!(offset + bytes.len() as u64 <= self.segment_bytes);
        match self.files.write_at(&self.file, &self.path, bytes, offset) {
            Err(error) if self.direct_io && refuses_direct_io(&error) => {
                // The filesystem accepted O_DIRECT at open but not for writes: retry buffered.
                let (file, _) = open_for_writing(&self.files, &self.path, false)?;
                self.file = file;
                self.direct_io = false;
                warn_direct_io_fallback(&self.path);
                self.files
                    .write_at(&self.file, &self.path, bytes, offset)
                    .map_err(|e| WalError::io(&self.path, offset, e))
            }
            Err(error) => Err(WalError::io(&self.path, offset, error)),
            Ok(()) => Ok(()),
        }
    }
}

/// Opens `path` for writing, with O_DIRECT if `direct_io` and the filesystem allows it; returns
/// whether O_DIRECT is in effect.
fn open_for_writing(files: &Files, path: &Path, direct_io: bool) -> Result<(File, bool), WalError> {
    let open = |flags: i32| files.open_write(path, flags);
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
