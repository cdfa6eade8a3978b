//! The write pipeline, on shard 0: batch → raft entry → WAL (durable) → apply → publish.
//!
//! Shards send writes over one bounded channel. While a batch is being written and synced the
//! next one gathers in that channel, so one raft entry and one fdatasync carry every write that
//! arrived in the meantime (group commit). After each persisted ready the applier publishes the
//! new state root with that ready's replies and watch triggers to every shard; a shard answers a
//! write only from such a publication, so nothing is acknowledged before it is durable.
//!
//! The pipeline also knows which connection each live session is attached to. When a client
//! resumes its session on another connection, the old one is closed (ZooKeeper's "session
//! moved": a session is served by one connection at a time).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_engine::consensus::{Committed, Consensus, HardState, LogRecord};
use corral_engine::entry::{decode_batch, encode_batch};
use corral_engine::limits::RAFT_TICK_MS;
use corral_engine::state::State;
use corral_engine::types::{Applied, OpResult, SessionId, Txn, WatchTrigger, WriteOp};
use futures_lite::future;

use super::session_tracker::SessionTracker;
use super::wal_thread::WalHandle;
use super::{now_ms, ServerError, Shared};
use crate::limits::{BATCH_BYTES_MAX, BATCH_TXNS_MAX, HOUSEKEEPING_DELETES_MAX, SESSION_MOVES_MAX};

/// Where the reply to a write goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub shard: usize,
    pub conn_id: u64,
}

pub enum ToPipeline {
    Write {
        route: Route,
        txn: Txn,
    },
    /// Sessions that sent something since the shard's last report.
    Touch(Vec<SessionId>),
    /// A connection resumed this session (a reconnect handshake succeeded): the connection the
    /// session was attached to before, if another one, is to be closed.
    Attached {
        session_id: SessionId,
        route: Route,
    },
}

/// The reply to one write, for the shard that owns the connection.
pub struct WriteReply {
    pub conn_id: u64,
    pub cxid: i32,
    pub zxid: i64,
    pub result: OpResult,
}

/// What every shard receives after each applied ready, in two phases. A write is answered only
/// once every shard serves the state that holds it, so no client can read older data on another
/// shard after any client was told the write succeeded (a standalone ZooKeeper's guarantee).
pub enum ShardMessage {
    /// The new root and the watch events it fires; the shard acknowledges once it serves it.
    Publish {
        state: Arc<State>,
        triggers: Arc<Vec<WatchTrigger>>,
        applied: flume::Sender<()>,
    },
    /// Sent once every shard acknowledged the publication: the replies to this shard's writes,
    /// then the sessions closed or expired (their connections are closed after the replies).
    Complete {
        replies: Vec<WriteReply>,
        closed_sessions: Arc<Vec<SessionId>>,
    },
    /// The session moved to another connection: close this one if it still serves the session.
    CloseConnection { conn_id: u64, session_id: SessionId },
}

pub struct Pipeline {
    shared: Arc<Shared>,
    consensus: Consensus,
    state: State,
    wal: WalHandle,
    inbox: flume::Receiver<ToPipeline>,
    outboxes: Vec<flume::Sender<ShardMessage>>,
    routes: HashMap<u64, Vec<Option<Route>>>,
    next_proposal_id: u64,
    sessions: SessionTracker,
    /// The connection each live session is attached to: at most one entry per tracked session.
    owners: HashMap<SessionId, Route>,
    /// Connections whose session attached elsewhere, to be closed before the next proposal.
    moved: Vec<(Route, SessionId)>,
    next_session_id: i64,
    serving: bool,
}

impl Pipeline {
    pub fn new(
        shared: Arc<Shared>,
        consensus: Consensus,
        wal: WalHandle,
        inbox: flume::Receiver<ToPipeline>,
        outboxes: Vec<flume::Sender<ShardMessage>>,
    ) -> Self {
        let start_ms = now_ms();
        Pipeline {
            shared,
            consensus,
            state: State::new(),
            wal,
            inbox,
            outboxes,
            routes: HashMap::new(),
            // Proposal ids only need to be unique among this process's in-flight proposals;
            // starting from the clock keeps them apart from anything replayed.
            next_proposal_id: (start_ms as u64) << 16,
            sessions: SessionTracker::default(),
            owners: HashMap::new(),
            moved: Vec::new(),
            // ZooKeeper's layout: server id in the top byte, then the start time in ms.
            next_session_id: ((1i64) << 56) | ((start_ms << 24) as u64 >> 8) as i64,
            serving: false,
        }
    }

    /// Replays the log and elects this node, so the state is current before clients connect.
    pub async fn recover(&mut self) -> Result<Arc<State>, ServerError> {
        self.consensus.campaign().map_err(ServerError::Consensus)?;
        self.drive_readies().await?;
        // A lone voter commits everything it logged once it leads: the state is complete.
        assert!(self.consensus.is_leader());
        assert_eq!(self.consensus.applied_index(), self.consensus.last_index());
        let now = Instant::now();
        for (session_id, info) in self.state.sessions() {
            self.sessions.add(session_id, info.timeout_ms, now);
        }
        Ok(Arc::new(self.state.clone()))
    }

    pub async fn run(mut self) -> Result<(), ServerError> {
        self.serving = true;
        let tick = Duration::from_millis(RAFT_TICK_MS);
        let mut next_tick = Instant::now() + tick;
        let housekeeping_every =
            Duration::from_millis(self.shared.config.container_check_interval_ms.max(1));
        let mut next_housekeeping = Instant::now() + housekeeping_every;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            let first = future::or(async { Some(self.inbox.recv_async().await) }, async {
                glommio::timer::sleep(wait).await;
                None
            })
            .await;
            let mut txns = Vec::new();
            let mut routes = Vec::new();
            if first.is_none() && self.shared.pipeline_stopping() && self.inbox.is_empty() {
                self.drive_readies().await?;
                return Ok(());
            }
            match first {
                Some(Ok(message)) => self.take(message, &mut txns, &mut routes),
                Some(Err(_)) => {
                    // Every shard is gone: finish what is in flight and stop.
                    self.drive_readies().await?;
                    return Ok(());
                }
                None => {}
            }
            self.gather(&mut txns, &mut routes);
            let now = Instant::now();
            if now >= next_tick {
                next_tick = now + tick;
                self.consensus.tick();
                self.expire_sessions(now, &mut txns, &mut routes);
            }
            if now >= next_housekeeping {
                next_housekeeping = now + housekeeping_every;
                self.housekeeping(&mut txns, &mut routes);
            }
            self.close_moved().await;
            if !txns.is_empty() {
                self.propose(txns, routes)?;
            }
            self.drive_readies().await?;
        }
    }

    fn take(&mut self, message: ToPipeline, txns: &mut Vec<Txn>, routes: &mut Vec<Option<Route>>) {
        match message {
            ToPipeline::Write { route, mut txn } => {
                txn.time_ms = now_ms();
                if let WriteOp::CreateSession { .. } = txn.op {
                    txn.session_id = self.allocate_session_id();
                }
                txns.push(txn);
                routes.push(Some(route));
            }
            ToPipeline::Touch(sessions) => {
                let now = Instant::now();
                for session in sessions {
                    self.sessions.touch(session, now);
                }
            }
            ToPipeline::Attached { session_id, route } => self.attach(session_id, route),
        }
    }

    /// Records the connection a session now uses; the one it used before is to be closed.
    fn attach(&mut self, session_id: SessionId, route: Route) {
        // A session whose close is already proposed keeps no owner: its CloseSession closes
        // every connection that still holds it.
        if !self.sessions.contains(session_id) {
            return;
        }
        match self.owners.insert(session_id, route) {
            Some(previous) if previous != route => self.moved.push((previous, session_id)),
            _ => {}
        }
    }

    /// Tells the shards to close the connections that sessions moved away from.
    async fn close_moved(&mut self) {
        assert!(self.moved.len() <= SESSION_MOVES_MAX);
        for (route, session_id) in std::mem::take(&mut self.moved) {
            let message = ShardMessage::CloseConnection {
                conn_id: route.conn_id,
                session_id,
            };
            // A shard that stopped has closed its connections already.
            if self.outboxes[route.shard]
                .send_async(message)
                .await
                .is_err()
            {
                log::debug!("shard {} is gone; connection close dropped", route.shard);
            }
        }
    }

    /// Takes whatever else is already waiting, up to the batch bounds, without waiting.
    fn gather(&mut self, txns: &mut Vec<Txn>, routes: &mut Vec<Option<Route>>) {
        let mut bytes = txns.iter().map(txn_size_hint).sum::<usize>();
        while txns.len() < BATCH_TXNS_MAX
            && bytes < BATCH_BYTES_MAX
            && self.moved.len() < SESSION_MOVES_MAX
        {
            let Ok(message) = self.inbox.try_recv() else {
                break;
            };
            if let ToPipeline::Write { txn, .. } = &message {
                bytes += txn_size_hint(txn);
            }
            self.take(message, txns, routes);
        }
    }

    fn allocate_session_id(&mut self) -> SessionId {
        loop {
            let id = self.next_session_id;
            self.next_session_id = self.next_session_id.wrapping_add(1);
            if self.state.session(id).is_none() && !self.sessions.contains(id) {
                return id;
            }
        }
    }

    fn expire_sessions(
        &mut self,
        now: Instant,
        txns: &mut Vec<Txn>,
        routes: &mut Vec<Option<Route>>,
    ) {
        for session_id in self.sessions.expired(now) {
            log::info!("session 0x{session_id:x} expired");
            txns.push(Txn {
                session_id,
                cxid: 0,
                time_ms: now_ms(),
                auth: Vec::new(),
                op: WriteOp::CloseSession,
            });
            routes.push(None);
        }
    }

    fn housekeeping(&mut self, txns: &mut Vec<Txn>, routes: &mut Vec<Option<Route>>) {
        let time_ms = now_ms();
        for path in self
            .state
            .housekeeping(time_ms)
            .into_iter()
            .take(HOUSEKEEPING_DELETES_MAX)
        {
            txns.push(Txn {
                session_id: 0,
                cxid: 0,
                time_ms,
                auth: Vec::new(),
                op: WriteOp::DeleteContainer { path },
            });
            routes.push(None);
        }
    }

    fn propose(&mut self, txns: Vec<Txn>, routes: Vec<Option<Route>>) -> Result<(), ServerError> {
        let proposal_id = self.next_proposal_id;
        self.next_proposal_id += 1;
        let mut data = Vec::with_capacity(txns.iter().map(txn_size_hint).sum());
        encode_batch(&txns, &mut data);
        self.consensus
            .propose(proposal_id, data)
            .map_err(ServerError::Consensus)?;
        self.routes.insert(proposal_id, routes);
        Ok(())
    }

    /// Persists every ready raft has, applying and publishing what commits.
    async fn drive_readies(&mut self) -> Result<(), ServerError> {
        while let Some(mut pending) = self.consensus.next_ready() {
            let mut output = Output::default();
            self.apply_all(&pending.committed, &mut output)?;
            let records: Vec<LogRecord> = std::mem::take(&mut pending.entries);
            let hard_state: Option<HardState> = pending.hard_state;
            if !records.is_empty() || hard_state.is_some() {
                self.wal.append(records, hard_state).await?;
            }
            let committed = self
                .consensus
                .persisted(pending)
                .map_err(ServerError::Consensus)?;
            self.apply_all(&committed, &mut output)?;
            self.publish(output).await?;
        }
        Ok(())
    }

    fn apply_all(
        &mut self,
        committed: &[Committed],
        output: &mut Output,
    ) -> Result<(), ServerError> {
        for entry in committed {
            if !entry.data.is_empty() {
                let txns =
                    decode_batch(&entry.data).map_err(|error| ServerError::CorruptEntry {
                        index: entry.index,
                        reason: error.to_string(),
                    })?;
                let routes = self.routes.remove(&entry.proposal_id).unwrap_or_default();
                for (position, txn) in txns.iter().enumerate() {
                    let applied = self.state.apply(txn);
                    let route = routes.get(position).copied().flatten();
                    self.after_apply(txn, applied, route, output);
                }
            }
            self.consensus
                .applied(entry.index)
                .map_err(ServerError::Consensus)?;
            output.changed = true;
        }
        Ok(())
    }

    fn after_apply(
        &mut self,
        txn: &Txn,
        applied: Applied,
        route: Option<Route>,
        output: &mut Output,
    ) {
        let Applied {
            zxid,
            result,
            mut triggers,
        } = applied;
        match &result {
            OpResult::SessionCreated {
                session_id,
                timeout_ms,
                ..
            } => {
                self.sessions.add(*session_id, *timeout_ms, Instant::now());
                if let Some(route) = route {
                    self.owners.insert(*session_id, route);
                }
            }
            OpResult::SessionClosed => {
                self.sessions.remove(txn.session_id);
                self.owners.remove(&txn.session_id);
                output.closed_sessions.push(txn.session_id);
            }
            _ => {}
        }
        output.triggers.append(&mut triggers);
        if let Some(route) = route {
            output
                .replies
                .entry(route.shard)
                .or_default()
                .push(WriteReply {
                    conn_id: route.conn_id,
                    cxid: txn.cxid,
                    zxid,
                    result,
                });
        }
    }

    async fn publish(&mut self, mut output: Output) -> Result<(), ServerError> {
        // During recovery no shard runs yet: they start from the recovered state instead.
        if !self.serving || (!output.changed && output.replies.is_empty()) {
            return Ok(());
        }
        let state = Arc::new(self.state.clone());
        let triggers = Arc::new(std::mem::take(&mut output.triggers));
        let closed = Arc::new(std::mem::take(&mut output.closed_sessions));
        let (applied, acknowledgements) = flume::bounded(self.outboxes.len());
        let mut expected = 0;
        for outbox in &self.outboxes {
            let publish = ShardMessage::Publish {
                state: state.clone(),
                triggers: triggers.clone(),
                applied: applied.clone(),
            };
            // A shard that stopped has no connections left to answer.
            if outbox.send_async(publish).await.is_ok() {
                expected += 1;
            }
        }
        drop(applied);
        for _ in 0..expected {
            if acknowledgements.recv_async().await.is_err() {
                break;
            }
        }
        for (shard, outbox) in self.outboxes.iter().enumerate() {
            let replies = output.replies.remove(&shard).unwrap_or_default();
            if replies.is_empty() && closed.is_empty() {
                continue;
            }
            let complete = ShardMessage::Complete {
                replies,
                closed_sessions: closed.clone(),
            };
            if outbox.send_async(complete).await.is_err() {
                log::debug!("shard {shard} is gone; replies dropped");
            }
        }
        self.shared.set_last_zxid(self.state.last_zxid());
        Ok(())
    }
}

#[derive(Default)]
struct Output {
    changed: bool,
    replies: HashMap<usize, Vec<WriteReply>>,
    triggers: Vec<WatchTrigger>,
    closed_sessions: Vec<SessionId>,
}

/// A cheap upper estimate of a txn's encoded size, to bound a batch's bytes.
fn txn_size_hint(txn: &Txn) -> usize {
    fn op_size(op: &WriteOp) -> usize {
        match op {
            WriteOp::Create(create) => {
                create.path.len() + create.data.len() + 64 * (1 + create.acl.len())
            }
            WriteOp::SetData { path, data, .. } => path.len() + data.len() + 16,
            WriteOp::Multi(ops) => ops.iter().map(op_size).sum::<usize>() + 8,
            WriteOp::SetAcl { path, acl, .. } => path.len() + 64 * (1 + acl.len()),
            WriteOp::Delete { path, .. }
            | WriteOp::Check { path, .. }
            | WriteOp::DeleteContainer { path }
            | WriteOp::Sync { path } => path.len() + 16,
            WriteOp::CreateSession { .. } | WriteOp::CloseSession | WriteOp::Refused { .. } => 32,
        }
    }
    64 + op_size(&txn.op)
        + txn
            .auth
            .iter()
            .map(|id| id.scheme.len() + id.id.len() + 8)
            .sum::<usize>()
}
