//! A quick durable `set` rate probe for any ZooKeeper-compatible server, used to compare Corral
//! with Apache ZooKeeper on one machine until `corral-bench` exists.
//!
//! `cargo run --release -p corral-tools --example set_rate -- HOST:PORT [CLIENTS] [SECONDS] [VALUE_BYTES]`
//!
//! Each client is its own session with one request in flight, setting its own node in a loop.
//! Prints one line: clients, seconds, sets completed, sets per second, median and p99 latency.

use std::time::{Duration, Instant};

use zookeeper_client::{Acls, Client, CreateMode};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let server = args
        .first()
        .ok_or("usage: set_rate HOST:PORT [CLIENTS] [SECONDS] [VALUE_BYTES]")?
        .clone();
    let clients: usize = args.get(1).map_or(Ok(16), |value| value.parse())?;
    let seconds: u64 = args.get(2).map_or(Ok(10), |value| value.parse())?;
    let value_bytes: usize = args.get(3).map_or(Ok(100), |value| value.parse())?;
    let root = format!("/set-rate-{}", std::process::id());
    let setup = Client::connect(&server).await?;
    let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
    setup.create(&root, b"", &options).await?;
    let value = vec![b'v'; value_bytes];
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for index in 0..clients {
        let server = server.clone();
        let path = format!("{root}/n{index}");
        let value = value.clone();
        tasks.push(tokio::spawn(async move {
            let client = Client::connect(&server).await?;
            client
                .create(
                    &path,
                    b"",
                    &CreateMode::Persistent.with_acls(Acls::anyone_all()),
                )
                .await?;
            let mut latencies_us = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                client.set_data(&path, &value, None).await?;
                latencies_us.push(started.elapsed().as_micros() as u64);
            }
            Ok::<_, zookeeper_client::Error>(latencies_us)
        }));
    }
    let started = Instant::now();
    let mut latencies_us = Vec::new();
    for task in tasks {
        latencies_us.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    let percentile = |fraction: f64| -> u64 {
        if latencies_us.is_empty() {
            return 0;
        }
        latencies_us[((latencies_us.len() - 1) as f64 * fraction) as usize]
    };
    println!(
        "clients={clients} seconds={elapsed:.1} sets={} rate={:.0}/s p50={}us p99={}us",
        latencies_us.len(),
        latencies_us.len() as f64 / elapsed,
        percentile(0.5),
        percentile(0.99)
    );
    Ok(())
}
