//! The replicated state: the data tree and the sessions, as a persistent (copy-on-write)
//! structure.
//!
//! The pipeline shard owns one `State` and applies every committed `Txn` to it (`apply.rs`);
//! after a batch it publishes a clone (`Arc<State>`) to the other shards, which answer reads from
//! it (this file). A clone costs a few reference-count increments: the node map, the children
//! sets and the indexes are `im` collections whose versions share everything they did not change.
//!
//! - `node`: one znode, its children set, the meaning of its ephemeralOwner field.
//! - `apply`: ZooKeeper's write semantics (PrepRequestProcessor plus DataTree), one zxid per txn.
//! - `housekeeping`: which containers and TTL nodes the leader should delete.
//!
//! Paths are keyed exactly as clients send them; as in ZooKeeper, the empty path is an alias of
//! the root.

mod apply;
mod housekeeping;
mod node;
mod records;

pub use records::{NodeRecord, StateBuildError};
pub(crate) use records::{StateBuilder, StoredFields};

use std::sync::Arc;

use crate::acl;
use crate::types::{perms, Acl, Data, ErrorCode, Id, SessionId, Stat, Zxid};

use node::{java_length, AclList, Node, OwnerKind, Path};

/// A session as the log knows it: what its ConnectRequest negotiated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub timeout_ms: i32,
    pub password: [u8; 16],
}

/// The whole replicated state. See the module documentation.
#[derive(Clone)]
pub struct State {
    /// Every node by full path. An ordered B-tree rather than `im::HashMap`: the hash trie
    /// allocates fixed 32-slot nodes and measured 663 MiB for 1M znodes of 100 bytes against
    /// 415 MiB for this map, and path order makes snapshots deterministic.
    nodes: im::OrdMap<Path, Arc<Node>>,
    sessions: im::HashMap<SessionId, SessionInfo>,
    /// Each session's ephemeral nodes, for CloseSession and getEphemerals.
    ephemerals: im::HashMap<SessionId, im::OrdSet<Path>>,
    containers: im::OrdSet<Path>,
    ttls: im::OrdSet<Path>,
    last_zxid: Zxid,
    /// ZooKeeper's approximate data size: path lengths plus data lengths.
    data_size: u64,
    ephemeral_count: usize,
}

const ROOT: &str = "/";
const ZOOKEEPER: &str = "/zookeeper";
const ZOOKEEPER_QUOTA: &str = "/zookeeper/quota";
const ZOOKEEPER_CONFIG: &str = "/zookeeper/config";

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

impl State {
    /// The tree of a fresh ZooKeeper 3.8 standalone server: `/`, `/zookeeper`,
    /// `/zookeeper/quota` and `/zookeeper/config`, all with zero zxids and times. ZooKeeper links
    /// them without counting creations, so `/` shows cversion −1 and `/zookeeper` −2; the config
    /// node is read-only for everyone and its ACL was set with version −1, so its aversion is −1.
    pub fn new() -> State {
        let open: AclList = Arc::from(vec![Acl {
            perms: perms::ALL,
            id: Id::new("world", "anyone"),
        }]);
        let read_only: AclList = Arc::from(vec![Acl {
            perms: perms::READ,
            id: Id::new("world", "anyone"),
        }]);
        let empty: Data = Arc::from(Vec::new());
        let plain = |acl: &AclList| Node::new(empty.clone(), acl.clone(), 0, 0, 0);
        let paths: [Path; 4] = [ROOT, ZOOKEEPER, ZOOKEEPER_QUOTA, ZOOKEEPER_CONFIG].map(Arc::from);
        let mut root = plain(&open);
        root.children.insert(paths[1].clone());
        let mut zookeeper = plain(&open);
        zookeeper.children.insert(paths[2].clone());
        zookeeper.children.insert(paths[3].clone());
        let mut config = plain(&read_only);
        config.aversion = -1;
        let mut state = State {
            nodes: im::OrdMap::new(),
            sessions: im::HashMap::new(),
            ephemerals: im::HashMap::new(),
            containers: im::OrdSet::new(),
            ttls: im::OrdSet::new(),
            last_zxid: 0,
            data_size: 0,
            ephemeral_count: 0,
        };
        for (path, node) in paths
            .into_iter()
            .zip([root, zookeeper, plain(&open), config])
        {
            state.data_size += java_length(&path) + node.data.len() as u64;
            state.nodes.insert(path, Arc::new(node));
        }
        state
    }

    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// The node at `path`; the empty path is the root, as in ZooKeeper's node map.
    fn node(&self, path: &str) -> Option<&Arc<Node>> {
        self.nodes.get(canonical(path))
    }

    /// getData: the node must exist, then READ is required.
    pub fn get_data(&self, path: &str, auth: &[Id]) -> Result<(Data, Stat), ErrorCode> {
        let node = self.readable(path, auth)?;
        Ok((node.data.clone(), node.stat()))
    }

    /// exists needs no permission.
    pub fn exists(&self, path: &str) -> Option<Stat> {
        self.node(path).map(|node| node.stat())
    }

    /// getChildren/getChildren2: READ required; names in byte order.
    pub fn get_children(&self, path: &str, auth: &[Id]) -> Result<(Vec<String>, Stat), ErrorCode> {
        let node = self.readable(path, auth)?;
        let names = node
            .children
            .iter()
            .map(|child| child_name(child).to_owned())
            .collect();
        Ok((names, node.stat()))
    }

    /// getACL as ZooKeeper 3.8 answers it: READ or ADMIN lets a session see the list, and
    /// without ADMIN the digest hashes are masked (`user:x`), so READ alone cannot harvest them.
    pub fn get_acl(&self, path: &str, auth: &[Id]) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        let node = self.node(path).ok_or(ErrorCode::NoNode)?;
        let admin = acl::check(&node.acl, auth, perms::ADMIN);
        if !admin && !acl::check(&node.acl, auth, perms::READ) {
            return Err(ErrorCode::NoAuth);
        }
        let list = node
            .acl
            .iter()
            .map(|entry| if admin { entry.clone() } else { masked(entry) })
            .collect();
        Ok((list, node.stat()))
    }

    /// getAllChildrenNumber: READ required; every descendant, at any depth, not the node itself.
    pub fn all_children_number(&self, path: &str, auth: &[Id]) -> Result<i32, ErrorCode> {
        let node = self.readable(path, auth)?;
        let mut count: usize = 0;
        let mut pending: Vec<&Path> = node.children.iter().collect();
        while let Some(child) = pending.pop() {
            count += 1;
            if let Some(child_node) = self.nodes.get(child) {
                pending.extend(child_node.children.iter());
            }
        }
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }

    /// getEphemerals: the session's ephemeral paths that start with `prefix` (a plain string
    /// prefix, as ZooKeeper compares), all of them when the prefix is blank or `/`. Sorted.
    pub fn ephemerals(&self, session_id: SessionId, prefix: &str) -> Vec<String> {
        let Some(owned) = self.ephemerals.get(&session_id) else {
            return Vec::new();
        };
        // Java's String.trim strips every character up to the space.
        let trimmed = prefix.trim_matches(|c: char| c <= ' ');
        if trimmed.is_empty() || trimmed == ROOT {
            return owned.iter().map(|path| path.to_string()).collect();
        }
        owned
            .range::<_, str>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|path| path.starts_with(prefix))
            .map(|path| path.to_string())
            .collect()
    }

    pub fn session(&self, session_id: SessionId) -> Option<&SessionInfo> {
        self.sessions.get(&session_id)
    }

    /// Every open session, in no particular order.
    pub fn sessions(&self) -> impl Iterator<Item = (SessionId, &SessionInfo)> {
        self.sessions
            .iter()
            .map(|(session_id, info)| (*session_id, info))
    }

    /// All ephemeral paths of one session, sorted (the `dump` four-letter word).
    pub fn session_ephemerals(&self, session_id: SessionId) -> Vec<String> {
        self.ephemerals(session_id, ROOT)
    }

    /// ZooKeeper's zk_znode_count: its node map holds the root twice (as "" and "/"), so a fresh
    /// server reports 5 for its 4 nodes. Reported the same way so dashboards compare.
    pub fn node_count(&self) -> usize {
        self.nodes.len() + 1
    }

    /// ZooKeeper's zk_approximate_data_size: the UTF-16 length of every path plus every data
    /// length (44 on a fresh server).
    pub fn approximate_data_size(&self) -> u64 {
        self.data_size
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemeral_count
    }

    /// The node at `path` when the session may read it: NoNode before NoAuth, as ZooKeeper.
    fn readable(&self, path: &str, auth: &[Id]) -> Result<&Arc<Node>, ErrorCode> {
        let node = self.node(path).ok_or(ErrorCode::NoNode)?;
        if !acl::check(&node.acl, auth, perms::READ) {
            return Err(ErrorCode::NoAuth);
        }
        Ok(node)
    }

    /// Checks every structural invariant over the whole tree. O(nodes): for tests and debug
    /// tooling, not for the apply path (which asserts what each change touches).
    pub fn assert_invariants(&self) {
        let mut data_size = 0;
        let mut ephemeral_count = 0;
        for (path, node) in self.nodes.iter() {
            data_size += java_length(path) + node.data.len() as u64;
            for child in node.children.iter() {
                assert!(
                    self.nodes.contains_key(child),
                    "child {child} of {path} missing"
                );
                assert_eq!(parent_of(child), canonical(path), "child {child} misfiled");
            }
            if path.as_ref() != ROOT {
                let parent = self.nodes.get(parent_of(path));
                assert!(parent.is_some_and(|parent| parent.children.contains(path)));
            }
            match node.kind() {
                OwnerKind::Ephemeral(session_id) => {
                    ephemeral_count += 1;
                    assert!(node.children.is_empty(), "ephemeral {path} has children");
                    let owned = self.ephemerals.get(&session_id);
                    assert!(owned.is_some_and(|owned| owned.contains(path)));
                    assert!(self.sessions.contains_key(&session_id), "orphan {path}");
                }
                OwnerKind::Container => assert!(self.containers.contains(path)),
                OwnerKind::Ttl(_) => assert!(self.ttls.contains(path)),
                OwnerKind::Persistent => {}
            }
        }
        assert_eq!(data_size, self.data_size);
        assert_eq!(ephemeral_count, self.ephemeral_count);
        let indexed: usize = self.ephemerals.values().map(|owned| owned.len()).sum();
        assert_eq!(indexed, self.ephemeral_count);
        for path in self.containers.iter().chain(self.ttls.iter()) {
            assert!(self.nodes.contains_key(path), "index names deleted {path}");
        }
    }
}

/// The map key of `path`: the empty path is the root's alias.
fn canonical(path: &str) -> &str {
    if path.is_empty() {
        ROOT
    } else {
        path
    }
}

/// The parent key of a stored path (everything before the last slash, the root for `/x`).
fn parent_of(path: &str) -> &str {
    canonical(path.rfind('/').map_or("", |index| &path[..index]))
}

/// The last component of a stored child path.
fn child_name(path: &str) -> &str {
    path.rfind('/').map_or(path, |index| &path[index + 1..])
}

/// ZooKeeper masks digest hashes for readers without ADMIN with Java's
/// `id.replaceAll(":.*", ":x")`; `.` stops at a line terminator, so each line is masked from its
/// first colon on.
fn masked(entry: &Acl) -> Acl {
    if entry.id.scheme != "digest" {
        return entry.clone();
    }
    let mut id = String::with_capacity(entry.id.id.len());
    let mut rest = entry.id.id.as_str();
    loop {
        let line_end = rest
            .find(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
            .unwrap_or(rest.len());
        let (line, tail) = rest.split_at(line_end);
        match line.split_once(':') {
            Some((user, _)) => {
                id.push_str(user);
                id.push_str(":x");
            }
            None => id.push_str(line),
        }
        let Some(terminator) = tail.chars().next() else {
            break;
        };
        id.push(terminator);
        rest = &tail[terminator.len_utf8()..];
    }
    Acl {
        perms: entry.perms,
        id: Id {
            scheme: entry.id.scheme.clone(),
            id,
        },
    }
}
