//! Random op sequences applied to `State` and to a plain reference model (a `BTreeMap` of
//! nodes, written from ZooKeeper's observable rules without looking at the implementation) must
//! agree on every result and on every node's data, stat and children after each txn.
//! Seeded: a failure names its seed and step; rerun with `STATE_MODEL_SEED=<seed>`.

mod common;

use common::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use corral_engine::state::State;
use corral_engine::types::{
    perms, Acl, CreateMode, CreateOp, ErrorCode, Id, OpResult, Stat, Txn, WriteOp,
};

const SEEDS: u64 = 150;
const STEPS: usize = 300;
const PASSWORD: [u8; 16] = [1; 16];

#[derive(Clone, Debug)]
struct ModelNode {
    data: Vec<u8>,
    czxid: i64,
    mzxid: i64,
    pzxid: i64,
    ctime: i64,
    mtime: i64,
    version: i32,
    /// Creates plus deletes of children, as clients see cversion.
    cversion: i32,
    /// Creates of children: the next sequence number.
    sequence: i32,
    aversion: i32,
    session: i64,
    container: bool,
}

impl ModelNode {
    fn fresh(zxid: i64, time: i64, data: Vec<u8>) -> Self {
        ModelNode {
            data,
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            sequence: 0,
            aversion: 0,
            session: 0,
            container: false,
        }
    }
}

#[derive(Clone)]
struct Model {
    nodes: BTreeMap<String, ModelNode>,
    sessions: BTreeSet<i64>,
    zxid: i64,
}

fn parent(path: &str) -> String {
    match path.rfind('/') {
        Some(0) => "/".to_owned(),
        Some(index) => path[..index].to_owned(),
        None => panic!("bad path {path}"),
    }
}

impl Model {
    fn new() -> Self {
        let mut nodes = BTreeMap::new();
        for (path, cversion, aversion) in [
            ("/", -1, 0),
            ("/zookeeper", -2, 0),
            ("/zookeeper/quota", 0, 0),
            ("/zookeeper/config", 0, -1),
        ] {
            let mut node = ModelNode::fresh(0, 0, Vec::new());
            node.cversion = cversion;
            node.aversion = aversion;
            nodes.insert(path.to_owned(), node);
        }
        Model {
            nodes,
            sessions: BTreeSet::new(),
            zxid: 0,
        }
    }

    fn children(&self, path: &str) -> Vec<String> {
        self.nodes
            .keys()
            .filter(|key| key.as_str() != "/" && parent(key) == path)
            .map(|key| key.rsplit('/').next().unwrap_or("").to_owned())
            .collect()
    }

    fn stat(&self, path: &str) -> Stat {
        let node = &self.nodes[path];
        Stat {
            czxid: node.czxid,
            mzxid: node.mzxid,
            ctime: node.ctime,
            mtime: node.mtime,
            version: node.version,
            cversion: node.cversion,
            aversion: node.aversion,
            ephemeral_owner: node.session,
            data_length: node.data.len() as i32,
            num_children: self.children(path).len() as i32,
            pzxid: node.pzxid,
        }
    }

    fn create(&mut self, op: &CreateOp, session: i64, time: i64) -> Result<OpResult, ErrorCode> {
        let ephemeral = matches!(
            op.mode,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        );
        if ephemeral && !self.sessions.contains(&session) {
            return Err(ErrorCode::SessionExpired);
        }
        let parent_path = parent(&op.path);
        let parent_node = self.nodes.get(&parent_path).ok_or(ErrorCode::NoNode)?;
        let path = match op.mode {
            CreateMode::PersistentSequential | CreateMode::EphemeralSequential => {
                format!("{}{:010}", op.path, parent_node.sequence)
            }
            _ => op.path.clone(),
        };
        if self.nodes.contains_key(&path) {
            return Err(ErrorCode::NodeExists);
        }
        if parent_node.session != 0 {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let parent_node = self.nodes.get_mut(&parent_path).ok_or(ErrorCode::NoNode)?;
        parent_node.sequence += 1;
        parent_node.cversion += 1;
        parent_node.pzxid = self.zxid;
        let mut node = ModelNode::fresh(self.zxid, time, op.data.to_vec());
        node.session = if ephemeral { session } else { 0 };
        node.container = op.mode == CreateMode::Container;
        self.nodes.insert(path.clone(), node);
        let stat = self.stat(&path);
        Ok(OpResult::Create { path, stat })
    }

    fn remove(&mut self, path: &str) {
        self.nodes.remove(path);
        let zxid = self.zxid;
        if let Some(parent_node) = self.nodes.get_mut(&parent(path)) {
            parent_node.cversion += 1;
            parent_node.pzxid = zxid;
        }
    }

    fn delete(&mut self, path: &str, version: i32) -> Result<OpResult, ErrorCode> {
        if !self.nodes.contains_key(&parent(path)) {
            return Err(ErrorCode::NoNode);
        }
        let node = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
        if version != -1 && version != node.version {
            return Err(ErrorCode::BadVersion);
        }
        if !self.children(path).is_empty() {
            return Err(ErrorCode::NotEmpty);
        }
        self.remove(path);
        Ok(OpResult::Delete)
    }

    fn set_data(
        &mut self,
        path: &str,
        data: &[u8],
        version: i32,
        time: i64,
    ) -> Result<OpResult, ErrorCode> {
        let zxid = self.zxid;
        let node = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
        if version != -1 && version != node.version {
            return Err(ErrorCode::BadVersion);
        }
        node.data = data.to_vec();
        node.version += 1;
        node.mzxid = zxid;
        node.mtime = time;
        Ok(OpResult::SetData {
            stat: self.stat(path),
        })
    }

    fn op(&mut self, op: &WriteOp, session: i64, time: i64) -> Result<OpResult, ErrorCode> {
        match op {
            WriteOp::Create(create) => self.create(create, session, time),
            WriteOp::Delete { path, version } => self.delete(path, *version),
            WriteOp::SetData {
                path,
                data,
                version,
            } => self.set_data(path, data, *version, time),
            WriteOp::Check { path, version } => {
                let node = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                if *version != -1 && *version != node.version {
                    return Err(ErrorCode::BadVersion);
                }
                Ok(OpResult::Check)
            }
            WriteOp::DeleteContainer { path } => {
                let node = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                if !self.children(path).is_empty() {
                    return Err(ErrorCode::NotEmpty);
                }
                if !(node.container && node.sequence > 0) {
                    return Err(ErrorCode::BadVersion);
                }
                self.remove(path);
                Ok(OpResult::Delete)
            }
            other => panic!("model does not generate {other:?}"),
        }
    }

    fn apply(&mut self, txn: &Txn) -> OpResult {
        self.zxid += 1;
        match &txn.op {
            WriteOp::Multi(ops) => {
                let mut scratch = self.clone();
                let mut results = Vec::new();
                for (index, op) in ops.iter().enumerate() {
                    match scratch.op(op, txn.session_id, txn.time_ms) {
                        Ok(result) => results.push(result),
                        Err(code) => {
                            let mut errors = vec![OpResult::Error(ErrorCode::Ok); index];
                            errors.push(OpResult::Error(code));
                            while errors.len() < ops.len() {
                                errors.push(OpResult::Error(ErrorCode::RuntimeInconsistency));
                            }
                            return OpResult::Multi(errors);
                        }
                    }
                }
                *self = scratch;
                OpResult::Multi(results)
            }
            WriteOp::CreateSession {
                timeout_ms,
                password,
            } => {
                self.sessions.insert(txn.session_id);
                OpResult::SessionCreated {
                    session_id: txn.session_id,
                    timeout_ms: *timeout_ms,
                    password: *password,
                }
            }
            WriteOp::CloseSession => {
                let owned: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|(_, node)| node.session == txn.session_id)
                    .map(|(path, _)| path.clone())
                    .collect();
                for path in owned {
                    self.remove(&path);
                }
                self.sessions.remove(&txn.session_id);
                OpResult::SessionClosed
            }
            op => self
                .op(op, txn.session_id, txn.time_ms)
                .unwrap_or_else(OpResult::Error),
        }
    }
}

const NAMED: [&str; 8] = ["/a", "/b", "/a/x", "/a/y", "/b/x", "/a/x/z", "/a/s-", "/s-"];

fn random_path(rng: &mut Rng, model: &Model) -> String {
    if rng.below(3) == 0 {
        let existing: Vec<&String> = model
            .nodes
            .keys()
            .filter(|p| !p.starts_with("/zookeeper") && p.as_str() != "/")
            .collect();
        if !existing.is_empty() {
            return (*rng.pick(&existing)).clone();
        }
    }
    (*rng.pick(&NAMED)).to_owned()
}

fn random_simple_op(rng: &mut Rng, model: &Model) -> WriteOp {
    let path = random_path(rng, model);
    let version = *rng.pick(&[-1, 0, 1, 2]);
    let data: Arc<[u8]> = Arc::from(vec![b'd'; rng.below(4)]);
    match rng.below(10) {
        0..=3 => {
            let modes = [
                CreateMode::Persistent,
                CreateMode::Ephemeral,
                CreateMode::PersistentSequential,
                CreateMode::EphemeralSequential,
                CreateMode::Container,
            ];
            WriteOp::Create(CreateOp {
                path,
                data,
                acl: vec![Acl {
                    perms: perms::ALL,
                    id: Id::new("world", "anyone"),
                }],
                mode: *rng.pick(&modes),
                ttl_ms: -1,
            })
        }
        4..=5 => WriteOp::Delete { path, version },
        6..=7 => WriteOp::SetData {
            path,
            data,
            version,
        },
        _ => WriteOp::Check { path, version },
    }
}

fn random_op(rng: &mut Rng, model: &Model) -> WriteOp {
    match rng.below(20) {
        0 => WriteOp::CreateSession {
            timeout_ms: 4000,
            password: PASSWORD,
        },
        1 => WriteOp::CloseSession,
        2 => WriteOp::DeleteContainer {
            path: random_path(rng, model),
        },
        3..=5 => {
            let count = 1 + rng.below(3);
            WriteOp::Multi((0..count).map(|_| random_simple_op(rng, model)).collect())
        }
        _ => random_simple_op(rng, model),
    }
}

fn compare(state: &State, model: &Model, context: &str) {
    assert_eq!(state.last_zxid(), model.zxid, "{context}: zxid");
    assert_eq!(
        state.node_count(),
        model.nodes.len() + 1,
        "{context}: node count"
    );
    let auth = [Id::new("ip", "127.0.0.1")];
    for (path, node) in &model.nodes {
        let (data, stat) = state
            .get_data(path, &auth)
            .unwrap_or_else(|code| panic!("{context}: {path}: {code:?}"));
        assert_eq!(stat, model.stat(path), "{context}: stat of {path}");
        assert_eq!(&data[..], &node.data[..], "{context}: data of {path}");
        let (children, _) = state.get_children(path, &auth).unwrap_or_default();
        assert_eq!(
            children,
            model.children(path),
            "{context}: children of {path}"
        );
    }
    let ephemerals: usize = model
        .nodes
        .values()
        .filter(|node| node.session != 0)
        .count();
    assert_eq!(
        state.ephemeral_count(),
        ephemerals,
        "{context}: ephemeral count"
    );
}

fn run_seed(seed: u64) {
    let mut rng = Rng(seed);
    let mut state = State::new();
    let mut model = Model::new();
    let mut time_ms = 1_000;
    for step in 0..STEPS {
        time_ms += rng.below(3) as i64;
        let txn = Txn {
            session_id: 1 + rng.below(2) as i64,
            cxid: step as i32,
            time_ms,
            auth: vec![Id::new("ip", "127.0.0.1")],
            op: random_op(&mut rng, &model),
        };
        let context = format!("seed {seed} step {step} {txn:?}");
        let applied = state.apply(&txn);
        let expected = model.apply(&txn);
        assert_eq!(applied.result, expected, "{context}: result");
        assert_eq!(applied.zxid, model.zxid, "{context}: applied zxid");
        compare(&state, &model, &context);
        if step % 50 == 0 {
            state.assert_invariants();
        }
    }
    state.assert_invariants();
}

#[test]
fn state_agrees_with_a_reference_model_on_random_sequences() {
    if let Some(seed) = std::env::var("STATE_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        run_seed(seed);
        return;
    }
    for seed in 0..SEEDS {
        run_seed(seed);
    }
}
