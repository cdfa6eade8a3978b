//! Publishing a new state root from the pipeline (shard 0) to the shards, at a million znodes.
//!
//! `cargo bench -p corral-bench --bench root_publish`
//!
//! What `Pipeline::publish` (net/src/server/pipeline.rs) does after each applied batch: wrap a
//! clone of its state in an `Arc`, send it with the batch's watch triggers and an acknowledgement
//! channel to every shard over its bounded flume channel, and wait until each shard
//! (`Shard::handle` in shard.rs) has swapped in the new root, dropping its old one, and
//! acknowledged. Neither function can be called from outside `corral-net` (both are private and
//! need a running server), so this bench repeats their steps with the same types and channels:
//! shard 0's own swap is done inline (it runs on the pipeline's core), the other shards are one
//! thread each (`available_parallelism` − 1 of them, at least one). The real shards receive with
//! glommio's `recv_async`; here they block in `recv`, so a wake-up is a futex rather than a
//! glommio executor's eventfd. The second message of a publication (`Complete`, the replies) is
//! not sent.
//!
//! - `clone_root`: `Arc::new(state.clone())` and dropping it: the pipeline's part alone.
//! - `round_trip/unchanged`: a publication when the tree did not change since the last one.
//! - `round_trip/after_set`: one setData applied (untimed) before each publication, so each
//!   shard's old root is the last owner of the nodes the write copied and frees them before it
//!   acknowledges, as a real shard does.

use std::hint::black_box;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use corral_engine::state::State;
use corral_engine::types::{EventType, OpResult, Txn, WatchTrigger, WriteOp};
use corral_net::limits::PUBLISH_QUEUE_MAX;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

mod support;
use support::{million_node_state, scattered_leaf, TIME_MS, VALUE_BYTES};

/// `ShardMessage::Publish` without the parts of the enum this bench does not send.
struct Publication {
    state: Arc<State>,
    triggers: Arc<Vec<WatchTrigger>>,
    applied: flume::Sender<()>,
}

/// A thread standing for one shard: keeps the newest root, acknowledges each publication.
fn spawn_shard(inbox: flume::Receiver<Publication>, initial: Arc<State>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut root = initial;
        while let Ok(publication) = inbox.recv() {
            // The old root is dropped here, before the acknowledgement, as in `Shard::handle`.
            root = publication.state;
            black_box(publication.triggers.len());
            let _ = publication.applied.send(());
        }
        drop(root);
    })
}

/// The pipeline's side: its state, its copy of shard 0's root, the other shards' channels.
struct Publisher {
    state: State,
    own_root: Arc<State>,
    outboxes: Vec<flume::Sender<Publication>>,
    shards: Vec<JoinHandle<()>>,
    writes: u64,
}

impl Publisher {
    fn start(state: State) -> Publisher {
        let others = std::thread::available_parallelism()
            .map_or(1, |cores| cores.get().saturating_sub(1))
            .max(1);
        let own_root = Arc::new(state.clone());
        let mut outboxes = Vec::new();
        let mut shards = Vec::new();
        for _ in 0..others {
            let (outbox, inbox) = flume::bounded(PUBLISH_QUEUE_MAX);
            outboxes.push(outbox);
            shards.push(spawn_shard(inbox, own_root.clone()));
        }
        Publisher {
            state,
            own_root,
            outboxes,
            shards,
            writes: 0,
        }
    }

    /// One setData on a scattered leaf, as the batch before a publication would apply it.
    fn apply_one_set(&mut self) -> WatchTrigger {
        let path = scattered_leaf(self.writes);
        self.writes += 1;
        let txn = Txn {
            session_id: 0x0100_0000_0000_0001,
            cxid: 1,
            time_ms: TIME_MS,
            auth: Vec::new(),
            op: WriteOp::SetData {
                path,
                data: Arc::from(vec![b'w'; VALUE_BYTES]),
                version: -1,
            },
        };
        let applied = self.state.apply(&txn);
        assert!(
            matches!(applied.result, OpResult::SetData { .. }),
            "setData failed: {:?}",
            applied.result
        );
        applied
            .triggers
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("setData fired no watch trigger"))
    }

    /// One publication, timed from the clone to the last acknowledgement.
    fn publish(&mut self, triggers: Vec<WatchTrigger>) -> Duration {
        let started = Instant::now();
        let state = Arc::new(self.state.clone());
        let triggers = Arc::new(triggers);
        let (applied, acknowledgements) = flume::bounded(self.outboxes.len() + 1);
        let mut expected = 0;
        for outbox in &self.outboxes {
            let publication = Publication {
                state: state.clone(),
                triggers: triggers.clone(),
                applied: applied.clone(),
            };
            if outbox.send(publication).is_ok() {
                expected += 1;
            }
        }
        // Shard 0 runs on the pipeline's core: its swap costs the pipeline's thread.
        self.own_root = state;
        black_box(triggers.len());
        drop(applied);
        for _ in 0..expected {
            if acknowledgements.recv().is_err() {
                break;
            }
        }
        started.elapsed()
    }

    fn stop(self) {
        drop(self.outboxes);
        for shard in self.shards {
            if shard.join().is_err() {
                eprintln!("a shard thread panicked");
            }
        }
    }
}

fn root_publish(criterion: &mut Criterion) {
    let mut publisher = Publisher::start(million_node_state());
    let mut group = criterion.benchmark_group("root_publish_1m");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("clone_root", |bencher| {
        bencher.iter(|| black_box(Arc::new(publisher.state.clone())))
    });
    group.bench_function(BenchmarkId::new("round_trip", "unchanged"), |bencher| {
        bencher.iter_custom(|iterations| {
            (0..iterations)
                .map(|_| publisher.publish(Vec::new()))
                .sum::<Duration>()
        })
    });
    group.bench_function(BenchmarkId::new("round_trip", "after_set"), |bencher| {
        bencher.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let trigger = publisher.apply_one_set();
                assert_eq!(trigger.event, EventType::NodeDataChanged);
                total += publisher.publish(vec![trigger]);
            }
            total
        })
    });
    group.finish();
    publisher.stop();
}

criterion_group!(benches, root_publish);
criterion_main!(benches);
