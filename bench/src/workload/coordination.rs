//! The coordination workloads: ephemeral churn, watch fan-out and the leader-election storm.
//!
//! They run as tasks on one multi-threaded tokio runtime of `spec.threads` workers, since their
//! sessions must wait on each other (a set on its watchers, a round on its contenders); their
//! request rates are low enough that one shared recorder behind a mutex costs nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{watch, Notify};

use crate::client::{
    create_mode, decode_children, event_type, ClientError, ClientResult, Op, Session,
};
use crate::histogram::Recorder;
use crate::limits::{ROUND_TIMEOUT, SESSION_TIMEOUT_MS};
use crate::results::RunSpec;
use crate::run::{schedule, Progress};
use crate::workload::{Kind, Plan};
use crate::Error;

type Shared = Arc<Mutex<Recorder>>;

/// Runs a coordination workload and returns what it recorded.
pub fn run(spec: &RunSpec, plan: &Arc<Plan>, progress: &Arc<Progress>) -> Result<Recorder, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(spec.threads as usize)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match plan.kind {
            Kind::EphemeralChurn => churn(spec, plan, progress).await,
            Kind::WatchFanout => fanout(spec, plan, progress).await,
            Kind::Election => election(spec, plan, progress).await,
            _ => Err("not a coordination workload".into()),
        }
    })
}

fn server_of(spec: &RunSpec, index: u32) -> String {
    spec.servers[index as usize % spec.servers.len()].clone()
}

fn start(progress: &Progress, spec: &RunSpec) -> Result<(Instant, Shared), Error> {
    let (warmup_start, window) = schedule(spec);
    progress.schedule.set((warmup_start, window)).ok();
    Ok((warmup_start, Arc::new(Mutex::new(Recorder::new(window)?))))
}

fn take(recorder: Shared) -> Result<Recorder, Error> {
    Ok(Arc::try_unwrap(recorder)
        .map_err(|_| "a task outlived its run")?
        .into_inner()
        .map_err(|_| "a task panicked")?)
}

fn lock(recorder: &Shared) -> ClientResult<std::sync::MutexGuard<'_, Recorder>> {
    recorder
        .lock()
        .map_err(|_| ClientError::ConnectionLoss("recorder poisoned"))
}

fn count_failure(recorder: &Shared, error: &ClientError) {
    if let Ok(mut recorder) = recorder.lock() {
        match error {
            ClientError::Server { error, .. } => recorder.error(Instant::now(), *error),
            ClientError::Protocol(_) => recorder.session_failure("MARSHALLINGERROR"),
            _ => recorder.session_failure("CONNECTIONLOSS"),
        }
    }
}

/// `ephemeral-churn`: every session loops connect, create an ephemeral, close.
async fn churn(
    spec: &RunSpec,
    plan: &Arc<Plan>,
    progress: &Arc<Progress>,
) -> Result<Recorder, Error> {
    let (warmup_start, recorder) = start(progress, spec)?;
    let window = lock(&recorder)?.window();
    let mut tasks = Vec::new();
    for index in 0..spec.clients {
        let (server, plan, recorder) = (
            server_of(spec, index),
            Arc::clone(plan),
            Arc::clone(&recorder),
        );
        let progress = Arc::clone(progress);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(warmup_start.into()).await;
            let mut cycle = 0u64;
            while Instant::now() < window.end {
                let started = Instant::now();
                let path = format!("{}/e{index}-{cycle}", plan.root);
                cycle += 1;
                match churn_cycle(&server, &path, &plan.value).await {
                    Ok(()) => lock(&recorder)?.success(started, Instant::now()),
                    Err(error) => {
                        count_failure(&recorder, &error);
                        return Err(error);
                    }
                }
                progress.completed.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), ClientError>(())
        }));
    }
    for task in tasks {
        task.await.ok();
    }
    take(recorder)
}

async fn churn_cycle(server: &str, path: &str, value: &[u8]) -> ClientResult<()> {
    let mut session = Session::connect(server, SESSION_TIMEOUT_MS).await?;
    session
        .call_ok(&Op::Create {
            path,
            data: value,
            flags: create_mode::EPHEMERAL,
        })
        .await?;
    session.close().await
}

/// What the watch fan-out tasks share.
struct Fanout {
    /// When the current set was sent.
    sent: Mutex<Instant>,
    /// Watchers that have had their event for the current set and re-armed.
    armed: AtomicU64,
    all_armed: Notify,
    round_events: AtomicU64,
    events: AtomicU64,
    watchers: u64,
}

/// `watch-fanout`: watchers watch one node; a setter sets it once all have re-armed.
async fn fanout(
    spec: &RunSpec,
    plan: &Arc<Plan>,
    progress: &Arc<Progress>,
) -> Result<Recorder, Error> {
    let node = format!("{}/watched", plan.root);
    let mut setter = Session::connect(&spec.servers[0], SESSION_TIMEOUT_MS).await?;
    crate::workload::create(&mut setter, &node, &plan.value).await?;
    let mut watchers = Vec::new();
    for index in 0..plan.watchers {
        let mut session = Session::connect(&server_of(spec, index), SESSION_TIMEOUT_MS).await?;
        session
            .call_ok(&Op::GetData {
                path: &node,
                watch: true,
            })
            .await?;
        watchers.push(session);
    }
    let shared = Arc::new(Fanout {
        sent: Mutex::new(Instant::now()),
        armed: AtomicU64::new(0),
        all_armed: Notify::new(),
        round_events: AtomicU64::new(0),
        events: AtomicU64::new(0),
        watchers: u64::from(plan.watchers),
    });
    let (warmup_start, recorder) = start(progress, spec)?;
    let (stop_sender, stop) = watch::channel(false);
    let mut tasks = Vec::new();
    for session in watchers {
        let (shared, recorder, node) = (Arc::clone(&shared), Arc::clone(&recorder), node.clone());
        let (mut stop, progress) = (stop.clone(), Arc::clone(progress));
        tasks.push(tokio::spawn(async move {
            let mut session = session;
            tokio::select! {
                outcome = watcher(&mut session, &node, &shared, &recorder, &progress) => {
                    if let Err(error) = outcome {
                        count_failure(&recorder, &error);
                    }
                }
                _ = stop.changed() => {}
            }
            session.close().await.ok();
        }));
    }
    tokio::time::sleep_until(warmup_start.into()).await;
    let outcome = set_rounds(&mut setter, &node, plan, &shared, &recorder).await;
    stop_sender.send(true).ok();
    for task in tasks {
        task.await.ok();
    }
    setter.close().await.ok();
    let mut recorder = take(recorder)?;
    recorder.add_extra("events", shared.events.load(Ordering::Relaxed) as f64);
    outcome?;
    Ok(recorder)
}

/// The setter's loop: set, wait for every watcher's event and re-arm, repeat until the end.
async fn set_rounds(
    setter: &mut Session,
    node: &str,
    plan: &Plan,
    shared: &Fanout,
    recorder: &Shared,
) -> Result<(), Error> {
    let window = lock(recorder)?.window();
    let (mut sets, mut per_set_min, mut per_set_max) = (0u64, u64::MAX, 0u64);
    while Instant::now() < window.end {
        shared.armed.store(0, Ordering::SeqCst);
        shared.round_events.store(0, Ordering::SeqCst);
        *shared.sent.lock().map_err(|_| "poisoned")? = Instant::now();
        let set = Op::SetData {
            path: node,
            data: &plan.value,
            version: -1,
        };
        setter.call_ok(&set).await?;
        sets += 1;
        wait_all_armed(shared).await?;
        let round_events = shared.round_events.load(Ordering::SeqCst);
        per_set_min = per_set_min.min(round_events);
        per_set_max = per_set_max.max(round_events);
    }
    let mut recorder = lock(recorder)?;
    recorder.add_extra("sets", sets as f64);
    if sets > 0 {
        recorder.add_extra("events_per_set_min", per_set_min as f64);
        recorder.add_extra("events_per_set_max", per_set_max as f64);
    }
    Ok(())
}

/// Waits until every watcher has had its event and re-armed. A notification left over from an
/// earlier round only causes one more check of the count.
async fn wait_all_armed(shared: &Fanout) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + ROUND_TIMEOUT;
    loop {
        let all_armed = shared.all_armed.notified();
        tokio::pin!(all_armed);
        all_armed.as_mut().enable();
        if shared.armed.load(Ordering::SeqCst) >= shared.watchers {
            return Ok(());
        }
        if tokio::time::timeout_at(deadline, all_armed).await.is_err() {
            return Err("watch fan-out: not every watcher saw the set in time".into());
        }
    }
}

async fn watcher(
    session: &mut Session,
    node: &str,
    shared: &Fanout,
    recorder: &Shared,
    progress: &Progress,
) -> ClientResult<()> {
    loop {
        let event = session.next_event().await?;
        let arrived = Instant::now();
        if event.event_type != event_type::NODE_DATA_CHANGED || event.path != node {
            continue;
        }
        let sent = *shared
            .sent
            .lock()
            .map_err(|_| ClientError::ConnectionLoss("poisoned"))?;
        lock(recorder)?.success(sent, arrived);
        shared.events.fetch_add(1, Ordering::SeqCst);
        shared.round_events.fetch_add(1, Ordering::SeqCst);
        progress.completed.fetch_add(1, Ordering::Relaxed);
        session
            .call_ok(&Op::GetData {
                path: node,
                watch: true,
            })
            .await?;
        if shared.armed.fetch_add(1, Ordering::SeqCst) + 1 == shared.watchers {
            shared.all_armed.notify_one();
        }
    }
}

/// What the election tasks share: each contender's own node and the leader it last saw.
struct Election {
    parent: String,
    own: Mutex<Vec<Option<String>>>,
    seen: Mutex<Vec<Option<String>>>,
    changed: watch::Sender<u64>,
    resign: Vec<Notify>,
    stopping: AtomicBool,
}

impl Election {
    fn update(&self, slot: usize, own: Option<String>, seen: Option<String>) {
        if let (Ok(mut owns), Ok(mut seens)) = (self.own.lock(), self.seen.lock()) {
            owns[slot] = own;
            seens[slot] = seen;
        }
        self.changed.send_modify(|version| *version += 1);
    }

    /// The current leader when every contender has joined and sees it.
    fn agreed(&self) -> Option<(usize, String)> {
        let owns = self.own.lock().ok()?;
        let seens = self.seen.lock().ok()?;
        let owns: Vec<&String> = owns.iter().map(Option::as_ref).collect::<Option<_>>()?;
        let leader = owns.iter().min()?;
        if seens.iter().all(|seen| seen.as_ref() == Some(*leader)) {
            let slot = owns.iter().position(|own| own == leader)?;
            return Some((slot, (*leader).clone()));
        }
        None
    }

    /// Whether every contender but `except` sees `leader`.
    fn all_see(&self, except: usize, leader: &str) -> bool {
        let Ok(seens) = self.seen.lock() else {
            return false;
        };
        seens
            .iter()
            .enumerate()
            .all(|(slot, seen)| slot == except || seen.as_deref() == Some(leader))
    }

    /// The second-lowest node: the leader once the current one is gone.
    fn successor(&self) -> Option<String> {
        let owns = self.own.lock().ok()?;
        let mut names: Vec<&String> = owns.iter().flatten().collect();
        names.sort();
        names.get(1).map(|name| (*name).clone())
    }
}

/// `election`: contenders run the ephemeral-sequential recipe; the leader resigns each round.
async fn election(
    spec: &RunSpec,
    plan: &Arc<Plan>,
    progress: &Arc<Progress>,
) -> Result<Recorder, Error> {
    let parent = format!("{}/election", plan.root);
    let mut setup = Session::connect(&spec.servers[0], SESSION_TIMEOUT_MS).await?;
    crate::workload::create(&mut setup, &parent, &[]).await?;
    setup.close().await?;
    let contenders = plan.contenders.max(2) as usize;
    let (changed, mut changes) = watch::channel(0u64);
    let shared = Arc::new(Election {
        parent,
        own: Mutex::new(vec![None; contenders]),
        seen: Mutex::new(vec![None; contenders]),
        changed,
        resign: (0..contenders).map(|_| Notify::new()).collect(),
        stopping: AtomicBool::new(false),
    });
    let (stop_sender, stop) = watch::channel(false);
    let mut tasks = Vec::new();
    for slot in 0..contenders {
        let (shared, server, mut stop) = (
            Arc::clone(&shared),
            server_of(spec, slot as u32),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            contender(&shared, slot, &server, &mut stop).await
        }));
    }
    wait_until(&mut changes, || shared.agreed().is_some()).await?;
    let (warmup_start, recorder) = start(progress, spec)?;
    tokio::time::sleep_until(warmup_start.into()).await;
    let outcome = election_rounds(&shared, &mut changes, &recorder, progress).await;
    shared.stopping.store(true, Ordering::SeqCst);
    stop_sender.send(true).ok();
    for task in tasks {
        if let Ok(Err(error)) = task.await {
            count_failure(&recorder, &error);
        }
    }
    let mut recorder = take(recorder)?;
    let latency = recorder.latency();
    recorder.add_extra("agreement_ms_p50", latency.p50_us as f64 / 1000.0);
    recorder.add_extra("agreement_ms_p99", latency.p99_us as f64 / 1000.0);
    recorder.add_extra("agreement_ms_max", latency.max_us as f64 / 1000.0);
    outcome?;
    Ok(recorder)
}

async fn election_rounds(
    shared: &Election,
    changes: &mut watch::Receiver<u64>,
    recorder: &Shared,
    progress: &Progress,
) -> Result<(), Error> {
    let window = lock(recorder)?.window();
    let mut rounds = 0u64;
    while Instant::now() < window.end {
        wait_until(changes, || shared.agreed().is_some()).await?;
        let (leader_slot, _) = shared.agreed().ok_or("agreement lost")?;
        let successor = shared
            .successor()
            .ok_or("a single contender cannot elect")?;
        let started = Instant::now();
        shared.resign[leader_slot].notify_one();
        wait_until(changes, || shared.all_see(leader_slot, &successor)).await?;
        lock(recorder)?.success(started, Instant::now());
        progress.completed.fetch_add(1, Ordering::Relaxed);
        rounds += 1;
    }
    lock(recorder)?.add_extra("rounds", rounds as f64);
    Ok(())
}

async fn wait_until(
    changes: &mut watch::Receiver<u64>,
    condition: impl Fn() -> bool,
) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + ROUND_TIMEOUT;
    loop {
        changes.borrow_and_update();
        if condition() {
            return Ok(());
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err("election tasks ended".into()),
            Err(_) => return Err("election: no agreement within the round timeout".into()),
        }
    }
}

/// One contender: joins, follows the children of the parent, resigns (closes) when told, and
/// rejoins with a new session.
async fn contender(
    shared: &Election,
    slot: usize,
    server: &str,
    stop: &mut watch::Receiver<bool>,
) -> ClientResult<()> {
    loop {
        let mut session = Session::connect(server, SESSION_TIMEOUT_MS).await?;
        let reply = session
            .call_ok(&Op::Create {
                path: &format!("{}/c-", shared.parent),
                data: &[],
                flags: create_mode::EPHEMERAL_SEQUENTIAL,
            })
            .await?;
        let created = crate::client::decode_create(&reply.body)?;
        let own = created.rsplit('/').next().unwrap_or(created).to_string();
        let leader = list_leader(&mut session, shared).await?;
        shared.update(slot, Some(own.clone()), leader);
        loop {
            tokio::select! {
                event = session.next_event() => {
                    if event?.event_type == event_type::NODE_CHILDREN_CHANGED {
                        let leader = list_leader(&mut session, shared).await?;
                        shared.update(slot, Some(own.clone()), leader);
                    }
                }
                _ = shared.resign[slot].notified() => break,
                _ = stop.changed() => break,
            }
        }
        shared.update(slot, None, None);
        // Closing (not just dropping the connection) removes the ephemeral now, not at expiry.
        session.close().await?;
        if shared.stopping.load(Ordering::SeqCst) || *stop.borrow() {
            return Ok(());
        }
    }
}

/// Lists the parent's children, re-arming the children watch, and returns the lowest.
async fn list_leader(session: &mut Session, shared: &Election) -> ClientResult<Option<String>> {
    let reply = session
        .call_ok(&Op::GetChildren {
            path: &shared.parent,
            watch: true,
        })
        .await?;
    Ok(decode_children(&reply.body)?.into_iter().min())
}
