//! The server shell: glommio shards, connections, and the write pipeline.
//!
//! - `shard`: what one core owns — its connections, their sessions and watches, and the newest
//!   published state root that it answers reads from.
//! - `connection`: one client connection: framing, handshake, per-session request order.
//! - `requests`: what each read-side request does against the shard's state.
//! - `pipeline`: shard 0's write path — batch, raft, WAL, apply, publish.
//! - `wal_thread`: the blocking write-ahead log behind an async handle.
//! - `snapshotter`: writes snapshots on a thread of its own, purges old ones, releases the log.
//! - `recovery`: picks the snapshot to start from and checks the log continues it.
//! - `session_tracker`: session liveness and expiry on the leader.
//! - `watches`: the watch registrations of one shard.
//! - `signal`: a small local wake-up primitive.

mod connection;
mod fourlw_input;
mod pipeline;
mod recovery;
mod requests;
mod session_tracker;
mod shard;
mod signal;
mod snapshotter;
mod stats;
mod wal_thread;
pub mod watches;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use corral_engine::consensus::{Consensus, ConsensusError};
use corral_wal::snapshot::SnapshotStore;
use corral_wal::WalOptions;
use glommio::{LocalExecutorBuilder, Placement};
use thiserror::Error;

use crate::config::ServerConfig;
use crate::limits::{
    ACCEPT_QUEUE_MAX, EXECUTOR_IO_MEMORY_BYTES, PUBLISH_QUEUE_MAX, WRITE_QUEUE_MAX,
};
use snapshotter::Snapshotter;
pub use stats::Stats;
use watches::WatchManager;

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("I/O: {0}")]
    Io(String),
    #[error("write-ahead log: {0}")]
    Wal(String),
    #[error("consensus: {0}")]
    Consensus(ConsensusError),
    #[error("log entry {index} cannot be decoded: {reason}")]
    CorruptEntry { index: u64, reason: String },
    #[error("snapshot: {0}")]
    Snapshot(String),
    #[error("cannot listen on {address}: {reason}")]
    Listen { address: SocketAddr, reason: String },
}

/// What every shard and the pipeline share. Everything here is either immutable, an atomic
/// counter, or locked only off the request path (connection accept/close, four-letter words).
pub struct Shared {
    pub config: ServerConfig,
    pub shutdown: Arc<AtomicBool>,
    pub stats: Stats,
    last_zxid: AtomicI64,
    shards_done: AtomicUsize,
    pipeline_stopping: AtomicBool,
    pub connections_per_ip: Mutex<std::collections::HashMap<IpAddr, u32>>,
    /// Each shard's watches; locked by its own shard, and by four-letter words reading them.
    pub watches: Vec<Arc<Mutex<WatchManager>>>,
    pub connections: Mutex<std::collections::BTreeMap<u64, Arc<stats::ConnectionStats>>>,
    pub started: std::time::Instant,
    bound_port: std::sync::atomic::AtomicU32,
}

impl Shared {
    /// The client port actually bound (the configured one may be 0).
    pub fn client_port(&self) -> u16 {
        self.bound_port.load(Ordering::Relaxed) as u16
    }

    pub fn set_client_port(&self, port: u16) {
        self.bound_port.store(u32::from(port), Ordering::Relaxed);
    }

    pub fn last_zxid(&self) -> i64 {
        self.last_zxid.load(Ordering::Relaxed)
    }

    pub fn set_last_zxid(&self, zxid: i64) {
        self.last_zxid.store(zxid, Ordering::Relaxed);
    }

    /// Every shard has finished its in-flight requests: the pipeline drains and stops.
    pub fn pipeline_stop(&self) {
        self.pipeline_stopping.store(true, Ordering::SeqCst);
    }

    pub fn pipeline_stopping(&self) -> bool {
        self.pipeline_stopping.load(Ordering::SeqCst)
    }

    /// A connection from `ip` closed: it no longer counts against maxClientCnxns.
    pub fn release_connection(&self, ip: IpAddr) {
        if self.config.max_client_cnxns == 0 {
            return;
        }
        let mut counts = lock(&self.connections_per_ip);
        if let Some(count) = counts.get_mut(&ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&ip);
            }
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }
}

/// Locks a mutex of the shared registries. A poisoned lock means a thread panicked while
/// holding it; the counters and tables inside stay usable for everyone else.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// Runs a standalone server until `shutdown` becomes true. `on_listening` is called once with
/// the bound client address, after recovery, when clients can be served.
pub fn run(
    config: ServerConfig,
    shutdown: Arc<AtomicBool>,
    on_listening: impl FnOnce(SocketAddr) + Send + 'static,
) -> Result<(), ServerError> {
    let cores = config.cores.max(1);
    let (consensus, wal, wal_thread, startup) = open_storage(&config)?;
    let shared = Arc::new(Shared {
        started: std::time::Instant::now(),
        bound_port: std::sync::atomic::AtomicU32::new(0),
        config,
        shutdown,
        stats: Stats::default(),
        last_zxid: AtomicI64::new(0),
        shards_done: AtomicUsize::new(0),
        pipeline_stopping: AtomicBool::new(false),
        connections_per_ip: Mutex::new(Default::default()),
        watches: (0..cores)
            .map(|_| Arc::new(Mutex::new(WatchManager::default())))
            .collect(),
        connections: Mutex::new(Default::default()),
    });

    let (to_pipeline, pipeline_inbox) = flume::bounded(WRITE_QUEUE_MAX);
    let mut publish_senders = Vec::new();
    let mut publish_receivers = Vec::new();
    let mut accept_senders = Vec::new();
    let mut accept_receivers = Vec::new();
    for _ in 0..cores {
        let (sender, receiver) = flume::bounded(PUBLISH_QUEUE_MAX);
        publish_senders.push(sender);
        publish_receivers.push(receiver);
        let (sender, receiver) = flume::bounded(ACCEPT_QUEUE_MAX);
        accept_senders.push(sender);
        accept_receivers.push(receiver);
    }
    // The first state every shard serves from comes from shard 0 after recovery.
    let (initial_tx, initial_rx) = flume::bounded(cores);

    let cpus = online_cpus();
    let mut executors = Vec::new();
    let mut pipeline_parts = Some((
        consensus,
        wal,
        startup,
        pipeline_inbox,
        publish_senders,
        accept_senders,
        on_listening,
    ));
    for (shard_id, (publish_rx, accept_rx)) in publish_receivers
        .into_iter()
        .zip(accept_receivers)
        .enumerate()
    {
        let shared = shared.clone();
        let to_pipeline = to_pipeline.clone();
        let initial_tx = initial_tx.clone();
        let initial_rx = initial_rx.clone();
        let leader_parts = if shard_id == 0 {
            pipeline_parts.take()
        } else {
            None
        };
        let placement = match cpus.get(shard_id % cpus.len().max(1)) {
            Some(&cpu) => Placement::Fixed(cpu),
            None => Placement::Unbound,
        };
        let handle = LocalExecutorBuilder::new(placement)
            .name(&format!("corral-shard-{shard_id}"))
            .io_memory(EXECUTOR_IO_MEMORY_BYTES)
            .spawn(move || async move {
                let result = match leader_parts {
                    Some((consensus, wal, startup, inbox, outboxes, acceptors, on_listening)) => {
                        shard::run_leader_shard(shard::LeaderParts {
                            shared,
                            to_pipeline,
                            publish_rx,
                            accept_rx,
                            consensus,
                            wal,
                            startup,
                            inbox,
                            outboxes,
                            acceptors,
                            initial_tx,
                            on_listening: Box::new(on_listening),
                        })
                        .await
                    }
                    None => match initial_rx.recv_async().await {
                        Ok(state) => {
                            shard::run_shard(
                                shard_id,
                                shared,
                                to_pipeline,
                                publish_rx,
                                accept_rx,
                                state,
                            )
                            .await;
                            Ok(())
                        }
                        Err(_) => Ok(()),
                    },
                };
                result
            })
            .map_err(|error| ServerError::Io(format!("cannot start shard {shard_id}: {error}")))?;
        executors.push(handle);
    }
    drop(to_pipeline);
    drop(initial_tx);
    drop(initial_rx);

    let mut outcome = Ok(());
    for handle in executors {
        match handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => outcome = Err(error),
            Err(error) => outcome = Err(ServerError::Io(format!("a shard failed: {error}"))),
        }
    }
    // The pipeline dropped its WAL handle when it stopped; the thread ends after the last sync.
    if wal_thread.join().is_err() {
        outcome = Err(ServerError::Wal("the WAL thread panicked".into()));
    }
    outcome
}

/// Opens the snapshots and the write-ahead log and rebuilds raft from the newest usable
/// snapshot plus the log after it; the state and the snapshot thread go to the pipeline with
/// its start-up parts.
fn open_storage(
    config: &ServerConfig,
) -> Result<
    (
        Consensus,
        wal_thread::WalHandle,
        std::thread::JoinHandle<()>,
        recovery::Startup,
    ),
    ServerError,
> {
    let snapshot_dir = config.data_dir.join("snapshots");
    let store = SnapshotStore::open(&snapshot_dir)
        .map_err(|error| ServerError::Snapshot(error.to_string()))?;
    let wal_dir = config.data_log_dir.join("wal");
    std::fs::create_dir_all(&wal_dir)
        .map_err(|error| ServerError::Io(format!("{}: {error}", wal_dir.display())))?;
    let (wal, wal_thread, recovered) = wal_thread::open(
        &wal_dir,
        WalOptions {
            segment_bytes: config.wal_segment_bytes,
            force_sync: config.force_sync,
            ..WalOptions::default()
        },
    )?;
    log::info!(
        "write-ahead log {}: {} entries recovered",
        wal_dir.display(),
        recovered.records.len()
    );
    let (state, base) = recovery::choose_base(&store, &recovered.records)?;
    let consensus = Consensus::open(&recovered.records, recovered.hard_state, base)
        .map_err(ServerError::Consensus)?;
    drop(recovered);
    let snapshotter = Snapshotter::start(store, config.snap_retain_count, wal.releaser())?;
    let startup = recovery::Startup {
        state,
        base,
        snapshotter: Some(snapshotter),
    };
    Ok((consensus, wal, wal_thread, startup))
}

fn online_cpus() -> Vec<usize> {
    let mut cpus: Vec<usize> = match glommio::CpuSet::online() {
        Ok(set) => set.iter().map(|location| location.cpu).collect(),
        Err(_) => Vec::new(),
    };
    cpus.sort_unstable();
    cpus
}

pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_millis(crate::limits::SHUTDOWN_GRACE_MS);
