//! Counters for the four-letter words and mntr. Relaxed atomics: each is written by the shard
//! that owns the connection and read rarely.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, Ordering};

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
