//! The write pipeline, on shard 0: batch → raft entry → WAL (durable) → apply → publish.
//!
//! Shards send writes over one bounded channel. While a batch is being written and synced the
//! next one gathers in that channel, so one raft entry and one fdatasync carry every write that
//! arrived in the meantime (group commit). Readies are handed to the WAL thread in order, at most
//! `WAL_APPENDS_IN_FLIGHT_MAX` at a time: the write of batch k+1 is started before batch k, now
//! durable, is applied and published, so the disk and the applier work at the same time. Each
//! publication carries the new state root with the replies and watch triggers of durable
//! entries only; a shard answers a write only from such a publication, so nothing is
//! acknowledged before it is durable.
//!
//! When a WAL append fails (disk full, I/O error), every write of that ready and of any ready
//! handed over after it is answered with SystemError (the WAL thread refuses those unwritten),
//! and raft forgets the entries (`Consensus::reset_to_persisted`): nothing that failed is ever
//! applied, nothing acknowledged is touched, reads go on, and the next writes try the disk again
//! (the WAL thread repairs the log first).
//!
//! After applying, the pipeline starts a snapshot when `snapCount` transactions or
//! `snapSizeLimitInKb` of log were written since the last one (see `snapshotter`).
//!
//! The pipeline also knows which connection each live session is attached to. When a client
//! resumes its session on another connection, the old one is closed (ZooKeeper's "session
//! moved": a session is served by one connection at a time).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_engine::consensus::{Committed, Consensus, PendingReady};
use corral_engine::entry::{decode_batch, encode_batch};
use corral_engine::limits::RAFT_TICK_MS;
use corral_engine::state::State;
use corral_engine::types::{Applied, ErrorCode, OpResult, SessionId, Txn, WatchTrigger, WriteOp};
use futures_lite::future;

use super::recovery::Startup;
use super::session_tracker::SessionTracker;
use super::snapshotter::Snapshotter;
use super::wal_thread::{AppendError, PendingAppend, WalHandle};
use super::{now_ms, ServerError, Shared};
use crate::limits::{
    BATCH_BYTES_MAX, BATCH_TXNS_MAX, HOUSEKEEPING_DELETES_MAX, SESSION_MOVES_MAX,
    WAL_APPENDS_IN_FLIGHT_MAX,
};

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

/// Who waits for one txn of a proposed batch, and what to do if it fails before it is durable.
#[derive(Clone, Copy, Debug)]
struct Waiter {
    route: Option<Route>,
    cxid: i32,
    session_id: SessionId,
    /// The server's own CloseSession of an expired session: retried at the next tick.
    expiry: bool,
}

pub struct Pipeline {
    shared: Arc<Shared>,
    consensus: Consensus,
    state: State,
    wal: WalHandle,
    /// Readies handed out by raft and not yet durable, oldest first.
    in_flight: VecDeque<InFlight>,
    /// How many of `in_flight` wait for the WAL thread (at most `WAL_APPENDS_IN_FLIGHT_MAX`).
    appends_in_flight: usize,
    inbox: flume::Receiver<ToPipeline>,
    outboxes: Vec<flume::Sender<ShardMessage>>,
    /// The waiters of each proposal in flight, by proposal id, in batch order.
    waiters: HashMap<u64, Vec<Waiter>>,
    next_proposal_id: u64,
    sessions: SessionTracker,
    /// The connection each live session is attached to: at most one entry per tracked session.
    owners: HashMap<SessionId, Route>,
    /// Connections whose session attached elsewhere, to be closed before the next proposal.
    moved: Vec<(Route, SessionId)>,
    next_session_id: i64,
    serving: bool,
    /// Expired sessions whose CloseSession failed to reach the disk: proposed again next tick.
    retry_expiry: Vec<SessionId>,
    /// The last append failed: raft holds only a new leader's entry, retried with the next
    /// writes.
    disk_failed: bool,
    snapshots: SnapshotTrigger,
}

/// A ready on its way to the disk.
struct InFlight {
    number: u64,
    /// None when the ready had nothing that recovery needs (only the commit index moved): it
    /// is durable as soon as every ready before it is.
    append: Option<PendingAppend>,
}

/// What the pipeline waits for between rounds.
enum Event {
    Message(Result<ToPipeline, flume::RecvError>),
    Persisted(Result<u64, AppendError>),
    Timer,
}

/// When to start the next snapshot, and the thread that writes it.
struct SnapshotTrigger {
    snapshotter: Option<Snapshotter>,
    /// The raft index and term of the last entry applied to `state`.
    applied: (u64, u64),
    txns_since: u64,
    /// The WAL's appended bytes after the last append, and when the last snapshot started.
    wal_bytes: u64,
    wal_bytes_at_last: u64,
}

impl Pipeline {
    pub fn new(
        shared: Arc<Shared>,
        consensus: Consensus,
        wal: WalHandle,
        startup: Startup,
        inbox: flume::Receiver<ToPipeline>,
        outboxes: Vec<flume::Sender<ShardMessage>>,
    ) -> Self {
        let start_ms = now_ms();
        let Startup {
            state,
            base,
            mut snapshotter,
        } = startup;
        if let Some(snapshotter) = snapshotter.as_mut() {
            snapshotter.report_to(shared.stats.snapshots.clone());
        }
        assert_eq!(
            consensus.applied_index(),
            base.map_or(0, |base| base.index),
            "raft starts where the snapshot ends"
        );
        Pipeline {
            shared,
            consensus,
            state,
            wal,
            in_flight: VecDeque::new(),
            appends_in_flight: 0,
            inbox,
            outboxes,
            waiters: HashMap::new(),
            // Proposal ids only need to be unique among this process's in-flight proposals;
            // starting from the clock keeps them apart from anything replayed.
            next_proposal_id: (start_ms as u64) << 16,
            sessions: SessionTracker::default(),
            owners: HashMap::new(),
            moved: Vec::new(),
            // ZooKeeper's layout: server id in the top byte, then the start time in ms.
            next_session_id: ((1i64) << 56) | ((start_ms << 24) as u64 >> 8) as i64,
            serving: false,
            retry_expiry: Vec::new(),
            disk_failed: false,
            snapshots: SnapshotTrigger {
                snapshotter,
                applied: base.map_or((0, 0), |base| (base.index, base.term)),
                txns_since: 0,
                wal_bytes: 0,
                wal_bytes_at_last: 0,
            },
        }
    }

    /// Replays the log and elects this node, so the state is current before clients connect.
    pub async fn recover(&mut self) -> Result<Arc<State>, ServerError> {
        self.consensus.campaign().map_err(ServerError::Consensus)?;
        self.drain().await?;
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
            let event = self.next_event(wait).await;
            let mut txns = Vec::new();
            let mut routes = Vec::new();
            match event {
                Event::Message(Ok(message)) => self.take(message, &mut txns, &mut routes),
                Event::Message(Err(_)) => {
                    // Every shard is gone: finish what is in flight and stop.
                    self.drain().await?;
                    return Ok(());
                }
                Event::Persisted(result) => {
                    self.on_persisted(result).await?;
                }
                Event::Timer => {
                    if self.shared.pipeline_stopping() && self.inbox.is_empty() {
                        self.drain().await?;
                        return Ok(());
                    }
                }
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
            let proposed = !txns.is_empty();
            if proposed {
                self.propose(txns, routes).await?;
            }
            // After a failed append the disk is tried again with the next writes, not on every
            // tick: a full disk costs one attempt per batch, not ten failing syncs a second.
            if proposed || !self.disk_failed {
                self.advance().await?;
            }
        }
    }

    /// Waits for the oldest append in flight, a message from the shards, or the timer. While
    /// the WAL thread holds all the appends it may, messages are left in the channel: they
    /// gather there into the next batch.
    async fn next_event(&self, wait: Duration) -> Event {
        let timer = async {
            glommio::timer::sleep(wait).await;
            Event::Timer
        };
        let pending = self
            .in_flight
            .front()
            .and_then(|front| front.append.as_ref());
        match pending {
            Some(append) => {
                let persisted = async { Event::Persisted(append.done().await) };
                if self.appends_in_flight >= WAL_APPENDS_IN_FLIGHT_MAX {
                    future::or(persisted, timer).await
                } else {
                    let message = async { Event::Message(self.inbox.recv_async().await) };
                    future::or(persisted, future::or(message, timer)).await
                }
            }
            None => {
                let message = async { Event::Message(self.inbox.recv_async().await) };
                future::or(message, timer).await
            }
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
        let mut expired = self.sessions.expired(now);
        // Sessions whose close failed on the disk are still in the state: close them again.
        for session_id in std::mem::take(&mut self.retry_expiry) {
            if self.state.session(session_id).is_some() && !expired.contains(&session_id) {
                expired.push(session_id);
            }
        }
        for session_id in expired {
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

    /// Hands a batch to raft. If raft cannot take it (it lost leadership after a failed
    /// append and cannot campaign), its writes fail at once with SystemError.
    async fn propose(
        &mut self,
        txns: Vec<Txn>,
        routes: Vec<Option<Route>>,
    ) -> Result<(), ServerError> {
        let waiters: Vec<Waiter> = txns
            .iter()
            .zip(routes)
            .map(|(txn, route)| Waiter {
                route,
                cxid: txn.cxid,
                session_id: txn.session_id,
                expiry: route.is_none() && matches!(txn.op, WriteOp::CloseSession),
            })
            .collect();
        let proposal_id = self.next_proposal_id;
        self.next_proposal_id += 1;
        let mut data = Vec::with_capacity(txns.iter().map(txn_size_hint).sum());
        encode_batch(&txns, &mut data);
        if !self.consensus.is_leader() {
            if let Err(error) = self.consensus.campaign() {
                log::error!("campaign after a failed append: {error}");
            }
        }
        match self.consensus.propose(proposal_id, data) {
            Ok(()) => {
                self.waiters.insert(proposal_id, waiters);
                Ok(())
            }
            Err(error) => {
                log::error!("a batch of {} writes failed: {error}", waiters.len());
                let mut output = Output::default();
                for waiter in waiters {
                    self.fail_waiter(waiter, &mut output);
                }
                self.publish(output).await
            }
        }
    }

    /// Hands raft's readies to the WAL thread while it has room, and applies and publishes
    /// the committed entries each one carries after its write has started.
    async fn advance(&mut self) -> Result<(), ServerError> {
        while self.appends_in_flight < WAL_APPENDS_IN_FLIGHT_MAX {
            let Some(pending) = self
                .consensus
                .next_ready()
                .map_err(ServerError::Consensus)?
            else {
                break;
            };
            let PendingReady {
                number,
                entries,
                hard_state,
                must_sync,
                committed,
            } = pending;
            let append = if must_sync {
                self.appends_in_flight += 1;
                Some(self.wal.submit(entries, hard_state).await?)
            } else {
                None
            };
            self.in_flight.push_back(InFlight { number, append });
            self.settle_front();
            if !committed.is_empty() {
                let mut output = Output::default();
                self.apply_all(&committed, &mut output)?;
                self.maybe_snapshot();
                self.publish(output).await?;
            }
        }
        Ok(())
    }

    /// Readies at the front with nothing to write are durable once those before them are.
    fn settle_front(&mut self) {
        while let Some(front) = self.in_flight.front() {
            if front.append.is_some() {
                break;
            }
            self.consensus.persisted(front.number);
            self.in_flight.pop_front();
        }
    }

    /// The oldest append in flight finished. Returns false when it failed (its writes and
    /// every later one in flight failed with it).
    async fn on_persisted(
        &mut self,
        result: Result<u64, AppendError>,
    ) -> Result<bool, ServerError> {
        let front = self.in_flight.pop_front();
        assert!(
            front.as_ref().is_some_and(|front| front.append.is_some()),
            "an append result belongs to the oldest append in flight"
        );
        self.appends_in_flight -= 1;
        match result {
            Ok(bytes) => {
                self.snapshots.wal_bytes = bytes;
                self.disk_failed = false;
                if let Some(front) = front {
                    self.consensus.persisted(front.number);
                }
                self.settle_front();
                Ok(true)
            }
            Err(AppendError::Failed(reason)) if self.serving => {
                // Later appends were handed over behind the failed one: the WAL thread refuses
                // them, and their answers are not waited for.
                self.wal.discard_in_flight();
                self.in_flight.clear();
                self.appends_in_flight = 0;
                let mut output = Output::default();
                self.append_failed(&reason, &mut output)?;
                self.publish(output).await?;
                Ok(false)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Writes, applies and publishes until raft has nothing left and nothing is in flight,
    /// or an append failed (the disk is tried again by the next writes, if any come).
    async fn drain(&mut self) -> Result<(), ServerError> {
        loop {
            self.advance().await?;
            let Some(append) = self
                .in_flight
                .front()
                .and_then(|front| front.append.as_ref())
            else {
                return Ok(());
            };
            let result = append.done().await;
            if !self.on_persisted(result).await? {
                return Ok(());
            }
        }
    }

    /// The ready holding these proposals never reached the disk: answer their writes with
    /// SystemError, roll raft back to what is durable, and lead again so later writes go on.
    fn append_failed(&mut self, reason: &str, output: &mut Output) -> Result<(), ServerError> {
        self.disk_failed = true;
        let dropped = self
            .consensus
            .reset_to_persisted()
            .map_err(ServerError::Consensus)?;
        let mut failed = 0;
        for proposal_id in dropped {
            for waiter in self.waiters.remove(&proposal_id).unwrap_or_default() {
                self.fail_waiter(waiter, output);
                failed += 1;
            }
        }
        log::error!("write-ahead log append failed ({reason}); {failed} writes fail");
        // Proposals still waiting are in raft's storage (durable): they commit in the new term.
        self.consensus.campaign().map_err(ServerError::Consensus)?;
        Ok(())
    }

    fn fail_waiter(&mut self, waiter: Waiter, output: &mut Output) {
        if waiter.expiry {
            self.retry_expiry.push(waiter.session_id);
        }
        if let Some(route) = waiter.route {
            output
                .replies
                .entry(route.shard)
                .or_default()
                .push(WriteReply {
                    conn_id: route.conn_id,
                    cxid: waiter.cxid,
                    zxid: self.state.last_zxid(),
                    result: OpResult::Error(ErrorCode::SystemError),
                });
        }
    }

    /// Starts a snapshot when enough was written since the last one and none is running.
    fn maybe_snapshot(&mut self) {
        let config = &self.shared.config;
        let trigger = &mut self.snapshots;
        let Some(snapshotter) = trigger.snapshotter.as_mut() else {
            return;
        };
        let by_count = trigger.txns_since >= config.snap_count;
        let log_bytes = trigger.wal_bytes.saturating_sub(trigger.wal_bytes_at_last);
        let by_bytes = config
            .snap_size_limit_bytes
            .is_some_and(|limit| log_bytes >= limit);
        let (index, term) = trigger.applied;
        if !(by_count || by_bytes) || index == 0 || snapshotter.is_running() {
            return;
        }
        if snapshotter.begin(self.state.clone(), index, term) {
            log::info!(
                "snapshot of entry {index} started after {} txns, {log_bytes} log bytes",
                trigger.txns_since
            );
            // A failed snapshot is retried when the next threshold is reached.
            trigger.txns_since = 0;
            trigger.wal_bytes_at_last = trigger.wal_bytes;
        }
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
                let waiters = self.waiters.remove(&entry.proposal_id).unwrap_or_default();
                for (position, txn) in txns.iter().enumerate() {
                    let applied = self.state.apply(txn);
                    let route = waiters.get(position).and_then(|waiter| waiter.route);
                    self.after_apply(txn, applied, route, output);
                }
                self.snapshots.txns_since += txns.len() as u64;
            }
            self.snapshots.applied = (entry.index, entry.term);
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
