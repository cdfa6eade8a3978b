//! What the benches at a million znodes share: the tree, built once per bench binary with the
//! snapshot loader's bulk constructor, and the order in which they visit its leaves.
//!
//! Each bench binary compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Instant;

use corral_bench::tree::{directory_count, directory_path, node_path};
use corral_engine::state::{NodeRecord, State};
use corral_engine::types::{perms, Acl, Data, Id};

/// Leaves in the tree.
pub const NODES: u64 = 1_000_000;
/// Data of every leaf and of every write, as in the comparison with ZooKeeper.
pub const VALUE_BYTES: usize = 100;
/// Parent of the benchmark's tree.
pub const ROOT: &str = "/bench";
/// The leader's clock in every txn (apply reads no clock of its own).
pub const TIME_MS: i64 = 1_764_000_000_000;
/// Multiplier that visits the leaves in a scattered order: odd and not a multiple of 5, so it is
/// coprime with a million and `index * STRIDE % NODES` is a permutation of the leaves.
const STRIDE: u64 = 2_654_435_761;

/// The path of the `index`-th leaf in the scattered order.
pub fn scattered_leaf(index: u64) -> String {
    node_path(ROOT, index.wrapping_mul(STRIDE) % NODES)
}

/// world:anyone with every permission, the ACL of every node here.
pub fn open_acl() -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: Id::new("world", "anyone"),
    }]
}

fn record(path: String, data: Data, zxid: i64) -> NodeRecord {
    NodeRecord {
        path,
        data,
        acl: open_acl(),
        czxid: zxid,
        mzxid: zxid,
        pzxid: zxid,
        ctime_ms: TIME_MS,
        mtime_ms: TIME_MS,
        version: 0,
        aversion: 0,
        child_creates: 0,
        ephemeral_owner: 0,
    }
}

/// A fresh server's nodes plus `/bench` with `corral_bench::tree`'s layout (1000 directories of
/// 1000 leaves of `VALUE_BYTES`), streamed in path order into `State::from_records`, the
/// snapshot loader's bulk constructor, without an intermediate list of a million records.
pub fn million_node_state() -> State {
    let started = Instant::now();
    let value: Data = Arc::from(vec![b'v'; VALUE_BYTES]);
    let empty: Data = Arc::from(Vec::new());
    let directories = directory_count(NODES);
    let per_directory = NODES / directories;
    let bench_nodes = std::iter::once(record(ROOT.to_owned(), empty.clone(), 1)).chain(
        (0..directories).flat_map(move |directory| {
            let value = value.clone();
            let first = directory * per_directory;
            let directory_node = record(directory_path(ROOT, directory), empty.clone(), 1);
            std::iter::once(directory_node).chain(
                (first..first + per_directory)
                    .map(move |leaf| record(node_path(ROOT, leaf), value.clone(), leaf as i64 + 2)),
            )
        }),
    );
    let last_zxid = NODES as i64 + 1;
    let state = State::from_records(
        State::new().node_records().chain(bench_nodes),
        [],
        last_zxid,
    )
    .unwrap_or_else(|error| panic!("the million-node tree does not build: {error}"));
    assert!(state.node_count() as u64 > NODES);
    eprintln!(
        "built a tree of {} znodes in {:.1} s",
        state.node_count(),
        started.elapsed().as_secs_f64()
    );
    state
}

/// The clock the single-threaded benches read. Wall time, criterion's own measure, unless
/// `CORRAL_BENCH_CLOCK=cpu`: then the calling thread's CPU time, which a machine shared with
/// builds and servers does not inflate (a thread waiting for a core accumulates none). Only for
/// code that never blocks; `root_publish` waits on other threads and always uses wall time.
pub struct BenchClock {
    thread_cpu: bool,
    origin: Instant,
}

impl BenchClock {
    pub fn from_env() -> BenchClock {
        let thread_cpu = std::env::var("CORRAL_BENCH_CLOCK").is_ok_and(|clock| clock == "cpu");
        if thread_cpu {
            eprintln!("timing with the thread's CPU time (CORRAL_BENCH_CLOCK=cpu)");
        }
        BenchClock {
            thread_cpu,
            origin: Instant::now(),
        }
    }

    /// A reading of the clock; only differences between readings mean anything.
    pub fn now(&self) -> std::time::Duration {
        if !self.thread_cpu {
            return self.origin.elapsed();
        }
        let mut time = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `time` is a valid, writable timespec; the call writes only into it.
        let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time) };
        assert_eq!(status, 0, "CLOCK_THREAD_CPUTIME_ID is unavailable");
        std::time::Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
    }
}

impl criterion::measurement::Measurement for BenchClock {
    type Intermediate = std::time::Duration;
    type Value = std::time::Duration;

    fn start(&self) -> Self::Intermediate {
        self.now()
    }

    fn end(&self, started: Self::Intermediate) -> Self::Value {
        self.now().saturating_sub(started)
    }

    fn add(&self, first: &Self::Value, second: &Self::Value) -> Self::Value {
        *first + *second
    }

    fn zero(&self) -> Self::Value {
        std::time::Duration::ZERO
    }

    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn criterion::measurement::ValueFormatter {
        // Both clocks count nanoseconds: criterion's own formatting of durations applies.
        static WALL: criterion::measurement::WallTime = criterion::measurement::WallTime;
        WALL.formatter()
    }
}
