//! One run of a workload against a ZooKeeper-compatible server, closed or open loop.
//!
//! The run prepares the workload's nodes through one setup session, connects `clients`
//! sessions spread over `threads` OS threads (each with its own current-thread tokio runtime),
//! starts every session at once, warms up, measures, drains, closes the sessions and deletes
//! the workload's nodes. Each thread records into its own histogram; they are merged at the end.
//!
//! Closed loop: each session keeps `in_flight` requests outstanding. Open loop (`rate`): each
//! session sends at fixed intended times (the rate spread evenly over the sessions, their
//! schedules staggered) and every latency is measured from the intended send time, so a
//! stalled server shows its whole stall instead of hiding it by slowing the generator down
//! (no coordinated omission). At most `OPEN_LOOP_OUTSTANDING_MAX` requests are outstanding per
//! session; requests that fall due while a session is at that bound are sent as soon as a
//! reply frees a slot, still timed from their intended time, and counted in
//! `extra.limit_delayed`.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use corral_net::jute::xid;

use crate::client::{check_reply, expect_reply, ClientError, ClientResult, Session};
use crate::histogram::{Recorder, Window};
use crate::limits::{
    CLIENTS_MAX, DRAIN_TIMEOUT, IN_FLIGHT_MAX, OPEN_LOOP_OUTSTANDING_MAX, PROGRESS_INTERVAL,
    SESSION_TIMEOUT_MS, THREADS_MAX,
};
use crate::results::{RunResult, RunSpec};
use crate::workload::{coordination, Plan, SessionLoad};
use crate::Error;

/// Delay between the sessions being connected and the start of the warm-up, so every thread
/// has returned from the start barrier before the first request is due.
const START_DELAY: Duration = Duration::from_millis(20);

/// Runs `spec` and labels the result with `target`; draws a progress bar when `progress`.
pub fn run(spec: &RunSpec, target: &str, progress: bool) -> Result<RunResult, Error> {
    validate(spec)?;
    let plan = Arc::new(Plan::new(spec)?);
    let runtime = current_thread_runtime()?;
    runtime.block_on(async {
        let mut setup = Session::connect(&spec.servers[0], SESSION_TIMEOUT_MS).await?;
        plan.prepare(&mut setup, spec.clients).await?;
        setup.close().await
    })?;
    let tracker = Arc::new(Progress::default());
    let drawer = (progress && std::io::stderr().is_terminal()).then(|| {
        let tracker = Arc::clone(&tracker);
        let label = format!("{} {}", target, spec.workload);
        std::thread::spawn(move || draw_progress(&tracker, &label))
    });
    let outcome = if plan.kind.is_stream() {
        run_stream(spec, &plan, &tracker)
    } else {
        coordination::run(spec, &plan, &tracker)
    };
    tracker.done.store(true, Ordering::Relaxed);
    if let Some(drawer) = drawer {
        drawer.join().ok();
    }
    // `keep=1` leaves the nodes for inspection (the tests read them back).
    let keep = spec.params.get("keep").is_some_and(|keep| *keep != 0.0);
    let cleaned = runtime.block_on(async {
        if keep {
            return Ok(());
        }
        let mut session = Session::connect(&spec.servers[0], SESSION_TIMEOUT_MS).await?;
        plan.cleanup(&mut session).await?;
        session.close().await?;
        Ok::<(), Error>(())
    });
    if let Err(error) = cleaned {
        eprintln!("corral-bench: cleanup of {} failed: {error}", plan.root);
    }
    let recorder = outcome?;
    Ok(result_of(spec, target, &recorder))
}

fn validate(spec: &RunSpec) -> Result<(), Error> {
    if spec.servers.is_empty() {
        return Err("no server given".into());
    }
    if !(1..=CLIENTS_MAX).contains(&spec.clients) {
        return Err(format!("clients must be within 1..={CLIENTS_MAX}").into());
    }
    if !(1..=IN_FLIGHT_MAX).contains(&spec.in_flight) {
        return Err(format!("in-flight must be within 1..={IN_FLIGHT_MAX}").into());
    }
    if !(1..=THREADS_MAX).contains(&spec.threads) {
        return Err(format!("threads must be within 1..={THREADS_MAX}").into());
    }
    if !(spec.seconds > 0.0 && spec.seconds.is_finite()) {
        return Err("seconds must be positive".into());
    }
    if !(spec.warmup_seconds >= 0.0 && spec.warmup_seconds.is_finite()) {
        return Err("warm-up seconds must be zero or more".into());
    }
    if let Some(rate) = spec.rate {
        if !(rate > 0.0 && rate.is_finite()) {
            return Err("rate must be positive".into());
        }
    }
    Ok(())
}

fn result_of(spec: &RunSpec, target: &str, recorder: &Recorder) -> RunResult {
    let window = recorder.window();
    let now_instant = Instant::now();
    let now_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let ago_ms = now_instant
        .saturating_duration_since(window.start)
        .as_millis() as u64;
    let elapsed_seconds = (window.end - window.start).as_secs_f64();
    RunResult {
        spec: spec.clone(),
        target: target.to_string(),
        started_unix_ms: now_unix_ms.saturating_sub(ago_ms),
        elapsed_seconds,
        ops: recorder.ops(),
        throughput: recorder.ops() as f64 / elapsed_seconds,
        latency: recorder.latency(),
        errors: recorder.errors(),
        memory: None,
        extra: recorder.extra(),
    }
}

pub(crate) fn current_thread_runtime() -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// The warm-up start and the measured window of a run whose sessions are connected now.
pub(crate) fn schedule(spec: &RunSpec) -> (Instant, Window) {
    let warmup_start = Instant::now() + START_DELAY;
    let start = warmup_start + Duration::from_secs_f64(spec.warmup_seconds);
    let end = start + Duration::from_secs_f64(spec.seconds);
    (warmup_start, Window { start, end })
}

/// What the progress bar shows, shared by every thread of a run.
#[derive(Default)]
pub struct Progress {
    /// Operations completed so far, warm-up included.
    pub completed: AtomicU64,
    /// The warm-up start and measured window, once the sessions are connected.
    pub schedule: OnceLock<(Instant, Window)>,
    done: AtomicBool,
}

fn draw_progress(progress: &Progress, label: &str) {
    const BAR_WIDTH: usize = 30;
    let mut last = (Instant::now(), 0u64);
    while !progress.done.load(Ordering::Relaxed) {
        std::thread::sleep(PROGRESS_INTERVAL);
        let Some((warmup_start, window)) = progress.schedule.get().copied() else {
            continue;
        };
        let now = Instant::now();
        let completed = progress.completed.load(Ordering::Relaxed);
        let rate = (completed - last.1) as f64 / (now - last.0).as_secs_f64().max(1e-3);
        last = (now, completed);
        let total = (window.end - warmup_start).as_secs_f64();
        let fraction = (now.saturating_duration_since(warmup_start).as_secs_f64() / total).min(1.0);
        let filled = (fraction * BAR_WIDTH as f64) as usize;
        let phase = if now < window.start {
            "warm-up"
        } else if now < window.end {
            "measuring"
        } else {
            "draining"
        };
        eprint!(
            "\r{label} [{}{}] {phase:<9} {rate:>9.0} ops/s",
            "#".repeat(filled),
            " ".repeat(BAR_WIDTH - filled)
        );
        std::io::stderr().flush().ok();
    }
    eprint!("\r{}\r", " ".repeat(BAR_WIDTH + 60));
}

/// Runs a request-stream workload on `spec.threads` threads and merges their recorders.
fn run_stream(
    spec: &RunSpec,
    plan: &Arc<Plan>,
    progress: &Arc<Progress>,
) -> Result<Recorder, Error> {
    let threads = spec.threads.min(spec.clients);
    let barrier = Arc::new(Barrier::new(threads as usize + 1));
    let failed = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for thread_index in 0..threads {
        let context = ThreadContext {
            spec: spec.clone(),
            plan: Arc::clone(plan),
            progress: Arc::clone(progress),
            barrier: Arc::clone(&barrier),
            failed: Arc::clone(&failed),
            indexes: (thread_index..spec.clients)
                .step_by(threads as usize)
                .collect(),
        };
        handles.push(std::thread::spawn(move || context.run()));
    }
    // Every thread connects its sessions, then waits here; the window starts once all have.
    barrier.wait();
    progress.schedule.set(schedule(spec)).ok();
    barrier.wait();
    let mut merged: Option<Recorder> = None;
    let mut first_error = None;
    for handle in handles {
        match handle.join() {
            Ok(Ok(recorder)) => match &mut merged {
                Some(total) => total.merge(&recorder)?,
                None => merged = Some(recorder),
            },
            Ok(Err(error)) => first_error = first_error.or(Some(error)),
            Err(_) => first_error = first_error.or(Some("a load thread panicked".into())),
        }
    }
    match (first_error, merged) {
        (Some(error), _) => Err(error),
        (None, Some(recorder)) => Ok(recorder),
        (None, None) => Err("no load thread ran".into()),
    }
}

/// What one load thread needs.
struct ThreadContext {
    spec: RunSpec,
    plan: Arc<Plan>,
    progress: Arc<Progress>,
    barrier: Arc<Barrier>,
    failed: Arc<AtomicBool>,
    indexes: Vec<u32>,
}

impl ThreadContext {
    fn run(self) -> Result<Recorder, Error> {
        let runtime = current_thread_runtime().ok();
        let connected = match &runtime {
            Some(runtime) => runtime.block_on(connect_all(&self.spec, &self.indexes)),
            None => Err(ClientError::ConnectionLoss("no runtime")),
        };
        if connected.is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
        // Both barrier waits happen whatever failed, or the other threads would wait forever.
        self.barrier.wait();
        self.barrier.wait();
        let (Some(runtime), Ok(sessions)) = (runtime, connected) else {
            return Err("connecting the sessions failed".into());
        };
        let Some((warmup_start, window)) = self.progress.schedule.get().copied() else {
            return Err("the run was not scheduled".into());
        };
        if self.failed.load(Ordering::Relaxed) {
            runtime.block_on(close_all(sessions));
            return Err("another thread failed to connect".into());
        }
        let recorder = Arc::new(Mutex::new(Recorder::new(window)?));
        runtime.block_on(self.drive(sessions, warmup_start, window, &recorder));
        let recorder = Arc::try_unwrap(recorder)
            .map_err(|_| "a session task outlived its run")?
            .into_inner()
            .map_err(|_| "a session task panicked")?;
        Ok(recorder)
    }

    async fn drive(
        &self,
        sessions: Vec<Session>,
        warmup_start: Instant,
        window: Window,
        recorder: &Arc<Mutex<Recorder>>,
    ) {
        let mut tasks = Vec::new();
        for (session, index) in sessions.into_iter().zip(self.indexes.iter().copied()) {
            let mut runner = SessionRunner {
                plan: Arc::clone(&self.plan),
                load: SessionLoad::new(&self.plan, index),
                pacing: Pacing::new(&self.spec, index, warmup_start),
                pending: VecDeque::new(),
                window,
                recorder: Arc::clone(recorder),
                progress: Arc::clone(&self.progress),
                limit_delayed: 0,
                blocked_through: 0,
            };
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(warmup_start.into()).await;
                let mut session = session;
                runner.run(&mut session).await;
                session.close().await.ok();
            }));
        }
        for task in tasks {
            task.await.ok();
        }
    }
}

async fn connect_all(spec: &RunSpec, indexes: &[u32]) -> ClientResult<Vec<Session>> {
    let mut tasks = Vec::new();
    for &index in indexes {
        let server = spec.servers[index as usize % spec.servers.len()].clone();
        tasks.push(tokio::spawn(async move {
            Session::connect(&server, SESSION_TIMEOUT_MS).await
        }));
    }
    let mut sessions = Vec::new();
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok(Ok(session)) => sessions.push(session),
            Ok(Err(error)) => first_error = first_error.or(Some(error)),
            Err(_) => first_error = first_error.or(Some(ClientError::ConnectionLoss("panicked"))),
        }
    }
    match first_error {
        Some(error) => {
            close_all(sessions).await;
            Err(error)
        }
        None => Ok(sessions),
    }
}

pub(crate) async fn close_all(sessions: Vec<Session>) {
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|session| tokio::spawn(session.close()))
        .collect();
    for task in tasks {
        task.await.ok();
    }
}

/// When a session sends.
enum Pacing {
    Closed {
        in_flight: usize,
    },
    /// Request `k` is due at `base + k × interval`.
    Open {
        base: Instant,
        interval: Duration,
        next: u64,
    },
}

impl Pacing {
    fn new(spec: &RunSpec, index: u32, warmup_start: Instant) -> Pacing {
        match spec.rate {
            None => Pacing::Closed {
                in_flight: spec.in_flight as usize,
            },
            Some(rate) => {
                let interval = Duration::from_secs_f64(f64::from(spec.clients) / rate);
                // Staggered so the sessions' sends spread evenly over each interval.
                let offset = interval.mul_f64(f64::from(index) / f64::from(spec.clients));
                Pacing::Open {
                    base: warmup_start + offset,
                    interval,
                    next: 0,
                }
            }
        }
    }

    fn due_at(base: Instant, interval: Duration, index: u64) -> Instant {
        base + interval.mul_f64(index as f64)
    }
}

/// One session's load loop.
struct SessionRunner {
    plan: Arc<Plan>,
    load: SessionLoad,
    pacing: Pacing,
    /// xid, opcode and (intended) send time of each outstanding request, oldest first.
    pending: VecDeque<(i32, i32, Instant)>,
    window: Window,
    recorder: Arc<Mutex<Recorder>>,
    progress: Arc<Progress>,
    limit_delayed: u64,
    /// Open loop: requests before this index fell due while the session was at its bound.
    blocked_through: u64,
}

impl SessionRunner {
    async fn run(&mut self, session: &mut Session) {
        let outcome = self.run_loop(session).await;
        let Ok(mut recorder) = self.recorder.lock() else {
            return;
        };
        if self.limit_delayed > 0 {
            recorder.add_extra("limit_delayed", self.limit_delayed as f64);
        }
        match outcome {
            Ok(()) => {}
            Err(ClientError::Protocol(_)) => recorder.session_failure("MARSHALLINGERROR"),
            Err(_) => recorder.session_failure("CONNECTIONLOSS"),
        }
    }

    async fn run_loop(&mut self, session: &mut Session) -> ClientResult<()> {
        let drain_deadline = self.window.end + DRAIN_TIMEOUT;
        loop {
            let now = Instant::now();
            let wake = self.send_due(session, now);
            if self.finished(now) {
                return Ok(());
            }
            if now >= drain_deadline {
                let abandoned = self.pending.len() as f64;
                if let Ok(mut recorder) = self.recorder.lock() {
                    recorder.add_extra("abandoned", abandoned);
                }
                return Ok(());
            }
            if now >= session.ping_due() {
                session.queue_ping();
            }
            session.flush().await?;
            let wake = wake.min(session.ping_due()).min(drain_deadline);
            tokio::select! {
                filled = session.fill() => filled?,
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
            self.take_replies(session)?;
        }
    }

    /// Whether the session has sent everything it will and has every reply.
    fn finished(&self, now: Instant) -> bool {
        if !self.pending.is_empty() {
            return false;
        }
        match self.pacing {
            Pacing::Closed { .. } => now >= self.window.end,
            Pacing::Open {
                base,
                interval,
                next,
            } => Pacing::due_at(base, interval, next) >= self.window.end,
        }
    }

    /// Queues whatever is due and returns when the next request falls due (far away when
    /// replies are what the session waits for).
    fn send_due(&mut self, session: &mut Session, now: Instant) -> Instant {
        let idle = now + DRAIN_TIMEOUT;
        match &mut self.pacing {
            Pacing::Closed { in_flight } => {
                if now < self.window.end {
                    while self.pending.len() < *in_flight {
                        let (request_xid, code) = self.plan.queue_next(&mut self.load, session);
                        self.pending.push_back((request_xid, code, now));
                    }
                }
                idle
            }
            Pacing::Open {
                base,
                interval,
                next,
            } => {
                let (base, interval) = (*base, *interval);
                loop {
                    let due = Pacing::due_at(base, interval, *next);
                    if due >= self.window.end {
                        return idle;
                    }
                    if due > now {
                        return due;
                    }
                    if self.pending.len() >= OPEN_LOOP_OUTSTANDING_MAX {
                        // Everything due by now waits for a free slot: count it once.
                        let elapsed = now.saturating_duration_since(base).as_secs_f64();
                        let due_count = (elapsed / interval.as_secs_f64()) as u64 + 1;
                        self.blocked_through = self.blocked_through.max(due_count);
                        return idle;
                    }
                    if *next < self.blocked_through {
                        self.limit_delayed += 1;
                    }
                    let (request_xid, code) = self.plan.queue_next(&mut self.load, session);
                    self.pending.push_back((request_xid, code, due));
                    *next += 1;
                }
            }
        }
    }

    /// Takes every reply already read, records each, and frees their slots.
    fn take_replies(&mut self, session: &mut Session) -> ClientResult<()> {
        let now = Instant::now();
        let mut taken = 0u64;
        let Ok(mut recorder) = self.recorder.lock() else {
            return Err(ClientError::ConnectionLoss("recorder poisoned"));
        };
        while let Some(frame) = session.try_frame()? {
            match frame.xid {
                xid::PING | xid::NOTIFICATION => continue,
                _ => {}
            }
            let oldest = self.pending.pop_front();
            let (code, started) = expect_reply(
                oldest.map(|(xid, code, started)| (xid, (code, started))),
                frame.xid,
            )?;
            match check_reply(code, frame.err, session.body(&frame))? {
                0 => recorder.success(started, now),
                err => recorder.error(now, err),
            }
            taken += 1;
        }
        drop(recorder);
        if taken > 0 {
            self.progress.completed.fetch_add(taken, Ordering::Relaxed);
        }
        Ok(())
    }
}
