//! One shard: the connections a core owns, their watches, and the newest state root it has
//! received. A publication is handled in one go — new root, then watch events, then write
//! replies — so a client always sees a watch event before any reply that reflects the change.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use corral_engine::consensus::Consensus;
use corral_engine::state::State;
use futures_lite::future;
use glommio::net::{AcceptedTcpStream, TcpListener};

use super::connection::{self, Conn};
use super::pipeline::{Pipeline, ShardMessage, ToPipeline, WriteReply};
use super::recovery::Startup;
use super::wal_thread::WalHandle;
use super::watches::WatchManager;
use super::{lock, ServerError, Shared, SHUTDOWN_GRACE};
use crate::jute::{encode_event, NOTIFICATION_ZXID};
use crate::limits::TOUCH_INTERVAL_MS;
use corral_engine::types::{SessionId, WatchTrigger};

/// SyncConnected, the keeper state of every watch event a live session receives.
const STATE_SYNC_CONNECTED: i32 = 3;

pub struct Shard {
    pub id: usize,
    pub shared: Arc<Shared>,
    pub state: RefCell<Arc<State>>,
    pub conns: RefCell<HashMap<u64, Rc<Conn>>>,
    pub to_pipeline: flume::Sender<ToPipeline>,
    watches: Arc<Mutex<WatchManager>>,
    next_conn: Cell<u64>,
}

impl Shard {
    pub fn watches(&self) -> MutexGuard<'_, WatchManager> {
        lock(&self.watches)
    }

    pub fn next_conn_id(&self) -> u64 {
        let counter = self.next_conn.get() + 1;
        self.next_conn.set(counter);
        ((self.id as u64) << 48) | counter
    }

    pub fn state(&self) -> Arc<State> {
        self.state.borrow().clone()
    }

    fn handle(&self, message: ShardMessage) {
        match message {
            ShardMessage::Publish {
                state,
                triggers,
                applied,
            } => {
                self.publish(state, &triggers);
                // The pipeline waits for every shard; if it is gone there is nobody to tell.
                let _ = applied.send(());
            }
            ShardMessage::Complete {
                replies,
                closed_sessions,
            } => self.complete(replies, &closed_sessions),
            ShardMessage::CloseConnection {
                conn_id,
                session_id,
            } => self.close_moved(conn_id, session_id),
        }
    }

    /// The client resumed `session_id` on another connection: this one no longer serves it.
    fn close_moved(&self, conn_id: u64, session_id: SessionId) {
        let conn = self.conns.borrow().get(&conn_id).cloned();
        let Some(conn) = conn else {
            return;
        };
        if conn.session_id.get() != session_id || conn.is_closing() {
            return;
        }
        log::info!(
            "closing connection from {}: session 0x{session_id:x} reconnected on another connection",
            conn.peer
        );
        conn.close();
    }

    fn publish(&self, state: Arc<State>, triggers: &[WatchTrigger]) {
        *self.state.borrow_mut() = state;
        let conns = self.conns.borrow();
        if !triggers.is_empty() {
            let mut notified = Vec::new();
            let mut watches = self.watches();
            for trigger in triggers {
                watches.trigger(&trigger.path, trigger.event, &mut notified);
                for conn_id in &notified {
                    if let Some(conn) = conns.get(conn_id) {
                        conn.push_output(|out| {
                            encode_event(
                                out,
                                NOTIFICATION_ZXID,
                                trigger.event as i32,
                                STATE_SYNC_CONNECTED,
                                &trigger.path,
                            )
                        });
                    }
                }
            }
        }
    }

    fn complete(&self, replies: Vec<WriteReply>, closed_sessions: &[SessionId]) {
        for reply in replies {
            let conn = self.conns.borrow().get(&reply.conn_id).cloned();
            if let Some(conn) = conn {
                connection::complete_write(self, &conn, reply);
            }
        }
        if !closed_sessions.is_empty() {
            let conns: Vec<Rc<Conn>> = self.conns.borrow().values().cloned().collect();
            for conn in conns {
                if closed_sessions.contains(&conn.session_id.get()) {
                    conn.close();
                }
            }
        }
    }

    /// Reports sessions that sent something since the last report, so the leader keeps them.
    async fn report_activity(self: Rc<Self>) {
        loop {
            glommio::timer::sleep(Duration::from_millis(TOUCH_INTERVAL_MS)).await;
            let touched: Vec<i64> = self
                .conns
                .borrow()
                .values()
                .filter(|conn| conn.touched.replace(false) && conn.session_id.get() != 0)
                .map(|conn| conn.session_id.get())
                .collect();
            if !touched.is_empty()
                && self
                    .to_pipeline
                    .send_async(ToPipeline::Touch(touched))
                    .await
                    .is_err()
            {
                return;
            }
        }
    }
}

pub async fn run_shard(
    id: usize,
    shared: Arc<Shared>,
    to_pipeline: flume::Sender<ToPipeline>,
    publish_rx: flume::Receiver<ShardMessage>,
    accept_rx: flume::Receiver<AcceptedTcpStream>,
    state: Arc<State>,
) {
    let shard = Rc::new(Shard {
        id,
        watches: shared.watches[id].clone(),
        shared,
        state: RefCell::new(state),
        conns: RefCell::new(HashMap::new()),
        to_pipeline,
        next_conn: Cell::new(0),
    });
    let publisher = {
        let shard = shard.clone();
        glommio::spawn_local(async move {
            while let Ok(message) = publish_rx.recv_async().await {
                shard.handle(message);
            }
        })
    };
    let reporter = glommio::spawn_local(shard.clone().report_activity());
    while let Ok(accepted) = accept_rx.recv_async().await {
        let stream = accepted.bind_to_executor();
        glommio::spawn_local(connection::serve(shard.clone(), stream)).detach();
    }
    // Shutdown: stop reading requests, let in-flight ones finish, then close every connection.
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    let conns: Vec<Rc<Conn>> = shard.conns.borrow().values().cloned().collect();
    for conn in &conns {
        conn.stop_reading();
    }
    while Instant::now() < deadline && conns.iter().any(|conn| conn.has_pending()) {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    for conn in &conns {
        conn.close();
    }
    while Instant::now() < deadline && !shard.conns.borrow().is_empty() {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    drop(reporter);
    shard.shared.shards_done.fetch_add(1, Ordering::SeqCst);
    // Keep handling publications until the pipeline stops, so nothing it sends is stranded.
    publisher.await;
}

pub struct LeaderParts {
    pub shared: Arc<Shared>,
    pub to_pipeline: flume::Sender<ToPipeline>,
    pub publish_rx: flume::Receiver<ShardMessage>,
    pub accept_rx: flume::Receiver<AcceptedTcpStream>,
    pub consensus: Consensus,
    pub wal: WalHandle,
    /// What recovery built: the state, the snapshot it came from, the snapshot thread.
    pub startup: Startup,
    pub inbox: flume::Receiver<ToPipeline>,
    pub outboxes: Vec<flume::Sender<ShardMessage>>,
    pub acceptors: Vec<flume::Sender<AcceptedTcpStream>>,
    pub initial_tx: flume::Sender<Arc<State>>,
    pub on_listening: Box<dyn FnOnce(SocketAddr) + Send>,
}

/// Shard 0: recovers the state, then runs the pipeline, the acceptor and its own connections.
pub async fn run_leader_shard(parts: LeaderParts) -> Result<(), ServerError> {
    let LeaderParts {
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
        on_listening,
    } = parts;
    let mut pipeline = Pipeline::new(shared.clone(), consensus, wal, startup, inbox, outboxes);
    let state = pipeline.recover().await?;
    shared.set_last_zxid(state.last_zxid());
    log::info!(
        "recovered state: last zxid 0x{:x}, {} znodes",
        state.last_zxid(),
        state.node_count()
    );
    for _ in 1..shared.config.cores.max(1) {
        let _ = initial_tx.send_async(state.clone()).await;
    }
    drop(initial_tx);

    let address = SocketAddr::new(shared.config.client_port_address, shared.config.client_port);
    let listener = TcpListener::bind(address).map_err(|error| ServerError::Listen {
        address,
        reason: error.to_string(),
    })?;
    let bound = listener
        .local_addr()
        .map_err(|error| ServerError::Io(error.to_string()))?;
    shared.set_client_port(bound.port());
    let pipeline_task = glommio::spawn_local(pipeline.run());
    let shard_task = glommio::spawn_local(run_shard(
        0,
        shared.clone(),
        to_pipeline,
        publish_rx,
        accept_rx,
        state,
    ));
    on_listening(bound);
    accept_loop(&shared, &listener, acceptors).await;
    drop(listener);
    // Shards finish their in-flight requests; then the pipeline may stop.
    let shards = shared.config.cores.max(1);
    while shared.shards_done.load(Ordering::SeqCst) < shards {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    shared.pipeline_stop();
    let result = pipeline_task.await;
    shard_task.await;
    result
}

async fn accept_loop(
    shared: &Shared,
    listener: &TcpListener,
    acceptors: Vec<flume::Sender<AcceptedTcpStream>>,
) {
    let mut next = 0usize;
    loop {
        let accepted = future::or(async { Some(listener.shared_accept().await) }, async {
            while !shared.is_shutting_down() {
                glommio::timer::sleep(Duration::from_millis(50)).await;
            }
            None
        })
        .await;
        let accepted = match accepted {
            None => return,
            Some(Ok(accepted)) => accepted,
            Some(Err(error)) => {
                log::warn!("accept failed: {error}");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if !admit(shared, &accepted) {
            // An accepted stream closes its socket only once bound to an executor.
            drop(accepted.bind_to_executor());
            continue;
        }
        let shard = next % acceptors.len();
        next = next.wrapping_add(1);
        if acceptors[shard].send_async(accepted).await.is_err() {
            return;
        }
    }
}

/// maxClientCnxns: connections from one address beyond the limit are closed at once, as
/// ZooKeeper does.
fn admit(shared: &Shared, accepted: &AcceptedTcpStream) -> bool {
    let limit = shared.config.max_client_cnxns;
    if limit == 0 {
        return true;
    }
    let Ok(peer) = accepted.peer_addr() else {
        return false;
    };
    let counts = lock(&shared.connections_per_ip);
    let mut counts = counts;
    let current = counts.entry(peer.ip()).or_insert(0);
    if *current >= limit {
        log::warn!("too many connections from {} - max is {limit}", peer.ip());
        return false;
    }
    // Released by the connection when it closes.
    *current += 1;
    true
}
