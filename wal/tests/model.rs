//! Random sequences of appends, reopens, truncations and tail garbage against a plain model.

mod common;

use std::path::Path;

use common::*;
use corral_wal::{segment_path, HardState, LogEntry, Wal, WalOptions};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// Append `count` entries starting `back` indexes below the next one (0: plain append).
    Append {
        back: u64,
        count: u64,
        payload_bytes: usize,
        hard_state: bool,
    },
    Reopen,
    /// Crash and cut the last segment at this fraction (per mille) of its written bytes.
    Truncate {
        per_mille: u64,
    },
    /// Crash with junk written after the last frame.
    Garbage {
        bytes: usize,
    },
    /// Release segments before `last_index + 1 - back` (as after a snapshot).
    Release {
        back: u64,
    },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u64..4, 0u64..5, 0usize..3000, any::<bool>()).prop_map(|(back, count, payload_bytes, hard_state)| {
            Op::Append { back, count, payload_bytes, hard_state }
        }),
        1 => Just(Op::Reopen),
        1 => (0u64..=1000).prop_map(|per_mille| Op::Truncate { per_mille }),
        1 => (1usize..6000).prop_map(|bytes| Op::Garbage { bytes }),
        1 => (0u64..20).prop_map(|back| Op::Release { back }),
    ]
}

/// One acknowledged append and where its frame lies.
struct Written {
    entries: Vec<LogEntry>,
    hard_state: Option<HardState>,
    segment_sequence: u64,
    body_end: u64,
}

/// The model: every surviving append in order; the log is their replay.
#[derive(Default)]
struct Model {
    written: Vec<Written>,
}

impl Model {
    fn replay(&self) -> (Vec<LogEntry>, Option<HardState>) {
        let mut log: Vec<LogEntry> = Vec::new();
        let mut hard_state = None;
        for written in &self.written {
            for entry in &written.entries {
                log.retain(|e| e.index < entry.index);
                log.push(entry.clone());
            }
            hard_state = written.hard_state.or(hard_state);
        }
        (log, hard_state)
    }
}

fn check(dir: &Path, options: &WalOptions, model: &Model) -> Wal {
    let (wal, recovered) = Wal::open(dir, options.clone()).expect("open");
    let (entries, hard_state) = model.replay();
    assert_eq!(recovered.entries, entries);
    assert_eq!(recovered.hard_state, hard_state);
    assert_eq!(wal.last_index(), entries.last().map_or(0, |e| e.index));
    wal
}

fn run(ops: &[Op], dir: &Path, options: &WalOptions) {
    let mut model = Model::default();
    let mut wal = check(dir, options, &model);
    let mut term = 1;
    for op in ops {
        match *op {
            Op::Append {
                back,
                count,
                payload_bytes,
                hard_state,
            } => {
                let last = wal.last_index();
                let first = last + 1 - back.min(last);
                term += u64::from(back > 0);
                let batch = entries(first, count, term, payload_bytes);
                let hard = hard_state.then_some(HardState {
                    term,
                    vote: term % 3,
                    commit: last,
                });
                append(&mut wal, &batch, hard);
                if let Some(position) = wal.write_position().filter(|_| count > 0 || hard_state) {
                    model.written.push(Written {
                        body_end: position.offset
                            - (frame_body_end(&batch, hard_state).div_ceil(SECTOR) * SECTOR)
                            + frame_body_end(&batch, hard_state),
                        entries: batch,
                        hard_state: hard,
                        segment_sequence: position.segment_sequence,
                    });
                }
            }
            Op::Reopen => {
                drop(wal);
                wal = check(dir, options, &model);
            }
            Op::Truncate { per_mille } => {
                let Some(position) = wal.write_position() else {
                    continue;
                };
                drop(wal);
                // The cut keeps the segment header, which a crash never loses.
                let cut = SECTOR + (position.offset - SECTOR) * per_mille / 1000;
                let segment = segment_path(dir, position.segment_sequence);
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&segment)
                    .and_then(|f| f.set_len(cut))
                    .expect("cut");
                model.written.retain(|w| {
                    w.segment_sequence != position.segment_sequence || w.body_end <= cut
                });
                wal = check(dir, options, &model);
            }
            Op::Release { back } => release(&mut wal, &mut model, dir, back),
            Op::Garbage { bytes } => {
                let Some(position) = wal.write_position() else {
                    continue;
                };
                drop(wal);
                let segment = segment_path(dir, position.segment_sequence);
                let room = TEST_SEGMENT_BYTES.saturating_sub(position.offset) as usize;
                let junk: Vec<u8> = (0..bytes.min(room)).map(|i| (i % 13 + 1) as u8).collect();
                overwrite(&segment, position.offset, &junk);
                // Junk among a recycled segment's stale bytes cannot be told from them.
                let expected = if stale_end(&segment) > position.offset {
                    0
                } else {
                    junk.len() as u64
                };
                let (reopened, recovered) = Wal::open(dir, options.clone()).expect("open");
                assert_eq!(recovered.truncated_tail_bytes, expected);
                drop(reopened);
                wal = check(dir, options, &model);
            }
        }
    }
    drop(wal);
    check(dir, options, &model);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_agree_with_the_model(ops in proptest::collection::vec(op_strategy(), 1..40)) {
        for (dir, options) in test_dirs(TEST_SEGMENT_BYTES) {
            run(&ops, dir.path(), &options);
        }
    }
}

/// Releases old segments and updates the model: frames in deleted segments are gone, plus the
/// hard-state frame the Wal may have appended to keep the hard state.
fn release(wal: &mut Wal, model: &mut Model, dir: &Path, back: u64) {
    let index = wal.last_index().saturating_sub(back) + 1;
    let (full, hard_state) = model.replay();
    let before = wal.write_position();
    wal.release_before(index).expect("release");
    let after = wal.write_position();
    if after != before {
        let position = after.expect("a position after appending");
        model.written.push(Written {
            entries: Vec::new(),
            hard_state,
            segment_sequence: position.segment_sequence,
            body_end: position.offset - SECTOR + frame_body_end(&[], true),
        });
    }
    let oldest = segment_files(dir)
        .first()
        .and_then(|path| {
            path.file_stem()?
                .to_str()?
                .strip_prefix("wal-")?
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    model.written.retain(|w| w.segment_sequence >= oldest);
    // Whatever was released, the log from `index` on is what it was.
    let (kept, kept_hard_state) = model.replay();
    let from_index = |log: &[LogEntry]| {
        log.iter()
            .filter(|e| e.index >= index)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(from_index(&kept), from_index(&full));
    assert_eq!(kept_hard_state, hard_state);
}
