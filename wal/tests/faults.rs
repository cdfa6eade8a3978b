//! Failed appends through injected faults: acknowledged frames survive, the failed append is an
//! error, `repair` lets appends go on, and a reopen recovers exactly what was acknowledged.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use corral_wal::{
    FaultPlan, FileOp, FileOpInfo, LogEntry, Trigger, Wal, WalError, WalOptions, WritePosition,
};

/// A one-sector frame (four fit a test segment).
const SMALL_PAYLOAD: usize = 1000;
/// A three-sector frame, so a torn write of it can keep a whole first sector.
const LARGE_PAYLOAD: usize = 9000;

/// Where in the log a fault is tried.
struct Case {
    name: &'static str,
    /// Acknowledged one-sector frames before the failing append (4 fills the first segment, so
    /// the failing append rolls).
    acked_frames: u64,
    /// Release every full segment before the failing append (so the roll recycles a spare).
    recycle: bool,
    /// Arm the plan before the acknowledged appends (its faults cannot hit them), so that the
    /// background preparation of segment 2 already fails.
    arm_early: bool,
    failing_payload: usize,
    plan: fn() -> FaultPlan,
}

fn on(op: FileOp, predicate: fn(&FileOpInfo) -> bool, errno: i32) -> FaultPlan {
    FaultPlan::new().fail(op, Trigger::When(Box::new(predicate)), errno)
}

fn names_segment_2(info: &FileOpInfo) -> bool {
    info.path
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with("wal-00000000000000000002.log"))
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "frame write fails",
            acked_frames: 2,
            recycle: false,
            failing_payload: SMALL_PAYLOAD,
            arm_early: false,
            plan: || on(FileOp::Write, |i| i.has_extension("log"), libc::EIO),
        },
        Case {
            name: "frame write torn after one sector",
            acked_frames: 2,
            recycle: false,
            failing_payload: LARGE_PAYLOAD,
            arm_early: false,
            plan: || {
                let trigger = Trigger::When(Box::new(|i: &FileOpInfo| i.has_extension("log")));
                FaultPlan::new().tear(trigger, SECTOR, libc::ENOSPC)
            },
        },
        Case {
            name: "fdatasync after the frame fails",
            acked_frames: 2,
            recycle: false,
            failing_payload: LARGE_PAYLOAD,
            arm_early: false,
            plan: || on(FileOp::Sync, |i| i.has_extension("log"), libc::EIO),
        },
        Case {
            name: "frame write into a freshly rolled segment fails",
            acked_frames: 4,
            recycle: false,
            failing_payload: SMALL_PAYLOAD,
            arm_early: false,
            plan: || {
                on(
                    FileOp::Write,
                    |i| names_segment_2(i) && i.has_extension("log"),
                    libc::EIO,
                )
            },
        },
        Case {
            name: "seal write fails",
            acked_frames: 4,
            recycle: false,
            failing_payload: LARGE_PAYLOAD,
            arm_early: false,
            // The seal is the only one-sector write of this roll (the frame has three).
            plan: || {
                on(
                    FileOp::Write,
                    |i| i.has_extension("log") && i.bytes == SECTOR,
                    libc::EIO,
                )
            },
        },
        Case {
            name: "zero-filling the next segment runs out of space",
            acked_frames: 4,
            recycle: false,
            failing_payload: SMALL_PAYLOAD,
            arm_early: true,
            plan: || on(FileOp::Write, names_segment_2, libc::ENOSPC),
        },
        Case {
            name: "creating the next segment fails",
            acked_frames: 4,
            recycle: false,
            failing_payload: SMALL_PAYLOAD,
            arm_early: true,
            plan: || on(FileOp::CreateSegment, names_segment_2, libc::EIO),
        },
        Case {
            name: "renaming the next segment into place fails",
            acked_frames: 4,
            recycle: false,
            failing_payload: SMALL_PAYLOAD,
            arm_early: false,
            plan: || on(FileOp::Rename, |_| true, libc::EIO),
        },
        Case {
            name: "syncing the directory after the rename fails",
            acked_frames: 4,
            recycle: false,
            failing_payload: SMALL_PAYLOAD,
            arm_early: false,
            plan: || on(FileOp::SyncDir, |_| true, libc::EIO),
        },
        Case {
            name: "opening the new segment fails",
            acked_frames: 4,
            recycle: false,
            failing_payload: SMALL_PAYLOAD,
            arm_early: false,
            plan: || on(FileOp::Open, |i| i.has_extension("log"), libc::EIO),
        },
        Case {
            name: "writing a recycled segment's new header fails",
            acked_frames: 8,
            recycle: true,
            failing_payload: SMALL_PAYLOAD,
            arm_early: false,
            plan: || on(FileOp::Write, |i| i.has_extension("spare"), libc::EIO),
        },
    ]
}

fn with_plan(options: &WalOptions, plan: &Arc<FaultPlan>) -> WalOptions {
    WalOptions {
        faults: Some(plan.clone()),
        ..options.clone()
    }
}

/// Appends `count` one-sector frames of one entry each, from index `first`.
fn append_frames(wal: &mut Wal, first: u64, count: u64) -> Vec<LogEntry> {
    let written = entries(first, count, 1, SMALL_PAYLOAD);
    for one in written.chunks(1) {
        append(wal, one, None);
    }
    written
}

fn run_case(case: &Case, dir: &Path, options: &WalOptions) {
    let plan = Arc::new((case.plan)());
    if !case.arm_early {
        plan.disarm();
    }
    let (mut wal, _) = Wal::open(dir, with_plan(options, &plan)).expect("open");
    let mut acked = append_frames(&mut wal, 1, case.acked_frames);
    if case.recycle {
        let released = wal.release_before(wal.last_index()).expect("release");
        assert!(released > 0, "{}", case.name);
        acked.retain(|e| e.index > 4 * released as u64);
        // A fresh Wal has no background spare, so the roll must recycle.
        drop(wal);
        wal = Wal::open(dir, with_plan(options, &plan)).expect("reopen").0;
    }
    let before = wal.write_position().expect("a position");
    plan.arm();
    let failing = entries(case.acked_frames + 1, 1, 1, case.failing_payload);
    let error = wal
        .append(&refs(&failing), None)
        .expect_err("the append must fail");
    assert!(
        matches!(error, WalError::Io { .. }),
        "{}: {error}",
        case.name
    );
    assert!(plan.injected() >= 1, "{}", case.name);
    assert!(wal.is_poisoned(), "{}", case.name);
    assert_eq!(
        wal.append(&refs(&failing), None),
        Err(WalError::Poisoned),
        "{}",
        case.name
    );
    assert_eq!(wal.release_before(1), Err(WalError::Poisoned));
    check_crash_before_repair(case, dir, options, &acked, &failing);
    // While the fault lasts, repair may fail; it then stays poisoned. Once it passes, it works.
    if wal.repair().is_err() {
        assert!(wal.is_poisoned(), "{}", case.name);
    }
    plan.disarm();
    wal.repair().expect("repair");
    assert!(!wal.is_poisoned(), "{}", case.name);
    // Appends go on right after the last acknowledged frame (in the next segment if the roll
    // itself got through).
    let after = wal.write_position().expect("a position");
    let rolled = WritePosition {
        segment_sequence: before.segment_sequence + 1,
        offset: SECTOR,
    };
    assert!(
        after == before || after == rolled,
        "{}: {after:?}",
        case.name
    );
    let later = append_frames(&mut wal, case.acked_frames + 1, 6);
    drop(wal);
    let (_, recovered) = Wal::open(dir, options.clone()).expect("reopen");
    assert_eq!(recovered.entries, [acked, later].concat(), "{}", case.name);
    assert_eq!(recovered.truncated_tail_bytes, 0, "{}", case.name);
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .expect("list")
        .map(|d| d.expect("dirent").file_name())
        .filter(|name| name.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{}: {leftovers:?}", case.name);
}

/// A crash right after the failure (before any repair) loses nothing acknowledged. The failed
/// frame itself may survive only where its write fully happened and only its sync failed.
fn check_crash_before_repair(
    case: &Case,
    dir: &Path,
    options: &WalOptions,
    acked: &[LogEntry],
    failing: &[LogEntry],
) {
    let copy = tempfile::tempdir().expect("dir");
    copy_dir(dir, copy.path());
    let (_, recovered) = Wal::open(copy.path(), options.clone()).expect("open the copy");
    let with_failed = [acked, failing].concat();
    let may_keep_failed = case.name.starts_with("fdatasync");
    assert!(
        recovered.entries == acked || (may_keep_failed && recovered.entries == with_failed),
        "{}: {:?}",
        case.name,
        recovered
            .entries
            .iter()
            .map(|e| e.index)
            .collect::<Vec<_>>()
    );
}

#[test]
fn every_fault_point_keeps_acknowledged_frames_and_repair_resumes_appends() {
    for case in cases() {
        for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
            run_case(&case, dir.path(), &options);
        }
    }
}

#[test]
fn repair_of_a_healthy_log_does_nothing_and_counts_appended_bytes() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
        assert!(!wal.is_poisoned());
        wal.repair().expect("repair of a healthy log");
        assert_eq!(wal.appended_bytes(), 0);
        append_frames(&mut wal, 1, 5);
        append(&mut wal, &entries(6, 1, 1, LARGE_PAYLOAD), None);
        // Five one-sector frames and a three-sector one; the seal and headers are not counted.
        assert_eq!(wal.appended_bytes(), 8 * SECTOR);
    }
}

#[test]
fn a_fault_on_the_nth_write_fails_only_that_append() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        let nth = Arc::new(FaultPlan::new().fail(FileOp::Write, Trigger::Nth(3), libc::EIO));
        let options = with_plan(&options, &nth);
        let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
        // Writes so far: none. The first append creates segment 1 inline: its zero-fill and
        // header are writes 1 and 2, the frame is write 3.
        let first = entries(1, 1, 1, 10);
        assert!(wal.append(&refs(&first), None).is_err());
        wal.repair().expect("repair");
        append(&mut wal, &first, None);
        append(&mut wal, &entries(2, 1, 1, 10), None);
        assert_eq!(nth.injected(), 1);
        drop(wal);
        let (_, recovered) = Wal::open(dir.path(), options).expect("reopen");
        assert_eq!(recovered.entries, entries(1, 2, 1, 10));
    }
}

#[test]
fn without_force_sync_a_frame_is_written_but_never_synced() {
    for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
        // Every sync of a frame fails: frames lie after the segment's header sector.
        let frame_syncs_fail = || {
            Arc::new(FaultPlan::new().fail(
                FileOp::Sync,
                Trigger::When(Box::new(|info| {
                    info.has_extension("log") && info.offset >= SECTOR
                })),
                libc::EIO,
            ))
        };
        let synced_dir = tempfile::tempdir().expect("dir");
        let synced_plan = frame_syncs_fail();
        let synced = with_plan(&options, &synced_plan);
        let (mut wal, _) = Wal::open(synced_dir.path(), synced).expect("open");
        assert!(wal.append(&refs(&entries(1, 1, 1, 10)), None).is_err());
        assert_eq!(synced_plan.injected(), 1, "the plan hits the frame's sync");

        let plan = frame_syncs_fail();
        let unsynced = WalOptions {
            force_sync: false,
            ..with_plan(&options, &plan)
        };
        let (mut wal, _) = Wal::open(dir.path(), unsynced.clone()).expect("open");
        // Three frames: a fourth would fill the segment, and a seal is still synced.
        let written = append_frames(&mut wal, 1, 3);
        assert_eq!(plan.injected(), 0, "no frame was synced");
        drop(wal);
        let (_, recovered) = Wal::open(dir.path(), unsynced).expect("reopen");
        assert_eq!(recovered.entries, written);
    }
}
