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
