//! One znode as the tree stores it, its children set, and what its ephemeralOwner field means.
//!
//! The stored fields mirror ZooKeeper's `StatPersisted`, not the client's `Stat`: ZooKeeper keeps
//! the number of child creations as its stored cversion (the sequence counter), and derives the
//! client-visible cversion, numChildren and dataLength when it copies a stat out. `Node::stat`
//! does the same translation.

use std::sync::Arc;

use crate::limits;
use crate::types::{
    Acl, Data, SessionId, Stat, Zxid, CONTAINER_EPHEMERAL_OWNER, TTL_EPHEMERAL_OWNER_HIGH_BYTE,
};

/// A full path, shared by the node map key, the parent's children set and the owner indexes, so
/// that each name is stored once.
pub(crate) type Path = Arc<str>;

/// A node's ACL list, shared between nodes that carry the same one (a child created with its
/// parent's ACL points at the parent's list).
pub(crate) type AclList = Arc<[Acl]>;

/// Bits 56..64 of ephemeralOwner: all ones marks an extended type (TTL) in ZooKeeper.
const EXTENDED_MASK: u64 = (TTL_EPHEMERAL_OWNER_HIGH_BYTE as u64) << 56;
/// Bits 40..56: which extended feature (0 = TTL); reserved for future types.
const RESERVED_BITS_MASK: u64 = 0x00ff_ff00_0000_0000;
/// The low 40 bits: the TTL in milliseconds.
pub(crate) const TTL_VALUE_MASK: i64 = !(EXTENDED_MASK | RESERVED_BITS_MASK) as i64;

/// What a node's ephemeralOwner field makes of it, as ZooKeeper's `EphemeralType.get` decides
/// with extended types enabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OwnerKind {
    /// A plain persistent node (owner 0).
    Persistent,
    /// An ephemeral node of this session.
    Ephemeral(SessionId),
    /// A container node.
    Container,
    /// A persistent node with this TTL in milliseconds.
    Ttl(i64),
}

pub(crate) fn owner_kind(owner: i64) -> OwnerKind {
    if owner == 0 {
        OwnerKind::Persistent
    } else if owner == CONTAINER_EPHEMERAL_OWNER {
        OwnerKind::Container
    } else if owner as u64 & EXTENDED_MASK == EXTENDED_MASK {
        OwnerKind::Ttl(owner & TTL_VALUE_MASK)
    } else {
        OwnerKind::Ephemeral(owner)
    }
}

/// ZooKeeper's `EphemeralType.TTL.toEphemeralOwner`; the caller has checked the bounds.
pub(crate) fn ttl_owner(ttl_ms: i64) -> i64 {
    assert!(
        ttl_ms > 0 && ttl_ms & !TTL_VALUE_MASK == 0,
        "ttl out of range"
    );
    (EXTENDED_MASK as i64) | ttl_ms
}

/// Whether a session id could be stored as an ephemeralOwner without being read back as
/// something else (persistent, container or TTL). ZooKeeper gets the same guarantee by keeping
/// server ids below 255 when extended types are on.
pub(crate) fn session_id_storable(session_id: SessionId) -> bool {
    matches!(owner_kind(session_id), OwnerKind::Ephemeral(_))
}

/// A set of child paths. Most znodes are leaves and most parents have few children, while one
/// B-tree node of `im::OrdSet` takes over a kilobyte; so no children take no allocation, up to
/// `CHILDREN_INLINE_MAX` live in a shared sorted slice (copied on change, which is cheap at that
/// size), and only bigger sets use the persistent B-tree.
#[derive(Clone, Debug, Default)]
pub(crate) struct Children {
    repr: ChildrenRepr,
}

#[derive(Clone, Debug, Default)]
enum ChildrenRepr {
    #[default]
    Empty,
    Small(Arc<[Path]>),
    Large(im::OrdSet<Path>),
}

impl Children {
    /// A set of `paths` already in strictly increasing order (snapshot loading builds every
    /// set at once instead of inserting one child at a time).
    pub fn from_sorted(paths: Vec<Path>) -> Children {
        assert!(
            paths.windows(2).all(|pair| pair[0] < pair[1]),
            "children not sorted"
        );
        let repr = if paths.is_empty() {
            ChildrenRepr::Empty
        } else if paths.len() <= limits::CHILDREN_INLINE_MAX {
            ChildrenRepr::Small(Arc::from(paths))
        } else {
            ChildrenRepr::Large(paths.into_iter().collect())
        };
        Children { repr }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            ChildrenRepr::Empty => 0,
            ChildrenRepr::Small(paths) => paths.len(),
            ChildrenRepr::Large(set) => set.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, path: &str) -> bool {
        match &self.repr {
            ChildrenRepr::Empty => false,
            ChildrenRepr::Small(paths) => search(paths, path).is_ok(),
            ChildrenRepr::Large(set) => set.contains(path),
        }
    }

    /// Adds `path`; false when it was already there.
    pub fn insert(&mut self, path: Path) -> bool {
        match &mut self.repr {
            ChildrenRepr::Empty => self.repr = ChildrenRepr::Small(Arc::from([path])),
            ChildrenRepr::Small(paths) => {
                let Err(index) = search(paths, &path) else {
                    return false;
                };
                if paths.len() < limits::CHILDREN_INLINE_MAX {
                    let mut grown = Vec::with_capacity(paths.len() + 1);
                    grown.extend_from_slice(&paths[..index]);
                    grown.push(path);
                    grown.extend_from_slice(&paths[index..]);
                    *paths = Arc::from(grown);
                } else {
                    let mut set: im::OrdSet<Path> = paths.iter().cloned().collect();
                    set.insert(path);
                    self.repr = ChildrenRepr::Large(set);
                }
            }
            ChildrenRepr::Large(set) => return set.insert(path).is_none(),
        }
        true
    }

    /// Removes `path`; false when it was not there. A large set shrinks back to a slice only
    /// at half the inline bound, so a parent hovering at the bound does not convert each time.
    pub fn remove(&mut self, path: &str) -> bool {
        match &mut self.repr {
            ChildrenRepr::Empty => false,
            ChildrenRepr::Small(paths) => {
                let Ok(index) = search(paths, path) else {
                    return false;
                };
                if paths.len() == 1 {
                    self.repr = ChildrenRepr::Empty;
                } else {
                    let mut shrunk = paths.to_vec();
                    shrunk.remove(index);
                    *paths = Arc::from(shrunk);
                }
                true
            }
            ChildrenRepr::Large(set) => {
                let removed = set.remove(path).is_some();
                if set.len() <= limits::CHILDREN_INLINE_MAX / 2 {
                    let paths: Vec<Path> = set.iter().cloned().collect();
                    self.repr = ChildrenRepr::Small(Arc::from(paths));
                }
                removed
            }
        }
    }

    /// Child paths in byte order. All share the prefix `parent/`, so this is also the order of
    /// their names.
    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        let (small, large) = match &self.repr {
            ChildrenRepr::Empty => (None, None),
            ChildrenRepr::Small(paths) => (Some(paths.iter()), None),
            ChildrenRepr::Large(set) => (None, Some(set.iter())),
        };
        small
            .into_iter()
            .flatten()
            .chain(large.into_iter().flatten())
    }
}

fn search(paths: &[Path], path: &str) -> Result<usize, usize> {
    paths.binary_search_by(|probe| probe.as_ref().cmp(path))
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub data: Data,
    pub acl: AclList,
    pub czxid: Zxid,
    pub mzxid: Zxid,
    pub pzxid: Zxid,
    pub ctime_ms: i64,
    pub mtime_ms: i64,
    pub version: i32,
    pub aversion: i32,
    /// ZooKeeper's stored cversion: how many children were ever created here. It numbers
    /// sequential children, so deletes do not advance it.
    pub child_creates: i32,
    /// As stored (session id, container marker or TTL encoding); clients see it only for
    /// ephemerals.
    pub ephemeral_owner: i64,
    pub children: Children,
}

impl Node {
    /// ZooKeeper's `DataTree.createStat`: every zxid and time is the creating txn's.
    pub fn new(data: Data, acl: AclList, zxid: Zxid, time_ms: i64, ephemeral_owner: i64) -> Node {
        Node {
            data,
            acl,
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime_ms: time_ms,
            mtime_ms: time_ms,
            version: 0,
            aversion: 0,
            child_creates: 0,
            ephemeral_owner,
            children: Children::default(),
        }
    }

    pub fn kind(&self) -> OwnerKind {
        owner_kind(self.ephemeral_owner)
    }

    /// The stat a client sees, translated as ZooKeeper's `DataNode.copyStat` does: every create
    /// of a child is later matched by a delete unless the child is still there, so the visible
    /// cversion (creates plus deletes) is `2 * creates - numChildren`; and ephemeralOwner shows
    /// only a session, never the container or TTL markers.
    pub fn stat(&self) -> Stat {
        let num_children = self.children.len() as i32;
        let ephemeral_owner = match self.kind() {
            OwnerKind::Ephemeral(session_id) => session_id,
            _ => 0,
        };
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime_ms,
            mtime: self.mtime_ms,
            version: self.version,
            cversion: self
                .child_creates
                .wrapping_mul(2)
                .wrapping_sub(num_children),
            aversion: self.aversion,
            ephemeral_owner,
            data_length: self.data.len() as i32,
            num_children,
            pzxid: self.pzxid,
        }
    }
}

/// A path's length as Java's `String.length()` counts it (UTF-16 code units), which is what
/// ZooKeeper's approximate data size adds up.
pub(crate) fn java_length(path: &str) -> u64 {
    // Almost every path is ASCII, where code units are bytes; the check is much cheaper than
    // the encoding, which matters when a snapshot load measures a million paths.
    if path.is_ascii() {
        return path.len() as u64;
    }
    path.encode_utf16().count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(index: usize) -> Path {
        Arc::from(format!("/p/{index:05}"))
    }

    #[test]
    fn children_stay_sorted_across_small_and_large_forms() {
        let mut children = Children::default();
        let count = limits::CHILDREN_INLINE_MAX * 3;
        // Insert in a scrambled order; iteration must still be sorted.
        for step in 0..count {
            assert!(children.insert(path(step * 7 % count)));
        }
        assert!(!children.insert(path(0)));
        assert!(matches!(children.repr, ChildrenRepr::Large(_)));
        let listed: Vec<Path> = children.iter().cloned().collect();
        assert_eq!(listed, (0..count).map(path).collect::<Vec<_>>());
        for index in (0..count).step_by(2) {
            assert!(children.remove(&path(index)));
        }
        assert!(!children.remove(&path(0)));
        assert_eq!(children.len(), count / 2);
        while children.len() > limits::CHILDREN_INLINE_MAX / 2 {
            let first = children.iter().next().cloned();
            assert!(first.is_some_and(|first| children.remove(&first)));
        }
        assert!(matches!(children.repr, ChildrenRepr::Small(_)));
        let listed: Vec<Path> = children.iter().cloned().collect();
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted);
        assert!(listed.iter().all(|child| children.contains(child)));
        for child in listed {
            assert!(children.remove(&child));
        }
        assert!(matches!(children.repr, ChildrenRepr::Empty));
        assert!(children.is_empty());
    }

    #[test]
    fn owner_kinds_follow_zookeepers_encoding() {
        assert_eq!(owner_kind(0), OwnerKind::Persistent);
        assert_eq!(owner_kind(i64::MIN), OwnerKind::Container);
        assert_eq!(ttl_owner(100), 0xff00_0000_0000_0064_u64 as i64);
        assert_eq!(owner_kind(ttl_owner(100)), OwnerKind::Ttl(100));
        assert_eq!(
            owner_kind(0x0100_0000_0000_0001),
            OwnerKind::Ephemeral(0x0100_0000_0000_0001)
        );
        assert!(!session_id_storable(-1));
        assert!(session_id_storable(0xfe00_0000_0000_0001_u64 as i64));
    }
}
