//! WAL append + fdatasync rate for a fixed time per batch size, one line per size, for scripts
//! (`scripts/wal-vs-fio.sh` sets them next to fio's figures).
//!
//! `cargo run --release -p corral-bench --example wal_rate -- [SECONDS] [SIZE...]`
//!
//! SIZE is `payload:N` (one entry of N bytes) or `frame:N` (one entry filling a frame of exactly
//! N bytes), N with an optional K or M suffix; default `payload:100 frame:4K frame:64K frame:1M`.
//! Files go under `CORRAL_BENCH_DIR` (or the working directory). Each line:
//!
//! `size=frame:4096 payload_bytes=3968 frame_bytes=4096 appends=N seconds=S syncs_per_s=R
//!  mb_per_s=B p50_us=… p99_us=… direct_io=true`
//!
//! where `mb_per_s` counts frame bytes written (10^6 bytes per MB) and the time is the time spent
//! in timed appends (roll-overs and the zero-filling they start are left out, as in the bench).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use corral_bench::wal_load::{bench_dir, BatchSize, Samples, WalAppender};

const DEFAULT_SECONDS: u64 = 10;
const DEFAULT_SIZES: [&str; 4] = ["payload:100", "frame:4K", "frame:64K", "frame:1M"];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("wal_rate: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = match args.first() {
        Some(text) => text
            .parse()
            .map_err(|_| format!("SECONDS {text:?} is not a whole number"))?,
        None => DEFAULT_SECONDS,
    };
    let size_args: Vec<&str> = if args.len() > 1 {
        args[1..].iter().map(String::as_str).collect()
    } else {
        DEFAULT_SIZES.to_vec()
    };
    let sizes = size_args
        .into_iter()
        .map(BatchSize::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let parent = bench_dir();
    for size in sizes {
        let mut appender = WalAppender::open(&parent, size)?;
        let samples = measure(&mut appender, Duration::from_secs(seconds))?;
        print_line(&appender, &samples);
    }
    Ok(())
}

/// Appends until `duration` of wall time has passed.
fn measure(appender: &mut WalAppender, duration: Duration) -> Result<Samples, String> {
    let deadline = Instant::now() + duration;
    let mut samples = Samples::default();
    while Instant::now() < deadline {
        samples.push(appender.append_timed()?);
    }
    Ok(samples)
}

fn print_line(appender: &WalAppender, samples: &Samples) {
    let size = appender.size();
    let overhead = appender.overhead();
    let seconds = samples.total().as_secs_f64().max(f64::MIN_POSITIVE);
    let rate = samples.len() as f64 / seconds;
    let megabytes = samples.len() as f64 * size.frame_bytes(overhead) as f64 / 1e6;
    println!(
        "size={size} payload_bytes={} frame_bytes={} appends={} seconds={seconds:.2} \
         syncs_per_s={rate:.0} mb_per_s={:.1} p50_us={} p99_us={} direct_io={}",
        size.payload_bytes(overhead),
        size.frame_bytes(overhead),
        samples.len(),
        megabytes / seconds,
        samples.percentile(0.5).as_micros(),
        samples.percentile(0.99).as_micros(),
        appender.direct_io()
    );
}
