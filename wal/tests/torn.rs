//! Torn tails are recovered; corruption anywhere else is reported, never dropped.

mod common;

use std::path::Path;

use common::*;
use corral_wal::{segment_path, HardState, LogEntry, Wal, WalError, WalOptions};

/// Writes `batches` as one append each into `dir` and returns each frame's (start, body end).
fn write_batches(dir: &Path, options: WalOptions, batches: &[Vec<LogEntry>]) -> Vec<(u64, u64)> {
    let (mut wal, _) = Wal::open(dir, options.clone()).expect("open");
    let mut frames = Vec::new();
    for batch in batches {
        let start = wal.write_position().map_or(SECTOR, |p| p.offset);
        append(&mut wal, batch, None);
        let position = wal.write_position().expect("position");
        assert_eq!(position.segment_sequence, 1, "test batches fit one segment");
        frames.push((start, start + frame_body_end(batch, false)));
    }
    frames
}

fn torn_test_batches() -> Vec<Vec<LogEntry>> {
    // Frames of one, two and three sectors, so tears land in every part of a frame.
    vec![
        entries(1, 2, 1, 300),
        entries(3, 3, 1, 2000),
        entries(6, 1, 1, 9000),
        entries(7, 4, 2, 50),
    ]
}

#[test]
fn truncating_the_last_segment_anywhere_recovers_exactly_the_whole_frames() {
    for (dir, options) in test_dirs(64 * 1024) {
        let source = dir.path().join("source");
        std::fs::create_dir(&source).expect("mkdir");
        let batches = torn_test_batches();
        let frames = write_batches(&source, options.clone(), &batches);
        let log_end = frames.last().expect("frames").1;
        // Cuts keep the segment header (a crash never shortens a renamed segment that far).
        let mut cuts: Vec<u64> = (SEGMENT_HEADER_BYTES..log_end + SECTOR)
            .step_by(89)
            .collect();
        for &(start, end) in &frames {
            cuts.extend([start, start + 1, end - 1, end, end + 1]);
        }
        for cut in cuts {
            let copy = tempfile::tempdir_in(dir.path()).expect("dir");
            copy_dir(&source, copy.path());
            let segment = segment_path(copy.path(), 1);
            std::fs::OpenOptions::new()
                .write(true)
                .open(&segment)
                .and_then(|f| f.set_len(cut))
                .expect("truncate");
            let whole = frames.iter().take_while(|&&(_, end)| end <= cut).count();
            let expected: Vec<LogEntry> = batches[..whole].concat();
            let (mut wal, recovered) =
                Wal::open(copy.path(), options.clone()).expect("open torn log");
            assert_eq!(recovered.entries, expected, "cut at {cut}");
            let torn = whole < frames.len() && cut > frames[whole].0;
            assert_eq!(recovered.truncated_tail_bytes > 0, torn, "cut at {cut}");
            assert_eq!(std::fs::metadata(&segment).expect("stat").len(), 64 * 1024);
            // Later appends work and the torn bytes never come back.
            let next_index = expected.last().map_or(1, |e| e.index + 1);
            let more = entries(next_index, 2, 3, 700);
            append(&mut wal, &more, None);
            drop(wal);
            let (_, recovered) = Wal::open(copy.path(), options.clone()).expect("reopen");
            assert_eq!(recovered.entries, [expected, more].concat(), "cut at {cut}");
            assert_eq!(recovered.truncated_tail_bytes, 0);
        }
    }
}

#[test]
fn garbage_after_the_last_frame_is_discarded_and_zeroed() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let batches = vec![entries(1, 2, 1, 100)];
        let frames = write_batches(dir.path(), options.clone(), &batches);
        let segment = segment_path(dir.path(), 1);
        let garbage: Vec<u8> = (0..5000u32).map(|i| (i % 251 + 1) as u8).collect();
        overwrite(&segment, 2 * SECTOR, &garbage);
        let (mut wal, recovered) = Wal::open(dir.path(), options.clone()).expect("open");
        assert_eq!(recovered.entries, batches[0]);
        assert_eq!(recovered.truncated_tail_bytes, 5000);
        assert!(read_file(&segment)[frames[0].1 as usize..]
            .iter()
            .all(|&b| b == 0));
        append(&mut wal, &entries(3, 1, 1, 10), None);
        drop(wal);
        let (_, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        assert_eq!(
            recovered.entries,
            [batches[0].clone(), entries(3, 1, 1, 10)].concat()
        );
        assert_eq!(recovered.truncated_tail_bytes, 0);
    }
}

#[test]
fn a_lost_or_garbled_sector_of_the_last_frame_loses_only_that_frame() {
    let batches = torn_test_batches();
    // The third frame spans sectors 4..7; damage each of its sectors in turn.
    for damaged_sector in 4..7u64 {
        for fill in [0u8, 0xA5] {
            for (dir, options) in test_dirs(64 * 1024) {
                write_batches(dir.path(), options.clone(), &batches[..3]);
                let segment = segment_path(dir.path(), 1);
                overwrite(
                    &segment,
                    damaged_sector * SECTOR,
                    &vec![fill; SECTOR as usize],
                );
                let (_, recovered) = Wal::open(dir.path(), options.clone()).expect("open");
                assert_eq!(
                    recovered.entries,
                    batches[..2].concat(),
                    "sector {damaged_sector} fill {fill}"
                );
                assert!(recovered.truncated_tail_bytes > 0);
                assert!(read_file(&segment)[4 * SECTOR as usize..]
                    .iter()
                    .all(|&b| b == 0));
            }
        }
    }
}

#[test]
fn a_torn_hard_state_write_keeps_the_previous_hard_state() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let first = HardState {
            term: 4,
            vote: 2,
            commit: 9,
        };
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            wal.append(&[], Some(&first)).expect("append");
            wal.append(
                &[],
                Some(&HardState {
                    term: 5,
                    vote: 3,
                    commit: 9,
                }),
            )
            .expect("append");
        }
        // Tear the second frame: its hard-state record loses its last bytes.
        let segment = segment_path(dir.path(), 1);
        overwrite(&segment, 2 * SECTOR + FRAME_HEADER_BYTES + 40, &[0u8; 16]);
        let (_, recovered) = Wal::open(dir.path(), options.clone()).expect("open");
        assert_eq!(recovered.hard_state, Some(first));
        assert!(recovered.truncated_tail_bytes > 0);
    }
}

#[test]
fn a_flipped_byte_in_an_early_record_is_corruption_at_its_frame() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            for batch in 0..6 {
                append(&mut wal, &entries(1 + batch * 2, 2, 1, 1000), None);
            }
        }
        assert_eq!(segment_files(dir.path()).len(), 2);
        let segment = segment_path(dir.path(), 1);
        // A payload byte of the second frame (which starts at sector 2) of the first segment.
        let offset = 2 * SECTOR + FRAME_HEADER_BYTES + RECORD_HEADER_BYTES + 17;
        let mut byte = [0u8; 1];
        byte[0] = read_file(&segment)[offset as usize] ^ 0x01;
        overwrite(&segment, offset, &byte);
        match Wal::open(dir.path(), options.clone()) {
            Err(WalError::Corrupt {
                path,
                offset,
                reason,
            }) => {
                assert_eq!(path, segment);
                assert_eq!(offset, 2 * SECTOR);
                assert!(reason.contains("checksum"), "{reason}");
            }
            other => panic!("expected Corrupt, got {:?}", other.map(|(_, r)| r)),
        }
    }
}

#[test]
fn a_damaged_frame_followed_by_a_valid_one_in_the_last_segment_is_corruption() {
    for (dir, options) in test_dirs(64 * 1024) {
        let batches = torn_test_batches();
        let frames = write_batches(dir.path(), options.clone(), &batches);
        let segment = segment_path(dir.path(), 1);
        // Damage the second frame's header; frames three and four are intact after it.
        overwrite(&segment, frames[1].0 + 10, &[0xFF]);
        match Wal::open(dir.path(), options.clone()) {
            Err(WalError::Corrupt { path, offset, .. }) => {
                assert_eq!(path, segment);
                assert_eq!(offset, frames[1].0);
            }
            other => panic!("expected Corrupt, got {:?}", other.map(|(_, r)| r)),
        }
    }
}

#[test]
fn a_torn_frame_in_a_segment_that_is_not_the_last_is_corruption() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            for batch in 0..6 {
                append(&mut wal, &entries(1 + batch, 1, 1, 3000), None);
            }
        }
        let segment = segment_path(dir.path(), 1);
        // The last frame of segment 1 starts at sector 4; cut its body short.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&segment)
            .and_then(|f| f.set_len(4 * SECTOR + 100))
            .expect("truncate");
        match Wal::open(dir.path(), options.clone()) {
            Err(WalError::Corrupt { path, offset, .. }) => {
                assert_eq!(path, segment);
                assert_eq!(offset, 4 * SECTOR);
            }
            other => panic!("expected Corrupt, got {:?}", other.map(|(_, r)| r)),
        }
    }
}

#[test]
fn a_missing_middle_segment_is_corruption() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            for batch in 0..12 {
                append(&mut wal, &entries(1 + batch, 1, 1, 3000), None);
            }
        }
        std::fs::remove_file(segment_path(dir.path(), 2)).expect("remove");
        assert!(matches!(
            Wal::open(dir.path(), options.clone()),
            Err(WalError::Corrupt { .. })
        ));
    }
}

#[test]
fn a_frame_copied_to_another_offset_is_not_accepted() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let batches = vec![entries(1, 1, 1, 10)];
        write_batches(dir.path(), options.clone(), &batches);
        let segment = segment_path(dir.path(), 1);
        let first_frame = read_file(&segment)[SECTOR as usize..2 * SECTOR as usize].to_vec();
        overwrite(&segment, 2 * SECTOR, &first_frame);
        let (_, recovered) = Wal::open(dir.path(), options.clone()).expect("open");
        assert_eq!(recovered.entries, batches[0]);
        assert!(recovered.truncated_tail_bytes > 0);
    }
}
