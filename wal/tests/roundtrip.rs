//! Round trips across restarts, roll-over, replacement and hard state.

mod common;

use common::*;
use corral_wal::{limits, HardState, LogEntryRef, Wal, WalError, WalOptions};

#[test]
fn entries_and_hard_state_survive_restarts() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let first = entries(1, 3, 1, 100);
        let second = entries(4, 2, 1, 0);
        let hard_state = HardState {
            term: 1,
            vote: 2,
            commit: 4,
        };
        {
            let (mut wal, recovered) = Wal::open(dir.path(), options.clone()).expect("open");
            assert_eq!(recovered.entries, vec![]);
            assert_eq!(recovered.hard_state, None);
            assert_eq!(wal.last_index(), 0);
            assert_eq!(wal.direct_io(), options.direct_io);
            append(&mut wal, &first, None);
            append(&mut wal, &second, Some(hard_state));
            assert_eq!(wal.last_index(), 5);
        }
        let (mut wal, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        let mut expected = first.clone();
        expected.extend(second.clone());
        assert_eq!(recovered.entries, expected);
        assert_eq!(recovered.hard_state, Some(hard_state));
        assert_eq!(recovered.truncated_tail_bytes, 0);
        assert_eq!(wal.last_index(), 5);
        // Appends continue after a restart, in the same segment.
        let third = entries(6, 1, 2, 10);
        append(&mut wal, &third, None);
        drop(wal);
        let (wal, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        expected.extend(third);
        assert_eq!(recovered.entries, expected);
        assert_eq!(recovered.hard_state, Some(hard_state));
        assert_eq!(wal.last_index(), 6);
        assert_eq!(segment_files(dir.path()).len(), 1);
    }
}

#[test]
fn each_append_starts_on_a_fresh_sector() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
        // Frames start after the segment header sector.
        append(&mut wal, &entries(1, 1, 1, 100), None);
        assert_eq!(wal.write_position().map(|p| p.offset), Some(2 * SECTOR));
        append(&mut wal, &entries(2, 1, 1, 5000), None);
        assert_eq!(wal.write_position().map(|p| p.offset), Some(4 * SECTOR));
    }
}

#[test]
fn appends_roll_over_to_new_segments() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let mut expected = Vec::new();
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            for batch in 0..20 {
                // Each frame takes one sector of the four per segment; 20 frames make 5 segments.
                let batch_entries = entries(1 + batch * 3, 3, 1, 1000);
                append(&mut wal, &batch_entries, None);
                expected.extend(batch_entries);
            }
            assert_eq!(wal.write_position().map(|p| p.segment_sequence), Some(5));
        }
        assert_eq!(segment_files(dir.path()).len(), 5);
        for file in segment_files(dir.path()) {
            assert_eq!(
                std::fs::metadata(&file).expect("stat").len(),
                TEST_SEGMENT_BYTES
            );
        }
        let (wal, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        assert_eq!(recovered.entries, expected);
        assert_eq!(wal.last_index(), 60);
        // A spare segment prepared in the background before the restart is cleaned up at open.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|d| {
                d.expect("dirent")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert!(
            names.iter().all(|name| !name.ends_with(".tmp")),
            "{names:?}"
        );
    }
}

#[test]
fn a_frame_larger_than_a_segment_gets_a_segment_of_its_own() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let small = entries(1, 1, 1, 10);
        let big = entries(2, 1, 1, 40_000);
        let after = entries(3, 1, 1, 10);
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            append(&mut wal, &small, None);
            append(&mut wal, &big, None);
            append(&mut wal, &after, None);
        }
        let files = segment_files(dir.path());
        assert_eq!(files.len(), 3);
        // The frame's ten sectors plus the segment header and the seal.
        assert_eq!(std::fs::metadata(&files[1]).expect("stat").len(), 49_152);
        let (_, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        assert_eq!(recovered.entries, [small, big, after].concat());
    }
}

#[test]
fn appending_from_a_lower_index_replaces_the_rest_of_the_log() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let original = entries(1, 30, 1, 1500);
        let replacement = entries(6, 2, 2, 20);
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            for chunk in original.chunks(2) {
                append(&mut wal, chunk, None);
            }
            assert!(segment_files(dir.path()).len() > 3);
            append(&mut wal, &replacement, None);
            assert_eq!(wal.last_index(), 7);
        }
        let (mut wal, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        let expected = [original[..5].to_vec(), replacement.clone()].concat();
        assert_eq!(recovered.entries, expected);
        assert_eq!(wal.last_index(), 7);
        // Replacing from below the first entry replaces everything.
        let restart = entries(1, 1, 3, 7);
        append(&mut wal, &restart, None);
        drop(wal);
        let (_, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        assert_eq!(recovered.entries, restart);
    }
}

#[test]
fn a_log_may_start_at_any_index() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let later = entries(1000, 3, 4, 8);
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            append(&mut wal, &later, None);
        }
        let (wal, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        assert_eq!(recovered.entries, later);
        assert_eq!(wal.last_index(), 1002);
    }
}

#[test]
fn the_last_hard_state_wins_across_segments() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            for term in 1..=10 {
                let hard_state = HardState {
                    term,
                    vote: term % 3,
                    commit: 0,
                };
                wal.append(&[], Some(&hard_state))
                    .expect("append hard state");
            }
            append(
                &mut wal,
                &entries(1, 1, 10, 3),
                Some(HardState {
                    term: 10,
                    vote: 1,
                    commit: 1,
                }),
            );
        }
        assert_eq!(segment_files(dir.path()).len(), 3);
        let (_, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        assert_eq!(
            recovered.hard_state,
            Some(HardState {
                term: 10,
                vote: 1,
                commit: 1
            })
        );
        assert_eq!(recovered.entries, entries(1, 1, 10, 3));
    }
}

#[test]
fn an_empty_append_writes_nothing() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
        wal.append(&[], None).expect("empty append");
        assert_eq!(wal.write_position(), None);
        assert!(segment_files(dir.path()).is_empty());
    }
}

#[test]
fn invalid_appends_are_rejected_and_change_nothing() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
        let zero = [LogEntryRef {
            index: 0,
            term: 1,
            payload: b"",
        }];
        assert!(matches!(
            wal.append(&zero, None),
            Err(WalError::NotContiguous { index: 0, .. })
        ));
        append(&mut wal, &entries(1, 2, 1, 1), None);
        let gap = entries(4, 1, 1, 1);
        assert!(matches!(
            wal.append(&refs(&gap), None),
            Err(WalError::NotContiguous { index: 4, .. })
        ));
        let holey = [entry(3, 1, 1), entry(5, 1, 1)];
        assert!(matches!(
            wal.append(&refs(&holey), None),
            Err(WalError::NotContiguous { index: 5, .. })
        ));
        let huge = vec![1u8; limits::ENTRY_BYTES_MAX as usize + 1];
        let too_large = [LogEntryRef {
            index: 3,
            term: 1,
            payload: &huge,
        }];
        assert!(matches!(
            wal.append(&too_large, None),
            Err(WalError::EntryTooLarge { index: 3, .. })
        ));
        // One append over the frame limit: five maximal entries sharing one payload buffer.
        let max_payload = vec![2u8; limits::ENTRY_BYTES_MAX as usize];
        let too_many: Vec<LogEntryRef<'_>> = (3..8)
            .map(|index| LogEntryRef {
                index,
                term: 1,
                payload: &max_payload,
            })
            .collect();
        assert_eq!(
            wal.append(&too_many, None),
            Err(WalError::FrameTooLarge {
                bytes: (FRAME_HEADER_BYTES + 5 * (limits::ENTRY_BYTES_MAX + 32)).div_ceil(SECTOR)
                    * SECTOR,
                max: limits::FRAME_BYTES_MAX
            })
        );
        assert_eq!(wal.last_index(), 2);
        // The log is still usable after rejected appends.
        append(&mut wal, &entries(3, 1, 1, 1), None);
        drop(wal);
        let (_, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        assert_eq!(recovered.entries, entries(1, 3, 1, 1));
    }
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let (_wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
        assert!(matches!(
            Wal::open(dir.path(), options.clone()),
            Err(WalError::Locked { .. })
        ));
    }
}

#[test]
fn segment_sizes_that_are_not_whole_sectors_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    for segment_bytes in [0, 4096, 10_000, 2 * 1024 * 1024 * 1024] {
        let options = WalOptions {
            segment_bytes,
            direct_io: false,
            force_sync: true,
            faults: None,
        };
        assert!(matches!(
            Wal::open(dir.path(), options.clone()),
            Err(WalError::InvalidOptions { .. })
        ));
    }
}

#[test]
fn open_creates_missing_directories_and_removes_unfinished_segments() {
    let root = tempfile::tempdir().expect("dir");
    let dir = root.path().join("a").join("b");
    let options = WalOptions {
        segment_bytes: TEST_SEGMENT_BYTES,
        direct_io: false,
        force_sync: true,
        faults: None,
    };
    {
        let (mut wal, _) = Wal::open(&dir, options.clone()).expect("open");
        append(&mut wal, &entries(1, 1, 1, 1), None);
    }
    let leftover = dir.join("wal-00000000000000000002.log.tmp");
    std::fs::write(&leftover, [1u8; 100]).expect("write leftover");
    let (_, recovered) = Wal::open(&dir, options.clone()).expect("reopen");
    assert_eq!(recovered.entries, entries(1, 1, 1, 1));
    assert!(!leftover.exists());
}

#[test]
fn releasing_before_an_index_deletes_only_old_segments_and_keeps_the_hard_state() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let hard_state = HardState {
            term: 1,
            vote: 3,
            commit: 2,
        };
        let log = entries(1, 40, 1, 1500);
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            // Twenty one-sector frames of two entries, four per segment: segment 1 holds
            // entries 1 to 8 and the only hard state, segment 5 holds 33 to 40 and is full.
            append(&mut wal, &log[..2], Some(hard_state));
            for chunk in log[2..].chunks(2) {
                append(&mut wal, chunk, None);
            }
            assert_eq!(segment_files(dir.path()).len(), 5);
            assert_eq!(wal.release_before(1).expect("release nothing"), 0);
            // Segment 1 goes; its hard state is first appended again, rolling to segment 6.
            assert_eq!(wal.release_before(13).expect("release"), 1);
            assert_eq!(segment_files(dir.path()).len(), 5);
            assert_eq!(wal.write_position().map(|p| p.segment_sequence), Some(6));
        }
        let (mut wal, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        assert_eq!(recovered.hard_state, Some(hard_state));
        assert_eq!(recovered.entries, log[8..].to_vec());
        assert_eq!(wal.last_index(), 40);
        // Releasing everything keeps the segment being written, which holds no entries here.
        assert_eq!(wal.release_before(1000).expect("release all"), 4);
        assert_eq!(segment_files(dir.path()).len(), 1);
        drop(wal);
        let (mut wal, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        assert_eq!(recovered.hard_state, Some(hard_state));
        assert_eq!(recovered.entries, vec![]);
        append(&mut wal, &entries(41, 1, 1, 5), None);
    }
}

#[test]
fn releasing_keeps_segments_with_entries_at_or_after_the_index() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
        for index in 1..=12 {
            append(&mut wal, &entries(index, 1, 1, 3000), None);
        }
        // Segment 1 holds entries 1 to 4, segment 2 holds 5 to 8, segment 3 holds 9 to 12.
        assert_eq!(segment_files(dir.path()).len(), 3);
        assert_eq!(wal.release_before(5).expect("release"), 1);
        assert_eq!(wal.release_before(8).expect("release"), 0);
        drop(wal);
        let (_, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        assert_eq!(recovered.entries, entries(5, 8, 1, 3000));
    }
}

#[test]
fn the_smallest_segment_holds_one_small_frame() {
    for (dir, options) in test_dirs(limits::SEGMENT_BYTES_MIN) {
        let written = entries(1, 5, 1, 1000);
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            for one in written.chunks(1) {
                append(&mut wal, one, None);
            }
            assert_eq!(wal.write_position().map(|p| p.segment_sequence), Some(5));
        }
        let (_, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        assert_eq!(recovered.entries, written);
    }
}
