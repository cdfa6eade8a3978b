//! The state as a flat list of node records and sessions: what a snapshot holds, and how a state
//! is rebuilt from one.
//!
//! Rebuilding does not replay creates: it takes every node with its stored fields as they are
//! and derives what `apply` maintains on the side (children sets, the ephemeral, container and
//! TTL indexes, the data size and the ephemeral count), so the result equals the state that was
//! saved. `StateBuilder` is the fast path the snapshot decoder feeds directly; `from_records`
//! wraps it for callers that hold plain records.

use std::collections::HashMap;
use std::sync::Arc;

use thiserror::Error;

use super::node::{java_length, AclList, Children, Node, OwnerKind, Path};
use super::{parent_of, SessionInfo, State, ROOT};
use crate::paths;
use crate::types::{Acl, Data, SessionId, Zxid};

/// One znode with every stored field, as a snapshot holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    pub path: String,
    pub data: Data,
    pub acl: Vec<Acl>,
    pub czxid: Zxid,
    pub mzxid: Zxid,
    pub pzxid: Zxid,
    pub ctime_ms: i64,
    pub mtime_ms: i64,
    pub version: i32,
    pub aversion: i32,
    /// ZooKeeper's *stored* cversion: the number of child creates (what ZK's snapshot holds).
    pub child_creates: i32,
    /// As stored: session id, container marker (i64::MIN) or TTL encoding (0xff << 56 | ttl ms).
    pub ephemeral_owner: i64,
}

/// Why a set of records does not make a state. Each names the offending path or session.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum StateBuildError {
    #[error("node {path}: its parent is missing")]
    MissingParent { path: String },
    #[error("node {path}: appears twice")]
    DuplicatePath { path: String },
    #[error("node {path:?}: not a valid path")]
    InvalidPath { path: String },
    #[error("node {path}: owner session {session_id:#x} is not among the sessions")]
    OrphanEphemeral { path: String, session_id: SessionId },
    #[error("node {path}: its parent is an ephemeral node")]
    EphemeralParent { path: String },
    #[error("session {session_id:#x} appears twice")]
    DuplicateSession { session_id: SessionId },
    #[error("the root node / is missing")]
    MissingRoot,
}

/// A node's stored fields other than its path, data and ACL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StoredFields {
    pub czxid: Zxid,
    pub mzxid: Zxid,
    pub pzxid: Zxid,
    pub ctime_ms: i64,
    pub mtime_ms: i64,
    pub version: i32,
    pub aversion: i32,
    pub child_creates: i32,
    pub ephemeral_owner: i64,
}

/// One node borrowed from a state, for encoders that must not allocate per node.
pub(crate) struct NodeView<'a> {
    pub path: &'a str,
    pub data: &'a Data,
    pub acl: &'a Arc<[Acl]>,
    pub fields: StoredFields,
}

impl State {
    /// Every node, in path order (a parent always before its children, since a path sorts
    /// after each of its prefixes).
    pub fn node_records(&self) -> impl Iterator<Item = NodeRecord> + '_ {
        self.node_views().map(|view| NodeRecord {
            path: view.path.to_owned(),
            data: view.data.clone(),
            acl: view.acl.to_vec(),
            czxid: view.fields.czxid,
            mzxid: view.fields.mzxid,
            pzxid: view.fields.pzxid,
            ctime_ms: view.fields.ctime_ms,
            mtime_ms: view.fields.mtime_ms,
            version: view.fields.version,
            aversion: view.fields.aversion,
            child_creates: view.fields.child_creates,
            ephemeral_owner: view.fields.ephemeral_owner,
        })
    }

    /// Every node borrowed, in path order.
    pub(crate) fn node_views(&self) -> impl Iterator<Item = NodeView<'_>> + '_ {
        self.nodes.iter().map(|(path, node)| NodeView {
            path,
            data: &node.data,
            acl: &node.acl,
            fields: StoredFields {
                czxid: node.czxid,
                mzxid: node.mzxid,
                pzxid: node.pzxid,
                ctime_ms: node.ctime_ms,
                mtime_ms: node.mtime_ms,
                version: node.version,
                aversion: node.aversion,
                child_creates: node.child_creates,
                ephemeral_owner: node.ephemeral_owner,
            },
        })
    }

    /// How many nodes the tree holds (without ZooKeeper's double-counted root; see
    /// `node_count`).
    pub(crate) fn stored_node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Rebuilds a state (indexes of ephemerals, containers, TTLs, data size, counts) from nodes
    /// in any order and sessions; fails naming the path when a parent is missing, a path is
    /// invalid or duplicated, or an ephemeral's owner is not among the sessions. Equal ACL lists
    /// end up shared, as they mostly are in a state built by `apply`.
    pub fn from_records(
        nodes: impl IntoIterator<Item = NodeRecord>,
        sessions: impl IntoIterator<Item = (SessionId, SessionInfo)>,
        last_zxid: Zxid,
    ) -> Result<State, StateBuildError> {
        let mut builder = StateBuilder::new(last_zxid);
        for (session_id, info) in sessions {
            builder.add_session(session_id, info)?;
        }
        let mut interned: HashMap<Vec<Acl>, AclList> = HashMap::new();
        for record in nodes {
            let acl = match interned.get(record.acl.as_slice()) {
                Some(list) => list.clone(),
                None => {
                    let list: AclList = Arc::from(record.acl.as_slice());
                    interned.insert(record.acl, list.clone());
                    list
                }
            };
            let fields = StoredFields {
                czxid: record.czxid,
                mzxid: record.mzxid,
                pzxid: record.pzxid,
                ctime_ms: record.ctime_ms,
                mtime_ms: record.mtime_ms,
                version: record.version,
                aversion: record.aversion,
                child_creates: record.child_creates,
                ephemeral_owner: record.ephemeral_owner,
            };
            builder.add_node(Arc::from(record.path), record.data, acl, fields);
        }
        builder.build()
    }
}

/// Collects nodes and sessions, then builds a `State` from them in one pass over the sorted
/// nodes. Adding is cheap and checks nothing; `build` checks everything.
pub(crate) struct StateBuilder {
    nodes: Vec<(Path, Node)>,
    sessions: im::HashMap<SessionId, SessionInfo>,
    last_zxid: Zxid,
}

impl StateBuilder {
    pub fn new(last_zxid: Zxid) -> StateBuilder {
        StateBuilder {
            nodes: Vec::new(),
            sessions: im::HashMap::new(),
            last_zxid,
        }
    }

    /// Reserves room for `count` more nodes; the caller bounds `count` by what it can trust.
    pub fn reserve(&mut self, count: usize) {
        self.nodes.reserve(count);
    }

    pub fn add_session(
        &mut self,
        session_id: SessionId,
        info: SessionInfo,
    ) -> Result<(), StateBuildError> {
        match self.sessions.insert(session_id, info) {
            Some(_) => Err(StateBuildError::DuplicateSession { session_id }),
            None => Ok(()),
        }
    }

    pub fn add_node(&mut self, path: Path, data: Data, acl: AclList, fields: StoredFields) {
        let node = Node {
            data,
            acl,
            czxid: fields.czxid,
            mzxid: fields.mzxid,
            pzxid: fields.pzxid,
            ctime_ms: fields.ctime_ms,
            mtime_ms: fields.mtime_ms,
            version: fields.version,
            aversion: fields.aversion,
            child_creates: fields.child_creates,
            ephemeral_owner: fields.ephemeral_owner,
            children: Children::default(),
        };
        self.nodes.push((path, node));
    }

    /// Checks the nodes form a tree and derives everything `apply` maintains beside them.
    pub fn build(mut self) -> Result<State, StateBuildError> {
        // Snapshots arrive sorted, so the usual cost is one pass of comparisons.
        if !self.nodes.is_sorted_by(|a, b| a.0 < b.0) {
            self.nodes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            if let Some(pair) = self.nodes.windows(2).find(|pair| pair[0].0 == pair[1].0) {
                return Err(StateBuildError::DuplicatePath {
                    path: pair[0].0.to_string(),
                });
            }
        }
        // Every other path is checked while linking; the first must be the root.
        if let Some((path, _)) = self.nodes.first() {
            if paths::validate(path, false).is_err() {
                return Err(StateBuildError::InvalidPath {
                    path: path.to_string(),
                });
            }
        }
        if self
            .nodes
            .first()
            .is_none_or(|(path, _)| path.as_ref() != ROOT)
        {
            return Err(StateBuildError::MissingRoot);
        }
        let mut state = State {
            nodes: im::OrdMap::new(),
            sessions: self.sessions,
            ephemerals: im::HashMap::new(),
            containers: im::OrdSet::new(),
            ttls: im::OrdSet::new(),
            last_zxid: self.last_zxid,
            data_size: 0,
            ephemeral_count: 0,
        };
        let children = link_children(&self.nodes)?;
        let mut owned: HashMap<SessionId, Vec<Path>> = HashMap::new();
        let mut containers = Vec::new();
        let mut ttls = Vec::new();
        for (path, node) in &self.nodes {
            state.data_size += java_length(path) + node.data.len() as u64;
            match node.kind() {
                OwnerKind::Ephemeral(session_id) => {
                    if !state.sessions.contains_key(&session_id) {
                        return Err(StateBuildError::OrphanEphemeral {
                            path: path.to_string(),
                            session_id,
                        });
                    }
                    owned.entry(session_id).or_default().push(path.clone());
                    state.ephemeral_count += 1;
                }
                OwnerKind::Container => containers.push(path.clone()),
                OwnerKind::Ttl(_) => ttls.push(path.clone()),
                OwnerKind::Persistent => {}
            }
        }
        // Every list above was filled in path order, so each set is built from sorted input.
        state.ephemerals = owned
            .into_iter()
            .map(|(session_id, paths)| (session_id, paths.into_iter().collect()))
            .collect();
        state.containers = containers.into_iter().collect();
        state.ttls = ttls.into_iter().collect();
        state.nodes = self
            .nodes
            .into_iter()
            .zip(children)
            .map(|((path, mut node), children)| {
                node.children = Children::from_sorted(children);
                (path, Arc::new(node))
            })
            .collect();
        Ok(state)
    }
}

/// Each node's children, in path order, for nodes sorted by path. Checks every path, that its
/// parent exists and that the parent is not ephemeral.
fn link_children(nodes: &[(Path, Node)]) -> Result<Vec<Vec<Path>>, StateBuildError> {
    let mut children: Vec<Vec<Path>> = Vec::new();
    children.resize_with(nodes.len(), Vec::new);
    // Siblings are mostly adjacent, so the last parent found usually is the next one's too.
    let mut last_parent = 0;
    for (position, (path, _)) in nodes.iter().enumerate().skip(1) {
        if paths::validate(path, false).is_err() {
            return Err(StateBuildError::InvalidPath {
                path: path.to_string(),
            });
        }
        let parent = parent_of(path);
        if nodes[last_parent].0.as_ref() != parent {
            // A parent is a prefix of its child's path, so it sorts before it.
            last_parent = nodes[..position]
                .binary_search_by(|(probe, _)| probe.as_ref().cmp(parent))
                .map_err(|_| StateBuildError::MissingParent {
                    path: path.to_string(),
                })?;
        }
        if matches!(nodes[last_parent].1.kind(), OwnerKind::Ephemeral(_)) {
            return Err(StateBuildError::EphemeralParent {
                path: path.to_string(),
            });
        }
        children[last_parent].push(path.clone());
    }
    Ok(children)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: &str, ephemeral_owner: i64) -> NodeRecord {
        NodeRecord {
            path: path.to_string(),
            data: Arc::from(b"x".to_vec()),
            acl: Vec::new(),
            czxid: 1,
            mzxid: 1,
            pzxid: 1,
            ctime_ms: 0,
            mtime_ms: 0,
            version: 0,
            aversion: 0,
            child_creates: 0,
            ephemeral_owner,
        }
    }

    fn session() -> SessionInfo {
        SessionInfo {
            timeout_ms: 30_000,
            password: [7; 16],
        }
    }

    #[test]
    fn children_are_linked_in_path_order_from_scrambled_input() {
        let paths = ["/a/b", "/", "/a-b", "/a", "/a/c", "/a/b/d"];
        let nodes = paths.iter().map(|path| record(path, 0));
        let state = match State::from_records(nodes, [], 9) {
            Ok(state) => state,
            Err(error) => panic!("from_records: {error}"),
        };
        state.assert_invariants();
        assert_eq!(state.last_zxid(), 9);
        let names = |path| state.get_children(path, &[]).map(|(names, _)| names);
        assert_eq!(names("/"), Ok(vec!["a".to_string(), "a-b".to_string()]));
        assert_eq!(names("/a"), Ok(vec!["b".to_string(), "c".to_string()]));
        assert_eq!(names("/a/b"), Ok(vec!["d".to_string()]));
        // Data size: the UTF-16 length of each path plus one data byte per node.
        assert_eq!(state.approximate_data_size(), 1 + 4 + 4 + 2 + 4 + 6 + 6);
    }

    #[test]
    fn refusals_name_the_path() {
        let build = |nodes: &[(&str, i64)], sessions: &[SessionId]| {
            let nodes = nodes.iter().map(|(path, owner)| record(path, *owner));
            let sessions = sessions.iter().map(|session_id| (*session_id, session()));
            State::from_records(nodes, sessions, 0).err()
        };
        let missing = |path: &str| StateBuildError::MissingParent {
            path: path.to_string(),
        };
        assert_eq!(build(&[("/", 0), ("/a/b", 0)], &[]), Some(missing("/a/b")));
        assert_eq!(
            build(&[("/", 0), ("/a", 0), ("/a", 0)], &[]),
            Some(StateBuildError::DuplicatePath {
                path: "/a".to_string()
            })
        );
        assert_eq!(
            build(&[("/", 0), ("/a/", 0)], &[]),
            Some(StateBuildError::InvalidPath {
                path: "/a/".to_string()
            })
        );
        assert_eq!(build(&[("/a", 0)], &[]), Some(StateBuildError::MissingRoot));
        assert_eq!(build(&[], &[]), Some(StateBuildError::MissingRoot));
        assert_eq!(
            build(&[("", 0), ("/", 0)], &[]),
            Some(StateBuildError::InvalidPath {
                path: String::new()
            })
        );
        assert_eq!(
            build(&[("/", 0), ("/e", 0x55)], &[0x66]),
            Some(StateBuildError::OrphanEphemeral {
                path: "/e".to_string(),
                session_id: 0x55
            })
        );
        assert_eq!(
            build(&[("/", 0), ("/e", 0x55), ("/e/f", 0)], &[0x55]),
            Some(StateBuildError::EphemeralParent {
                path: "/e/f".to_string()
            })
        );
        assert_eq!(
            build(&[("/", 0)], &[0x55, 0x55]),
            Some(StateBuildError::DuplicateSession { session_id: 0x55 })
        );
    }
}
