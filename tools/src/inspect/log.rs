//! The write-ahead log as recovery would read it, from `corral_wal::scan` (read-only: no lock,
//! no repair), with every problem named by file and byte offset.
//!
//! Recovery's rules, which the tool follows: segments must be contiguous; a segment may end
//! with junk only if it is the last one (a torn tail, which a crash explains); an entry whose
//! index is at or below the previous one replaces the log from that index on (raft's
//! truncation), so the log in effect is contiguous.

use std::path::{Path, PathBuf};

use corral_engine::entry::decode_batch;
use corral_engine::types::Txn;
use corral_wal::scan::{scan_dir, RecordKind, ScannedRecord, ScannedSegment, SegmentEnd};
use corral_wal::HardState;

/// Something in the files that no crash explains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    /// The byte offset in `path`, when the problem has one.
    pub offset: Option<u64>,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(offset) => write!(
                f,
                "{} at offset {offset}: {}",
                self.path.display(),
                self.what
            ),
            None => write!(f, "{}: {}", self.path.display(), self.what),
        }
    }
}

/// Where an entry record is in `LogScan::segments`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordAt {
    pub segment: usize,
    pub frame: usize,
    pub record: usize,
}

/// A torn write at the end of the last segment: recovery zeroes it, nothing is lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub path: PathBuf,
    pub offset: u64,
    pub bytes: u64,
}

/// The scanned log and what recovery would make of it.
pub struct LogScan {
    pub dir: PathBuf,
    pub segments: Vec<ScannedSegment>,
    /// The entries in effect, contiguous by index, oldest first.
    pub entries: Vec<RecordAt>,
    /// Entry records replaced by a later record of the same index.
    pub superseded: Vec<RecordAt>,
    pub hard_state: Option<HardState>,
    pub torn_tail: Option<TornTail>,
    /// Corruption: recovery would refuse the log (or, for an entry gap, lose entries).
    pub problems: Vec<Problem>,
}

/// What an entry's payload holds: the entry-type byte, then the data (`consensus.rs`).
pub enum EntryContent {
    /// A raft entry without data (a new leader's first entry).
    Empty,
    Txns(Vec<Txn>),
    /// A membership change: nothing for the tree.
    ConfChange,
}

/// Raft's entry types as `consensus.rs` stores them in the first payload byte.
const ENTRY_NORMAL: u8 = 0;
const ENTRY_CONF_CHANGE: u8 = 1;
const ENTRY_CONF_CHANGE_V2: u8 = 2;

/// Decodes an entry payload; the error says what is wrong with it.
pub fn decode_entry(payload: &[u8]) -> Result<EntryContent, String> {
    let Some((&entry_type, data)) = payload.split_first() else {
        return Err("empty payload: the entry type byte is missing".to_string());
    };
    match entry_type {
        ENTRY_NORMAL if data.is_empty() => Ok(EntryContent::Empty),
        ENTRY_NORMAL => decode_batch(data)
            .map(EntryContent::Txns)
            .map_err(|error| format!("undecodable batch: {error}")),
        ENTRY_CONF_CHANGE | ENTRY_CONF_CHANGE_V2 => Ok(EntryContent::ConfChange),
        other => Err(format!("unknown entry type {other}")),
    }
}

impl LogScan {
    /// Scans `dir` (the WAL directory itself). Err only when the directory cannot be read.
    pub fn read(dir: &Path) -> Result<LogScan, String> {
        let segments = scan_dir(dir).map_err(|error| error.to_string())?;
        Ok(LogScan::from_segments(dir, segments))
    }

    /// Applies recovery's rules to segments already scanned.
    pub fn from_segments(dir: &Path, segments: Vec<ScannedSegment>) -> LogScan {
        let mut scan = LogScan {
            dir: dir.to_path_buf(),
            segments,
            entries: Vec::new(),
            superseded: Vec::new(),
            hard_state: None,
            torn_tail: None,
            problems: Vec::new(),
        };
        scan.check_segment_ends();
        scan.collect_records();
        scan
    }

    pub fn record(&self, at: RecordAt) -> &ScannedRecord {
        &self.segments[at.segment].frames[at.frame].records[at.record]
    }

    pub fn segment_path(&self, at: RecordAt) -> &Path {
        &self.segments[at.segment].path
    }

    pub fn first_index(&self) -> Option<u64> {
        self.entries.first().map(|at| self.record(*at).index)
    }

    pub fn last_index(&self) -> Option<u64> {
        self.entries.last().map(|at| self.record(*at).index)
    }

    /// Sequence gaps, corrupt ends, and torn ends anywhere but in the last segment.
    fn check_segment_ends(&mut self) {
        let last = self.segments.len().saturating_sub(1);
        let mut problems = Vec::new();
        for (position, segment) in self.segments.iter().enumerate() {
            if position > 0 {
                let expected = self.segments[position - 1].sequence + 1;
                if segment.sequence != expected {
                    problems.push(Problem {
                        path: segment.path.clone(),
                        offset: Some(0),
                        what: format!(
                            "segment sequence {} where {expected} was expected (a segment is missing)",
                            segment.sequence
                        ),
                    });
                }
            }
            match &segment.end {
                SegmentEnd::Clean | SegmentEnd::Sealed => {}
                SegmentEnd::TornTail { offset, bytes } if position == last => {
                    self.torn_tail = Some(TornTail {
                        path: segment.path.clone(),
                        offset: *offset,
                        bytes: *bytes,
                    });
                }
                SegmentEnd::TornTail { offset, bytes } => problems.push(Problem {
                    path: segment.path.clone(),
                    offset: Some(*offset),
                    what: format!("{bytes} bytes of a torn frame before the last segment"),
                }),
                SegmentEnd::Corrupt { offset, reason } => problems.push(Problem {
                    path: segment.path.clone(),
                    offset: Some(*offset),
                    what: reason.clone(),
                }),
            }
        }
        self.problems.extend(problems);
    }

    /// Replays the records as recovery does: raft truncation, the last hard state wins.
    fn collect_records(&mut self) {
        let mut entries: Vec<(u64, RecordAt)> = Vec::new();
        let mut superseded = Vec::new();
        let mut problems = Vec::new();
        for (segment_at, segment) in self.segments.iter().enumerate() {
            for (frame_at, frame) in segment.frames.iter().enumerate() {
                for (record_at, record) in frame.records.iter().enumerate() {
                    let at = RecordAt {
                        segment: segment_at,
                        frame: frame_at,
                        record: record_at,
                    };
                    match &record.kind {
                        RecordKind::HardState(state) => self.hard_state = Some(*state),
                        RecordKind::Entry => {
                            let keep = entries.partition_point(|(index, _)| *index < record.index);
                            superseded.extend(entries.drain(keep..).map(|(_, at)| at));
                            if let Some((previous, _)) = entries.last() {
                                if record.index != previous + 1 {
                                    problems.push(Problem {
                                        path: segment.path.clone(),
                                        offset: Some(record.offset),
                                        what: format!(
                                            "entry {} follows entry {previous}: entries are missing",
                                            record.index
                                        ),
                                    });
                                }
                            }
                            entries.push((record.index, at));
                        }
                    }
                }
            }
        }
        self.entries = entries.into_iter().map(|(_, at)| at).collect();
        self.superseded = superseded;
        self.problems.extend(problems);
    }
}

#[cfg(test)]
mod tests {
    use corral_wal::scan::ScannedFrame;

    use super::*;

    fn entry(index: u64, offset: u64) -> ScannedRecord {
        ScannedRecord {
            kind: RecordKind::Entry,
            index,
            term: 1,
            payload: vec![ENTRY_NORMAL],
            offset,
        }
    }

    fn segment(sequence: u64, indexes: &[u64], end: SegmentEnd) -> ScannedSegment {
        let frames = indexes
            .iter()
            .enumerate()
            .map(|(position, &index)| {
                let offset = 4096 * (position as u64 + 1);
                ScannedFrame {
                    offset,
                    body_bytes: 33,
                    records: vec![entry(index, offset + 40)],
                }
            })
            .collect();
        ScannedSegment {
            path: PathBuf::from(format!("/w/wal-{sequence}.log")),
            sequence,
            bytes: 65536,
            frames,
            end,
        }
    }

    fn indexes(scan: &LogScan) -> Vec<u64> {
        scan.entries
            .iter()
            .map(|at| scan.record(*at).index)
            .collect()
    }

    #[test]
    fn a_rewritten_index_supersedes_the_old_suffix() {
        let scan = LogScan::from_segments(
            Path::new("/w"),
            vec![
                segment(1, &[1, 2, 3], SegmentEnd::Sealed),
                segment(2, &[2, 3, 4], SegmentEnd::Clean),
            ],
        );
        assert_eq!(indexes(&scan), vec![1, 2, 3, 4]);
        assert_eq!(scan.superseded.len(), 2);
        assert_eq!(scan.record(scan.entries[1]).offset, 4096 + 40);
        assert_eq!(
            scan.segment_path(scan.entries[1]),
            Path::new("/w/wal-2.log")
        );
        assert!(scan.problems.is_empty());
        assert_eq!((scan.first_index(), scan.last_index()), (Some(1), Some(4)));
    }

    #[test]
    fn torn_tail_is_only_harmless_in_the_last_segment() {
        let torn = || SegmentEnd::TornTail {
            offset: 8192,
            bytes: 100,
        };
        let scan = LogScan::from_segments(
            Path::new("/w"),
            vec![segment(1, &[1], torn()), segment(2, &[2], torn())],
        );
        assert_eq!(
            scan.torn_tail,
            Some(TornTail {
                path: PathBuf::from("/w/wal-2.log"),
                offset: 8192,
                bytes: 100
            })
        );
        assert_eq!(
            scan.problems,
            vec![Problem {
                path: PathBuf::from("/w/wal-1.log"),
                offset: Some(8192),
                what: "100 bytes of a torn frame before the last segment".to_string(),
            }]
        );
    }

    #[test]
    fn missing_segments_and_entries_are_problems() {
        let scan = LogScan::from_segments(
            Path::new("/w"),
            vec![
                segment(1, &[1, 2], SegmentEnd::Sealed),
                segment(3, &[5], SegmentEnd::Clean),
            ],
        );
        let found: Vec<String> = scan.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            vec![
                "/w/wal-3.log at offset 0: segment sequence 3 where 2 was expected (a segment is missing)"
                    .to_string(),
                "/w/wal-3.log at offset 4136: entry 5 follows entry 2: entries are missing"
                    .to_string(),
            ]
        );
    }

    #[test]
    fn entry_payloads_decode_by_their_type_byte() {
        assert!(matches!(
            decode_entry(&[ENTRY_NORMAL]),
            Ok(EntryContent::Empty)
        ));
        assert!(matches!(
            decode_entry(&[ENTRY_CONF_CHANGE, 1, 2]),
            Ok(EntryContent::ConfChange)
        ));
        assert_eq!(
            decode_entry(&[]).err(),
            Some("empty payload: the entry type byte is missing".to_string())
        );
        assert_eq!(
            decode_entry(&[7]).err(),
            Some("unknown entry type 7".to_string())
        );
        assert!(decode_entry(&[ENTRY_NORMAL, 99]).is_err());
        let mut batch = vec![ENTRY_NORMAL];
        corral_engine::entry::encode_batch(&[], &mut batch);
        assert!(matches!(decode_entry(&batch), Ok(EntryContent::Txns(txns)) if txns.is_empty()));
    }
}
