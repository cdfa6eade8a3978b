//! A small model of ZooKeeper's `DataTree` that replays logged txns on top of a snapshot with
//! ZooKeeper's start-up semantics, not Corral's live-server checks.
//!
//! Snapshots are fuzzy: a node may already reflect txns logged after the snapshot's zxid. So,
//! as in `DataTree.processTxn`, a txn that fails (NoNode, NodeExists) is skipped, a create only
//! raises its parent's stored cversion and pzxid, a delete only raises the parent's pzxid, and
//! a plain `create` that finds its node already there still brings the parent's cversion and
//! pzxid up to the txn's (`setCversionPzxid`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use corral_engine::state::NodeRecord;
use corral_engine::types::{
    data_from_buffer, Acl, CONTAINER_EPHEMERAL_OWNER, TTL_EPHEMERAL_OWNER_HIGH_BYTE,
};

use super::snapshot::{open_acl, SnapNode, StatPersisted};
use super::txn::{CreateTxn, TxnHeader, ZkTxn};

/// Why a snapshot's nodes do not form a tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeError {
    pub path: String,
    pub reason: String,
}

struct TreeNode {
    data: Option<Vec<u8>>,
    acl: Arc<[Acl]>,
    stat: StatPersisted,
    /// Child names (not paths).
    children: BTreeSet<String>,
}

/// The tree, keyed by ZooKeeper's paths: the root is the empty string.
pub struct ZkTree {
    nodes: HashMap<String, TreeNode>,
    ephemerals: HashMap<i64, BTreeSet<String>>,
    pub sessions: BTreeMap<i64, i32>,
    pub last_zxid: i64,
    /// Txns (or ops of a multi) that failed on replay and were skipped, as ZooKeeper does.
    pub skipped_ops: u64,
}

/// The parent path and the child name of `path`, split at the last slash as ZooKeeper does.
fn split(path: &str) -> Option<(&str, &str)> {
    let slash = path.rfind('/')?;
    Some((&path[..slash], &path[slash + 1..]))
}

/// Whether an ephemeralOwner names a session (not persistent, a container or a TTL node), as
/// ZooKeeper's `EphemeralType.get` decides with extended types enabled.
fn owning_session(owner: i64) -> Option<i64> {
    let extended = (u64::from(TTL_EPHEMERAL_OWNER_HIGH_BYTE) << 56) as i64;
    if owner == 0 || owner == CONTAINER_EPHEMERAL_OWNER || owner & extended == extended {
        None
    } else {
        Some(owner)
    }
}

impl ZkTree {
    /// Builds the tree of a snapshot; every node's parent must come before it.
    pub fn from_snapshot(
        nodes: Vec<SnapNode>,
        sessions: &[(i64, i32)],
        zxid: i64,
    ) -> Result<ZkTree, TreeError> {
        let mut tree = ZkTree {
            nodes: HashMap::with_capacity(nodes.len()),
            ephemerals: HashMap::new(),
            sessions: sessions.iter().copied().collect(),
            last_zxid: zxid,
            skipped_ops: 0,
        };
        for node in nodes {
            let error = |reason: &str| TreeError {
                path: node.path.clone(),
                reason: reason.to_string(),
            };
            if tree.nodes.contains_key(&node.path) {
                return Err(error("appears twice"));
            }
            match split(&node.path) {
                None if node.path.is_empty() => {}
                None => return Err(error("is not an absolute path")),
                Some((parent, name)) => {
                    let parent = tree
                        .nodes
                        .get_mut(parent)
                        .ok_or_else(|| error("its parent is missing"))?;
                    parent.children.insert(name.to_string());
                }
            }
            if let Some(session) = owning_session(node.stat.ephemeral_owner) {
                tree.ephemerals
                    .entry(session)
                    .or_default()
                    .insert(node.path.clone());
            }
            let tree_node = TreeNode {
                data: node.data,
                acl: node.acl,
                stat: node.stat,
                children: BTreeSet::new(),
            };
            tree.nodes.insert(node.path, tree_node);
        }
        if !tree.nodes.contains_key("") {
            return Err(TreeError {
                path: "/".to_string(),
                reason: "the snapshot has no root node".to_string(),
            });
        }
        Ok(tree)
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Applies one logged txn (`FileTxnSnapLog.processTransaction`).
    pub fn apply(&mut self, header: &TxnHeader, txn: &ZkTxn) {
        match txn {
            ZkTxn::CreateSession { timeout_ms } => {
                self.sessions.insert(header.client_id, *timeout_ms);
            }
            ZkTxn::CloseSession { paths_to_delete } => {
                self.sessions.remove(&header.client_id);
                self.kill_session(header.client_id, header.zxid, paths_to_delete.as_deref());
            }
            ZkTxn::Multi(ops) => {
                for op in ops {
                    self.apply_op(header, op);
                }
            }
            op => self.apply_op(header, op),
        }
        self.last_zxid = self.last_zxid.max(header.zxid);
    }

    fn apply_op(&mut self, header: &TxnHeader, txn: &ZkTxn) {
        let applied = match txn {
            ZkTxn::Create(create) => self.create(header, create),
            ZkTxn::Delete { path } => self.delete(path, header.zxid),
            ZkTxn::SetData {
                path,
                data,
                version,
            } => match self.nodes.get_mut(path) {
                Some(node) => {
                    node.data = data.clone();
                    node.stat.mtime_ms = header.time_ms;
                    node.stat.mzxid = header.zxid;
                    node.stat.version = *version;
                    true
                }
                None => false,
            },
            ZkTxn::SetAcl { path, acl, version } => match self.nodes.get_mut(path) {
                Some(node) => {
                    node.stat.aversion = *version;
                    node.acl = Arc::from(acl.clone().unwrap_or_else(open_acl));
                    true
                }
                None => false,
            },
            // Changes nothing (an error txn is a failed write).
            ZkTxn::Check { .. } | ZkTxn::Error { .. } => true,
            // Sessions and multis only appear at top level, as the decoder guarantees.
            ZkTxn::CreateSession { .. } | ZkTxn::CloseSession { .. } | ZkTxn::Multi(_) => true,
        };
        if !applied {
            self.skipped_ops += 1;
        }
    }

    /// `DataTree.createNode`, plus processTxn's NodeExists fix-up. False when skipped.
    fn create(&mut self, header: &TxnHeader, create: &CreateTxn) -> bool {
        let Some((parent_path, name)) = split(&create.path) else {
            return false;
        };
        let Some(parent) = self.nodes.get_mut(parent_path) else {
            return false;
        };
        let parent_cversion = if create.parent_cversion == -1 {
            parent.stat.cversion + 1
        } else {
            create.parent_cversion
        };
        if parent.children.contains(name) {
            if create.fix_cversion_on_exists && parent_cversion > parent.stat.cversion {
                parent.stat.cversion = parent_cversion;
                parent.stat.pzxid = header.zxid;
            }
            return false;
        }
        if parent_cversion > parent.stat.cversion {
            parent.stat.cversion = parent_cversion;
            parent.stat.pzxid = header.zxid;
        }
        parent.children.insert(name.to_string());
        if let Some(session) = owning_session(create.ephemeral_owner) {
            self.ephemerals
                .entry(session)
                .or_default()
                .insert(create.path.clone());
        }
        let node = TreeNode {
            data: create.data.clone(),
            acl: Arc::from(create.acl.clone().unwrap_or_else(open_acl)),
            stat: StatPersisted {
                czxid: header.zxid,
                mzxid: header.zxid,
                ctime_ms: header.time_ms,
                mtime_ms: header.time_ms,
                version: 0,
                cversion: 0,
                aversion: 0,
                ephemeral_owner: create.ephemeral_owner,
                pzxid: header.zxid,
            },
            children: BTreeSet::new(),
        };
        self.nodes.insert(create.path.clone(), node);
        true
    }

    /// `DataTree.deleteNode`: the parent's pzxid moves up even when the child is already gone.
    fn delete(&mut self, path: &str, zxid: i64) -> bool {
        let Some((parent_path, name)) = split(path) else {
            return false;
        };
        let Some(parent) = self.nodes.get_mut(parent_path) else {
            return false;
        };
        parent.children.remove(name);
        if zxid > parent.stat.pzxid {
            parent.stat.pzxid = zxid;
        }
        let Some(node) = self.nodes.remove(path) else {
            return false;
        };
        if let Some(session) = owning_session(node.stat.ephemeral_owner) {
            if let Some(paths) = self.ephemerals.get_mut(&session) {
                paths.remove(path);
            }
        }
        true
    }

    /// `DataTree.killSession`: the paths the txn lists, then any other ephemeral of the session.
    fn kill_session(&mut self, session: i64, zxid: i64, listed: Option<&[String]>) {
        let mut owned = self.ephemerals.remove(&session).unwrap_or_default();
        for path in listed.unwrap_or_default() {
            owned.remove(path);
            if !self.delete(path, zxid) {
                self.skipped_ops += 1;
            }
        }
        for path in owned {
            if !self.delete(&path, zxid) {
                self.skipped_ops += 1;
            }
        }
    }

    /// Every node reachable from the root as a Corral record, parents before children. A node
    /// that a replayed delete cut off from the tree (its parent deleted while a fuzzy snapshot
    /// still held it) is left out, as ZooKeeper's next snapshot would leave it out.
    pub fn into_records(mut self) -> Vec<NodeRecord> {
        let mut records = Vec::with_capacity(self.nodes.len());
        let mut pending = vec![String::new()];
        while let Some(path) = pending.pop() {
            let Some(node) = self.nodes.remove(&path) else {
                continue;
            };
            // Reversed so that the stack pops children in name order.
            for name in node.children.iter().rev() {
                pending.push(format!("{path}/{name}"));
            }
            records.push(NodeRecord {
                path: if path.is_empty() {
                    "/".to_string()
                } else {
                    path
                },
                data: data_from_buffer(node.data.as_deref()),
                acl: node.acl.to_vec(),
                czxid: node.stat.czxid,
                mzxid: node.stat.mzxid,
                pzxid: node.stat.pzxid,
                ctime_ms: node.stat.ctime_ms,
                mtime_ms: node.stat.mtime_ms,
                version: node.stat.version,
                aversion: node.stat.aversion,
                child_creates: node.stat.cversion,
                ephemeral_owner: node.stat.ephemeral_owner,
            });
        }
        records
    }
}
