//! Bounds of the benchmark tools, each with the reason for its value.

use std::time::Duration;

/// Longest wait for the WAL's background zero-filling of the next segment to finish before a
/// measurement starts: a 256 MiB segment on a busy virtual disk takes a few seconds, and a
/// measurement taken while it runs would time the zero-filling, not the appends.
pub const PREALLOCATION_WAIT_MAX: Duration = Duration::from_secs(120);

/// How often the WAL helper polls for the background zero-filling thread to exit.
pub const PREALLOCATION_POLL_INTERVAL: Duration = Duration::from_millis(5);

/// Appends a benchmark segment holds: roll-overs (not timed, but each waits for the next segment
/// to be zero-filled) stay rare, while small frames do not zero-fill far more than they use.
pub const BENCH_FRAMES_PER_SEGMENT: u64 = 256;

/// Smallest benchmark segment: a roll-over at most every few seconds even for 4 KiB frames.
pub const BENCH_SEGMENT_BYTES_MIN: u64 = 16 * 1024 * 1024;

/// Largest benchmark segment: 256 frames of 1 MiB; each segment is zero-filled before use.
pub const BENCH_SEGMENT_BYTES_MAX: u64 = 256 * 1024 * 1024;

/// Segment size of the scratch WAL that measures the frame overhead: a dozen one-sector frames
/// fit with room to spare.
pub const CALIBRATION_SEGMENT_BYTES: u64 = 1024 * 1024;

/// Most appends the overhead measurement makes: a bisection over one sector needs 12, plus a
/// few that a roll-over may hide.
pub const CALIBRATION_APPENDS_MAX: usize = 64;

/// Largest payload the WAL helper accepts: one append of the largest size benchmarked (1 MiB)
/// with room for a few sectors of headers.
pub const BENCH_PAYLOAD_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Most requests `populate` keeps in flight per session: enough to hide a round trip and a
/// group commit, few enough that the server's per-connection queue never pushes back.
pub const POPULATE_IN_FLIGHT_PER_SESSION_MAX: usize = 512;

/// Most sessions `populate` opens: each is one connection, one server-side session.
pub const POPULATE_SESSIONS_MAX: usize = 64;

/// Children per directory node in the populated tree: wide enough that ZooKeeper's and Corral's
/// per-node child lists are realistic (a thousand), not one giant flat list.
pub const POPULATE_FANOUT: u64 = 1000;

/// Connect and request timeout of the readiness probe: a server still starting refuses or stalls
/// a connection; a short timeout retries quickly instead of waiting on a dead attempt.
pub const PROBE_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);

/// Pause between readiness probe attempts: fine enough for millisecond restart times.
pub const PROBE_RETRY_INTERVAL: Duration = Duration::from_millis(5);

// The WAL accepts segments of whole sectors between 8 KiB and 1 GiB.
const _: () = assert!(BENCH_SEGMENT_BYTES_MIN.is_multiple_of(4096));
const _: () = assert!(BENCH_SEGMENT_BYTES_MAX.is_multiple_of(4096));
const _: () = assert!(BENCH_SEGMENT_BYTES_MIN <= BENCH_SEGMENT_BYTES_MAX);
const _: () = assert!(BENCH_SEGMENT_BYTES_MAX <= 1024 * 1024 * 1024);
// The largest payload must fit a segment with its headers.
const _: () = assert!(BENCH_PAYLOAD_BYTES_MAX as u64 + 4096 <= BENCH_SEGMENT_BYTES_MAX);

// --- corral-bench compare: servers, set-up sessions and the comparison (helper "compare") ---

/// Longest wait for a server to serve after its start: ZooKeeper replaying a million znodes
/// from its log on a busy virtual disk has taken minutes.
pub const SERVER_START_TIMEOUT: Duration = Duration::from_secs(600);

/// Longest wait for a server to exit after SIGTERM before it is killed: a graceful stop
/// finishes in-flight writes, which takes seconds at most; a hang must not stall the run.
pub const SERVER_STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a stopping server is checked for its exit: fine enough not to add to the
/// restart times measured.
pub const SERVER_STOP_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// How often the server's RSS is sampled during a run: ten samples a second is enough to see
/// its level and its peaks, and reading /proc that often costs nothing measurable.
pub const RSS_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// Most RSS samples kept per run (a day at ten a second); sampling stops beyond.
pub const RSS_SAMPLES_MAX: usize = 864_000;

/// Session timeout the set-up sessions ask for: long enough to outlast a JVM pause during a
/// million creates, within ZooKeeper's default maximum (20 × tickTime = 40 s).
pub const COMPARE_SESSION_TIMEOUT_MS: i32 = 30_000;

/// Longest wait for one reply during set-up (populating a tree): a server in a long pause
/// (a JVM collection, a snapshot) still answers within it; a dead one is reported.
pub const COMPARE_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Largest reply frame a set-up session accepts: ZooKeeper's default jute.maxbuffer (1 MiB)
/// plus room for the headers.
pub const COMPARE_REPLY_BYTES_MAX: usize = 1024 * 1024 + 4096;

/// Sessions that populate a tree in parallel, as `examples/populate.rs` does by default.
pub const COMPARE_POPULATE_SESSIONS: usize = 8;

/// Creates each populating session keeps in flight: enough to fill a group commit, and few
/// enough (about 40 KiB of requests, 10 KiB of replies) that no socket buffer ever fills.
pub const COMPARE_POPULATE_WINDOW: usize = 256;

/// Most rounds a comparison runs: each round runs every workload on every server.
pub const COMPARE_ROUNDS_MAX: u32 = 100;

/// Most znodes the large-tree measures create: ten times the million the issue asks for.
pub const COMPARE_TREE_NODES_MAX: u64 = 10_000_000;

/// Pause after populating or restarting before the RSS is read, as `restart-1m.sh` does:
/// the servers' background work (a snapshot, the JVM's collections) settles first.
pub const COMPARE_SETTLE_TIME: Duration = Duration::from_secs(2);

/// Most client sessions a comparison's run may ask for (its largest default setting is 256).
pub const COMPARE_CLIENTS_MAX: u32 = 4096;

// ---- Load generator (client, run, workloads) ----

/// Largest reply frame the load generator accepts: ZooKeeper's default jute.maxbuffer (1 MiB
/// − 1) plus room for the reply header, a Stat and length prefixes around a 1 MiB value.
pub const FRAME_BYTES_MAX: usize = 1024 * 1024 + 4096;

/// Largest request body the load generator sends: ZooKeeper refuses a packet longer than
/// jute.maxbuffer (1 MiB − 1 by default), so a request is kept just under it.
pub const REQUEST_BYTES_MAX: usize = 1024 * 1024 - 1;

/// Initial read and write buffer of a session: many pipelined small replies per read, grown
/// only for large values.
pub const CLIENT_READ_BUFFER_BYTES: usize = 64 * 1024;

/// Longest a connection plus session handshake may take before the run gives up on it.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a sequential (setup, check, cleanup) request may wait for its reply.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest closeSession may take: a close is a courtesy, the run does not wait on a slow one.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Session timeout the load generator asks for: long enough that a stalled server under load
/// does not expire the sessions, which would end the run instead of measuring the stall.
pub const SESSION_TIMEOUT_MS: i32 = 30_000;

/// Watch events a sequential call may set aside while waiting for its reply: a watcher holds
/// a handful of one-shot watches, so more than this is a server bug, not a backlog.
pub const EVENTS_QUEUED_MAX: usize = 1024;

/// Requests an open-loop session keeps outstanding at most; when reached, due requests wait
/// (and are counted as `limit_delayed`), still timed from their intended send time.
pub const OPEN_LOOP_OUTSTANDING_MAX: usize = 1024;

/// Requests a closed-loop session may keep outstanding (`--in-flight`).
pub const IN_FLIGHT_MAX: u32 = 4096;

/// Sessions one run may open: each is a connection and a server-side session.
pub const CLIENTS_MAX: u32 = 10_000;

/// Load-generator threads one run may use.
pub const THREADS_MAX: u32 = 256;

/// Longest a run waits, after the measured interval, for outstanding replies before abandoning
/// them (counted in `extra.abandoned`).
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest the best-effort deletion of a workload's nodes may take.
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Requests the cleanup and preparation sessions keep outstanding.
pub const SETUP_IN_FLIGHT: usize = 256;

/// Widest parent the `children` workload prepares: a getChildren reply of this many short
/// names stays well under jute.maxbuffer.
pub const CHILDREN_WIDTH_MAX: u32 = 50_000;

/// Most ops in one `multi` transaction.
pub const MULTI_OPS_MAX: u32 = 1000;

/// Most watcher sessions of `watch-fanout` and contenders of `election`.
pub const COORDINATION_SESSIONS_MAX: u32 = 10_000;

/// Longest one watch fan-out or election round may take before the run reports it failed.
pub const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

/// Latencies the histograms hold: up to a minute, to three significant digits.
pub const LATENCY_US_MAX: u64 = 60_000_000;

/// How often the progress bar is redrawn.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

const _: () = assert!(REQUEST_BYTES_MAX < FRAME_BYTES_MAX);
const _: () = assert!(CLIENT_READ_BUFFER_BYTES <= FRAME_BYTES_MAX);
