//! Released segments are recycled; their stale frames never confuse recovery, a crash at any
//! point of a roll loses nothing, and corruption inside a recycled segment is still caught.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use corral_wal::{
    limits, segment_path, FaultPlan, FileOp, FileOpInfo, LogEntry, Trigger, Wal, WalError,
    WalOptions,
};

fn spare_files(dir: &Path) -> Vec<PathBuf> {
    let mut spares: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list")
        .map(|d| d.expect("dirent").path())
        .filter(|p| p.extension().is_some_and(|e| e == "spare"))
        .collect();
    spares.sort();
    spares
}

/// Appends one-sector frames of one entry each (four fill a test segment), from `first`.
fn append_frames(wal: &mut Wal, first: u64, count: u64) -> Vec<LogEntry> {
    let written = entries(first, count, 1, 1000);
    for one in written.chunks(1) {
        append(wal, one, None);
    }
    written
}

/// A log of segments 1 and 2 full (entries 1 to 8), segment 3 holding entries 9 and 10, with
/// segments 1 and 2 released to spares. Returns the entries kept.
fn log_with_two_spares(dir: &Path, options: &WalOptions) -> Vec<LogEntry> {
    let (mut wal, _) = Wal::open(dir, options.clone()).expect("open");
    let all = append_frames(&mut wal, 1, 10);
    assert_eq!(wal.release_before(9).expect("release"), 2);
    assert_eq!(segment_files(dir), vec![segment_path(dir, 3)]);
    assert_eq!(spare_files(dir).len(), 2);
    all[8..].to_vec()
}

#[test]
fn released_segments_are_reused_and_their_stale_frames_ignored() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let mut expected = log_with_two_spares(dir.path(), &options);
        let spare_inodes: Vec<u64> = spare_files(dir.path())
            .iter()
            .map(|p| std::fs::metadata(p).expect("stat").ino())
            .collect();
        let (mut wal, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        assert_eq!(recovered.entries, expected);
        // Two frames fill segment 3; the third rolls into a recycled file holding stale frames
        // of entries 1 to 4, of which it overwrites only the first.
        expected.extend(append_frames(&mut wal, 11, 3));
        assert_eq!(wal.write_position().map(|p| p.segment_sequence), Some(4));
        let inode = std::fs::metadata(segment_path(dir.path(), 4))
            .expect("stat")
            .ino();
        assert!(
            spare_inodes.contains(&inode),
            "segment 4 is a recycled file"
        );
        assert_eq!(spare_files(dir.path()).len(), 1);
        assert!(stale_end(&segment_path(dir.path(), 4)) == TEST_SEGMENT_BYTES);
        drop(wal);
        let (mut wal, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        assert_eq!(recovered.entries, expected);
        assert_eq!(recovered.truncated_tail_bytes, 0);
        // Appends go on in the recycled segment and across further rolls.
        expected.extend(append_frames(&mut wal, 14, 9));
        drop(wal);
        let (_, recovered) = Wal::open(dir.path(), options.clone()).expect("reopen");
        assert_eq!(recovered.entries, expected);
        assert_eq!(recovered.truncated_tail_bytes, 0);
    }
}

#[test]
fn at_most_the_configured_number_of_spares_is_kept() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
        append_frames(
            &mut wal,
            1,
            4 * (limits::RECYCLED_SEGMENTS_MAX as u64 + 3) + 1,
        );
        let released = wal
            .release_before(wal.last_index())
            .expect("release all but the last");
        assert_eq!(released, limits::RECYCLED_SEGMENTS_MAX + 3);
        assert_eq!(spare_files(dir.path()).len(), limits::RECYCLED_SEGMENTS_MAX);
        assert_eq!(segment_files(dir.path()).len(), 1);
    }
}

#[test]
fn a_corrupt_frame_before_the_tail_of_a_recycled_segment_is_detected() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        log_with_two_spares(dir.path(), &options);
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            append_frames(&mut wal, 11, 5);
            assert_eq!(wal.write_position().map(|p| p.segment_sequence), Some(4));
        }
        // Segment 4 (recycled) holds entries 13 to 15 at sectors 1 to 3.
        let segment = segment_path(dir.path(), 4);
        let offset = 2 * SECTOR + FRAME_HEADER_BYTES + RECORD_HEADER_BYTES + 5;
        let flipped = [read_file(&segment)[offset as usize] ^ 0x40];
        overwrite(&segment, offset, &flipped);
        match Wal::open(dir.path(), options.clone()) {
            Err(WalError::Corrupt {
                path,
                offset,
                reason,
            }) => {
                assert_eq!(path, segment);
                assert_eq!(offset, 2 * SECTOR);
                assert!(reason.contains("valid frame follows"), "{reason}");
            }
            other => panic!("expected Corrupt, got {:?}", other.map(|(_, r)| r)),
        }
    }
}

#[test]
fn a_torn_last_frame_of_a_recycled_segment_is_a_torn_tail() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let mut expected = log_with_two_spares(dir.path(), &options);
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            // Entries 11 and 12 fill segment 3; 13 goes to sector 1 of recycled segment 4.
            expected.extend(append_frames(&mut wal, 11, 3));
            // The last frame spans sectors 2 to 4 of segment 4; its last sector is lost.
            append(&mut wal, &entries(14, 1, 1, 9000), None);
            assert_eq!(wal.write_position().map(|p| p.segment_sequence), Some(4));
        }
        let segment = segment_path(dir.path(), 4);
        overwrite(&segment, 4 * SECTOR, &vec![0u8; SECTOR as usize]);
        let (_, recovered) = Wal::open(dir.path(), options.clone()).expect("open");
        assert_eq!(indexes(&recovered.entries), indexes(&expected));
        assert_eq!(recovered.entries, expected);
        assert_eq!(recovered.truncated_tail_bytes, 3 * SECTOR);
        assert!(
            read_file(&segment)[2 * SECTOR as usize..5 * SECTOR as usize]
                .iter()
                .all(|&b| b == 0)
        );
    }
}

#[test]
fn a_segment_missing_its_seal_is_corruption_unless_it_is_the_last() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            append_frames(&mut wal, 1, 5);
        }
        // Segment 1 holds frames at sectors 1 to 4 and its seal at sector 5.
        let segment = segment_path(dir.path(), 1);
        let sealed = read_file(&segment);
        overwrite(&segment, 5 * SECTOR, &vec![0u8; SECTOR as usize]);
        match Wal::open(dir.path(), options.clone()) {
            Err(WalError::Corrupt { path, offset, .. }) => {
                assert_eq!(path, segment);
                assert_eq!(offset, 5 * SECTOR);
            }
            other => panic!("expected Corrupt, got {:?}", other.map(|(_, r)| r)),
        }
        // A sealed last segment (a crash right after sealing) is fine: appends roll on.
        overwrite(&segment, 0, &sealed);
        std::fs::remove_file(segment_path(dir.path(), 2)).expect("remove");
        let (mut wal, recovered) = Wal::open(dir.path(), options.clone()).expect("open");
        assert_eq!(recovered.entries, entries(1, 4, 1, 1000));
        append_frames(&mut wal, 5, 1);
        assert_eq!(wal.write_position().map(|p| p.segment_sequence), Some(2));
        drop(wal);
        let (_, recovered) = Wal::open(dir.path(), options.clone()).expect("open");
        assert_eq!(recovered.entries, entries(1, 5, 1, 1000));
    }
}

/// A plan failing the `k`-th file operation of any kind after it is armed: what is on disk then
/// is what a crash at that point of the roll would leave (every earlier step done, that one
/// not).
fn fail_kth_operation(k: u64) -> Arc<FaultPlan> {
    let count = Arc::new(AtomicU64::new(0));
    let ops = [
        FileOp::CreateSegment,
        FileOp::Open,
        FileOp::Write,
        FileOp::Sync,
        FileOp::SyncDir,
        FileOp::Rename,
        FileOp::Remove,
        FileOp::Read,
    ];
    let mut plan = FaultPlan::new();
    for op in ops {
        let count = count.clone();
        let predicate = move |_: &FileOpInfo| count.fetch_add(1, Ordering::SeqCst) + 1 == k;
        plan = plan.fail(op, Trigger::When(Box::new(predicate)), libc::EIO);
    }
    plan.disarm();
    Arc::new(plan)
}

/// For every operation of the rolling append in turn: crash there, reopen, and check that the
/// acknowledged entries are exactly what comes back and that appends go on.
fn crash_at_every_point_of_a_roll(source: &Path, options: &WalOptions, acked: &[LogEntry]) {
    let next_index = acked.last().map_or(1, |e| e.index + 1);
    for k in 1.. {
        assert!(k < 100, "a roll takes a bounded number of operations");
        let copy = tempfile::tempdir().expect("dir");
        copy_dir(source, copy.path());
        let plan = fail_kth_operation(k);
        let faulty = WalOptions {
            faults: Some(plan.clone()),
            ..options.clone()
        };
        let (mut wal, _) = Wal::open(copy.path(), faulty).expect("open");
        plan.arm();
        let rolling = entries(next_index, 1, 1, 1000);
        let done = wal.append(&refs(&rolling), None).is_ok();
        drop(wal);
        let (mut wal, recovered) = Wal::open(copy.path(), options.clone()).expect("reopen");
        // The failed append is all or nothing: present only if its frame was written whole
        // (a crash between the frame's write and its sync may keep it).
        let kept = done || recovered.entries.len() > acked.len();
        let mut expected = acked.to_vec();
        if kept {
            expected.extend(rolling);
        }
        assert_eq!(
            indexes(&recovered.entries),
            indexes(&expected),
            "crash at operation {k}"
        );
        assert_eq!(recovered.entries, expected, "crash at operation {k}");
        expected.extend(append_frames(&mut wal, next_index + u64::from(kept), 5));
        drop(wal);
        let (_, recovered) = Wal::open(copy.path(), options.clone()).expect("reopen");
        assert_eq!(
            indexes(&recovered.entries),
            indexes(&expected),
            "crash at operation {k}"
        );
        assert_eq!(recovered.entries, expected, "crash at operation {k}");
        if done {
            return;
        }
    }
}

#[test]
fn a_crash_at_any_point_of_a_roll_into_a_fresh_segment_loses_nothing() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let acked = {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            append_frames(&mut wal, 1, 4)
        };
        crash_at_every_point_of_a_roll(dir.path(), &options, &acked);
    }
}

#[test]
fn a_crash_at_any_point_of_a_roll_into_a_recycled_segment_loses_nothing() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let mut acked = log_with_two_spares(dir.path(), &options);
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            acked.extend(append_frames(&mut wal, 11, 2));
        }
        crash_at_every_point_of_a_roll(dir.path(), &options, &acked);
    }
}

#[test]
fn a_damaged_header_of_the_last_frame_of_a_recycled_segment_is_a_torn_tail() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let mut expected = log_with_two_spares(dir.path(), &options);
        {
            let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
            expected.extend(append_frames(&mut wal, 11, 3));
            append(&mut wal, &entries(14, 1, 1, 9000), None);
        }
        // The record count of the last frame's header (sectors 2 to 4 of segment 4) is hit:
        // its checksum fails, but it still names its segment, salt and offset.
        let segment = segment_path(dir.path(), 4);
        let at = 2 * SECTOR + 12;
        overwrite(&segment, at, &[read_file(&segment)[at as usize] ^ 0x02]);
        let (_, recovered) = Wal::open(dir.path(), options.clone()).expect("open");
        assert_eq!(indexes(&recovered.entries), indexes(&expected));
        assert_eq!(recovered.truncated_tail_bytes, 3 * SECTOR);
    }
}
