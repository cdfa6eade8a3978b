//! Measures append + fdatasync latency on the disk holding the given directory.
//!
//! `cargo run --release -p corral-wal --example append_latency -- [dir] [small-appends] [big-appends]`
//! (default dir `/work/tmp-wal/latency`). The directory is emptied first.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use corral_wal::{LogEntryRef, Wal, WalOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "/work/tmp-wal/latency".to_string()),
    );
    let small_appends: usize = args.next().map_or(Ok(2000), |a| a.parse())?;
    let big_appends: usize = args.next().map_or(Ok(100), |a| a.parse())?;
    for direct_io in [true, false] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        let options = WalOptions {
            direct_io,
            ..WalOptions::default()
        };
        let (mut wal, _) = Wal::open(&dir, options.clone())?;
        // The first append creates (zero-fills) the first segment; time it on its own.
        let started = Instant::now();
        wal.append(
            &[LogEntryRef {
                index: 1,
                term: 1,
                payload: &[1u8; 100],
            }],
            None,
        )?;
        println!(
            "direct_io={direct_io} (O_DIRECT in effect: {})",
            wal.direct_io()
        );
        println!(
            "  first append, creating a 64 MiB segment: {:?}",
            started.elapsed()
        );
        let small = [7u8; 100];
        let mut samples = Vec::with_capacity(small_appends);
        for _ in 0..small_appends {
            let index = wal.last_index() + 1;
            let started = Instant::now();
            wal.append(
                &[LogEntryRef {
                    index,
                    term: 1,
                    payload: &small,
                }],
                None,
            )?;
            samples.push(started.elapsed());
        }
        report("  one 100-byte entry", &mut samples);
        let payload = vec![9u8; 4096 - 32];
        let mut samples = Vec::with_capacity(big_appends);
        for _ in 0..big_appends {
            let first = wal.last_index() + 1;
            let batch: Vec<LogEntryRef<'_>> = (0..256)
                .map(|i| LogEntryRef {
                    index: first + i,
                    term: 1,
                    payload: &payload,
                })
                .collect();
            let started = Instant::now();
            wal.append(&batch, None)?;
            samples.push(started.elapsed());
        }
        report(
            "  1 MiB batch (256 x 4 KiB entries), rolls included",
            &mut samples,
        );
        drop(wal);
        let started = Instant::now();
        let (_, recovered) = Wal::open(&dir, options)?;
        println!(
            "  reopen recovering {} entries: {:?}",
            recovered.entries.len(),
            started.elapsed()
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn report(label: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let at = |quantile: f64| samples[((samples.len() - 1) as f64 * quantile) as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len().max(1) as u32;
    println!(
        "{label}: n={} mean {:?} p50 {:?} p99 {:?} max {:?}",
        samples.len(),
        mean,
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
