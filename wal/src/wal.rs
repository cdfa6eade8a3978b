//! The `Wal` handle: open (recover) and append.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::aligned::AlignedBuffer;
use crate::error::WalError;
use crate::format::{decode_frame_at, encode_frame, frame_bytes, FramePlace};
use crate::limits::{
    ENTRY_BYTES_MAX, FRAME_BYTES_MAX, SECTOR_BYTES, SEGMENT_BYTES_DEFAULT, SEGMENT_BYTES_MAX,
    SEGMENT_BYTES_MIN, WRITE_BUFFER_RETAINED_BYTES_MAX,
};
use crate::recovery::{index_may_follow, recover, SegmentSummary};
use crate::segment::{create_segment, install_segment, list_segments, sync_dir, ActiveSegment};
use crate::spare::SpareSegment;
use crate::{HardState, LogEntryRef, Recovered};

const LOCK_FILE_NAME: &str = "wal.lock";

/// How a `Wal` lays out and writes its files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalOptions {
    /// Size of each preallocated segment; a multiple of `SECTOR_BYTES` within
    /// `SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX`.
    pub segment_bytes: u64,
    /// Write with O_DIRECT (falling back to buffered writes where the filesystem refuses it).
    pub direct_io: bool,
}

impl Default for WalOptions {
    fn default() -> WalOptions {
        WalOptions {
            segment_bytes: SEGMENT_BYTES_DEFAULT,
            direct_io: true,
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

/// An open write-ahead log. Not shared between threads: the server drives it from one blocking
/// thread. The directory is locked (flock) while the `Wal` lives.
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    /// Held open for its flock; closing it releases the directory.
    _lock: File,
    active: Option<ActiveSegment>,
    next_sequence: u64,
    last_index: u64,
    /// Cleared when a filesystem refuses O_DIRECT, so later segments skip the attempt.
    direct_io: bool,
    buffer: AlignedBuffer,
    poisoned: bool,
    /// The next segment, being zero-filled in the background.
    spare: Option<SpareSegment>,
    /// Every segment on disk, oldest first; the last one is the active segment.
    segments: VecDeque<SegmentSummary>,
    /// The latest hard state and the segment holding it, so compaction never deletes it.
    hard_state: Option<(HardState, u64)>,
}

impl Wal {
    /// Opens (creating if needed) the log in `dir` and recovers what it holds. Fails with
    /// `Corrupt` rather than dropping anything a crash cannot explain.
    pub fn open(dir: &Path, options: WalOptions) -> Result<(Wal, Recovered), WalError> {
        options.validate()?;
        create_dir(dir)?;
        let lock = lock_dir(dir)?;
        let segments = list_segments(dir)?;
        let recovery = recover(&segments, options.segment_bytes)?;
        let next_sequence = segments.last().map_or(1, |(sequence, _)| sequence + 1);
        let active = match recovery.tail {
            Some(tail) => Some(ActiveSegment::open(
                tail.sequence,
                tail.path,
                tail.segment_bytes,
                tail.write_offset,
                options.direct_io,
            )?),
            None => None,
        };
        let direct_io = active.as_ref().map_or(options.direct_io, |a| a.direct_io);
        let last_index = recovery.entries.last().map_or(0, |entry| entry.index);
        let wal = Wal {
            dir: dir.to_path_buf(),
            options,
            _lock: lock,
            active,
            next_sequence,
            last_index,
            direct_io,
            buffer: AlignedBuffer::with_capacity(SECTOR_BYTES as usize),
            poisoned: false,
            spare: None,
            segments: recovery.segments.into(),
            hard_state: recovery.hard_state.zip(recovery.hard_state_sequence),
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
    /// if given, as one frame: one write and one fdatasync (plus creating a segment when the
    /// frame does not fit the current one). Everything is durable when this returns `Ok`, and
    /// after a crash either the whole append is recovered or none of it.
    ///
    /// Invalid arguments are rejected before anything is written. An I/O error poisons the log.
    pub fn append(
        &mut self,
        entries: &[LogEntryRef<'_>],
        hard_state: Option<&HardState>,
    ) -> Result<(), WalError> {
        if self.poisoned {
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
        if let Err(error) = self.write_frame(entries, hard_state, bytes) {
            // The disk's state after a failed write or fdatasync is unknown (and a retried
            // fdatasync may falsely succeed), so only a reopen may continue.
            self.poisoned = true;
            return Err(error);
        }
        self.note_appended(entries, hard_state);
        self.buffer
            .shrink_to(WRITE_BUFFER_RETAINED_BYTES_MAX as usize);
        self.start_spare_if_missing();
        Ok(())
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

    /// Deletes the oldest segments whose entries all lie before `index` (typically the first
    /// index after a snapshot), never the segment being written. If the latest hard state lives
    /// in a segment about to go, it is first appended again. Returns how many segments were
    /// deleted. Afterwards recovery returns a log that may start anywhere at or before `index`,
    /// with every entry from `index` on unchanged.
    pub fn release_before(&mut self, index: u64) -> Result<usize, WalError> {
        if self.poisoned {
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
        // Oldest first, so a crash midway leaves a contiguous run of segments.
        for _ in 0..releasable {
            let summary = self.segments.front().expect("counted above");
            std::fs::remove_file(&summary.path).map_err(|e| WalError::io(&summary.path, 0, e))?;
            self.segments.pop_front();
        }
        sync_dir(&self.dir)?;
        Ok(releasable)
    }

    /// Updates the in-memory summary after a durable append.
    fn note_appended(&mut self, entries: &[LogEntryRef<'_>], hard_state: Option<&HardState>) {
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
    ) -> Result<(), WalError> {
        let fits = self
            .active
            .as_ref()
            .is_some_and(|active| active.write_offset + bytes <= active.segment_bytes);
        if !fits {
            self.roll(bytes)?;
        }
        let active = self.active.as_mut().expect("roll leaves an active segment");
        let place = FramePlace {
            segment_sequence: active.sequence,
            offset: active.write_offset,
        };
        let length = encode_frame(&mut self.buffer, place, entries, hard_state);
        assert_eq!(length as u64, bytes);
        // Check the frame reads back as written before it reaches the disk, as recovery will.
        let decoded = decode_frame_at(self.buffer.as_slice(), 0, place);
        let record_count = entries.len() + usize::from(hard_state.is_some());
        assert!(decoded
            .is_ok_and(|frame| frame.records.len() == record_count && frame.frame_bytes == bytes));
        active.write_frame(self.buffer.as_slice())?;
        self.direct_io = active.direct_io;
        Ok(())
    }

    /// Starts a new segment big enough for a frame of `frame_bytes`: the configured size, or the
    /// frame's own size for a frame larger than that.
    fn roll(&mut self, frame_bytes: u64) -> Result<(), WalError> {
        let segment_bytes = self.options.segment_bytes.max(frame_bytes);
        let sequence = self.next_sequence;
        let spare = self
            .spare
            .take()
            .and_then(|spare| spare.take(sequence, segment_bytes));
        let path = match spare {
            Some(temporary) => install_segment(&self.dir, &temporary, sequence)?,
            None => create_segment(&self.dir, sequence, segment_bytes)?,
        };
        self.next_sequence += 1;
        self.segments.push_back(SegmentSummary {
            sequence,
            path: path.clone(),
            max_index: None,
        });
        self.active = Some(ActiveSegment::open(
            sequence,
            path,
            segment_bytes,
            0,
            self.direct_io,
        )?);
        Ok(())
    }

    /// Starts preparing the next segment as soon as the previous spare has been used, so it has
    /// a whole segment's worth of appends to get ready before the roll needs it.
    fn start_spare_if_missing(&mut self) {
        if self.spare.is_none() && self.active.is_some() {
            let spare =
                SpareSegment::start(&self.dir, self.next_sequence, self.options.segment_bytes);
            self.spare = Some(spare);
        }
    }
}

/// Creates `dir` if missing, making its entry durable in the parent.
fn create_dir(dir: &Path) -> Result<(), WalError> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| WalError::io(dir, 0, e))?;
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => Ok(()),
    }
}

/// Takes an exclusive flock on `dir/wal.lock` so two processes never append to one log.
fn lock_dir(dir: &Path) -> Result<File, WalError> {
    let path = dir.join(LOCK_FILE_NAME);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| WalError::io(&path, 0, e))?;
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
