//! kill -9 in a loop under concurrent writers: no acknowledged write is ever lost, zxids never
//! go backwards, and the recovered tree survives a clean restart unchanged.
//!
//! Each trial runs several writer sessions at once, each alone in its own subtree, each keeping
//! up to a few requests in flight (creates, versioned and unversioned sets, deletes, multis,
//! sequential creates; one writer's session owns ephemerals and survives every trial). Every
//! acknowledged result is recorded. The server is killed with SIGKILL after a seeded number of
//! acknowledgements, and restarted. A session's requests are applied in the order it sent them,
//! so what a writer's subtree may hold afterwards is exact: the state after all its acknowledged
//! requests plus the first k of its unanswered ones, for some k. Every node whose last write was
//! acknowledged (or that no write touched) must carry the very stat the server returned (or
//! held before the trial); nodes written by an unanswered request carry its data and version.
//! The parents' child counters (cversion, the sequential numbering) must agree with the same k.
//!
//! After the check, one sequential create per writer must get the next sequence number and a
//! zxid above every zxid acknowledged or present, and the whole tree (every path, its data and
//! stat) must read the same after a graceful restart. The verified tree is the starting point
//! of the next trial, so later trials modify nodes that earlier kills recovered.
//!
//! `CORRAL_KILL9_TRIALS` (default 20) sets the number of trials, `CORRAL_KILL9_SEED` replays a
//! run. Trials rotate through config profiles with small log segments and a small `snapCount`,
//! so kills also land during segment rolls and snapshots. `tests/faults/kill9-loop.sh N` runs
//! this test with N trials on a release build. Checked against Apache ZooKeeper 3.8 with
//! `CORRAL_TEST_ZK=spawn`.

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use common::raw::{self, Stat, Writer};
use common::{read_tree, Server, TestRng, Tree, STEP_TIMEOUT};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Trials when `CORRAL_KILL9_TRIALS` is unset: the CI setting.
const TRIALS_DEFAULT: usize = 20;
/// Writers with their own fresh session in every trial, besides the ephemeral owner's writer.
const PERSISTENT_WRITERS: usize = 4;
/// Bound on the requests one writer issues in a trial: far above what it gets through before
/// the kill, so that the kill always lands in the middle of the load.
const OPS_PER_WRITER_MAX: usize = 50_000;
/// Acknowledgements (over all writers) after which the server is killed, drawn per trial.
const KILL_AFTER_ACKS: std::ops::Range<u64> = 20..1000;
/// Requests a writer keeps in flight at most, drawn per trial from 1..=this.
const WINDOW_MAX: u64 = 3;
/// A writer with fewer live nodes than this creates one.
const LEAVES_MIN: usize = 3;
/// A writer with more live nodes than this deletes one, keeping the tree small enough to read
/// twice per trial.
const LEAVES_MAX: usize = 40;
/// Percent of payloads that are large (several sectors), so frames span sectors and segments.
const LARGE_PAYLOAD_PERCENT: u64 = 5;
/// Length of a large payload's padding.
const LARGE_PAYLOAD_BYTES: std::ops::Range<u64> = 1000..6000;
/// Length of a small payload's padding.
const SMALL_PAYLOAD_BYTES: std::ops::Range<u64> = 0..48;
/// Session timeout of the writers that start afresh in every trial.
const WRITER_SESSION_TIMEOUT_MS: i32 = 6_000;
/// Session timeout of the ephemeral owner: it must outlive a trial's verification and two
/// restarts while idle (tickTime 2000 allows up to 40 s).
const OWNER_SESSION_TIMEOUT_MS: i32 = 30_000;
/// Everything the writers touch lives under this node.
const ROOT: &str = "/kill9";
/// Problems listed in a failure message at most.
const PROBLEMS_SHOWN: usize = 40;

/// Create flags (CreateMode).
const EPHEMERAL_FLAG: i32 = 1;
const SEQUENTIAL_FLAG: i32 = 2;

/// One config a group of trials runs with.
struct Profile {
    name: &'static str,
    config: &'static [&'static str],
}

/// The harness default (1 MiB segments); small segments rolling every few frames with frequent
/// snapshots; medium segments with less frequent snapshots.
const PROFILES: &[Profile] = &[
    Profile {
        name: "1 MiB segments",
        config: &[],
    },
    Profile {
        name: "16 KiB segments, snapCount 50",
        config: &["preAllocSize=16", "snapCount=50"],
    },
    Profile {
        name: "64 KiB segments, snapCount 200",
        config: &["preAllocSize=64", "snapCount=200"],
    },
];

/// A write that may stand alone or inside a multi.
#[derive(Clone, Debug)]
enum SubOp {
    Create {
        path: String,
        data: Vec<u8>,
    },
    /// `version` −1 sets whatever the version.
    Set {
        path: String,
        data: Vec<u8>,
        version: i32,
    },
    Delete {
        path: String,
        version: i32,
    },
}

/// One request a writer sends.
#[derive(Clone, Debug)]
enum Op {
    One(SubOp),
    /// A sequential create in the writer's sequential directory.
    Sequential {
        data: Vec<u8>,
    },
    Multi(Vec<SubOp>),
}

/// What the server answered to an acknowledged request.
#[derive(Clone, Debug)]
struct Ack {
    /// The reply header's zxid: the transaction's own.
    zxid: i64,
    /// Per sub-operation (one for a non-multi): the stat returned, if the reply carries one.
    stats: Vec<Option<Stat>>,
    /// The name a sequential create got.
    created: Option<String>,
}

#[derive(Debug)]
struct Issued {
    op: Op,
    xid: i32,
    ack: Option<Ack>,
}

/// A writer's place in the tree: its directory and sequential directory, and its create mode.
#[derive(Clone, Debug)]
struct WriterSpec {
    index: usize,
    dir: String,
    seq_dir: String,
    /// `EPHEMERAL_FLAG` for the owner's writer, 0 for the others.
    flags: i32,
}

impl WriterSpec {
    fn all() -> Vec<WriterSpec> {
        (0..=PERSISTENT_WRITERS)
            .map(|index| {
                let ephemeral = index == PERSISTENT_WRITERS;
                let dir = if ephemeral {
                    format!("{ROOT}/eph")
                } else {
                    format!("{ROOT}/w{index}")
                };
                WriterSpec {
                    index,
                    seq_dir: format!("{dir}/seq"),
                    dir,
                    flags: if ephemeral { EPHEMERAL_FLAG } else { 0 },
                }
            })
            .collect()
    }

    fn is_owner(&self) -> bool {
        self.flags == EPHEMERAL_FLAG
    }

    /// True for the nodes the writer creates, sets and deletes (not its two directories).
    fn owns_leaf(&self, path: &str) -> bool {
        path.starts_with(&format!("{}/", self.dir)) && path != self.seq_dir
    }
}

/// Everything one writer did in one trial.
#[derive(Debug)]
struct WriterRun {
    spec: WriterSpec,
    issued: Vec<Issued>,
    /// Answers that no correct server gives (an error code, a wrong stat, a zxid going back).
    problems: Vec<String>,
}

impl WriterRun {
    fn acked(&self) -> usize {
        self.issued.iter().filter(|op| op.ack.is_some()).count()
    }

    fn last_acked_zxid(&self) -> Option<i64> {
        self.issued
            .iter()
            .filter_map(|op| op.ack.as_ref())
            .map(|ack| ack.zxid)
            .max()
    }
}

/// Totals printed at the end, for the CI log and `tests/faults/kill9-loop.sh`.
#[derive(Debug, Default)]
struct Summary {
    trials: usize,
    acked: usize,
    unanswered: usize,
    unanswered_applied: usize,
    /// Kills that left a half-written snapshot (`.tmp`) behind.
    kills_during_snapshot: usize,
    /// Restarts after a kill that logged a torn log tail.
    torn_tails: usize,
}

fn parent(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) => "/",
        Some((parent, _)) => parent,
        None => "/",
    }
}

fn trial_count() -> usize {
    match std::env::var("CORRAL_KILL9_TRIALS") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("CORRAL_KILL9_TRIALS={text} is not a count")),
        Err(_) => TRIALS_DEFAULT,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_repeated_kill9_under_concurrent_writers() {
    if Server::external_configured() {
        return;
    }
    let trials = trial_count();
    let seed = common::fault_seed("CORRAL_KILL9_SEED");
    let started = Instant::now();
    let mut summary = Summary::default();
    for (profile_index, profile) in PROFILES.iter().enumerate() {
        let mine: Vec<usize> = (0..trials)
            .filter(|trial| trial % PROFILES.len() == profile_index)
            .collect();
        if !mine.is_empty() {
            run_profile(profile, &mine, seed, &mut summary).await;
        }
    }
    assert_eq!(summary.trials, trials);
    println!(
        "kill9 loop summary: seed {seed}, trials {}, acked writes checked {}, unanswered at the kill {} (found applied {}), kills during a snapshot {}, torn tails {}, lost 0, {:.1} s",
        summary.trials,
        summary.acked,
        summary.unanswered,
        summary.unanswered_applied,
        summary.kills_during_snapshot,
        summary.torn_tails,
        started.elapsed().as_secs_f64()
    );
}

/// The ephemeral owner's session, resumed in every trial.
struct Owner {
    session_id: i64,
    password: Vec<u8>,
}

async fn run_profile(profile: &Profile, trials: &[usize], seed: u64, summary: &mut Summary) {
    let mut server = Server::start_with(profile.config);
    let specs = WriterSpec::all();
    let owner = set_up_tree(&server, &specs).await;
    let mut baseline = read_tree(&server.address()).await;
    for &trial in trials {
        let trial_seed = TestRng::new(seed ^ (trial as u64).wrapping_mul(0x9e37_79b9)).next_u64();
        let context = format!(
            "seed {seed} (CORRAL_KILL9_SEED), trial {trial} with seed {trial_seed}, profile '{}'",
            profile.name
        );
        let problems = run_trial(
            &mut server,
            &specs,
            &owner,
            &mut baseline,
            TrialPlan::new(trial, profile.name, trial_seed),
            summary,
        )
        .await;
        if !problems.is_empty() {
            let shown: Vec<&String> = problems.iter().take(PROBLEMS_SHOWN).collect();
            panic!(
                "kill -9 loop failed: {context}: {} problems:\n{}\n--- server log ---\n{}",
                problems.len(),
                shown
                    .iter()
                    .map(|line| line.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                log_tail(&server.log())
            );
        }
    }
}

fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// Creates the root, every writer's directories, and the owner session (left without a
/// connection: its writer resumes it).
async fn set_up_tree(server: &Server, specs: &[WriterSpec]) -> Owner {
    let mut session = raw::RawSession::connect(&server.address(), WRITER_SESSION_TIMEOUT_MS).await;
    let mut paths = vec![ROOT.to_string()];
    for spec in specs {
        paths.push(spec.dir.clone());
        paths.push(spec.seq_dir.clone());
    }
    for path in paths {
        let body = raw::create_body(&path, b"", raw::OPEN_ACL, 0);
        assert_eq!(
            session.request_err(raw::op::CREATE, &body).await,
            raw::err::OK,
            "create {path}"
        );
    }
    session.close().await;
    let owner = raw::RawSession::connect(&server.address(), OWNER_SESSION_TIMEOUT_MS).await;
    assert_eq!(owner.timeout_ms, OWNER_SESSION_TIMEOUT_MS);
    let owner_state = Owner {
        session_id: owner.session_id,
        password: owner.password.clone(),
    };
    owner.abandon();
    owner_state
}

/// The seeded choices of one trial.
struct TrialPlan {
    trial: usize,
    profile: &'static str,
    rng: TestRng,
    kill_after: u64,
    window: usize,
}

impl TrialPlan {
    fn new(trial: usize, profile: &'static str, seed: u64) -> TrialPlan {
        let mut rng = TestRng::new(seed);
        let kill_after = rng.range(KILL_AFTER_ACKS);
        let window = rng.range(1..WINDOW_MAX + 1) as usize;
        TrialPlan {
            trial,
            profile,
            rng,
            kill_after,
            window,
        }
    }
}

/// One trial: load, kill, restart, verify, graceful restart, compare. Returns the problems
/// found; `baseline` becomes the verified tree.
async fn run_trial(
    server: &mut Server,
    specs: &[WriterSpec],
    owner: &Owner,
    baseline: &mut Tree,
    mut plan: TrialPlan,
    summary: &mut Summary,
) -> Vec<String> {
    let started = Instant::now();
    let runs = load_and_kill(server, specs, owner, baseline, &mut plan).await;
    let log_before = server.log().len();
    if !server.is_zookeeper() {
        summary.kills_during_snapshot += usize::from(snapshot_in_progress(server.data_dir()));
    }
    tokio::task::block_in_place(|| server.start_again());
    summary.torn_tails += usize::from(server.log()[log_before..].contains("torn tail"));
    let mut problems: Vec<String> = runs.iter().flat_map(|run| run.problems.clone()).collect();
    let recovered = read_tree(&server.address()).await;
    let mut sequential_creates = Vec::new();
    let (mut acked, mut unanswered, mut applied) = (0, 0, 0);
    for run in &runs {
        match verify_writer(run, baseline, &recovered, owner.session_id) {
            Ok(outcome) => {
                applied += outcome.applied;
                sequential_creates.push((run.spec.seq_dir.clone(), outcome.sequential_creates));
            }
            Err(found) => problems.extend(found),
        }
        acked += run.acked();
        unanswered += run.issued.len() - run.acked();
    }
    problems.extend(check_other_nodes(specs, baseline, &recovered));
    if problems.is_empty() {
        let floor = zxid_floor(&runs, &recovered);
        problems.extend(check_counters_continue(server, &sequential_creates, floor).await);
        problems.extend(check_clean_restart(server, owner, baseline).await);
    }
    summary.trials += 1;
    summary.acked += acked;
    summary.unanswered += unanswered;
    summary.unanswered_applied += applied;
    println!(
        "trial {} ({}): kill after {} acks, window {}: {acked} acked, {unanswered} unanswered ({applied} applied), {:.2} s",
        plan.trial,
        plan.profile,
        plan.kill_after,
        plan.window,
        started.elapsed().as_secs_f64()
    );
    problems
}

/// Whether a snapshot was being written when the server died (its `.tmp` file is left).
fn snapshot_in_progress(data_dir: &std::path::Path) -> bool {
    std::fs::read_dir(data_dir.join("snapshots")).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
    })
}

/// Starts every writer, waits for `plan.kill_after` acknowledgements, kills the server, and
/// collects what each writer saw.
async fn load_and_kill(
    server: &mut Server,
    specs: &[WriterSpec],
    owner: &Owner,
    baseline: &Tree,
    plan: &mut TrialPlan,
) -> Vec<WriterRun> {
    let (acks, mut acked) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for spec in specs {
        let session = spec
            .is_owner()
            .then(|| (owner.session_id, owner.password.clone()));
        let chooser = Chooser::new(spec.clone(), baseline, plan.trial);
        let rng = TestRng::new(plan.rng.next_u64());
        tasks.push(tokio::spawn(run_writer(
            server.address(),
            session,
            chooser,
            rng,
            plan.window,
            acks.clone(),
        )));
    }
    drop(acks);
    let mut acknowledged = 0;
    while acknowledged < plan.kill_after {
        match tokio::time::timeout(STEP_TIMEOUT, acked.recv()).await {
            Ok(Some(())) => acknowledged += 1,
            Ok(None) => break,
            Err(_) => panic!(
                "no acknowledgement within {STEP_TIMEOUT:?} (trial {})\n{}",
                plan.trial,
                log_tail(&server.log())
            ),
        }
    }
    tokio::task::block_in_place(|| server.kill9());
    let mut runs = Vec::new();
    for task in tasks {
        let run = tokio::time::timeout(STEP_TIMEOUT, task)
            .await
            .expect("a writer did not stop after the kill")
            .expect("writer task");
        runs.push(run);
    }
    assert!(
        runs.iter().any(|run| run.issued.len() > run.acked()),
        "trial {}: the kill came after every writer had finished",
        plan.trial
    );
    runs
}

// ---------------------------------------------------------------------------------------------
// Writers

/// Picks a writer's next request from what its earlier requests will have made of its subtree
/// (every request a writer sends succeeds, since nobody else touches the subtree).
struct Chooser {
    spec: WriterSpec,
    trial: usize,
    counter: usize,
    /// Live leaves with known names → their version once every issued request has applied.
    live: BTreeMap<String, i32>,
    /// Deleted plain leaves, which a later create may bring back.
    dead: Vec<String>,
}

impl Chooser {
    fn new(spec: WriterSpec, baseline: &Tree, trial: usize) -> Chooser {
        let live = baseline
            .iter()
            .filter(|(path, _)| spec.owns_leaf(path))
            .map(|(path, (_, stat))| (path.clone(), stat.version))
            .collect();
        Chooser {
            spec,
            trial,
            counter: 0,
            live,
            dead: Vec::new(),
        }
    }

    fn next(&mut self, rng: &mut TestRng) -> Op {
        self.counter += 1;
        if self.live.len() < LEAVES_MIN {
            return Op::One(self.create(rng, ""));
        }
        if self.live.len() > LEAVES_MAX {
            return Op::One(self.delete(rng, None));
        }
        match rng.range(0..100) {
            0..30 => Op::One(self.create(rng, "")),
            30..55 => {
                let path = self.pick(rng, None);
                Op::One(self.set(rng, path, true, ""))
            }
            55..65 => {
                let path = self.pick(rng, None);
                Op::One(self.set(rng, path, false, ""))
            }
            65..77 => Op::One(self.delete(rng, None)),
            77..87 => self.multi(rng),
            _ => Op::Sequential {
                data: self.payload(rng, ""),
            },
        }
    }

    /// Unique per request (and per sub-operation), so a node's data names the write that made it.
    fn payload(&self, rng: &mut TestRng, suffix: &str) -> Vec<u8> {
        let padding = if rng.percent(LARGE_PAYLOAD_PERCENT) {
            rng.range(LARGE_PAYLOAD_BYTES)
        } else {
            rng.range(SMALL_PAYLOAD_BYTES)
        };
        let mut data = format!(
            "w{}.t{}.o{}{suffix}.",
            self.spec.index, self.trial, self.counter
        )
        .into_bytes();
        data.resize(data.len() + padding as usize, b'x');
        data
    }

    fn create(&mut self, rng: &mut TestRng, suffix: &str) -> SubOp {
        let path = if !self.dead.is_empty() && rng.percent(25) {
            self.dead.swap_remove(rng.index(self.dead.len()))
        } else {
            format!(
                "{}/n{}-{}{}",
                self.spec.dir, self.trial, self.counter, suffix
            )
        };
        self.live.insert(path.clone(), 0);
        SubOp::Create {
            data: self.payload(rng, suffix),
            path,
        }
    }

    fn pick(&self, rng: &mut TestRng, except: Option<&str>) -> String {
        let candidates: Vec<&String> = self
            .live
            .keys()
            .filter(|path| Some(path.as_str()) != except)
            .collect();
        candidates[rng.index(candidates.len())].clone()
    }

    fn set(&mut self, rng: &mut TestRng, path: String, versioned: bool, suffix: &str) -> SubOp {
        let data = self.payload(rng, suffix);
        let version = self.live.get_mut(&path).expect("picked from live");
        let expected = if versioned { *version } else { -1 };
        *version += 1;
        SubOp::Set {
            path,
            data,
            version: expected,
        }
    }

    fn delete(&mut self, rng: &mut TestRng, except: Option<&str>) -> SubOp {
        let path = self.pick(rng, except);
        let version = self.live.remove(&path).expect("picked from live");
        if parent(&path) == self.spec.dir {
            self.dead.push(path.clone());
        }
        SubOp::Delete {
            path,
            version: if rng.percent(50) { version } else { -1 },
        }
    }

    /// A versioned set, a delete of another node and a create, atomically, in the order they
    /// were chosen (the create may bring back the node the delete removes).
    fn multi(&mut self, rng: &mut TestRng) -> Op {
        let target = self.pick(rng, None);
        let set = self.set(rng, target.clone(), true, ".m0");
        let delete = self.delete(rng, Some(&target));
        let create = self.create(rng, ".m2");
        Op::Multi(vec![set, delete, create])
    }

    /// A sequential create was acknowledged: its node can now be written too.
    fn created(&mut self, path: &str) {
        self.live.insert(path.to_string(), 0);
    }
}

fn sub_op_request(op: &SubOp, flags: i32, create_code: i32) -> (i32, Vec<u8>) {
    match op {
        SubOp::Create { path, data } => (
            create_code,
            raw::create_body(path, data, raw::OPEN_ACL, flags),
        ),
        SubOp::Set {
            path,
            data,
            version,
        } => (
            raw::op::SET_DATA,
            Writer::new().str(path).buf(data).int(*version).into_vec(),
        ),
        SubOp::Delete { path, version } => (
            raw::op::DELETE,
            Writer::new().str(path).int(*version).into_vec(),
        ),
    }
}

fn request(op: &Op, spec: &WriterSpec) -> (i32, Vec<u8>) {
    match op {
        Op::One(sub) => sub_op_request(sub, spec.flags, raw::op::CREATE2),
        Op::Sequential { data } => (
            raw::op::CREATE2,
            raw::create_body(
                &format!("{}/s-", spec.seq_dir),
                data,
                raw::OPEN_ACL,
                spec.flags | SEQUENTIAL_FLAG,
            ),
        ),
        // Inside a multi a plain create answers with the path only; its stat is still known
        // exactly where it matters (zxids) from the multi's own zxid.
        Op::Multi(subs) => {
            let ops: Vec<(i32, Vec<u8>)> = subs
                .iter()
                .map(|sub| sub_op_request(sub, spec.flags, raw::op::CREATE))
                .collect();
            (raw::op::MULTI, raw::multi_body(&ops))
        }
    }
}

/// A writer's connection: unlike `RawSession`, a dead server is an answer here, not a panic.
struct Connection {
    stream: TcpStream,
    next_xid: i32,
}

impl Connection {
    /// Resumes `session` (id, password) or, for `None`, opens a new session.
    async fn open(address: &str, session: Option<(i64, Vec<u8>)>) -> Result<Connection, String> {
        let (id, password, timeout_ms) = match &session {
            Some((id, password)) => (*id, password.clone(), OWNER_SESSION_TIMEOUT_MS),
            None => (0, Vec::new(), WRITER_SESSION_TIMEOUT_MS),
        };
        let (stream, response) = raw::handshake(address, timeout_ms, id, &password).await;
        match response {
            Some(response)
                if response.session_id != 0 && (id == 0 || response.session_id == id) =>
            {
                Ok(Connection {
                    stream,
                    next_xid: 1,
                })
            }
            other => Err(format!(
                "session {id:#x} was not resumed after the restart: {other:?}"
            )),
        }
    }

    async fn send(&mut self, op: i32, body: &[u8]) -> Option<i32> {
        let xid = self.next_xid;
        self.next_xid += 1;
        let payload = Writer::new().int(xid).int(op).bytes(body).into_vec();
        raw::write_frame(&mut self.stream, &payload).await.ok()?;
        Some(xid)
    }

    /// The next reply to a request; `Ok(None)` once the server is gone.
    async fn next_reply(&mut self) -> Result<Option<raw::Reply>, String> {
        loop {
            let frame =
                match tokio::time::timeout(STEP_TIMEOUT, raw::read_frame(&mut self.stream)).await {
                    Ok(Ok(Some(frame))) => frame,
                    Ok(Ok(None) | Err(_)) => return Ok(None),
                    Err(_) => {
                        return Err(format!(
                            "no reply within {STEP_TIMEOUT:?} from a live server"
                        ))
                    }
                };
            let mut reader = raw::Reader(&frame);
            let (xid, zxid, err) = (reader.int(), reader.long(), reader.int());
            if xid == raw::XID_PING || xid == raw::XID_NOTIFICATION {
                continue;
            }
            return Ok(Some(raw::Reply {
                xid,
                zxid,
                err,
                body: reader.0.to_vec(),
            }));
        }
    }
}

/// Sends requests, up to `window` at a time, until the server dies (or the writer has sent
/// `OPS_PER_WRITER_MAX`), recording every answer; reports each acknowledgement on `acks`.
async fn run_writer(
    address: String,
    session: Option<(i64, Vec<u8>)>,
    mut chooser: Chooser,
    mut rng: TestRng,
    window: usize,
    acks: mpsc::UnboundedSender<()>,
) -> WriterRun {
    let spec = chooser.spec.clone();
    let mut run = WriterRun {
        spec: spec.clone(),
        issued: Vec::new(),
        problems: Vec::new(),
    };
    let mut connection = match Connection::open(&address, session).await {
        Ok(connection) => connection,
        Err(problem) => {
            run.problems.push(problem);
            return run;
        }
    };
    let mut in_flight = VecDeque::new();
    let mut connected = true;
    loop {
        while connected && in_flight.len() < window && run.issued.len() < OPS_PER_WRITER_MAX {
            let op = chooser.next(&mut rng);
            let (code, body) = request(&op, &spec);
            match connection.send(code, &body).await {
                Some(xid) => {
                    in_flight.push_back(run.issued.len());
                    run.issued.push(Issued { op, xid, ack: None });
                }
                None => {
                    // It may still have reached the server: it counts as unanswered.
                    run.issued.push(Issued {
                        op,
                        xid: 0,
                        ack: None,
                    });
                    connected = false;
                }
            }
        }
        let Some(&index) = in_flight.front() else {
            return run;
        };
        match connection.next_reply().await {
            Ok(Some(reply)) => {
                in_flight.pop_front();
                let last_zxid = run.last_acked_zxid();
                match decode_ack(&run.issued[index], &reply, last_zxid, &spec) {
                    Ok(ack) => {
                        if let Some(path) = &ack.created {
                            chooser.created(path);
                        }
                        run.issued[index].ack = Some(ack);
                        let _ = acks.send(());
                    }
                    Err(problem) => {
                        run.problems.push(problem);
                        return run;
                    }
                }
            }
            Ok(None) => return run,
            Err(problem) => {
                run.problems
                    .push(format!("writer {}: {problem}", spec.index));
                return run;
            }
        }
    }
}

/// Checks an answer against its request and returns what it acknowledged.
fn decode_ack(
    issued: &Issued,
    reply: &raw::Reply,
    last_zxid: Option<i64>,
    spec: &WriterSpec,
) -> Result<Ack, String> {
    let what = format!("writer {}: {:?}", spec.index, issued.op);
    if reply.xid != issued.xid {
        return Err(format!(
            "{what}: reply xid {} for xid {}",
            reply.xid, issued.xid
        ));
    }
    if reply.err != raw::err::OK {
        return Err(format!("{what}: failed with error {}", reply.err));
    }
    if last_zxid.is_some_and(|last| reply.zxid <= last) {
        return Err(format!("{what}: zxid {} after {last_zxid:?}", reply.zxid));
    }
    let mut reader = reply.reader();
    let mut ack = Ack {
        zxid: reply.zxid,
        stats: Vec::new(),
        created: None,
    };
    match &issued.op {
        Op::One(SubOp::Create { path, .. }) => {
            let (name, stat) = (reader.str(), reader.stat());
            if &name != path || stat.czxid != reply.zxid || stat.mzxid != reply.zxid {
                return Err(format!(
                    "{what}: answered {name} {stat:?} at zxid {}",
                    reply.zxid
                ));
            }
            ack.stats.push(Some(stat));
        }
        Op::One(SubOp::Set { .. }) => {
            let stat = reader.stat();
            if stat.mzxid != reply.zxid {
                return Err(format!("{what}: answered {stat:?} at zxid {}", reply.zxid));
            }
            ack.stats.push(Some(stat));
        }
        Op::One(SubOp::Delete { .. }) => ack.stats.push(None),
        Op::Sequential { .. } => {
            let (name, stat) = (reader.str(), reader.stat());
            if parent(&name) != spec.seq_dir || stat.czxid != reply.zxid {
                return Err(format!(
                    "{what}: answered {name} {stat:?} at zxid {}",
                    reply.zxid
                ));
            }
            ack.created = Some(name);
            ack.stats.push(Some(stat));
        }
        Op::Multi(subs) => {
            let results = raw::parse_multi(reply);
            if results.len() != subs.len() || results.iter().any(|result| result.header_err != 0) {
                return Err(format!("{what}: answered {results:?}"));
            }
            ack.stats = results.iter().map(|result| result.stat).collect();
        }
    }
    Ok(ack)
}

// ---------------------------------------------------------------------------------------------
// Verification

/// What a node must look like after a replay of a writer's requests.
#[derive(Clone, Debug)]
struct ExpectedNode {
    data: Vec<u8>,
    version: i32,
    /// The whole stat, when the node's last write was acknowledged with one (or predates the
    /// trial).
    stat: Option<Stat>,
    czxid: Option<i64>,
    mzxid: Option<i64>,
    /// The node's last write was unanswered: it applied after every acknowledged request of
    /// its session, so its mzxid lies above this one.
    mzxid_above: i64,
    ephemeral_owner: i64,
}

/// A writer's subtree as a replay of a prefix of its requests leaves it.
#[derive(Clone, Debug, Default)]
struct Expectation {
    nodes: BTreeMap<String, ExpectedNode>,
    /// Data of unanswered sequential creates, whose names nobody learnt.
    unnamed_sequential: Vec<Vec<u8>>,
    /// Child creates and deletes under each of the writer's two directories.
    child_changes: BTreeMap<String, i32>,
    /// Child creates the sequential directory has ever seen: the next sequence number.
    sequential_creates: i64,
    seq_dir: String,
}

impl Expectation {
    fn from_baseline(spec: &WriterSpec, baseline: &Tree) -> Expectation {
        let nodes = baseline
            .iter()
            .filter(|(path, _)| spec.owns_leaf(path))
            .map(|(path, (data, stat))| {
                let node = ExpectedNode {
                    data: data.clone(),
                    version: stat.version,
                    stat: Some(*stat),
                    czxid: Some(stat.czxid),
                    mzxid: Some(stat.mzxid),
                    mzxid_above: 0,
                    ephemeral_owner: stat.ephemeral_owner,
                };
                (path.clone(), node)
            })
            .collect();
        let seq_stat = baseline[&spec.seq_dir].1;
        Expectation {
            nodes,
            unnamed_sequential: Vec::new(),
            child_changes: [(spec.dir.clone(), 0), (spec.seq_dir.clone(), 0)].into(),
            // ZooKeeper reports cversion as creates + deletes and numbers by creates alone.
            sequential_creates: i64::from(seq_stat.cversion + seq_stat.num_children) / 2,
            seq_dir: spec.seq_dir.clone(),
        }
    }

    /// Replays one request; `ack` is `None` for an unanswered one.
    fn apply(&mut self, op: &Op, ack: Option<&Ack>, mzxid_above: i64, owner: i64) {
        match op {
            Op::One(sub) => self.apply_sub(
                sub,
                ack.map(|ack| (ack.zxid, ack.stats[0])),
                mzxid_above,
                owner,
            ),
            Op::Multi(subs) => {
                for (position, sub) in subs.iter().enumerate() {
                    let known = ack.map(|ack| (ack.zxid, ack.stats[position]));
                    self.apply_sub(sub, known, mzxid_above, owner);
                }
            }
            Op::Sequential { data } => {
                *self.child_changes.entry(self.seq_dir.clone()).or_default() += 1;
                self.sequential_creates += 1;
                match ack {
                    Some(ack) => {
                        let path = ack
                            .created
                            .clone()
                            .expect("a sequential ack names its node");
                        self.nodes.insert(
                            path,
                            created_node(data, ack.zxid, ack.stats[0], mzxid_above, owner),
                        );
                    }
                    None => self.unnamed_sequential.push(data.clone()),
                }
            }
        }
    }

    fn apply_sub(
        &mut self,
        op: &SubOp,
        known: Option<(i64, Option<Stat>)>,
        mzxid_above: i64,
        owner: i64,
    ) {
        match op {
            SubOp::Create { path, data } => {
                *self
                    .child_changes
                    .entry(parent(path).to_string())
                    .or_default() += 1;
                let node = match known {
                    Some((zxid, stat)) => created_node(data, zxid, stat, mzxid_above, owner),
                    None => ExpectedNode {
                        data: data.clone(),
                        version: 0,
                        stat: None,
                        czxid: None,
                        mzxid: None,
                        mzxid_above,
                        ephemeral_owner: owner,
                    },
                };
                self.nodes.insert(path.clone(), node);
            }
            SubOp::Set { path, data, .. } => {
                let Some(node) = self.nodes.get_mut(path) else {
                    panic!("replay: set of {path}, which the writer never had");
                };
                node.data = data.clone();
                node.version += 1;
                node.stat = known.and_then(|(_, stat)| stat);
                node.mzxid = known.map(|(zxid, _)| zxid);
                node.mzxid_above = mzxid_above;
            }
            SubOp::Delete { path, .. } => {
                *self
                    .child_changes
                    .entry(parent(path).to_string())
                    .or_default() += 1;
                self.nodes.remove(path);
            }
        }
    }
}

fn created_node(
    data: &[u8],
    zxid: i64,
    stat: Option<Stat>,
    mzxid_above: i64,
    owner: i64,
) -> ExpectedNode {
    ExpectedNode {
        data: data.to_vec(),
        version: 0,
        stat,
        czxid: Some(zxid),
        mzxid: Some(zxid),
        mzxid_above,
        ephemeral_owner: owner,
    }
}

/// The expectation after every acknowledged request of `run` and its first `applied`
/// unanswered ones.
fn replay(run: &WriterRun, baseline: &Tree, applied: usize, owner_session: i64) -> Expectation {
    let spec = &run.spec;
    let mut expectation = Expectation::from_baseline(spec, baseline);
    let owner = if spec.is_owner() { owner_session } else { 0 };
    let acked = run.acked();
    // An unanswered request applied after everything its session had acknowledged and after
    // everything the tree held before the trial.
    let unanswered_floor = run.last_acked_zxid().unwrap_or(0).max(max_zxid(baseline));
    for (position, issued) in run.issued.iter().take(acked + applied).enumerate() {
        // Requests are answered in order, so the acknowledged ones come first.
        assert_eq!(
            issued.ack.is_some(),
            position < acked,
            "acknowledged requests form a prefix"
        );
        let floor = if position < acked {
            0
        } else {
            unanswered_floor
        };
        expectation.apply(&issued.op, issued.ack.as_ref(), floor, owner);
    }
    expectation
}

fn max_zxid(tree: &Tree) -> i64 {
    tree.values()
        .flat_map(|(_, stat)| [stat.czxid, stat.mzxid, stat.pzxid])
        .max()
        .unwrap_or(0)
}

/// What a writer's check found: how many unanswered requests had applied, and the next
/// sequence number of its sequential directory.
struct Verified {
    applied: usize,
    sequential_creates: i64,
}

/// Finds the k for which the writer's subtree is exactly the replay of its acknowledged
/// requests plus k unanswered ones; lists the differences of the closest k when none fits.
fn verify_writer(
    run: &WriterRun,
    baseline: &Tree,
    recovered: &Tree,
    owner: i64,
) -> Result<Verified, Vec<String>> {
    let unanswered = run.issued.len() - run.acked();
    let mut acknowledged_state = Vec::new();
    for applied in 0..=unanswered {
        let expectation = replay(run, baseline, applied, owner);
        let differences = compare_subtree(&run.spec, &expectation, baseline, recovered);
        if differences.is_empty() {
            return Ok(Verified {
                applied,
                sequential_creates: expectation.sequential_creates,
            });
        }
        if applied == 0 {
            acknowledged_state = differences;
        }
    }
    // No k fits: the differences from the acknowledged state say best what was lost.
    let prefix = format!(
        "writer {} ({} acked, and none of the first 0..={unanswered} unanswered fits)",
        run.spec.index,
        run.acked()
    );
    Err(acknowledged_state
        .into_iter()
        .map(|line| format!("{prefix}: {line}"))
        .collect())
}

fn compare_subtree(
    spec: &WriterSpec,
    expectation: &Expectation,
    baseline: &Tree,
    recovered: &Tree,
) -> Vec<String> {
    let mut differences = Vec::new();
    let mut unnamed = expectation.unnamed_sequential.clone();
    for (path, (data, stat)) in recovered.iter().filter(|(path, _)| spec.owns_leaf(path)) {
        match expectation.nodes.get(path) {
            Some(expected) => differences.extend(compare_node(path, expected, data, stat)),
            None => match unnamed.iter().position(|candidate| candidate == data) {
                Some(found) if parent(path) == spec.seq_dir => {
                    unnamed.swap_remove(found);
                }
                _ => differences.push(format!(
                    "{path} exists with {} but was never written so",
                    show(data)
                )),
            },
        }
    }
    for (path, expected) in &expectation.nodes {
        if !recovered.contains_key(path) {
            differences.push(format!(
                "{path} lost (expected {} version {})",
                show(&expected.data),
                expected.version
            ));
        }
    }
    for data in unnamed {
        differences.push(format!("sequential node with {} missing", show(&data)));
    }
    for dir in [&spec.dir, &spec.seq_dir] {
        differences.extend(compare_directory(dir, expectation, baseline, recovered));
    }
    differences
}

fn compare_node(path: &str, expected: &ExpectedNode, data: &[u8], stat: &Stat) -> Vec<String> {
    let mut differences = Vec::new();
    if data != expected.data.as_slice() || stat.version != expected.version {
        differences.push(format!(
            "{path}: {} version {}, expected {} version {}",
            show(data),
            stat.version,
            show(&expected.data),
            expected.version
        ));
    }
    if let Some(expected_stat) = expected.stat {
        if *stat != expected_stat {
            differences.push(format!(
                "{path}: stat {stat:?}, acknowledged {expected_stat:?}"
            ));
        }
    }
    let zxids_known = [
        (expected.czxid, stat.czxid, "czxid"),
        (expected.mzxid, stat.mzxid, "mzxid"),
    ];
    for (known, found, name) in zxids_known {
        if known.is_some_and(|known| known != found) {
            differences.push(format!("{path}: {name} {found}, expected {known:?}"));
        }
    }
    if expected.mzxid.is_none() && stat.mzxid <= expected.mzxid_above {
        differences.push(format!(
            "{path}: mzxid {} not above {}",
            stat.mzxid, expected.mzxid_above
        ));
    }
    if stat.ephemeral_owner != expected.ephemeral_owner || stat.num_children != 0 {
        differences.push(format!(
            "{path}: {stat:?}, expected owner {:#x} and no children",
            expected.ephemeral_owner
        ));
    }
    differences
}

/// A writer's directory: untouched but for its child counters, which must agree with the
/// replay's child creates and deletes.
fn compare_directory(
    dir: &str,
    expectation: &Expectation,
    baseline: &Tree,
    recovered: &Tree,
) -> Vec<String> {
    let Some((data, stat)) = recovered.get(dir) else {
        return vec![format!("{dir} lost")];
    };
    let (base_data, base) = &baseline[dir];
    let changes = expectation.child_changes.get(dir).copied().unwrap_or(0);
    let children = recovered.keys().filter(|path| parent(path) == dir).count();
    let expected = Stat {
        cversion: base.cversion + changes,
        num_children: i32::try_from(children).expect("child count fits i32"),
        pzxid: if changes == 0 { base.pzxid } else { stat.pzxid },
        ..*base
    };
    let mut differences = Vec::new();
    if data != base_data || *stat != expected || stat.pzxid < base.pzxid {
        differences.push(format!("{dir}: stat {stat:?}, expected {expected:?}"));
    }
    if dir.ends_with("/seq")
        && i64::from(stat.cversion + stat.num_children) / 2 != expectation.sequential_creates
    {
        differences.push(format!(
            "{dir}: {stat:?} after {} sequential creates",
            expectation.sequential_creates
        ));
    }
    differences
}

fn show(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let trimmed = text.trim_end_matches('x');
    format!("'{trimmed}' ({} bytes)", data.len())
}

/// Nodes outside every writer's subtree (the root, `/zookeeper`, ...) must not change at all.
fn check_other_nodes(specs: &[WriterSpec], baseline: &Tree, recovered: &Tree) -> Vec<String> {
    let outside = |path: &&String| {
        !specs
            .iter()
            .any(|spec| path.as_str() == spec.dir || path.starts_with(&format!("{}/", spec.dir)))
    };
    let before: BTreeMap<&String, _> = baseline.iter().filter(|(path, _)| outside(path)).collect();
    let after: BTreeMap<&String, _> = recovered.iter().filter(|(path, _)| outside(path)).collect();
    if before == after {
        return Vec::new();
    }
    vec![format!(
        "nodes outside the writers' subtrees changed: before {before:?}, after {after:?}"
    )]
}

/// The lowest zxid a new write may get: above every acknowledged zxid and every zxid the
/// recovered tree holds.
fn zxid_floor(runs: &[WriterRun], recovered: &Tree) -> i64 {
    let acked = runs
        .iter()
        .filter_map(WriterRun::last_acked_zxid)
        .max()
        .unwrap_or(0);
    acked.max(max_zxid(recovered))
}

/// After recovery the zxid counter and every sequential numbering carry on: one sequential
/// create per writer directory gets the next number and a zxid above `floor`.
async fn check_counters_continue(
    server: &Server,
    sequential_creates: &[(String, i64)],
    floor: i64,
) -> Vec<String> {
    let mut session = raw::RawSession::connect(&server.address(), WRITER_SESSION_TIMEOUT_MS).await;
    let mut problems = Vec::new();
    for (seq_dir, creates) in sequential_creates {
        let body = raw::create_body(
            &format!("{seq_dir}/s-"),
            b"after-restart",
            raw::OPEN_ACL,
            SEQUENTIAL_FLAG,
        );
        let reply = session.request(raw::op::CREATE2, &body).await;
        if reply.err != raw::err::OK {
            problems.push(format!(
                "sequential create in {seq_dir} after the restart failed: {}",
                reply.err
            ));
            continue;
        }
        let mut reader = reply.reader();
        let (name, stat) = (reader.str(), reader.stat());
        let expected = format!("{seq_dir}/s-{creates:010}");
        if name != expected || stat.czxid <= floor {
            problems.push(format!(
                "after the restart: created {name} at zxid {}, expected {expected} above zxid {floor}",
                stat.czxid
            ));
        }
    }
    session.close().await;
    problems
}

/// Reads the tree, restarts the server cleanly, reads it again: every path, data and stat
/// must be the same. The owner session must still be there. `baseline` becomes the tree.
async fn check_clean_restart(
    server: &mut Server,
    owner: &Owner,
    baseline: &mut Tree,
) -> Vec<String> {
    let before = read_tree(&server.address()).await;
    tokio::task::block_in_place(|| server.restart());
    let after = read_tree(&server.address()).await;
    let mut problems = Vec::new();
    let paths: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for path in paths {
        if before.get(path) != after.get(path) {
            problems.push(format!(
                "{path} changed across a clean restart: {:?} then {:?}",
                before.get(path).map(|(data, stat)| (show(data), stat)),
                after.get(path).map(|(data, stat)| (show(data), stat))
            ));
        }
    }
    let resumed = raw::RawSession::resume(
        &server.address(),
        owner.session_id,
        &owner.password,
        OWNER_SESSION_TIMEOUT_MS,
    )
    .await;
    match resumed {
        Some(session) => session.abandon(),
        None => problems.push(format!(
            "owner session {:#x} lost across a clean restart",
            owner.session_id
        )),
    }
    *baseline = after;
    problems
}

#[test]
fn parent_of_paths() {
    assert_eq!(parent("/a/b"), "/a");
    assert_eq!(parent("/a"), "/");
    assert_eq!(parent("/kill9/w0/seq/s-0000000001"), "/kill9/w0/seq");
}

fn test_stat(czxid: i64, mzxid: i64, version: i32) -> Stat {
    Stat {
        czxid,
        mzxid,
        ctime: 1,
        mtime: 1,
        version,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 0,
        num_children: 0,
        pzxid: czxid,
    }
}

/// A writer that created `n` (acked at zxid 10), set it (acked at 11), then sent a set that
/// was not answered; and the tree before the trial.
fn small_run() -> (WriterRun, Tree) {
    let spec = WriterSpec::all().remove(0);
    let mut baseline = Tree::new();
    // The directory holds the sequential directory.
    let dir = Stat {
        cversion: 1,
        num_children: 1,
        pzxid: 3,
        ..test_stat(2, 2, 0)
    };
    baseline.insert(spec.dir.clone(), (Vec::new(), dir));
    baseline.insert(spec.seq_dir.clone(), (Vec::new(), test_stat(3, 3, 0)));
    let path = format!("{}/n", spec.dir);
    let created = Stat {
        data_length: 1,
        ..test_stat(10, 10, 0)
    };
    let set = Stat {
        data_length: 1,
        mtime: 2,
        ..test_stat(10, 11, 1)
    };
    let op = |data: &[u8], create: bool| {
        Op::One(if create {
            SubOp::Create {
                path: path.clone(),
                data: data.to_vec(),
            }
        } else {
            SubOp::Set {
                path: path.clone(),
                data: data.to_vec(),
                version: -1,
            }
        })
    };
    let ack = |zxid, stat| Ack {
        zxid,
        stats: vec![Some(stat)],
        created: None,
    };
    let issued = vec![
        Issued {
            op: op(b"a", true),
            xid: 1,
            ack: Some(ack(10, created)),
        },
        Issued {
            op: op(b"b", false),
            xid: 2,
            ack: Some(ack(11, set)),
        },
        Issued {
            op: op(b"c", false),
            xid: 3,
            ack: None,
        },
    ];
    let run = WriterRun {
        spec,
        issued,
        problems: Vec::new(),
    };
    (run, baseline)
}

/// The tree after `small_run` with the node holding `data` and `stat`.
fn recovered_with(run: &WriterRun, baseline: &Tree, node: Option<(&[u8], Stat)>) -> Tree {
    let mut tree = baseline.clone();
    let dir = tree.get_mut(&run.spec.dir).expect("dir");
    dir.1.cversion = 2;
    dir.1.pzxid = 10;
    if let Some((data, stat)) = node {
        dir.1.num_children = 2;
        tree.insert(format!("{}/n", run.spec.dir), (data.to_vec(), stat));
    }
    tree
}

#[test]
fn verify_accepts_the_acknowledged_state_or_the_unanswered_write_applied() {
    let (run, baseline) = small_run();
    let acked = run.issued[1].ack.as_ref().expect("acked").stats[0].expect("stat");
    let recovered = recovered_with(&run, &baseline, Some((b"b", acked)));
    let verified = verify_writer(&run, &baseline, &recovered, 0).expect("acked state");
    assert_eq!((verified.applied, verified.sequential_creates), (0, 0));
    let later = Stat {
        mzxid: 12,
        version: 2,
        ..acked
    };
    let recovered = recovered_with(&run, &baseline, Some((b"c", later)));
    let verified = verify_writer(&run, &baseline, &recovered, 0).expect("unanswered applied");
    assert_eq!(verified.applied, 1);
}

#[test]
fn verify_reports_lost_and_rolled_back_acknowledged_writes() {
    let (run, baseline) = small_run();
    let lost = verify_writer(&run, &baseline, &recovered_with(&run, &baseline, None), 0)
        .err()
        .expect("a lost node is reported");
    assert!(
        lost.iter().any(|line| line.contains("/kill9/w0/n lost")),
        "{lost:?}"
    );
    let created = run.issued[0].ack.as_ref().expect("acked").stats[0].expect("stat");
    let rolled_back = recovered_with(&run, &baseline, Some((b"a", created)));
    let problems = verify_writer(&run, &baseline, &rolled_back, 0)
        .err()
        .expect("a rolled-back set is reported");
    assert!(
        problems
            .iter()
            .any(|line| line.contains("'a' (1 bytes) version 0, expected 'b' (1 bytes) version 1")),
        "{problems:?}"
    );
    let mut stat_changed = Stat {
        mtime: 3,
        ..run.issued[1].ack.as_ref().expect("acked").stats[0].expect("stat")
    };
    stat_changed.aversion = 0;
    let changed = recovered_with(&run, &baseline, Some((b"b", stat_changed)));
    assert!(
        verify_writer(&run, &baseline, &changed, 0).is_err(),
        "a changed mtime is reported"
    );
}

// A large payload must span sectors.
const _: () = assert!(LARGE_PAYLOAD_BYTES.start > 512);
const _: () = assert!(WINDOW_MAX >= 1);
