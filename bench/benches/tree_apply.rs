//! `State::apply` — the call the pipeline makes for every committed txn — of one create, setData
//! or delete on a tree of a million znodes.
//!
//! `cargo bench -p corral-bench --bench tree_apply`
//!
//! The tree is `corral_bench::tree`'s layout (1000 directories of 1000 leaves of 100 bytes under
//! `/bench`), built once with `State::from_records`, the bulk constructor behind the snapshot
//! loader; building it takes a few seconds and is not measured. Every benchmark then works on
//! that one state and leaves it with a million leaves: a create first deletes a random leaf
//! (untimed) and times re-creating it; a delete times removing a random leaf and re-creates it
//! untimed; a setData rewrites a random leaf.
//!
//! Two modes:
//! - `unheld`: the pipeline's state is the only owner of the tree, so apply updates it in place.
//! - `held`: a clone of the state is held (as a published root is held by the shards, or a
//!   snapshot by its writer) while the op is applied, so every shared node on the op's path is
//!   copied first. This is the cost of the first write after each publication; the clone itself
//!   and the dropping of the previous one are not timed (see the `root_publish` bench).
//!
//! Each op is timed on its own (a wall-clock reading costs a few tens of nanoseconds, a
//! `CORRAL_BENCH_CLOCK=cpu` reading a few hundred; see `support::BenchClock`), since the
//! untimed preparation between ops must not count.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use corral_engine::state::State;
use corral_engine::types::{Applied, CreateMode, CreateOp, Data, Id, OpResult, Txn, WriteOp};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod support;
use support::{
    million_node_state, open_acl, scattered_leaf, BenchClock, NODES, TIME_MS, VALUE_BYTES,
};

#[derive(Clone, Copy, Debug)]
enum Op {
    Create,
    SetData,
    Delete,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::SetData => "set_data",
            Op::Delete => "delete",
        }
    }
}

fn txn(op: WriteOp) -> Txn {
    Txn {
        session_id: 0x0100_0000_0000_0001,
        cxid: 1,
        time_ms: TIME_MS,
        auth: vec![Id::new("ip", "127.0.0.1")],
        op,
    }
}

fn create_txn(path: &str, value: &Data) -> Txn {
    txn(WriteOp::Create(CreateOp {
        path: path.to_owned(),
        data: value.clone(),
        acl: open_acl(),
        mode: CreateMode::Persistent,
        ttl_ms: -1,
    }))
}

fn delete_txn(path: &str) -> Txn {
    txn(WriteOp::Delete {
        path: path.to_owned(),
        version: -1,
    })
}

/// A benchmark that applied a failing op would measure the error path: stop instead.
fn expect_success(applied: &Applied, during: &str) {
    assert!(
        !matches!(applied.result, OpResult::Error(_)),
        "{during} failed: {:?}",
        applied.result
    );
}

/// The untimed op before, the timed op, and the untimed op after, on one leaf.
fn txns(op: Op, path: &str, value: &Data) -> (Option<Txn>, Txn, Option<Txn>) {
    match op {
        Op::Create => (Some(delete_txn(path)), create_txn(path, value), None),
        Op::SetData => (
            None,
            txn(WriteOp::SetData {
                path: path.to_owned(),
                data: value.clone(),
                version: -1,
            }),
            None,
        ),
        Op::Delete => (None, delete_txn(path), Some(create_txn(path, value))),
    }
}

/// Applies `iterations` ops of one kind on scattered leaves and returns the time spent in the
/// timed `apply` calls only.
fn run(
    clock: &BenchClock,
    state: &mut State,
    op: Op,
    held: bool,
    iterations: u64,
    next_leaf: &mut u64,
) -> Duration {
    let value: Data = Arc::from(vec![b'w'; VALUE_BYTES]);
    let mut published: Option<Arc<State>> = None;
    let mut total = Duration::ZERO;
    for _ in 0..iterations {
        let path = scattered_leaf(*next_leaf);
        *next_leaf += 1;
        let (before, timed, after) = txns(op, &path, &value);
        if let Some(before) = before {
            expect_success(&state.apply(&before), "the untimed preparation");
        }
        if held {
            // Replacing the previous root drops it here, untimed, as a shard would.
            published = Some(Arc::new(state.clone()));
        }
        let started = clock.now();
        let applied = state.apply(&timed);
        total += clock.now() - started;
        expect_success(&applied, op.name());
        black_box(applied);
        if let Some(after) = after {
            expect_success(&state.apply(&after), "the untimed restoration");
        }
    }
    drop(published);
    total
}

fn tree_apply(criterion: &mut Criterion<BenchClock>) {
    let clock = BenchClock::from_env();
    let mut state = million_node_state();
    let mut next_leaf = 0u64;
    let mut group = criterion.benchmark_group("tree_apply_1m");
    // One op takes microseconds; the untimed preparation roughly doubles the wall time of each
    // sample, so three seconds of measurement keep the six benchmarks near a minute.
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    for held in [false, true] {
        let mode = if held { "held" } else { "unheld" };
        for op in [Op::Create, Op::SetData, Op::Delete] {
            let id = BenchmarkId::new(op.name(), mode);
            group.bench_function(id, |bencher| {
                bencher.iter_custom(|iterations| {
                    run(&clock, &mut state, op, held, iterations, &mut next_leaf)
                })
            });
        }
    }
    group.finish();
    assert!(
        state.node_count() as u64 > NODES,
        "the tree lost its leaves"
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(BenchClock::from_env());
    targets = tree_apply
}
criterion_main!(benches);
