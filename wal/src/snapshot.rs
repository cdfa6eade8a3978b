//! Snapshot files: a checksummed container for one serialized state (format in the crate docs).
//!
//! The container knows nothing of what the body means: the engine streams its encoding through
//! a [`SnapshotWriter`] and reads it back through a [`SnapshotReader`]. Both hold one block at a
//! time, so a snapshot of any size costs a bounded amount of memory.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::aligned::AlignedBuffer;
use crate::error::WalError;
use crate::fault::FaultPlan;
use crate::fileio::Files;
use crate::limits::{
    SECTOR_BYTES as SECTOR, SNAPSHOT_BLOCK_BYTES, SNAPSHOT_BLOCK_BYTES_MAX, SNAPSHOT_THREAD_NICE,
    SNAPSHOT_WRITEBACK_BYTES, SNAPSHOT_WRITE_BYTES_PER_SECOND,
};

const FILE_PREFIX: &str = "snapshot-";
const FILE_SUFFIX: &str = ".snap";
/// A snapshot being written; renamed to its final name only once complete and durable.
const TMP_SUFFIX: &str = ".snap.tmp";

const HEADER_MAGIC: [u8; 4] = *b"CRSN";
const BLOCK_MAGIC: [u8; 4] = *b"CRSB";
const TRAILER_MAGIC: [u8; 4] = *b"CRSE";
const FORMAT_VERSION: u8 = 1;
const HEADER_BYTES: usize = 40;
const BLOCK_HEADER_BYTES: usize = 24;
const TRAILER_BYTES: usize = 48;

/// One snapshot file, as named in the directory (index and term come from the file name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub path: PathBuf,
    pub index: u64,
    pub term: u64,
}

/// The final file name of the snapshot of raft entry `index` of term `term`.
pub fn snapshot_file_name(index: u64, term: u64) -> String {
    format!("{FILE_PREFIX}{index:020}-{term:020}{FILE_SUFFIX}")
}

/// `(index, term)` from a file name ending in `suffix`, or None for any other name.
fn parse_file_name(name: &str, suffix: &str) -> Option<(u64, u64)> {
    let digits = name.strip_prefix(FILE_PREFIX)?.strip_suffix(suffix)?;
    let (index, term) = digits.split_once('-')?;
    let number = |text: &str| -> Option<u64> {
        if text.len() != 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    };
    Some((number(index)?, number(term)?))
}

/// The inner `WalError` of an `io::Error` returned by a `SnapshotWriter` or `SnapshotReader`
/// (every error they return has one), so callers can report the file and offset.
pub fn wal_error_of(error: &std::io::Error) -> Option<&WalError> {
    error.get_ref()?.downcast_ref::<WalError>()
}

/// Wraps a `WalError` into the `io::Error` that `Read`/`Write` must return, keeping the kind of
/// an underlying I/O error so callers can still tell, say, a full disk.
fn into_io(error: WalError) -> std::io::Error {
    let kind = match &error {
        WalError::Io { source, .. } => source.kind(),
        _ => ErrorKind::InvalidData,
    };
    std::io::Error::new(kind, error)
}

/// Gives the calling thread, one that writes snapshots, the lowest CPU and I/O priorities, so
/// that on a machine with few cores and one disk it takes only what the shards and the WAL leave
/// idle. The CPU policy is SCHED_IDLE: unlike nice 19, a waking shard or WAL thread preempts it
/// at once and the scheduler treats a core that runs only it as idle when placing a waking
/// thread (it still gets a sliver of CPU under full load, so a snapshot always ends). Where
/// SCHED_IDLE is refused, nice 19 instead. Its I/O goes in the idle class, which the block
/// layer's mq-deadline and BFQ schedulers serve after the WAL's (no-op under "none").
/// Refusals are logged and otherwise ignored: the snapshot still gets written.
pub fn lower_thread_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 names the calling thread; `param` outlives the call.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
        let error = std::io::Error::last_os_error();
        log::info!("snapshot thread: SCHED_IDLE refused ({error}); nice {SNAPSHOT_THREAD_NICE}");
        // SAFETY: plain integer arguments; on Linux PRIO_PROCESS with 0 names this thread.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, SNAPSHOT_THREAD_NICE) } != 0 {
            let error = std::io::Error::last_os_error();
            log::warn!("cannot lower the snapshot thread's priority: {error}");
        }
    }
    // SAFETY: plain integer arguments; IOPRIO_WHO_PROCESS with 0 names the calling thread.
    let result = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0,
            IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT,
        )
    };
    if result != 0 {
        let error = std::io::Error::last_os_error();
        log::info!("snapshot thread: idle I/O priority refused ({error})");
    }
}

/// `ioprio_set` arguments (linux/ioprio.h; libc does not name them).
const IOPRIO_WHO_PROCESS: libc::c_int = 1;
const IOPRIO_CLASS_IDLE: libc::c_int = 3;
const IOPRIO_CLASS_SHIFT: libc::c_int = 13;

/// The snapshot directory of a server.
#[derive(Debug)]
pub struct SnapshotStore {
    dir: PathBuf,
    /// Every write-side file operation goes through it, so tests can inject failures.
    files: Files,
    /// Bandwidth each writer may use, in bytes per second; `None` writes as fast as it can.
    write_rate: Option<u64>,
}

impl SnapshotStore {
    /// Creates the directory if needed; deletes leftover `.tmp` files, which are snapshots whose
    /// writing was interrupted and never became valid.
    pub fn open(dir: &Path) -> Result<SnapshotStore, WalError> {
        SnapshotStore::open_with_faults(dir, None)
    }

    /// `open`, with a fault plan that the writing, syncing, renaming and deleting of snapshot
    /// files consult (`None` in production). Creating a file and reading one are not covered.
    pub fn open_with_faults(
        dir: &Path,
        faults: Option<Arc<FaultPlan>>,
    ) -> Result<SnapshotStore, WalError> {
        let files = Files::new(faults);
        std::fs::create_dir_all(dir).map_err(|e| WalError::io(dir, 0, e))?;
        let mut removed = false;
        for dirent in std::fs::read_dir(dir).map_err(|e| WalError::io(dir, 0, e))? {
            let dirent = dirent.map_err(|e| WalError::io(dir, 0, e))?;
            let name = dirent.file_name();
            let Some(name) = name.to_str() else { continue };
            if parse_file_name(name, TMP_SUFFIX).is_some() {
                files.remove(&dirent.path())?;
                removed = true;
            }
        }
        // The directory may be new, and deletions must not come back after a crash either.
        files.sync_dir(dir)?;
        if removed {
            log::info!("removed unfinished snapshots in {}", dir.display());
        }
        Ok(SnapshotStore {
            dir: dir.to_path_buf(),
            files,
            write_rate: Some(SNAPSHOT_WRITE_BYTES_PER_SECOND),
        })
    }

    /// Sets the bandwidth that writers created from now on may use (bytes per second; `None`
    /// for no limit). The default is `SNAPSHOT_WRITE_BYTES_PER_SECOND`.
    pub fn set_write_rate(&mut self, bytes_per_second: Option<u64>) {
        assert!(
            bytes_per_second != Some(0),
            "a write rate of zero never finishes"
        );
        self.write_rate = bytes_per_second;
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every snapshot file by name (not validated), newest (highest index, then term) first.
    pub fn list(&self) -> Result<Vec<SnapshotInfo>, WalError> {
        let dir = &self.dir;
        let mut snapshots = Vec::new();
        for dirent in std::fs::read_dir(dir).map_err(|e| WalError::io(dir, 0, e))? {
            let dirent = dirent.map_err(|e| WalError::io(dir, 0, e))?;
            let name = dirent.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some((index, term)) = parse_file_name(name, FILE_SUFFIX) {
                snapshots.push(SnapshotInfo {
                    path: dirent.path(),
                    index,
                    term,
                });
            }
        }
        snapshots.sort_unstable_by_key(|info| std::cmp::Reverse((info.index, info.term)));
        Ok(snapshots)
    }

    /// Starts a snapshot of the state as of raft entry `index` (of term `term`). Two writers of
    /// the same snapshot at once are refused (the second gets an `AlreadyExists` I/O error).
    pub fn create(&self, index: u64, term: u64) -> Result<SnapshotWriter, WalError> {
        let name = snapshot_file_name(index, term);
        let path = self.dir.join(&name);
        let tmp_path = self.dir.join(format!("{name}.tmp"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp_path)
            .map_err(|e| WalError::io(&tmp_path, 0, e))?;
        let direct = enable_direct_io(&file, &tmp_path);
        let header = encode_header(index, term, SNAPSHOT_BLOCK_BYTES);
        // Room for a leftover partial sector, a whole block, and the trailer with its padding.
        let stage_bytes = 2 * SECTOR as usize + BLOCK_HEADER_BYTES + SNAPSHOT_BLOCK_BYTES as usize;
        let mut stage = AlignedBuffer::with_capacity(stage_bytes + TRAILER_BYTES);
        // The header goes out with the first block.
        stage.extend_from_slice(&header);
        Ok(SnapshotWriter {
            file,
            tmp_path,
            info: SnapshotInfo { path, index, term },
            dir: self.dir.clone(),
            files: self.files.clone(),
            header_crc: crc_field(&header),
            direct,
            stage,
            block_start: None,
            file_offset: 0,
            blocks: 0,
            body_bytes: 0,
            failed: None,
            finished: false,
            pacing: Pacing::new(self.write_rate),
        })
    }

    /// Deletes all but the newest `keep` snapshots (at least one is always kept); returns what
    /// it deleted, oldest last.
    pub fn purge(&self, keep: usize) -> Result<Vec<SnapshotInfo>, WalError> {
        if keep == 0 {
            return Err(WalError::InvalidOptions {
                reason: "purging snapshots must keep at least one".to_string(),
            });
        }
        let doomed: Vec<SnapshotInfo> = self.list()?.into_iter().skip(keep).collect();
        // Oldest first, so that an interrupted purge always leaves the newest snapshots.
        for snapshot in doomed.iter().rev() {
            self.files.remove(&snapshot.path)?;
        }
        if !doomed.is_empty() {
            self.files.sync_dir(&self.dir)?;
        }
        Ok(doomed)
    }
}

/// The CRC32C stored in the last four bytes of a header, block header or trailer image.
fn crc_field(image: &[u8]) -> u32 {
    let at = image.len() - 4;
    u32::from_le_bytes([image[at], image[at + 1], image[at + 2], image[at + 3]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut array = [0u8; 8];
    array.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(array)
}

fn encode_header(index: u64, term: u64, block_bytes: u32) -> [u8; HEADER_BYTES] {
    let mut header = [0u8; HEADER_BYTES];
    header[0..4].copy_from_slice(&HEADER_MAGIC);
    header[4] = FORMAT_VERSION;
    header[8..12].copy_from_slice(&block_bytes.to_le_bytes());
    header[16..24].copy_from_slice(&index.to_le_bytes());
    header[24..32].copy_from_slice(&term.to_le_bytes());
    let crc = crc32c::crc32c(&header[..HEADER_BYTES - 4]);
    header[HEADER_BYTES - 4..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Fills in a block header in front of `body_bytes` of body already in `image`; the checksum
/// continues from the file header's, which ties every block to its file.
fn seal_block(image: &mut [u8], number: u64, header_crc: u32) {
    let body_bytes = (image.len() - BLOCK_HEADER_BYTES) as u32;
    image[0..4].copy_from_slice(&BLOCK_MAGIC);
    image[4..8].copy_from_slice(&body_bytes.to_le_bytes());
    image[8..16].copy_from_slice(&number.to_le_bytes());
    image[16..20].fill(0);
    let crc = block_crc(
        header_crc,
        &image[..BLOCK_HEADER_BYTES],
        &image[BLOCK_HEADER_BYTES..],
    );
    image[20..24].copy_from_slice(&crc.to_le_bytes());
}

fn block_crc(header_crc: u32, block_header: &[u8], body: &[u8]) -> u32 {
    let crc = crc32c::crc32c_append(header_crc, &block_header[..BLOCK_HEADER_BYTES - 4]);
    crc32c::crc32c_append(crc, body)
}

fn encode_trailer(
    header_crc: u32,
    blocks: u64,
    body_bytes: u64,
    index: u64,
    term: u64,
) -> [u8; TRAILER_BYTES] {
    let mut trailer = [0u8; TRAILER_BYTES];
    trailer[0..4].copy_from_slice(&TRAILER_MAGIC);
    trailer[8..16].copy_from_slice(&blocks.to_le_bytes());
    trailer[16..24].copy_from_slice(&body_bytes.to_le_bytes());
    trailer[24..32].copy_from_slice(&index.to_le_bytes());
    trailer[32..40].copy_from_slice(&term.to_le_bytes());
    let crc = crc32c::crc32c_append(header_crc, &trailer[..TRAILER_BYTES - 4]);
    trailer[TRAILER_BYTES - 4..].copy_from_slice(&crc.to_le_bytes());
    trailer
}

/// Writes a snapshot body (`impl Write`) into checksummed blocks of a `.tmp` file; `finish`
/// makes it a snapshot. Dropped unfinished, it deletes its `.tmp` file.
///
/// The file is written with O_DIRECT where the filesystem allows it, one block (64 KiB) per
/// write: the snapshot then neither fills the page cache nor leaves megabytes of writeback
/// queued at the device in front of the WAL's small syncs; at most one block of it is ever in
/// flight. O_DIRECT writes whole sectors at sector offsets, so the bytes of a block that end in
/// a partial sector wait in `stage` for the next block, and the last sector is padded with zeros
/// and the file cut back to its length before the final fdatasync.
pub struct SnapshotWriter {
    file: File,
    tmp_path: PathBuf,
    info: SnapshotInfo,
    dir: PathBuf,
    files: Files,
    header_crc: u32,
    /// Whether the file is open with O_DIRECT (else it is written through the page cache).
    direct: bool,
    /// Bytes not yet in the file, which start at `file_offset`: under O_DIRECT the partial
    /// sector left over from earlier writes, then the block being filled (its header's room,
    /// then the body bytes so far).
    stage: AlignedBuffer,
    /// Where in `stage` the block being filled starts; `None` until a body byte comes for it.
    block_start: Option<usize>,
    /// Bytes written to the file so far (a multiple of the sector size under O_DIRECT).
    file_offset: u64,
    blocks: u64,
    body_bytes: u64,
    /// The first failed write (offset, error kind, message): what reached the file is unknown,
    /// so every later call, `finish` included, fails the same way.
    failed: Option<(u64, ErrorKind, String)>,
    finished: bool,
    pacing: Pacing,
}

impl std::fmt::Debug for SnapshotWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotWriter")
            .field("tmp_path", &self.tmp_path)
            .field("info", &self.info)
            .field("direct", &self.direct)
            .field("file_offset", &self.file_offset)
            .field("blocks", &self.blocks)
            .field("body_bytes", &self.body_bytes)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// Turns on O_DIRECT for `file`; false when its filesystem refuses it (tmpfs, some FUSE), and
/// the file is then written through the page cache as before.
fn enable_direct_io(file: &File, path: &Path) -> bool {
    let fd = file.as_raw_fd();
    // SAFETY: the descriptor is owned by `file`, open for both calls; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags >= 0 && unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_DIRECT) } == 0 {
        return true;
    }
    let error = std::io::Error::last_os_error();
    log::info!(
        "snapshot {} is written through the page cache: O_DIRECT refused ({error})",
        path.display()
    );
    false
}

/// How a writer spreads its I/O over time: a bandwidth limit, and (through the page cache)
/// writeback in bounded ranges.
#[derive(Debug)]
struct Pacing {
    started: Instant,
    write_rate: Option<u64>,
    /// File bytes before this offset have had their writeback started (page cache only).
    started_to: u64,
    /// File bytes before this offset have reached the device (page cache only).
    written_to: u64,
}

impl Pacing {
    fn new(write_rate: Option<u64>) -> Pacing {
        Pacing {
            started: Instant::now(),
            write_rate,
            started_to: 0,
            written_to: 0,
        }
    }

    /// Called after each write with the bytes written so far: through the page cache, starts
    /// writeback as `writeback` says; then sleeps as long as the writer is ahead of its
    /// bandwidth.
    fn after_write(&mut self, file: &File, file_offset: u64, direct: bool) -> std::io::Result<()> {
        if !direct {
            self.writeback(file, file_offset)?;
        }
        if let Some(rate) = self.write_rate {
            let due = Duration::from_secs_f64(file_offset as f64 / rate as f64);
            if let Some(early) = due.checked_sub(self.started.elapsed()) {
                std::thread::sleep(early);
            }
        }
        Ok(())
    }

    /// Every `SNAPSHOT_WRITEBACK_BYTES` starts writeback of the new range and waits for the
    /// range before it, so the page cache never holds more than two ranges of the snapshot and
    /// the final fdatasync flushes a few MiB, not the whole file in one burst.
    fn writeback(&mut self, file: &File, file_offset: u64) -> std::io::Result<()> {
        if file_offset - self.started_to < SNAPSHOT_WRITEBACK_BYTES {
            return Ok(());
        }
        sync_range(
            file,
            self.started_to,
            file_offset - self.started_to,
            libc::SYNC_FILE_RANGE_WRITE,
        )?;
        if self.started_to > self.written_to {
            let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
                | libc::SYNC_FILE_RANGE_WRITE
                | libc::SYNC_FILE_RANGE_WAIT_AFTER;
            sync_range(
                file,
                self.written_to,
                self.started_to - self.written_to,
                flags,
            )?;
            self.written_to = self.started_to;
        }
        self.started_to = file_offset;
        Ok(())
    }
}

/// `sync_file_range` over `length` bytes at `offset`: starts or awaits their writeback without
/// the journal commit an fdatasync may bring, which the WAL's own syncs would wait behind.
fn sync_range(file: &File, offset: u64, length: u64, flags: libc::c_uint) -> std::io::Result<()> {
    let offset = libc::off64_t::try_from(offset).map_err(std::io::Error::other)?;
    let length = libc::off64_t::try_from(length).map_err(std::io::Error::other)?;
    // SAFETY: the descriptor is owned by `file`, open for the whole call; no memory is passed.
    let result = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, length, flags) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

impl SnapshotWriter {
    /// Body bytes accepted so far.
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// The error of the first failed write, again.
    fn earlier_failure(&self) -> Option<WalError> {
        let (offset, kind, message) = self.failed.clone()?;
        let source = std::io::Error::new(kind, message);
        Some(WalError::io(&self.tmp_path, offset, source))
    }

    /// Records the first failure at the current offset; every later call fails the same way.
    fn fail(&mut self, source: std::io::Error) -> WalError {
        self.failed = Some((self.file_offset, source.kind(), source.to_string()));
        WalError::io(&self.tmp_path, self.file_offset, source)
    }

    /// Writes what of `stage` can go out now: all of it through the page cache, its whole
    /// sectors under O_DIRECT (the rest stays, moved to the front). Then paces.
    fn write_out(&mut self) -> Result<(), WalError> {
        if let Some(error) = self.earlier_failure() {
            return Err(error);
        }
        let staged = self.stage.len();
        let ready = if self.direct {
            staged / SECTOR as usize * SECTOR as usize
        } else {
            staged
        };
        if ready == 0 {
            return Ok(());
        }
        let bytes = &self.stage.as_slice()[..ready];
        let written = self
            .files
            .write_at(&self.file, &self.tmp_path, bytes, self.file_offset);
        if let Err(source) = written {
            return Err(self.fail(source));
        }
        self.file_offset += ready as u64;
        // Under O_DIRECT less than a sector is left; it moves to the front of the stage.
        let mut rest = [0u8; SECTOR as usize];
        let rest_bytes = staged - ready;
        rest[..rest_bytes].copy_from_slice(&self.stage.as_slice()[ready..]);
        self.stage.clear();
        self.stage.extend_from_slice(&rest[..rest_bytes]);
        if let Err(source) = self
            .pacing
            .after_write(&self.file, self.file_offset, self.direct)
        {
            // Writeback of bytes already written failed: what the file holds is unknown.
            return Err(self.fail(source));
        }
        Ok(())
    }

    /// Seals the block being filled, if any, and writes it out.
    fn flush_block(&mut self) -> Result<(), WalError> {
        let Some(start) = self.block_start.take() else {
            return self.earlier_failure().map_or(Ok(()), Err);
        };
        let block_bytes = self.stage.len() - start;
        assert!(block_bytes > BLOCK_HEADER_BYTES);
        assert!(block_bytes <= BLOCK_HEADER_BYTES + SNAPSHOT_BLOCK_BYTES as usize);
        let image = &mut self.stage.as_mut_slice()[start..];
        seal_block(image, self.blocks, self.header_crc);
        self.write_out()?;
        self.blocks += 1;
        Ok(())
    }

    /// Writes the trailer, fdatasyncs, renames .tmp to the final name, fsyncs the directory.
    /// When it returns `Ok`, the snapshot survives a crash.
    pub fn finish(mut self) -> Result<SnapshotInfo, WalError> {
        self.flush_block()?;
        let info = &self.info;
        let trailer = encode_trailer(
            self.header_crc,
            self.blocks,
            self.body_bytes,
            info.index,
            info.term,
        );
        self.stage.extend_from_slice(&trailer);
        let length = self.file_offset + self.stage.len() as u64;
        if self.direct {
            // O_DIRECT writes whole sectors: the zeros padding the last one are cut off below.
            let padding = length.next_multiple_of(SECTOR) - length;
            self.stage.extend_zeros(padding as usize);
        }
        self.write_out()?;
        if self.file_offset != length {
            if let Err(source) = self.file.set_len(length) {
                return Err(self.fail(source));
            }
        }
        self.files.sync_data(&self.file, &self.tmp_path, length)?;
        self.files.rename(&self.tmp_path, &self.info.path)?;
        self.finished = true;
        self.files.sync_dir(&self.dir)?;
        Ok(self.info.clone())
    }
}

impl Write for SnapshotWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(error) = self.earlier_failure() {
            return Err(into_io(error));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let start = match self.block_start {
            Some(start) => start,
            None => {
                let start = self.stage.len();
                self.stage.extend_zeros(BLOCK_HEADER_BYTES);
                self.block_start = Some(start);
                start
            }
        };
        let room = start + BLOCK_HEADER_BYTES + SNAPSHOT_BLOCK_BYTES as usize - self.stage.len();
        if room == 0 {
            self.flush_block().map_err(into_io)?;
            return self.write(buf);
        }
        let taken = buf.len().min(room);
        self.stage.extend_from_slice(&buf[..taken]);
        self.body_bytes += taken as u64;
        Ok(taken)
    }

    /// Does nothing: blocks go out when full, and durability comes only from `finish`.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        if !self.finished {
            // Best effort: a leftover is also removed by the next `SnapshotStore::open`.
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

/// Why a reader stopped for good; kept so that every later call reports the same error.
#[derive(Clone, Debug)]
enum Failure {
    Corrupt {
        offset: u64,
        reason: String,
    },
    Io {
        offset: u64,
        kind: ErrorKind,
        message: String,
    },
}

/// Where the reader is in the file.
#[derive(Clone, Debug)]
enum ReadState {
    /// Inside the body; the next block header is at `SnapshotReader::next_offset`.
    Body,
    /// The trailer was read and checked.
    Ended,
    Failed(Failure),
}

/// Yields a snapshot body (`impl Read`), verifying every block before handing out any of its
/// bytes. A bad block is an `io::Error` whose inner error (see [`wal_error_of`]) is
/// `WalError::Corrupt` naming the file and the offset of the block's header; the reader then
/// fails the same way forever.
#[derive(Debug)]
pub struct SnapshotReader {
    path: PathBuf,
    file: File,
    index: u64,
    term: u64,
    header_crc: u32,
    block_bytes_max: u32,
    /// The current block's body, and how much of it was handed out.
    block: Vec<u8>,
    position: usize,
    /// File offset of the current block's header, and of the next one.
    block_offset: u64,
    next_offset: u64,
    blocks: u64,
    body_bytes: u64,
    state: ReadState,
}

impl SnapshotReader {
    /// Opens `path` and checks its header (magic, version, block size, checksum).
    pub fn open(path: &Path) -> Result<SnapshotReader, WalError> {
        let mut file = File::open(path).map_err(|e| WalError::io(path, 0, e))?;
        let mut header = [0u8; HEADER_BYTES];
        let complete = read_full(&mut file, &mut header).map_err(|e| WalError::io(path, 0, e))?;
        if !complete {
            return Err(WalError::corrupt(
                path,
                0,
                "file ends inside the snapshot header",
            ));
        }
        let block_bytes_max =
            check_header(&header).map_err(|reason| WalError::corrupt(path, 0, reason))?;
        Ok(SnapshotReader {
            path: path.to_path_buf(),
            file,
            index: u64_at(&header, 16),
            term: u64_at(&header, 24),
            header_crc: crc_field(&header),
            block_bytes_max,
            block: Vec::new(),
            position: 0,
            block_offset: HEADER_BYTES as u64,
            next_offset: HEADER_BYTES as u64,
            blocks: 0,
            body_bytes: 0,
            state: ReadState::Body,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raft index of the last entry the snapshot's state holds, from the header.
    pub fn index(&self) -> u64 {
        self.index
    }

    pub fn term(&self) -> u64 {
        self.term
    }

    /// Checks that the body was read to its end and the trailer matches (block count, length),
    /// and that nothing follows the trailer.
    pub fn finish(mut self) -> Result<(), WalError> {
        if let ReadState::Body = self.state {
            if self.position < self.block.len() {
                let offset = self.block_offset + (BLOCK_HEADER_BYTES + self.position) as u64;
                let unread = self.block.len() - self.position;
                self.fail(Failure::Corrupt {
                    offset,
                    reason: format!(
                        "snapshot body not read to its end ({unread} bytes left in block {})",
                        self.blocks - 1
                    ),
                });
            } else if self.load_next() {
                self.fail(Failure::Corrupt {
                    offset: self.block_offset,
                    reason: "snapshot body not read to its end (more blocks follow)".to_string(),
                });
            }
        }
        match &self.state {
            ReadState::Failed(failure) => Err(self.error(failure)),
            ReadState::Ended => Ok(()),
            ReadState::Body => unreachable!("load_next leaves the body only by ending or failing"),
        }
    }

    fn error(&self, failure: &Failure) -> WalError {
        match failure.clone() {
            Failure::Corrupt { offset, reason } => WalError::corrupt(&self.path, offset, reason),
            Failure::Io {
                offset,
                kind,
                message,
            } => WalError::io(&self.path, offset, std::io::Error::new(kind, message)),
        }
    }

    fn fail(&mut self, failure: Failure) {
        self.state = ReadState::Failed(failure);
    }

    fn corrupt(&mut self, offset: u64, reason: impl Into<String>) {
        self.fail(Failure::Corrupt {
            offset,
            reason: reason.into(),
        });
    }

    /// Reads exactly `buf.len()` bytes at the current position; Ok(false) when the file ends
    /// first. An I/O error fails the reader.
    fn read_exact_or_end(&mut self, buf: &mut [u8], offset: u64) -> Option<bool> {
        match read_full(&mut self.file, buf) {
            Ok(complete) => Some(complete),
            Err(source) => {
                self.fail(Failure::Io {
                    offset,
                    kind: source.kind(),
                    message: source.to_string(),
                });
                None
            }
        }
    }

    /// Reads the next block into `block` (true), or the trailer (false, and the reader has
    /// ended or failed).
    fn load_next(&mut self) -> bool {
        let offset = self.next_offset;
        self.block_offset = offset;
        let mut head = [0u8; BLOCK_HEADER_BYTES];
        match self.read_exact_or_end(&mut head, offset) {
            None => return false,
            Some(false) => {
                self.corrupt(offset, "file ends before the snapshot trailer");
                return false;
            }
            Some(true) => {}
        }
        match <[u8; 4]>::try_from(&head[0..4]) {
            Ok(BLOCK_MAGIC) => self.load_block(&head),
            Ok(TRAILER_MAGIC) => {
                self.load_trailer(&head);
                false
            }
            _ => {
                self.corrupt(
                    offset,
                    format!("no snapshot block or trailer (block {})", self.blocks),
                );
                false
            }
        }
    }

    fn load_block(&mut self, head: &[u8; BLOCK_HEADER_BYTES]) -> bool {
        let offset = self.block_offset;
        let number = self.blocks;
        let body_bytes = u32_at(head, 4);
        if body_bytes == 0 || body_bytes > self.block_bytes_max || u64_at(head, 8) != number {
            self.corrupt(offset, format!("snapshot block {number} has a bad header"));
            return false;
        }
        self.block.resize(body_bytes as usize, 0);
        let mut body = std::mem::take(&mut self.block);
        let complete = self.read_exact_or_end(&mut body, offset + BLOCK_HEADER_BYTES as u64);
        self.block = body;
        match complete {
            None => return false,
            Some(false) => {
                self.corrupt(offset, format!("file ends inside snapshot block {number}"));
                return false;
            }
            Some(true) => {}
        }
        if block_crc(self.header_crc, head, &self.block) != crc_field(head) {
            self.corrupt(offset, format!("snapshot block {number} checksum mismatch"));
            return false;
        }
        self.position = 0;
        self.blocks += 1;
        self.body_bytes += u64::from(body_bytes);
        self.next_offset = offset + (BLOCK_HEADER_BYTES as u64) + u64::from(body_bytes);
        true
    }

    fn load_trailer(&mut self, head: &[u8; BLOCK_HEADER_BYTES]) {
        let offset = self.block_offset;
        let mut trailer = [0u8; TRAILER_BYTES];
        trailer[..BLOCK_HEADER_BYTES].copy_from_slice(head);
        match self.read_exact_or_end(&mut trailer[BLOCK_HEADER_BYTES..], offset) {
            None => return,
            Some(false) => return self.corrupt(offset, "file ends inside the snapshot trailer"),
            Some(true) => {}
        }
        let expected = encode_trailer(
            self.header_crc,
            self.blocks,
            self.body_bytes,
            self.index,
            self.term,
        );
        if crc32c::crc32c_append(self.header_crc, &trailer[..TRAILER_BYTES - 4])
            != crc_field(&trailer)
        {
            return self.corrupt(offset, "snapshot trailer checksum mismatch");
        }
        if trailer != expected {
            let reason = format!(
                "snapshot trailer names {} blocks and {} body bytes where {} and {} were read",
                u64_at(&trailer, 8),
                u64_at(&trailer, 16),
                self.blocks,
                self.body_bytes
            );
            return self.corrupt(offset, reason);
        }
        let end = offset + TRAILER_BYTES as u64;
        let mut extra = [0u8; 1];
        match self.read_exact_or_end(&mut extra, end) {
            None => {}
            Some(true) => self.corrupt(end, "bytes follow the snapshot trailer"),
            Some(false) => {
                self.block.clear();
                self.position = 0;
                self.state = ReadState::Ended;
            }
        }
    }
}

impl Read for SnapshotReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match &self.state {
                ReadState::Failed(failure) => return Err(into_io(self.error(failure))),
                ReadState::Ended => return Ok(0),
                ReadState::Body => {}
            }
            if self.position < self.block.len() {
                let taken = buf.len().min(self.block.len() - self.position);
                buf[..taken].copy_from_slice(&self.block[self.position..self.position + taken]);
                self.position += taken;
                return Ok(taken);
            }
            self.load_next();
        }
    }
}

/// Checks a file header; the block size it declares on success.
fn check_header(header: &[u8; HEADER_BYTES]) -> Result<u32, String> {
    if header[0..4] != HEADER_MAGIC {
        return Err("not a snapshot file (bad magic)".to_string());
    }
    if crc32c::crc32c(&header[..HEADER_BYTES - 4]) != crc_field(header) {
        return Err("snapshot header checksum mismatch".to_string());
    }
    if header[4] != FORMAT_VERSION {
        return Err(format!(
            "snapshot format version {} is not supported",
            header[4]
        ));
    }
    let block_bytes = u32_at(header, 8);
    if block_bytes == 0 || block_bytes > SNAPSHOT_BLOCK_BYTES_MAX {
        return Err(format!("snapshot block size {block_bytes} out of range"));
    }
    Ok(block_bytes)
}

/// Fills `buf` from `file`; Ok(false) when the file ends first (the bytes read are lost).
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(count) => filled += count,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under O_DIRECT (where the test's filesystem allows it) every write is whole sectors at a
    /// sector offset, and the finished file still ends exactly at its trailer.
    #[test]
    fn writes_are_whole_sectors_and_the_file_ends_at_its_trailer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = SnapshotStore::open(dir.path()).expect("open");
        store.set_write_rate(None);
        let mut writer = store.create(3, 1).expect("create");
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for piece in body.chunks(7_777) {
            writer.write_all(piece).expect("write");
            if writer.direct {
                assert_eq!(writer.file_offset % SECTOR, 0);
            }
        }
        let info = writer.finish().expect("finish");
        let blocks = body.len().div_ceil(SNAPSHOT_BLOCK_BYTES as usize);
        let length = HEADER_BYTES + blocks * BLOCK_HEADER_BYTES + body.len() + TRAILER_BYTES;
        let metadata = std::fs::metadata(&info.path).expect("stat");
        assert_eq!(metadata.len(), length as u64);
        let mut reader = SnapshotReader::open(&info.path).expect("open");
        let mut read = Vec::new();
        reader.read_to_end(&mut read).expect("read");
        assert_eq!(read, body);
        assert_eq!(reader.finish(), Ok(()));
    }
}
