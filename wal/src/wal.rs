//! The `Wal` handle: open (recover) and append.

use std::collections::VecDeque;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::aligned::AlignedBuffer;
use crate::error::WalError;
use crate::fault::FaultPlan;
use crate::fileio::Files;
use crate::format::{
    decode_frame_at, encode_frame, encode_seal, frame_bytes, FramePlace, SegmentHeader,
};
use crate::limits::{
    ENTRY_BYTES_MAX, FRAME_BYTES_MAX, RECYCLED_SEGMENTS_MAX, SECTOR_BYTES, SEGMENT_BYTES_DEFAULT,
    SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN, SEGMENT_OVERHEAD_BYTES, WRITE_BUFFER_RETAINED_BYTES_MAX,
};
use crate::recovery::{index_may_follow, recover, SegmentSummary};
use crate::segment::{
    create_segment, install_segment, list_segments, list_spares, new_salt, recycle_spare,
    spare_path, temporary_path, ActiveSegment, SegmentPosition,
};
use crate::spare::{SpareOutcome, SpareSegment};
use crate::{segment_path, HardState, LogEntryRef, Recovered};

const LOCK_FILE_NAME: &str = "wal.lock";

/// How a `Wal` lays out and writes its files.
#[derive(Clone, Debug)]
pub struct WalOptions {
    /// Size of each preallocated segment; a multiple of `SECTOR_BYTES` within
    /// `SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX`.
    pub segment_bytes: u64,
    /// Write with O_DIRECT (falling back to buffered writes where the filesystem refuses it).
    pub direct_io: bool,
    /// fdatasync each appended frame before `append` returns (ZooKeeper's `forceSync`). Off,
    /// an acknowledged append may be lost by a power failure or a kernel crash (not by a crash
    /// of the process: the frame is written before `append` returns); only for measuring what
    /// durability costs, as ZooKeeper's `forceSync=no` is.
    pub force_sync: bool,
    /// Faults to inject into the WAL's file operations, for tests; `None` in production.
    pub faults: Option<Arc<FaultPlan>>,
}

impl Default for WalOptions {
    fn default() -> WalOptions {
        WalOptions {
            segment_bytes: SEGMENT_BYTES_DEFAULT,
            direct_io: true,
            force_sync: true,
            faults: None,
        }
    }
}

impl WalOptions {
    fn validate(&self) -> Result<(), WalError> {
        let bytes = self.segment_bytes;
        if !bytes.is_multiple_of(SECTOR_BYTES)
            || !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&bytes)
        {
            return Err(WalError::InvalidOptions {
                reason: format!(
                    "segment_bytes {bytes} must be a multiple of {SECTOR_BYTES} \
                     between {SEGMENT_BYTES_MIN} and {SEGMENT_BYTES_MAX}"
                ),
            });
        }
        Ok(())
    }
}

/// Where the next append will be written: for tools and tests that inspect the files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WritePosition {
    pub segment_sequence: u64,
    pub offset: u64,
}

/// What a failed operation may have left on disk, for `repair` to undo.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Damage {
    /// Sectors `[start, end)` of the active segment that a failed frame or seal write may have
    /// reached.
    zero: Option<(u64, u64)>,
    /// Files a failed roll may have left: a temporary segment, a spare being recycled, or the
    /// new segment itself if it was installed but never became the active one.
    remove: Vec<PathBuf>,
}

impl Damage {
    fn zero(start: u64, end: u64) -> Damage {
        Damage {
            zero: Some((start, end)),
            remove: Vec::new(),
        }
    }

    fn remove(paths: Vec<PathBuf>) -> Damage {
        Damage {
            zero: None,
            remove: paths,
        }
    }
}

/// A failed step of an append: the error for the caller and the damage for `repair`.
type Failure = (WalError, Damage);

/// An open write-ahead log. Not shared between threads: the server drives it from one blocking
/// thread. The directory is locked (flock) while the `Wal` lives.
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    files: Files,
    /// Held open for its flock; closing it releases the directory.
    _lock: File,
    active: Option<ActiveSegment>,
    next_sequence: u64,
    last_index: u64,
    /// Cleared when a filesystem refuses O_DIRECT, so later segments skip the attempt.
    direct_io: bool,
    buffer: AlignedBuffer,
    /// Set by a failed append: what it may have left behind. Appends fail until `repair`.
    poisoned: Option<Damage>,
    /// The next segment, being zero-filled in the background.
    spare: Option<SpareSegment>,
    /// Released segments kept for recycling, oldest first.
    recycled: VecDeque<PathBuf>,
    /// Every segment on disk, oldest first; the last one is the active segment.
    segments: VecDeque<SegmentSummary>,
    /// The latest hard state and the segment holding it, so compaction never deletes it.
    hard_state: Option<(HardState, u64)>,
    appended_bytes: u64,
}

impl Wal {
    /// Opens (creating if needed) the log in `dir` and recovers what it holds. Fails with
    /// `Corrupt` rather than dropping anything a crash cannot explain.
    pub fn open(dir: &Path, options: WalOptions) -> Result<(Wal, Recovered), WalError> {
        options.validate()?;
        let files = Files::new(options.faults.clone());
        create_dir(&files, dir)?;
        let lock = lock_dir(&files, dir)?;
        let segments = list_segments(&files, dir)?;
        let recovery = recover(&files, &segments, options.segment_bytes)?;
        let recycled = open_spares(&files, dir, options.segment_bytes)?;
        let next_sequence = segments.last().map_or(1, |(sequence, _)| sequence + 1);
        let active = match recovery.tail {
            Some(tail) => Some(ActiveSegment::open(&files, tail, options.direct_io)?),
            None => None,
        };
        let direct_io = active.as_ref().map_or(options.direct_io, |a| a.direct_io);
        let last_index = recovery.entries.last().map_or(0, |entry| entry.index);
        let wal = Wal {
            dir: dir.to_path_buf(),
            options,
            files,
            _lock: lock,
            active,
            next_sequence,
            last_index,
            direct_io,
            buffer: AlignedBuffer::with_capacity(SECTOR_BYTES as usize),
            poisoned: None,
            spare: None,
            recycled,
            segments: recovery.segments.into(),
            hard_state: recovery.hard_state.zip(recovery.hard_state_sequence),
            appended_bytes: 0,
        };
        let recovered = Recovered {
            entries: recovery.entries,
            hard_state: recovery.hard_state,
            truncated_tail_bytes: recovery.truncated_tail_bytes,
        };
        Ok((wal, recovered))
    }

    /// Appends `entries` (contiguous indexes; the first may be at or below `last_index()`, in
    /// which case the log from that index on is replaced, as raft requires), then `hard_state`
    /// if given, as one frame: one write and one fdatasync (plus sealing the current segment and
    /// installing the next when the frame does not fit). Everything is durable when this returns
    /// `Ok`, and after a crash either the whole append is recovered or none of it.
    ///
    /// Invalid arguments are rejected before anything is written. An I/O error poisons the log:
    /// later appends fail with `Poisoned` until `repair` succeeds.
    pub fn append(
        &mut self,
        entries: &[LogEntryRef<'_>],
        hard_state: Option<&HardState>,
    ) -> Result<(), WalError> {
        if self.poisoned.is_some() {
            return Err(WalError::Poisoned);
        }
        if entries.is_empty() && hard_state.is_none() {
            return Ok(());
        }
        self.check_entries(entries)?;
        let bytes = frame_bytes(entries, hard_state);
        if bytes > FRAME_BYTES_MAX {
            return Err(WalError::FrameTooLarge {
                bytes,
                max: FRAME_BYTES_MAX,
            });
        }
        if let Err((error, damage)) = self.write_frame(entries, hard_state, bytes) {
            // What reached the disk is unknown (and a retried fdatasync may falsely succeed), so
            // nothing more is written until `repair` has overwritten whatever it may have been.
            log::error!("WAL append failed: {error}");
            self.poisoned = Some(damage);
            return Err(error);
        }
        self.note_appended(entries, hard_state, bytes);
        self.buffer
            .shrink_to(WRITE_BUFFER_RETAINED_BYTES_MAX as usize);
        self.start_spare_if_missing();
        Ok(())
    }

    /// Whether an append failed and `repair` has not yet succeeded.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }

    /// After a failed append: overwrites with zeros whatever the failed frame (or seal) may have
    /// written, deletes the files a failed roll may have left (returning their space), syncs,
    /// and clears the poison, so appends go on right after the last acknowledged frame. Recovery
    /// then never sees any of the failed append. An `Err` (the disk still failing, or still
    /// full for a deletion that cannot proceed) leaves the log poisoned; call it again later.
    /// Does nothing on a log that is not poisoned.
    pub fn repair(&mut self) -> Result<(), WalError> {
        let Some(damage) = self.poisoned.take() else {
            return Ok(());
        };
        let result = self.undo(&damage);
        match &result {
            Ok(()) => log::info!("WAL repaired after a failed append"),
            Err(error) => {
                log::warn!("WAL repair failed: {error}");
                self.poisoned = Some(damage);
            }
        }
        result
    }

    fn undo(&mut self, damage: &Damage) -> Result<(), WalError> {
        for path in &damage.remove {
            self.files.remove(path)?;
        }
        if !damage.remove.is_empty() {
            self.files.sync_dir(&self.dir)?;
        }
        if let Some((start, end)) = damage.zero {
            let active = self
                .active
                .as_mut()
                .expect("a failed frame or seal write had an active segment");
            // A fresh descriptor: the old one may hold an error state from the failure.
            active.reopen()?;
            active.zero(start, end)?;
        }
        Ok(())
    }

    /// Bytes of frames (sector padding included) appended since the `Wal` was opened. Seals and
    /// segment headers are not counted.
    pub fn appended_bytes(&self) -> u64 {
        self.appended_bytes
    }

    /// Index of the last entry in the log, 0 when it holds none.
    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    /// Whether appends currently use O_DIRECT.
    pub fn direct_io(&self) -> bool {
        self.direct_io
    }

    /// Where the next frame goes; `None` before the first segment exists.
    pub fn write_position(&self) -> Option<WritePosition> {
        self.active.as_ref().map(|active| WritePosition {
            segment_sequence: active.sequence,
            offset: active.write_offset,
        })
    }

    /// Releases the oldest segments whose entries all lie before `index` (typically the first
    /// index after a snapshot), never the segment being written: up to
    /// `limits::RECYCLED_SEGMENTS_MAX` of them are kept (renamed) to be recycled as later
    /// segments, the rest deleted. If the latest hard state lives in a segment about to go, it
    /// is first appended again. Returns how many segments were released. Afterwards recovery
    /// returns a log that may start anywhere at or before `index`, with every entry from `index`
    /// on unchanged.
    pub fn release_before(&mut self, index: u64) -> Result<usize, WalError> {
        if self.poisoned.is_some() {
            return Err(WalError::Poisoned);
        }
        let active_sequence = self.active.as_ref().map(|active| active.sequence);
        let releasable = self
            .segments
            .iter()
            .take_while(|s| {
                Some(s.sequence) != active_sequence && s.max_index.is_none_or(|max| max < index)
            })
            .count();
        let Some(last_released) = releasable
            .checked_sub(1)
            .map(|at| self.segments[at].sequence)
        else {
            return Ok(0);
        };
        if let Some((hard_state, sequence)) = self.hard_state {
            if sequence <= last_released {
                self.append(&[], Some(&hard_state))?;
            }
        }
        for _ in 0..releasable {
            self.release_oldest()?;
        }
        Ok(releasable)
    }

    /// Recycles or deletes the oldest segment. The directory is synced after each one, so a
    /// crash never leaves a later segment gone while an earlier one remains (a gap).
    fn release_oldest(&mut self) -> Result<(), WalError> {
        let summary = self.segments.front().expect("counted by the caller");
        let recyclable = self.recycled.len() < RECYCLED_SEGMENTS_MAX
            && summary.bytes == self.options.segment_bytes;
        if recyclable {
            let spare = spare_path(&self.dir, summary.sequence);
            self.files.rename(&summary.path, &spare)?;
            self.recycled.push_back(spare);
        } else {
            self.files.remove(&summary.path)?;
        }
        self.segments.pop_front();
        self.files.sync_dir(&self.dir)
    }

    /// Updates the in-memory summary after a durable append.
    fn note_appended(
        &mut self,
        entries: &[LogEntryRef<'_>],
        hard_state: Option<&HardState>,
        bytes: u64,
    ) {
        self.appended_bytes += bytes;
        let summary = self
            .segments
            .back_mut()
            .expect("an append leaves an active segment");
        assert_eq!(
            Some(summary.sequence),
            self.active.as_ref().map(|active| active.sequence)
        );
        if let Some(last) = entries.last() {
            self.last_index = last.index;
            // Indexes within one append are contiguous, so the last is the highest.
            summary.max_index = Some(
                summary
                    .max_index
                    .map_or(last.index, |max| max.max(last.index)),
            );
        }
        if let Some(hard_state) = hard_state {
            self.hard_state = Some((*hard_state, summary.sequence));
        }
    }

    fn check_entries(&self, entries: &[LogEntryRef<'_>]) -> Result<(), WalError> {
        let mut previous: Option<u64> = None;
        for entry in entries {
            let contiguous = match previous {
                None => index_may_follow(self.last_index, entry.index),
                Some(previous) => entry.index == previous + 1,
            };
            if !contiguous {
                let expected = match previous {
                    None if self.last_index == 0 => "any index from 1".to_string(),
                    None => format!("an index from 1 to {}", self.last_index + 1),
                    Some(previous) => (previous + 1).to_string(),
                };
                return Err(WalError::NotContiguous {
                    index: entry.index,
                    expected,
                });
            }
            if entry.payload.len() as u64 > ENTRY_BYTES_MAX {
                return Err(WalError::EntryTooLarge {
                    index: entry.index,
                    bytes: entry.payload.len() as u64,
                    max: ENTRY_BYTES_MAX,
                });
            }
            previous = Some(entry.index);
        }
        Ok(())
    }

    fn write_frame(
        &mut self,
        entries: &[LogEntryRef<'_>],
        hard_state: Option<&HardState>,
        bytes: u64,
    ) -> Result<(), Failure> {
        if !self
            .active
            .as_ref()
            .is_some_and(|active| active.fits(bytes))
        {
            self.roll(bytes)?;
        }
        let active = self.active.as_mut().expect("roll leaves an active segment");
        let place = FramePlace {
            segment_sequence: active.sequence,
            salt: active.salt,
            offset: active.write_offset,
        };
        let length = encode_frame(&mut self.buffer, place, entries, hard_state);
        assert_eq!(length as u64, bytes);
        // Check the frame reads back as written before it reaches the disk, as recovery will.
        let decoded = decode_frame_at(self.buffer.as_slice(), 0, place);
        let record_count = entries.len() + usize::from(hard_state.is_some());
        assert!(decoded
            .is_ok_and(|frame| frame.records.len() == record_count && frame.frame_bytes == bytes));
        let result = active.write_frame(self.buffer.as_slice(), self.options.force_sync);
        self.direct_io = active.direct_io;
        result.map_err(|error| (error, Damage::zero(place.offset, place.offset + bytes)))
    }

    /// Seals the current segment (unless already sealed) and makes a new one, big enough for a
    /// frame of `frame_bytes`, the active segment: the configured size, or larger for a frame
    /// that needs it.
    fn roll(&mut self, frame_bytes: u64) -> Result<(), Failure> {
        self.seal_active()?;
        let segment_bytes = self
            .options
            .segment_bytes
            .max(frame_bytes + SEGMENT_OVERHEAD_BYTES);
        let sequence = self.next_sequence;
        let (path, salt) = self.prepare_segment(sequence, segment_bytes)?;
        let position = SegmentPosition {
            sequence,
            salt,
            path: path.clone(),
            segment_bytes,
            write_offset: SECTOR_BYTES,
            sealed: false,
        };
        let active = ActiveSegment::open(&self.files, position, self.direct_io)
            .map_err(|error| (error, Damage::remove(vec![path.clone()])))?;
        self.next_sequence += 1;
        self.segments.push_back(SegmentSummary {
            sequence,
            path,
            bytes: segment_bytes,
            max_index: None,
        });
        self.active = Some(active);
        Ok(())
    }

    /// Writes the seal at the end of the active segment's frames, so recovery knows the log
    /// goes on in the next segment and that nothing of this one is missing.
    fn seal_active(&mut self) -> Result<(), Failure> {
        let Some(active) = self.active.as_mut().filter(|active| !active.sealed) else {
            return Ok(());
        };
        let place = FramePlace {
            segment_sequence: active.sequence,
            salt: active.salt,
            offset: active.write_offset,
        };
        encode_seal(&mut self.buffer, place);
        active.write_seal(self.buffer.as_slice()).map_err(|error| {
            (
                error,
                Damage::zero(place.offset, place.offset + SECTOR_BYTES),
            )
        })
    }

    /// Makes the file of segment `sequence`, installed under its final name: a recycled spare
    /// if one fits, else the background spare, else a segment zero-filled here. Returns its path
    /// and salt.
    fn prepare_segment(
        &mut self,
        sequence: u64,
        segment_bytes: u64,
    ) -> Result<(PathBuf, u64), Failure> {
        let final_path = segment_path(&self.dir, sequence);
        if segment_bytes == self.options.segment_bytes {
            if let Some(spare) = self.recycled.pop_front() {
                let salt = new_salt(sequence);
                let damage = || Damage::remove(vec![spare.clone(), final_path.clone()]);
                recycle_spare(&self.files, &spare, sequence, salt)
                    .and_then(|()| install_segment(&self.files, &self.dir, &spare, sequence))
                    .map_err(|error| (error, damage()))?;
                return Ok((final_path, salt));
            }
        }
        let outcome = match self.spare.take() {
            Some(spare) => spare.take(&self.files, sequence, segment_bytes),
            None => SpareOutcome::Unusable,
        };
        let temporary = temporary_path(&self.dir, sequence);
        let damage = || Damage::remove(vec![temporary.clone(), final_path.clone()]);
        match outcome {
            SpareOutcome::Ready { path, salt } => {
                install_segment(&self.files, &self.dir, &path, sequence)
                    .map_err(|error| (error, damage()))?;
                return Ok((final_path, salt));
            }
            SpareOutcome::Failed(error) => {
                // Reported here, at the roll that needed it; the segment is then made inline,
                // which fails the append in turn if the cause (a full disk) persists.
                log::warn!("WAL background preallocation failed ({error}); creating inline");
            }
            SpareOutcome::Unusable => {}
        }
        let header = SegmentHeader {
            sequence,
            salt: new_salt(sequence),
            stale_end: 0,
        };
        create_segment(&self.files, &self.dir, &header, segment_bytes)
            .map_err(|error| (error, damage()))?;
        Ok((final_path, header.salt))
    }

    /// Starts preparing the next segment as soon as the previous spare has been used, so it has
    /// a whole segment's worth of appends to get ready before the roll needs it. Not needed
    /// while a released segment waits to be recycled.
    fn start_spare_if_missing(&mut self) {
        if self.spare.is_none() && self.active.is_some() && self.recycled.is_empty() {
            let spare = SpareSegment::start(
                &self.files,
                &self.dir,
                self.next_sequence,
                self.options.segment_bytes,
            );
            self.spare = Some(spare);
        }
    }
}

/// The spares left by earlier `release_before` calls: keeps up to `RECYCLED_SEGMENTS_MAX` of
/// the configured segment size (the newest, whose blocks are likeliest still allocated) and
/// deletes the rest.
fn open_spares(
    files: &Files,
    dir: &Path,
    segment_bytes: u64,
) -> Result<VecDeque<PathBuf>, WalError> {
    let mut kept = VecDeque::new();
    let mut deleted = false;
    for (_, path) in list_spares(dir)?.into_iter().rev() {
        let bytes = std::fs::metadata(&path)
            .map_err(|e| WalError::io(&path, 0, e))?
            .len();
        if kept.len() < RECYCLED_SEGMENTS_MAX && bytes == segment_bytes {
            kept.push_front(path);
        } else {
            files.remove(&path)?;
            deleted = true;
        }
    }
    if deleted {
        files.sync_dir(dir)?;
    }
    Ok(kept)
}

/// Creates `dir` if missing, making its entry durable in the parent.
fn create_dir(files: &Files, dir: &Path) -> Result<(), WalError> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| WalError::io(dir, 0, e))?;
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => files.sync_dir(parent),
        _ => Ok(()),
    }
}

/// Takes an exclusive flock on `dir/wal.lock` so two processes never append to one log.
fn lock_dir(files: &Files, dir: &Path) -> Result<File, WalError> {
    let path = dir.join(LOCK_FILE_NAME);
    let file = files.open_or_create(&path)?;
    // SAFETY: flock only reads the descriptor, which `file` keeps open for the call.
    let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if result != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(WalError::Locked {
                path: dir.to_path_buf(),
            });
        }
        return Err(WalError::io(&path, 0, error));
    }
    Ok(file)
}
