//! Waits until a ZooKeeper-compatible server answers a `get` of PATH, and prints how long after
//! SINCE_UNIX_NS (a `date +%s%N` taken just before the server was started) that was.
//!
//! `cargo run --release -p corral-bench --example ready_probe -- HOST:PORT PATH SINCE_UNIX_NS
//!  [TIMEOUT_SECONDS]`
//!
//! Output: `ready_ms=M attempts=A value_bytes=V`. Exits non-zero if the deadline passes first.
//! Every attempt is a fresh session with a short timeout: a server still recovering refuses the
//! connection, or accepts it and answers nothing, and either is simply retried.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use corral_bench::limits::{PROBE_ATTEMPT_TIMEOUT, PROBE_RETRY_INTERVAL};
use zookeeper_client::Client;

const DEFAULT_TIMEOUT_SECONDS: u64 = 600;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ready_probe: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: ready_probe HOST:PORT PATH SINCE_UNIX_NS [TIMEOUT_SECONDS]";
    let (Some(server), Some(path), Some(since)) = (args.first(), args.get(1), args.get(2)) else {
        return Err(usage.to_string());
    };
    let since_ns: u128 = since.parse().map_err(|_| usage.to_string())?;
    let timeout_seconds: u64 = match args.get(3) {
        Some(text) => text.parse().map_err(|_| usage.to_string())?,
        None => DEFAULT_TIMEOUT_SECONDS,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_seconds);
    let mut attempts = 0u64;
    loop {
        attempts += 1;
        if let Some(value) = attempt(server, path).await {
            let elapsed_ns = now_unix_ns().saturating_sub(since_ns);
            println!(
                "ready_ms={:.1} attempts={attempts} value_bytes={}",
                elapsed_ns as f64 / 1e6,
                value.len()
            );
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{server} did not answer get {path} within {timeout_seconds}s"
            ));
        }
        tokio::time::sleep(PROBE_RETRY_INTERVAL).await;
    }
}

/// One connect + get; `None` on any failure (refused, timed out, no such node yet).
async fn attempt(server: &str, path: &str) -> Option<Vec<u8>> {
    let connect = async {
        Client::connector()
            .connection_timeout(PROBE_ATTEMPT_TIMEOUT)
            .fail_eagerly()
            .connect(server)
            .await
    };
    let client = tokio::time::timeout(PROBE_ATTEMPT_TIMEOUT, connect)
        .await
        .ok()?
        .ok()?;
    let (value, _) = tokio::time::timeout(PROBE_ATTEMPT_TIMEOUT, client.get_data(path))
        .await
        .ok()?
        .ok()?;
    Some(value)
}

fn now_unix_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos())
}
