//! A server process's resident memory and CPU time, read from /proc while a run goes on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::limits::{RSS_SAMPLES_MAX, RSS_SAMPLE_INTERVAL};
use crate::results::Memory;

/// `VmRSS` of `pid` in KiB, or `None` when the process is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// Whether `pid` has exited but not been reaped yet (its /proc entry lingers).
pub fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// User plus system CPU seconds `pid` has used, or `None` when the process is gone.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields are counted after its last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 of stat(5), utime 14 and stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| (utime + stime) as f64 / ticks as f64)
}

/// Samples a process's RSS every `RSS_SAMPLE_INTERVAL` on a background thread until finished.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<u64>>,
}

impl RssSampler {
    pub fn start(pid: u32) -> std::io::Result<RssSampler> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                let mut samples = Vec::new();
                while !flag.load(Ordering::Relaxed) && samples.len() < RSS_SAMPLES_MAX {
                    match rss_kib(pid) {
                        Some(kib) => samples.push(kib),
                        None => break,
                    }
                    std::thread::sleep(RSS_SAMPLE_INTERVAL);
                }
                samples
            })?;
        Ok(RssSampler { stop, handle })
    }

    /// Stops sampling; `None` when not a single sample was taken.
    pub fn finish(self) -> Option<Memory> {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.handle.join().ok()?;
        memory_of(samples)
    }
}

/// The summary of RSS samples in KiB: count, median and maximum.
pub fn memory_of(mut samples: Vec<u64>) -> Option<Memory> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let middle = samples.len() / 2;
    let median_kib = match samples.len() % 2 {
        1 => samples[middle],
        _ => (samples[middle - 1] + samples[middle]) / 2,
    };
    Some(Memory {
        samples: samples.len() as u32,
        median_kib,
        max_kib: samples[samples.len() - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_summaries_take_the_median_and_the_maximum() {
        let memory = memory_of(vec![300, 100, 200, 1000]);
        assert_eq!(
            memory,
            Some(Memory {
                samples: 4,
                median_kib: 250,
                max_kib: 1000
            })
        );
        assert_eq!(memory_of(vec![7]).map(|m| m.median_kib), Some(7));
        assert_eq!(memory_of(Vec::new()), None);
    }

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        let pid = std::process::id();
        assert!(rss_kib(pid).is_some_and(|kib| kib > 0));
        assert!(cpu_seconds(pid).is_some_and(|seconds| seconds >= 0.0));
        assert!(!is_zombie(pid));
    }
}
