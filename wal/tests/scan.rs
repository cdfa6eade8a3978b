//! The read-only scan reports every frame and record, and how each segment ends, changing
//! nothing and needing no lock.

mod common;

use std::path::Path;

use common::*;
use corral_wal::scan::{scan_dir, RecordKind, ScannedSegment, SegmentEnd};
use corral_wal::{segment_path, HardState, Wal};

/// Every file of `dir` with its bytes, to show the scan changed nothing. A segment being
/// zero-filled in the background (`.tmp`) is left out: it changes on its own.
fn snapshot_dir(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("list")
        .map(|d| d.expect("dirent").path())
        .filter(|path| path.extension().is_none_or(|e| e != "tmp"))
        .map(|path| {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, read_file(&path))
        })
        .collect();
    files.sort();
    files
}

fn entry_indexes(segment: &ScannedSegment) -> Vec<u64> {
    segment
        .frames
        .iter()
        .flat_map(|frame| &frame.records)
        .filter(|record| record.kind == RecordKind::Entry)
        .map(|record| record.index)
        .collect()
}

#[test]
fn a_healthy_log_is_reported_frame_by_frame_while_it_is_open() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let hard_state = HardState {
            term: 2,
            vote: 1,
            commit: 3,
        };
        let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
        let first = entries(1, 2, 1, 100);
        append(&mut wal, &first, Some(hard_state));
        for index in 3..=6 {
            append(&mut wal, &entries(index, 1, 2, 1000), None);
        }
        // The Wal still holds its lock: the scan needs none.
        let before = snapshot_dir(dir.path());
        let segments = scan_dir(dir.path()).expect("scan");
        assert_eq!(snapshot_dir(dir.path()), before);
        assert_eq!(segments.len(), 2);
        assert_eq!(segments[0].sequence, 1);
        assert_eq!(segments[0].path, segment_path(dir.path(), 1));
        assert_eq!(segments[0].bytes, TEST_SEGMENT_BYTES);
        assert_eq!(segments[0].end, SegmentEnd::Sealed);
        assert_eq!(segments[1].end, SegmentEnd::Clean);
        assert_eq!(entry_indexes(&segments[0]), vec![1, 2, 3, 4, 5]);
        assert_eq!(entry_indexes(&segments[1]), vec![6]);
        // The first frame: two entries then the hard state, at their file offsets.
        let frame = &segments[0].frames[0];
        assert_eq!(frame.offset, SECTOR);
        assert_eq!(
            u64::from(frame.body_bytes),
            frame_body_end(&first, true) - FRAME_HEADER_BYTES
        );
        assert_eq!(frame.records.len(), 3);
        assert_eq!(frame.records[0].offset, SECTOR + FRAME_HEADER_BYTES);
        assert_eq!(frame.records[0].payload, first[0].payload);
        assert_eq!(frame.records[0].term, 1);
        assert_eq!(
            frame.records[1].offset,
            SECTOR + FRAME_HEADER_BYTES + RECORD_HEADER_BYTES + 100
        );
        assert_eq!(frame.records[2].kind, RecordKind::HardState(hard_state));
        assert_eq!(frame.records[2].payload.len(), 24);
        assert_eq!(segments[0].frames[1].offset, 2 * SECTOR);
        assert_eq!(segments[1].frames[0].offset, SECTOR);
    }
}

#[test]
fn torn_tails_and_corruption_are_reported_not_repaired() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            for index in 1..=6 {
                append(&mut wal, &entries(index, 1, 1, 1000), None);
            }
        }
        let last = segment_path(dir.path(), 2);
        overwrite(&last, 3 * SECTOR, &[9u8; 100]);
        let before = snapshot_dir(dir.path());
        let segments = scan_dir(dir.path()).expect("scan");
        assert_eq!(snapshot_dir(dir.path()), before);
        assert_eq!(
            segments[1].end,
            SegmentEnd::TornTail {
                offset: 3 * SECTOR,
                bytes: 100
            }
        );
        assert_eq!(entry_indexes(&segments[1]), vec![5, 6]);
        // A flipped byte in the first segment's second frame: reported, with what precedes it.
        let first = segment_path(dir.path(), 1);
        let offset = 2 * SECTOR + FRAME_HEADER_BYTES + RECORD_HEADER_BYTES + 3;
        overwrite(&first, offset, &[read_file(&first)[offset as usize] ^ 1]);
        let segments = scan_dir(dir.path()).expect("scan");
        match &segments[0].end {
            SegmentEnd::Corrupt { offset, reason } => {
                assert_eq!(*offset, 2 * SECTOR);
                assert!(reason.contains("checksum"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert_eq!(entry_indexes(&segments[0]), vec![1]);
        // The scan goes on past a damaged segment.
        assert_eq!(entry_indexes(&segments[1]), vec![5, 6]);
    }
}

#[test]
fn an_empty_or_missing_directory() {
    let dir = tempfile::tempdir().expect("dir");
    assert_eq!(scan_dir(dir.path()).expect("scan"), vec![]);
    assert!(scan_dir(&dir.path().join("missing")).is_err());
}
