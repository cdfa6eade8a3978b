//! Firing one data watch that 10,000 connections of a shard registered, as `Shard::publish`
//! (net/src/server/shard.rs) does for each watch trigger of a publication: ask the shard's
//! `WatchManager` which connections the change notifies (one-shot watches are removed as they
//! fire), then append a notification to each notified connection's output buffer.
//!
//! `cargo bench -p corral-bench --bench watch_fanout`
//!
//! - `data_watch/trigger_and_encode`: the whole fan-out. Data watches fire once, so the 10,000
//!   watches are registered again before each trigger, untimed, and the output buffers emptied
//!   (keeping their capacity, as a connection's buffer does).
//! - `data_watch/trigger_only`: the watch manager's part alone.
//! - `data_watch/register`: registering the 10,000 watches (what the getData/exists requests
//!   that set them cost the shard, without decoding or the read itself).
//! - `persistent_watch/trigger_and_encode`: the same fan-out to persistent watches (addWatch),
//!   which stay registered.
//!
//! `CORRAL_BENCH_CLOCK=cpu` times with the thread's CPU time (see `support::BenchClock`).
//!
//! Throughput is per watcher: criterion's time per iteration is the time per trigger, and its
//! element rate the watchers notified per second.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use corral_engine::types::EventType;
use corral_net::jute::{encode_event, NOTIFICATION_ZXID};
use corral_net::server::watches::{ConnId, WatchKind, WatchManager};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod support;
use support::BenchClock;

/// Connections watching the one node.
const WATCHERS: u64 = 10_000;
/// The watched node, a leaf as `corral_bench::tree` lays them out.
const WATCHED_PATH: &str = "/bench/d00042/n0000042000";
/// ZooKeeper's KeeperState.SyncConnected, the state of every event a live session receives.
const STATE_SYNC_CONNECTED: i32 = 3;

/// A shard's watches and its connections' output buffers, by connection id.
struct Fanout {
    watches: WatchManager,
    outputs: HashMap<ConnId, Vec<u8>>,
    notified: Vec<ConnId>,
}

impl Fanout {
    fn new() -> Fanout {
        // Connection ids as a shard numbers them: the shard in the top bits, a counter below.
        let outputs = (1..=WATCHERS)
            .map(|counter| (conn_id(counter), Vec::with_capacity(256)))
            .collect();
        Fanout {
            watches: WatchManager::default(),
            outputs,
            notified: Vec::with_capacity(WATCHERS as usize),
        }
    }

    fn register(&mut self, kind: WatchKind) {
        for counter in 1..=WATCHERS {
            self.watches.add(conn_id(counter), kind, WATCHED_PATH);
        }
        assert_eq!(self.watches.count(), WATCHERS as usize);
    }

    /// The setData's trigger: which connections it notifies, then their events.
    fn fire(&mut self, encode: bool) {
        let event = EventType::NodeDataChanged;
        self.watches
            .trigger(WATCHED_PATH, event, &mut self.notified);
        if encode {
            for conn in &self.notified {
                if let Some(out) = self.outputs.get_mut(conn) {
                    encode_event(
                        out,
                        NOTIFICATION_ZXID,
                        event as i32,
                        STATE_SYNC_CONNECTED,
                        WATCHED_PATH,
                    );
                }
            }
        }
    }

    /// Checks the last trigger notified every watcher once, then empties the buffers.
    fn settle(&mut self, encoded: bool) {
        assert_eq!(self.notified.len(), WATCHERS as usize);
        for out in self.outputs.values_mut() {
            assert_eq!(out.is_empty(), !encoded);
            out.clear();
        }
    }
}

fn conn_id(counter: u64) -> ConnId {
    (1 << 48) | counter
}

/// Registers one-shot data watches before each timed trigger.
fn one_shot(clock: &BenchClock, fanout: &mut Fanout, iterations: u64, encode: bool) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iterations {
        fanout.register(WatchKind::Data);
        let started = clock.now();
        fanout.fire(encode);
        total += clock.now() - started;
        assert_eq!(fanout.watches.count(), 0, "data watches fire once");
        fanout.settle(encode);
    }
    total
}

fn register_only(clock: &BenchClock, fanout: &mut Fanout, iterations: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iterations {
        let started = clock.now();
        fanout.register(WatchKind::Data);
        total += clock.now() - started;
        for counter in 1..=WATCHERS {
            fanout.watches.remove_connection(conn_id(counter));
        }
        black_box(fanout.watches.count());
    }
    total
}

fn watch_fanout(criterion: &mut Criterion<BenchClock>) {
    let clock = BenchClock::from_env();
    let mut fanout = Fanout::new();
    let mut group = criterion.benchmark_group("watch_fanout_10k");
    // A trigger takes a few milliseconds and the untimed re-registration about half as long:
    // twenty samples over a few seconds give a stable median, the four benchmarks half a minute.
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(WATCHERS));
    for (name, encode) in [("trigger_and_encode", true), ("trigger_only", false)] {
        group.bench_function(BenchmarkId::new("data_watch", name), |bencher| {
            bencher.iter_custom(|iterations| one_shot(&clock, &mut fanout, iterations, encode))
        });
    }
    group.bench_function(BenchmarkId::new("data_watch", "register"), |bencher| {
        bencher.iter_custom(|iterations| register_only(&clock, &mut fanout, iterations))
    });
    fanout.register(WatchKind::Persistent);
    group.bench_function(
        BenchmarkId::new("persistent_watch", "trigger_and_encode"),
        |bencher| {
            bencher.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let started = clock.now();
                    fanout.fire(true);
                    total += clock.now() - started;
                    fanout.settle(true);
                }
                total
            })
        },
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(BenchClock::from_env());
    targets = watch_fanout
}
criterion_main!(benches);
