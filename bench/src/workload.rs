//! What each session sends, per workload, and the nodes each workload prepares and removes.
//!
//! Every workload works under its own root, `/corral-bench-<pid>-<n>`, created before the
//! measurement and deleted afterwards (best effort, bounded by `CLEANUP_TIMEOUT`). Session `i`
//! owns the node `<root>/s<i>`, created with the run's value (`--value-bytes`).
//!
//! # Request-stream workloads (closed or open loop, `--in-flight` / `--rate`)
//! - `set`: setData of the session's node with the value, any version.
//! - `get`: getData of the session's node (no watch).
//! - `exists`: exists of the session's node (no watch).
//! - `create`: plain persistent creates of unique paths `<root>/s<i>/c<k>` with the value.
//! - `create-seq`: persistent-sequential creates of `<root>/s<i>/q-` with the value.
//! - `children`: getChildren of `<root>/wide`, prepared with `children` (param, default 100)
//!   empty children before measuring.
//! - `mixed`: getData with probability `read_ratio` (param, default 0.9), else setData.
//! - `multi`: transactions of `multi_ops` (param, default 4) ops each; sets of the session's
//!   prepared nodes `<root>/s<i>/m<j>`, or creates of unique paths when `multi_creates` (param)
//!   is 1.
//! - `large`: like `mixed` with `read_ratio` defaulting to 0 (all sets), meant for values up to
//!   1 MiB; a value that would not fit ZooKeeper's jute.maxbuffer with its request is refused.
//!
//! # Coordination workloads (`workload::coordination`)
//! - `ephemeral-churn`: each session loops connect, create an ephemeral, closeSession; the
//!   latency is the whole cycle's.
//! - `watch-fanout`: `watchers` (param, default `--clients`) sessions watch one node; one more
//!   session sets it; latency from the set's send to each event's arrival; watchers re-arm and
//!   the next set starts when all have. `extra`: `events`, `sets`, `events_per_set_min`,
//!   `events_per_set_max`.
//! - `election`: `contenders` (param, default `--clients`) sessions run the
//!   ephemeral-sequential recipe under one parent, each keeping a children watch on it; the
//!   leader's session closes, and the latency is the time from that close until every other
//!   contender has seen the new leader (the next lowest node); the old leader rejoins; repeat.
//!   A round starts only once every contender has joined and sees the same leader.
//!   `extra`: `rounds`, `agreement_ms_p50`, `agreement_ms_p99`, `agreement_ms_max`.

pub mod coordination;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use corral_engine::wire::Writer;
use corral_net::jute::opcode;

use crate::client::{create_mode, decode_children, ClientError, ClientResult, Op, Session};
use crate::limits::{
    CHILDREN_WIDTH_MAX, CLEANUP_TIMEOUT, COORDINATION_SESSIONS_MAX, MULTI_OPS_MAX,
    REQUEST_BYTES_MAX, SETUP_IN_FLIGHT,
};
use crate::results::RunSpec;
use crate::Error;

/// Bytes a setData or create request needs besides its value and path: headers, length
/// prefixes, the ACL and flags.
const REQUEST_OVERHEAD_BYTES: usize = 128;

/// The workloads by name, as given to `--workload`.
pub const WORKLOADS: &[&str] = &[
    "set",
    "get",
    "exists",
    "create",
    "create-seq",
    "children",
    "mixed",
    "multi",
    "large",
    "ephemeral-churn",
    "watch-fanout",
    "election",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Set,
    Get,
    Exists,
    Create,
    CreateSeq,
    Children,
    Mixed,
    Multi,
    Large,
    EphemeralChurn,
    WatchFanout,
    Election,
}

impl Kind {
    pub fn parse(name: &str) -> Result<Kind, Error> {
        Ok(match name {
            "set" => Kind::Set,
            "get" => Kind::Get,
            "exists" => Kind::Exists,
            "create" => Kind::Create,
            "create-seq" => Kind::CreateSeq,
            "children" => Kind::Children,
            "mixed" => Kind::Mixed,
            "multi" => Kind::Multi,
            "large" => Kind::Large,
            "ephemeral-churn" => Kind::EphemeralChurn,
            "watch-fanout" => Kind::WatchFanout,
            "election" => Kind::Election,
            _ => {
                return Err(
                    format!("unknown workload {name:?}; known: {}", WORKLOADS.join(", ")).into(),
                )
            }
        })
    }

    /// Whether the workload is a stream of independent requests (closed or open loop).
    pub fn is_stream(self) -> bool {
        !matches!(
            self,
            Kind::EphemeralChurn | Kind::WatchFanout | Kind::Election
        )
    }
}

/// A workload resolved from a `RunSpec`: its kind, its root and its knobs.
#[derive(Clone, Debug)]
pub struct Plan {
    pub kind: Kind,
    pub root: String,
    pub value: Vec<u8>,
    pub read_ratio: f64,
    pub multi_ops: u32,
    pub multi_creates: bool,
    pub children: u32,
    pub watchers: u32,
    pub contenders: u32,
}

static ROOTS_MADE: AtomicU64 = AtomicU64::new(0);

impl Plan {
    pub fn new(spec: &RunSpec) -> Result<Plan, Error> {
        let kind = Kind::parse(&spec.workload)?;
        let param = |name: &str, default: f64| spec.params.get(name).copied().unwrap_or(default);
        let default_read_ratio = if kind == Kind::Large { 0.0 } else { 0.9 };
        let plan = Plan {
            kind,
            root: format!(
                "/corral-bench-{}-{}",
                std::process::id(),
                ROOTS_MADE.fetch_add(1, Ordering::Relaxed)
            ),
            value: vec![b'v'; spec.value_bytes as usize],
            read_ratio: param("read_ratio", default_read_ratio),
            multi_ops: param("multi_ops", 4.0) as u32,
            multi_creates: param("multi_creates", 0.0) != 0.0,
            children: param("children", 100.0) as u32,
            watchers: param("watchers", f64::from(spec.clients)) as u32,
            contenders: param("contenders", f64::from(spec.clients)) as u32,
        };
        plan.validate()?;
        Ok(plan)
    }

    fn validate(&self) -> Result<(), Error> {
        if !(0.0..=1.0).contains(&self.read_ratio) {
            return Err("read_ratio must be within 0..=1".into());
        }
        let value_room = REQUEST_BYTES_MAX - REQUEST_OVERHEAD_BYTES - self.root.len() - 32;
        if self.value.len() > value_room {
            return Err(format!(
                "value of {} bytes does not fit jute.maxbuffer; at most {value_room}",
                self.value.len()
            )
            .into());
        }
        if self.kind == Kind::Multi {
            if !(1..=MULTI_OPS_MAX).contains(&self.multi_ops) {
                return Err(format!("multi_ops must be within 1..={MULTI_OPS_MAX}").into());
            }
            let bytes = self.multi_ops as usize * (self.value.len() + REQUEST_OVERHEAD_BYTES);
            if bytes > REQUEST_BYTES_MAX {
                return Err("multi_ops × value_bytes does not fit jute.maxbuffer".into());
            }
        }
        if self.children > CHILDREN_WIDTH_MAX {
            return Err(format!("children must be at most {CHILDREN_WIDTH_MAX}").into());
        }
        let coordination = self.watchers.max(self.contenders);
        if coordination > COORDINATION_SESSIONS_MAX {
            return Err(format!(
                "watchers and contenders must be at most {COORDINATION_SESSIONS_MAX}"
            )
            .into());
        }
        Ok(())
    }

    /// The node session `index` owns.
    pub fn session_node(&self, index: u32) -> String {
        format!("{}/s{index}", self.root)
    }

    /// The wide parent of the `children` workload.
    pub fn wide_parent(&self) -> String {
        format!("{}/wide", self.root)
    }

    /// Creates the root and the nodes the workload reads or writes, for `clients` sessions.
    pub async fn prepare(&self, session: &mut Session, clients: u32) -> ClientResult<()> {
        create(session, &self.root, &[]).await?;
        let mut paths: Vec<String> = Vec::new();
        if self.kind.is_stream() && self.kind != Kind::Children {
            paths.extend((0..clients).map(|index| self.session_node(index)));
        }
        create_all(session, &paths, &self.value).await?;
        paths.clear();
        if self.kind == Kind::Multi && !self.multi_creates {
            for index in 0..clients {
                let node = self.session_node(index);
                paths.extend((0..self.multi_ops).map(|op| format!("{node}/m{op}")));
            }
        }
        if self.kind == Kind::Children {
            create(session, &self.wide_parent(), &[]).await?;
            let wide = self.wide_parent();
            paths.extend((0..self.children).map(|child| format!("{wide}/c{child}")));
        }
        let data: &[u8] = if self.kind == Kind::Multi {
            &self.value
        } else {
            &[]
        };
        create_all(session, &paths, data).await
    }

    /// Deletes everything under the root and the root itself, best effort within
    /// `CLEANUP_TIMEOUT`.
    pub async fn cleanup(&self, session: &mut Session) -> Result<(), Error> {
        match tokio::time::timeout(CLEANUP_TIMEOUT, delete_tree(session, &self.root)).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(format!("cleanup of {} did not finish in time", self.root).into()),
        }
    }
}

/// The per-session state of a request-stream workload; reused, so generating a request
/// allocates nothing once the buffers have grown.
pub struct SessionLoad {
    node: String,
    path: String,
    scratch: Vec<u8>,
    counter: u64,
    random: u64,
}

impl SessionLoad {
    pub fn new(plan: &Plan, index: u32) -> SessionLoad {
        SessionLoad {
            node: plan.session_node(index),
            path: String::with_capacity(plan.root.len() + 64),
            scratch: Vec::new(),
            counter: 0,
            // Any non-zero seed; distinct per session so the mixes do not march in step.
            random: 0x9E37_79B9_7F4A_7C15 ^ (u64::from(index) + 1).wrapping_mul(0xBF58_476D),
        }
    }

    /// A xorshift step, uniform in 0..1.
    fn next_unit(&mut self) -> f64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        (self.random >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Plan {
    /// Queues the session's next request and returns its xid and opcode.
    pub fn queue_next(&self, load: &mut SessionLoad, session: &mut Session) -> (i32, i32) {
        let op = match self.kind {
            Kind::Set => self.set_op(load),
            Kind::Get => Op::GetData {
                path: &load.node,
                watch: false,
            },
            Kind::Exists => Op::Exists {
                path: &load.node,
                watch: false,
            },
            Kind::Create | Kind::CreateSeq => self.create_op(load),
            Kind::Children => {
                load.path.clear();
                load.path.push_str(&self.root);
                load.path.push_str("/wide");
                Op::GetChildren {
                    path: &load.path,
                    watch: false,
                }
            }
            Kind::Mixed | Kind::Large => {
                if load.next_unit() < self.read_ratio {
                    Op::GetData {
                        path: &load.node,
                        watch: false,
                    }
                } else {
                    self.set_op(load)
                }
            }
            Kind::Multi => {
                self.encode_multi(load);
                Op::Raw {
                    opcode: opcode::MULTI,
                    body: &load.scratch,
                }
            }
            Kind::EphemeralChurn | Kind::WatchFanout | Kind::Election => {
                unreachable!("coordination workloads do not stream requests")
            }
        };
        let code = op.opcode();
        (session.queue(&op), code)
    }

    fn set_op<'a>(&'a self, load: &'a SessionLoad) -> Op<'a> {
        Op::SetData {
            path: &load.node,
            data: &self.value,
            version: -1,
        }
    }

    fn create_op<'a>(&'a self, load: &'a mut SessionLoad) -> Op<'a> {
        load.path.clear();
        load.path.push_str(&load.node);
        let flags = if self.kind == Kind::CreateSeq {
            load.path.push_str("/q-");
            create_mode::PERSISTENT_SEQUENTIAL
        } else {
            // Writing to a String cannot fail.
            let _ = write!(load.path, "/c{}", load.counter);
            create_mode::PERSISTENT
        };
        load.counter += 1;
        Op::Create {
            path: &load.path,
            data: &self.value,
            flags,
        }
    }

    /// Encodes a multi body into the session's scratch buffer: sets of its prepared nodes, or
    /// creates of fresh paths.
    fn encode_multi(&self, load: &mut SessionLoad) {
        load.scratch.clear();
        let transaction = load.counter;
        load.counter += 1;
        for op_index in 0..self.multi_ops {
            load.path.clear();
            load.path.push_str(&load.node);
            let op = if self.multi_creates {
                let _ = write!(load.path, "/c{transaction}-{op_index}");
                Op::Create {
                    path: &load.path,
                    data: &self.value,
                    flags: create_mode::PERSISTENT,
                }
            } else {
                let _ = write!(load.path, "/m{op_index}");
                Op::SetData {
                    path: &load.path,
                    data: &self.value,
                    version: -1,
                }
            };
            Writer::new(&mut load.scratch)
                .i32(op.opcode())
                .bool(false)
                .i32(-1);
            op.encode_body_into(&mut load.scratch);
        }
        Writer::new(&mut load.scratch).i32(-1).bool(true).i32(-1);
    }
}

/// Creates one persistent node with world:anyone, failing on any error.
pub async fn create(session: &mut Session, path: &str, data: &[u8]) -> ClientResult<()> {
    session
        .call_ok(&Op::Create {
            path,
            data,
            flags: create_mode::PERSISTENT,
        })
        .await
        .map(|_| ())
}

/// Creates every path (parents first, in order), pipelined.
pub async fn create_all<'p>(
    session: &mut Session,
    paths: &'p [String],
    data: &'p [u8],
) -> ClientResult<()> {
    pipelined(
        session,
        paths,
        |path| Op::Create {
            path,
            data,
            flags: create_mode::PERSISTENT,
        },
        &[],
    )
    .await
}

/// Sends one request per path with `SETUP_IN_FLIGHT` outstanding; replies with an error in
/// `tolerated` are ignored, any other error fails the whole batch.
pub async fn pipelined<'p>(
    session: &mut Session,
    paths: &'p [String],
    make: impl Fn(&'p str) -> Op<'p>,
    tolerated: &[i32],
) -> ClientResult<()> {
    let mut sent = 0;
    let mut outstanding = std::collections::VecDeque::new();
    while sent < paths.len() || !outstanding.is_empty() {
        while sent < paths.len() && outstanding.len() < SETUP_IN_FLIGHT {
            let op = make(&paths[sent]);
            outstanding.push_back((session.queue(&op), op.opcode()));
            sent += 1;
        }
        session.flush().await?;
        let frame = tokio::time::timeout(crate::limits::REQUEST_TIMEOUT, session.next_frame())
            .await
            .map_err(|_| ClientError::ConnectionLoss("request timed out"))??;
        if frame.xid < 0 {
            continue;
        }
        let code = crate::client::expect_reply(outstanding.pop_front(), frame.xid)?;
        let err = crate::client::check_reply(code, frame.err, session.body(&frame))?;
        if err != 0 && !tolerated.contains(&err) {
            return Err(ClientError::Server {
                opcode: code,
                error: err,
            });
        }
    }
    Ok(())
}

/// Deletes `root` and everything below it: lists the tree, then deletes it deepest first.
pub async fn delete_tree(session: &mut Session, root: &str) -> ClientResult<()> {
    let mut listed = vec![root.to_string()];
    let mut next = 0;
    while next < listed.len() {
        let parent = listed[next].clone();
        next += 1;
        let reply = session
            .call(&Op::GetChildren {
                path: &parent,
                watch: false,
            })
            .await?;
        if reply.err != 0 {
            continue;
        }
        for child in decode_children(&reply.body)? {
            listed.push(format!("{parent}/{child}"));
        }
    }
    // Breadth-first order reversed puts every child before its parent.
    listed.reverse();
    let no_node = corral_engine::types::ErrorCode::NoNode.code();
    pipelined(
        session,
        &listed,
        |path| Op::Delete { path, version: -1 },
        &[no_node],
    )
    .await
}

/// Microseconds from `earlier` to `later`, zero when reversed.
pub fn micros_between(earlier: Instant, later: Instant) -> u64 {
    later.saturating_duration_since(earlier).as_micros() as u64
}
