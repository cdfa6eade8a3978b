//! Driving `corral_wal::Wal` the way the server's WAL thread does (one entry plus the hard state
//! per append, each append one write and one fdatasync) and timing each append.
//!
//! Two costs that are not the append itself are kept out of the timings, so that the figures
//! compare with `fio` writing into a preallocated file: the roll-over to a new segment, and the
//! background zero-filling of the next segment (which competes for the same disk). An append
//! that rolls over is done but not timed, and after it the appender waits until the WAL's
//! zero-filling thread has finished before timing anything again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use corral_wal::{HardState, LogEntryRef, Wal, WalError, WalOptions};

use crate::limits::{
    BENCH_FRAMES_PER_SEGMENT, BENCH_PAYLOAD_BYTES_MAX, BENCH_SEGMENT_BYTES_MAX,
    BENCH_SEGMENT_BYTES_MIN, CALIBRATION_APPENDS_MAX, CALIBRATION_SEGMENT_BYTES,
    PREALLOCATION_POLL_INTERVAL, PREALLOCATION_WAIT_MAX,
};

/// The O_DIRECT unit the WAL pads every frame to.
pub const SECTOR_BYTES: u64 = 4096;

/// The name the WAL gives its zero-filling thread (as /proc shows it, at most 15 bytes).
#[cfg(test)]
const PREALLOCATION_THREAD_NAME: &str = "wal-preallocate";

/// Linux's statfs magic number of tmpfs, where O_DIRECT and fdatasync measure nothing real.
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// What one append carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchSize {
    /// One entry of this many payload bytes (the frame is padded up to whole sectors).
    Payload(usize),
    /// One entry whose payload makes the frame exactly this many bytes (a multiple of 4096).
    Frame(u64),
}

/// Bytes of a frame that are not the entry's payload, when one entry and the hard state are
/// appended together as the server does (headers of the frame and of both records, before the
/// sector padding). Measured from the WAL itself (`calibrate_overhead`), so the sizes stay exact
/// whatever its format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameOverhead(pub u64);

impl BatchSize {
    /// Payload bytes of the one entry each append carries.
    pub fn payload_bytes(self, overhead: FrameOverhead) -> usize {
        match self {
            BatchSize::Payload(bytes) => bytes,
            BatchSize::Frame(bytes) => bytes.saturating_sub(overhead.0) as usize,
        }
    }

    /// Bytes each append writes to the disk: the frame, sector padding included.
    pub fn frame_bytes(self, overhead: FrameOverhead) -> u64 {
        let unpadded = self.payload_bytes(overhead) as u64 + overhead.0;
        unpadded.div_ceil(SECTOR_BYTES) * SECTOR_BYTES
    }

    /// Segment size of the benchmark's WAL for this batch size: `BENCH_FRAMES_PER_SEGMENT`
    /// frames, within the bounds, and always room for several frames.
    pub fn segment_bytes(self, overhead: FrameOverhead) -> u64 {
        let frame_bytes = self.frame_bytes(overhead);
        (frame_bytes * BENCH_FRAMES_PER_SEGMENT)
            .clamp(BENCH_SEGMENT_BYTES_MIN, BENCH_SEGMENT_BYTES_MAX)
            .max(4 * frame_bytes)
    }

    /// Parses `payload:N` or `frame:N` (N in bytes, with an optional K or M suffix for KiB, MiB).
    pub fn parse(text: &str) -> Result<BatchSize, String> {
        let (kind, number) = text
            .split_once(':')
            .ok_or_else(|| format!("batch size {text:?} is not payload:N or frame:N"))?;
        let bytes = parse_bytes(number)?;
        let size = match kind {
            "payload" => BatchSize::Payload(bytes as usize),
            "frame" => BatchSize::Frame(bytes),
            _ => {
                return Err(format!(
                    "batch size {text:?}: kind must be payload or frame"
                ))
            }
        };
        size.check()?;
        Ok(size)
    }

    fn check(self) -> Result<(), String> {
        if let BatchSize::Frame(bytes) = self {
            if bytes < SECTOR_BYTES || !bytes.is_multiple_of(SECTOR_BYTES) {
                return Err(format!(
                    "a frame of {bytes} bytes is not a positive multiple of {SECTOR_BYTES}"
                ));
            }
        }
        let payload_bytes = match self {
            BatchSize::Payload(bytes) => bytes as u64,
            BatchSize::Frame(bytes) => bytes,
        };
        if payload_bytes > BENCH_PAYLOAD_BYTES_MAX as u64 {
            return Err(format!(
                "{self} is over the benchmark's limit of {BENCH_PAYLOAD_BYTES_MAX} bytes"
            ));
        }
        Ok(())
    }
}

impl std::fmt::Display for BatchSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchSize::Payload(bytes) => write!(f, "payload:{bytes}"),
            BatchSize::Frame(bytes) => write!(f, "frame:{bytes}"),
        }
    }
}

fn parse_bytes(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.as_bytes().last() {
        Some(b'K' | b'k') => (&text[..text.len() - 1], 1024),
        Some(b'M' | b'm') => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a byte count"))?;
    number
        .checked_mul(unit)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// The directory benchmark files go in: `CORRAL_BENCH_DIR`, else the working directory. It must
/// be on the disk being measured (never tmpfs).
pub fn bench_dir() -> PathBuf {
    std::env::var_os("CORRAL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Whether `path` lies on tmpfs (where a sync costs nothing and the figures would be fiction).
pub fn is_tmpfs(path: &Path) -> std::io::Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    let mut name = path.as_os_str().as_bytes().to_vec();
    name.push(0);
    // SAFETY: statfs is plain old data; all zeroes is a valid value of it.
    let mut stats: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is NUL-terminated and `stats` is a valid, writable statfs.
    let result = unsafe { libc::statfs(name.as_ptr().cast(), &mut stats) };
    if result != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(stats.f_type as i64 == TMPFS_MAGIC)
}

/// A WAL in a temporary directory, appended to one timed batch at a time.
pub struct WalAppender {
    wal: Wal,
    // Declared after `wal`, so the log is closed before its directory is deleted.
    _dir: tempfile::TempDir,
    payload: Vec<u8>,
    next_index: u64,
    size: BatchSize,
    overhead: FrameOverhead,
    /// This process's threads when no WAL background work runs: after a roll-over, the appender
    /// waits until every other thread has exited again.
    idle_threads: BTreeSet<u64>,
}

impl WalAppender {
    /// Opens a WAL in a new temporary directory under `parent`, makes its first segment and waits
    /// for the next one to be zero-filled, so the first timed append finds an idle disk.
    pub fn open(parent: &Path, size: BatchSize) -> Result<WalAppender, String> {
        let overhead = calibrate_overhead(parent)?;
        WalAppender::open_with_segment_bytes(parent, size, size.segment_bytes(overhead))
    }

    /// As `open`, with segments of `segment_bytes` (tests use small ones to roll over often).
    pub fn open_with_segment_bytes(
        parent: &Path,
        size: BatchSize,
        segment_bytes: u64,
    ) -> Result<WalAppender, String> {
        size.check()?;
        let overhead = calibrate_overhead(parent)?;
        let (wal, dir) = open_wal(parent, segment_bytes)?;
        let mut appender = WalAppender {
            wal,
            _dir: dir,
            payload: vec![0x5a; size.payload_bytes(overhead)],
            next_index: 1,
            size,
            overhead,
            idle_threads: thread_ids()?,
        };
        appender.append().map_err(|e| e.to_string())?;
        appender.check_frame_bytes()?;
        appender.wait_until_idle()?;
        Ok(appender)
    }

    /// The batch size each append carries.
    pub fn size(&self) -> BatchSize {
        self.size
    }

    /// The measured frame overhead the sizes were computed with.
    pub fn overhead(&self) -> FrameOverhead {
        self.overhead
    }

    /// Whether the WAL writes with O_DIRECT (false where the filesystem refuses it).
    pub fn direct_io(&self) -> bool {
        self.wal.direct_io()
    }

    /// Appends one batch (write + fdatasync) and returns how long the append took. Appends that
    /// roll over to a new segment are done but not counted (see the module docs).
    pub fn append_timed(&mut self) -> Result<Duration, String> {
        loop {
            let segment_before = self.segment_sequence();
            let started = Instant::now();
            self.append().map_err(|e| e.to_string())?;
            let elapsed = started.elapsed();
            if self.segment_sequence() == segment_before {
                return Ok(elapsed);
            }
            self.wait_until_idle()?;
        }
    }

    /// Waits until every thread started since the last idle moment has exited: after a
    /// roll-over, that is the WAL's zero-filling of the next segment. (A thread's name cannot
    /// tell: a new thread takes its name only once it runs, so right after the spawn it may
    /// still carry its parent's.) Appends that do not roll over start no thread.
    fn wait_until_idle(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + PREALLOCATION_WAIT_MAX;
        loop {
            let threads = thread_ids()?;
            if threads.is_subset(&self.idle_threads) {
                self.idle_threads = threads;
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "a thread the WAL started still runs after {PREALLOCATION_WAIT_MAX:?}"
                ));
            }
            std::thread::sleep(PREALLOCATION_POLL_INTERVAL);
        }
    }

    fn append(&mut self) -> Result<(), WalError> {
        append_like_the_server(&mut self.wal, self.next_index, &self.payload)?;
        self.next_index += 1;
        Ok(())
    }

    fn segment_sequence(&self) -> Option<u64> {
        self.wal
            .write_position()
            .map(|position| position.segment_sequence)
    }

    /// Checks that an append occupies the frame size computed from the format, so a change of
    /// the WAL's format cannot silently skew what the sizes mean.
    fn check_frame_bytes(&mut self) -> Result<(), String> {
        let position = |wal: &Wal| wal.write_position().map(|p| (p.segment_sequence, p.offset));
        let before = position(&self.wal);
        self.append().map_err(|e| e.to_string())?;
        match (before, position(&self.wal)) {
            (Some((segment, start)), Some((same, end))) if segment == same => {
                let written = end - start;
                let expected = self.size.frame_bytes(self.overhead);
                if written != expected {
                    return Err(format!(
                        "an append of {} wrote {written} bytes, not the expected {expected}",
                        self.size
                    ));
                }
                Ok(())
            }
            // The append rolled over: nothing to compare, and nothing wrong.
            _ => Ok(()),
        }
    }
}

/// Opens a WAL with segments of `segment_bytes` in a new temporary directory under `parent`.
fn open_wal(parent: &Path, segment_bytes: u64) -> Result<(Wal, tempfile::TempDir), String> {
    if is_tmpfs(parent).map_err(|e| format!("{}: {e}", parent.display()))? {
        return Err(format!(
            "{} is on tmpfs: set CORRAL_BENCH_DIR to a directory on the disk to measure",
            parent.display()
        ));
    }
    let dir = tempfile::Builder::new()
        .prefix("corral-bench-wal-")
        .tempdir_in(parent)
        .map_err(|e| format!("{}: {e}", parent.display()))?;
    let options = WalOptions {
        segment_bytes,
        ..WalOptions::default()
    };
    let (wal, _) = Wal::open(dir.path(), options).map_err(|e| e.to_string())?;
    Ok((wal, dir))
}

/// Appends entry `index` with `payload` and the hard state that commits the entry before it, as
/// a single-node raft group's ready does.
fn append_like_the_server(wal: &mut Wal, index: u64, payload: &[u8]) -> Result<(), WalError> {
    let entry = LogEntryRef {
        index,
        term: 1,
        payload,
    };
    let hard_state = HardState {
        term: 1,
        vote: 1,
        commit: index - 1,
    };
    wal.append(&[entry], Some(&hard_state))
}

/// The WAL's frame overhead, measured once per process: the largest payload whose append still
/// takes a single sector, found by bisection on a scratch WAL (a dozen small appends).
pub fn calibrate_overhead(parent: &Path) -> Result<FrameOverhead, String> {
    static MEASURED: OnceLock<FrameOverhead> = OnceLock::new();
    if let Some(overhead) = MEASURED.get() {
        return Ok(*overhead);
    }
    let (mut wal, _dir) = open_wal(parent, CALIBRATION_SEGMENT_BYTES)?;
    let mut index = 1;
    let mut frame_bytes_of = |payload_bytes: u64| -> Result<Option<u64>, String> {
        let offset = |wal: &Wal| wal.write_position().map(|p| (p.segment_sequence, p.offset));
        let before = offset(&wal);
        append_like_the_server(&mut wal, index, &vec![0; payload_bytes as usize])
            .map_err(|e| e.to_string())?;
        index += 1;
        Ok(match (before, offset(&wal)) {
            (Some((segment, start)), Some((same, end))) if segment == same => Some(end - start),
            _ => None,
        })
    };
    // Invariant: a payload of `fits` bytes makes a one-sector frame; one of `overflows` does not.
    let (mut fits, mut overflows) = (0, SECTOR_BYTES);
    frame_bytes_of(0)?;
    for _ in 0..CALIBRATION_APPENDS_MAX {
        if overflows - fits <= 1 {
            let overhead = FrameOverhead(SECTOR_BYTES - fits);
            return Ok(*MEASURED.get_or_init(|| overhead));
        }
        let middle = (fits + overflows) / 2;
        match frame_bytes_of(middle)? {
            Some(bytes) if bytes == SECTOR_BYTES => fits = middle,
            Some(_) => overflows = middle,
            // A roll-over hides the frame's size: the next round measures again.
            None => {}
        }
    }
    Err(format!(
        "could not measure the WAL's frame overhead in {CALIBRATION_APPENDS_MAX} appends"
    ))
}

/// Ids of this process's threads.
fn thread_ids() -> Result<BTreeSet<u64>, String> {
    let tasks =
        std::fs::read_dir("/proc/self/task").map_err(|e| format!("/proc/self/task: {e}"))?;
    let mut ids = BTreeSet::new();
    for task in tasks.flatten() {
        if let Some(id) = task.file_name().to_str().and_then(|name| name.parse().ok()) {
            ids.insert(id);
        }
    }
    Ok(ids)
}

/// Whether a thread named as the WAL names its zero-filling thread runs in this process.
#[cfg(test)]
fn preallocation_running() -> Result<bool, String> {
    let tasks =
        std::fs::read_dir("/proc/self/task").map_err(|e| format!("/proc/self/task: {e}"))?;
    for task in tasks {
        let Ok(task) = task else { continue };
        // A thread may exit between the listing and the read: treat that as not running.
        if let Ok(name) = std::fs::read_to_string(task.path().join("comm")) {
            if name.trim_end() == PREALLOCATION_THREAD_NAME {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Samples of one run, with the figures the reports print.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    durations: Vec<Duration>,
}

impl Samples {
    pub fn push(&mut self, duration: Duration) {
        self.durations.push(duration);
    }

    pub fn len(&self) -> usize {
        self.durations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.durations.is_empty()
    }

    /// Sum of the samples: the time spent in timed appends.
    pub fn total(&self) -> Duration {
        self.durations.iter().sum()
    }

    /// The sample at `fraction` (0.5 is the median) of the sorted samples; zero when empty.
    pub fn percentile(&self, fraction: f64) -> Duration {
        assert!((0.0..=1.0).contains(&fraction));
        let mut sorted = self.durations.clone();
        sorted.sort_unstable();
        match sorted.len() {
            0 => Duration::ZERO,
            len => sorted[((len - 1) as f64 * fraction).round() as usize],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_sizes_carry_the_payload_that_fills_them_exactly() {
        let overhead = FrameOverhead(136);
        let frame = BatchSize::Frame(4096);
        assert_eq!(frame.payload_bytes(overhead), 3960);
        assert_eq!(frame.frame_bytes(overhead), 4096);
        assert_eq!(BatchSize::Frame(1 << 20).frame_bytes(overhead), 1 << 20);
        // A 4 KiB payload no longer fits a 4 KiB frame with its headers: it takes two sectors.
        assert_eq!(BatchSize::Payload(4096).frame_bytes(overhead), 8192);
        assert_eq!(BatchSize::Payload(100).frame_bytes(overhead), 4096);
        assert_eq!(BatchSize::Payload(100).segment_bytes(overhead), 16 << 20);
        assert_eq!(BatchSize::Frame(64 << 10).segment_bytes(overhead), 16 << 20);
        assert_eq!(BatchSize::Frame(1 << 20).segment_bytes(overhead), 256 << 20);
    }

    #[test]
    fn batch_sizes_parse_with_units_and_reject_unaligned_frames() {
        assert_eq!(BatchSize::parse("payload:100"), Ok(BatchSize::Payload(100)));
        assert_eq!(BatchSize::parse("frame:64K"), Ok(BatchSize::Frame(65536)));
        assert_eq!(BatchSize::parse("frame:1M"), Ok(BatchSize::Frame(1 << 20)));
        assert!(BatchSize::parse("frame:5000").is_err());
        assert!(BatchSize::parse("frame:0").is_err());
        assert!(BatchSize::parse("100").is_err());
        assert!(BatchSize::parse("payload:64M").is_err());
        assert_eq!(BatchSize::Frame(65536).to_string(), "frame:65536");
    }

    #[test]
    fn percentiles_pick_from_sorted_samples() {
        let mut samples = Samples::default();
        for micros in [50, 10, 40, 20, 30] {
            samples.push(Duration::from_micros(micros));
        }
        assert_eq!(samples.percentile(0.5), Duration::from_micros(30));
        assert_eq!(samples.percentile(0.0), Duration::from_micros(10));
        assert_eq!(samples.percentile(1.0), Duration::from_micros(50));
        assert_eq!(samples.total(), Duration::from_micros(150));
    }

    #[test]
    fn appends_write_their_frames_and_go_on_across_roll_overs() {
        let parent = bench_dir();
        if is_tmpfs(&parent).unwrap_or(true) {
            eprintln!("skipped: {} is on tmpfs", parent.display());
            return;
        }
        // Eight 8 KiB frames per 64 KiB segment: 30 appends roll over at least three times.
        let size = BatchSize::Frame(8192);
        let mut appender = WalAppender::open_with_segment_bytes(&parent, size, 65536)
            .unwrap_or_else(|error| panic!("opening a WAL under {}: {error}", parent.display()));
        for _ in 0..30 {
            assert!(appender.append_timed().is_ok());
        }
        let overhead = appender.overhead().0;
        // Headers of a frame and two records, at least 32 bytes each, well within a sector.
        assert!((96..1024).contains(&overhead), "overhead {overhead}");
        // Two untimed appends at open, 30 timed ones, and one untimed append per roll-over.
        let segment = appender.segment_sequence().unwrap_or(0);
        assert!(segment >= 4, "only {segment} segments");
        assert_eq!(appender.next_index - 1, 32 + (segment - 1));
        // The last timed append did not roll over, so no zero-filling has been started since.
        assert_eq!(preallocation_running(), Ok(false));
        assert_eq!(appender.check_frame_bytes(), Ok(()));
    }
}
