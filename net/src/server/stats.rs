//! Counters for the four-letter words and mntr. Relaxed atomics: each is written by the shard
//! that owns the connection and read rarely.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Default)]
pub struct Latency {
    count: AtomicU64,
    total_ms: AtomicU64,
    min_ms: AtomicU64,
    max_ms: AtomicU64,
}

impl Latency {
    pub fn record(&self, elapsed_ms: u64) {
        let previous = self.count.fetch_add(1, Ordering::Relaxed);
        self.total_ms.fetch_add(elapsed_ms, Ordering::Relaxed);
        if previous == 0 || elapsed_ms < self.min_ms.load(Ordering::Relaxed) {
            self.min_ms.store(elapsed_ms, Ordering::Relaxed);
        }
        self.max_ms.fetch_max(elapsed_ms, Ordering::Relaxed);
    }

    pub fn reset(&self) {
        self.count.store(0, Ordering::Relaxed);
        self.total_ms.store(0, Ordering::Relaxed);
        self.min_ms.store(0, Ordering::Relaxed);
        self.max_ms.store(0, Ordering::Relaxed);
    }

    /// (count, total, min, max) in ms.
    pub fn raw(&self) -> (u64, u64, u64, u64) {
        (
            self.count.load(Ordering::Relaxed),
            self.total_ms.load(Ordering::Relaxed),
            self.min_ms.load(Ordering::Relaxed),
            self.max_ms.load(Ordering::Relaxed),
        )
    }
}

#[derive(Default)]
pub struct Stats {
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub outstanding: AtomicI64,
    pub latency: Latency,
    /// Shared with the snapshot thread, which updates it as each snapshot ends.
    pub snapshots: Arc<SnapshotStats>,
}

impl Stats {
    pub fn reset(&self) {
        self.packets_received.store(0, Ordering::Relaxed);
        self.packets_sent.store(0, Ordering::Relaxed);
        self.latency.reset();
    }
}

/// One connection's counters, as `cons` prints them.
pub struct ConnectionStats {
    pub peer: SocketAddr,
    pub established_ms: i64,
    pub session_id: AtomicI64,
    pub timeout_ms: AtomicI32,
    pub received: AtomicU64,
    pub sent: AtomicU64,
    pub queued: AtomicU64,
    pub last_cxid: AtomicI64,
    pub last_zxid: AtomicI64,
    pub last_opcode: AtomicI32,
    pub last_response_ms: AtomicI64,
    pub last_latency_ms: AtomicU64,
    pub latency: Latency,
}

impl ConnectionStats {
    pub fn new(peer: SocketAddr, established_ms: i64) -> Self {
        ConnectionStats {
            peer,
            established_ms,
            session_id: AtomicI64::new(0),
            timeout_ms: AtomicI32::new(0),
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            last_cxid: AtomicI64::new(-1),
            last_zxid: AtomicI64::new(-1),
            last_opcode: AtomicI32::new(-1),
            last_response_ms: AtomicI64::new(0),
            last_latency_ms: AtomicU64::new(0),
            latency: Latency::default(),
        }
    }

    /// What `crst` clears, as ZooKeeper's resetStats does.
    pub fn reset(&self) {
        self.received.store(0, Ordering::Relaxed);
        self.sent.store(0, Ordering::Relaxed);
        self.last_cxid.store(-1, Ordering::Relaxed);
        self.last_zxid.store(-1, Ordering::Relaxed);
        self.last_opcode.store(-1, Ordering::Relaxed);
        self.last_response_ms.store(0, Ordering::Relaxed);
        self.last_latency_ms.store(0, Ordering::Relaxed);
        self.latency.reset();
    }
}

/// What the snapshot thread did since the server started. `time` is ZooKeeper's `snapshottime`
/// summary (count, total, min and max in ms; its count is the number of snapshots written),
/// which ZooKeeper's mntr prints as `zk_{avg,min,max,cnt,sum}_snapshottime`. Not cleared by
/// `srst`, which in ZooKeeper resets only the request counters.
#[derive(Default)]
pub struct SnapshotStats {
    pub time: Latency,
    pub failed: AtomicU64,
    /// Size in bytes and duration in ms of the newest snapshot written; 0 before the first.
    pub last_bytes: AtomicU64,
    pub last_ms: AtomicU64,
}

impl SnapshotStats {
    pub fn record_written(&self, elapsed_ms: u64, bytes: u64) {
        self.time.record(elapsed_ms);
        self.last_ms.store(elapsed_ms, Ordering::Relaxed);
        self.last_bytes.store(bytes, Ordering::Relaxed);
    }

    pub fn record_failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn written(&self) -> u64 {
        self.time.raw().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_stats_keep_a_summary_and_the_newest_size() {
        let stats = SnapshotStats::default();
        stats.record_written(120, 4096);
        stats.record_failed();
        stats.record_written(80, 8192);
        assert_eq!(stats.written(), 2);
        assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
        assert_eq!(stats.time.raw(), (2, 200, 80, 120));
        assert_eq!(stats.last_ms.load(Ordering::Relaxed), 80);
        assert_eq!(stats.last_bytes.load(Ordering::Relaxed), 8192);
    }
}
