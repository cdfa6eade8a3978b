//! The watches of one shard's connections.
//!
//! ZooKeeper keeps data watches (getData, exists) and child watches (getChildren) that fire
//! once, and persistent watches (addWatch) that stay until removed: plain ones on a path, and
//! recursive ones that also cover every descendant. A connection receives at most one event per
//! change, however many of its watches match it.

use std::collections::{BTreeSet, HashMap, HashSet};

use corral_engine::types::EventType;

pub type ConnId = u64;

/// ZooKeeper's WatcherType values used by checkWatches/removeWatches.
pub const WATCHER_TYPE_CHILDREN: i32 = 1;
pub const WATCHER_TYPE_DATA: i32 = 2;
pub const WATCHER_TYPE_ANY: i32 = 3;
pub const WATCHER_TYPE_PERSISTENT: i32 = 4;
pub const WATCHER_TYPE_PERSISTENT_RECURSIVE: i32 = 5;

/// addWatch modes.
pub const ADD_WATCH_PERSISTENT: i32 = 0;
pub const ADD_WATCH_PERSISTENT_RECURSIVE: i32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WatchKind {
    Data,
    Child,
    Persistent,
    PersistentRecursive,
}

const KINDS: [WatchKind; 4] = [
    WatchKind::Data,
    WatchKind::Child,
    WatchKind::Persistent,
    WatchKind::PersistentRecursive,
];

#[derive(Default)]
pub struct WatchManager {
    by_path: [HashMap<String, HashSet<ConnId>>; 4],
    by_conn: HashMap<ConnId, BTreeSet<(WatchKind, String)>>,
    count: usize,
}

fn slot(kind: WatchKind) -> usize {
    kind as usize
}

impl WatchManager {
    pub fn add(&mut self, conn: ConnId, kind: WatchKind, path: &str) {
        let inserted = self.by_path[slot(kind)]
            .entry(path.to_owned())
            .or_default()
            .insert(conn);
        if inserted {
            self.by_conn
                .entry(conn)
                .or_default()
                .insert((kind, path.to_owned()));
            self.count += 1;
        }
    }

    fn remove_one(&mut self, conn: ConnId, kind: WatchKind, path: &str) -> bool {
        let map = &mut self.by_path[slot(kind)];
        let Some(set) = map.get_mut(path) else {
            return false;
        };
        if !set.remove(&conn) {
            return false;
        }
        if set.is_empty() {
            map.remove(path);
        }
        if let Some(owned) = self.by_conn.get_mut(&conn) {
            owned.remove(&(kind, path.to_owned()));
            if owned.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
        self.count -= 1;
        true
    }

    pub fn has(&self, conn: ConnId, kind: WatchKind, path: &str) -> bool {
        self.by_path[slot(kind)]
            .get(path)
            .is_some_and(|set| set.contains(&conn))
    }

    fn kinds_of(watcher_type: i32) -> &'static [WatchKind] {
        match watcher_type {
            WATCHER_TYPE_CHILDREN => &[WatchKind::Child],
            WATCHER_TYPE_DATA => &[WatchKind::Data],
            WATCHER_TYPE_PERSISTENT => &[WatchKind::Persistent],
            WATCHER_TYPE_PERSISTENT_RECURSIVE => &[WatchKind::PersistentRecursive],
            WATCHER_TYPE_ANY => &KINDS,
            _ => &[],
        }
    }

    /// checkWatches: does the connection hold a watch of this type on the path?
    pub fn check(&self, conn: ConnId, path: &str, watcher_type: i32) -> bool {
        Self::kinds_of(watcher_type)
            .iter()
            .any(|&kind| self.has(conn, kind, path))
    }

    /// removeWatches: removes the connection's watches of this type on the path; false if none.
    pub fn remove(&mut self, conn: ConnId, path: &str, watcher_type: i32) -> bool {
        let mut removed = false;
        for &kind in Self::kinds_of(watcher_type) {
            removed |= self.remove_one(conn, kind, path);
        }
        removed
    }

    /// Forgets every watch of a closed connection.
    pub fn remove_connection(&mut self, conn: ConnId) {
        let Some(owned) = self.by_conn.remove(&conn) else {
            return;
        };
        for (kind, path) in owned {
            let map = &mut self.by_path[slot(kind)];
            if let Some(set) = map.get_mut(&path) {
                if set.remove(&conn) {
                    self.count -= 1;
                }
                if set.is_empty() {
                    map.remove(&path);
                }
            }
        }
    }

    /// The connections a change notifies, each once. One-shot watches that fire are removed.
    pub fn trigger(&mut self, path: &str, event: EventType, notified: &mut Vec<ConnId>) {
        notified.clear();
        let mut fired: Vec<(WatchKind, ConnId)> = Vec::new();
        let one_shot: &[WatchKind] = match event {
            EventType::NodeCreated | EventType::NodeDataChanged => &[WatchKind::Data],
            EventType::NodeDeleted => &[WatchKind::Data, WatchKind::Child],
            EventType::NodeChildrenChanged => &[WatchKind::Child],
        };
        for &kind in one_shot {
            if let Some(set) = self.by_path[slot(kind)].get(path) {
                fired.extend(set.iter().map(|&conn| (kind, conn)));
            }
        }
        for (kind, conn) in &fired {
            self.remove_one(*conn, *kind, path);
            notified.push(*conn);
        }
        if let Some(set) = self.by_path[slot(WatchKind::Persistent)].get(path) {
            notified.extend(set.iter().copied());
        }
        // Recursive watches see every change at or below their path except child-list changes,
        // which are implied by the creates and deletes they already see.
        if event != EventType::NodeChildrenChanged {
            let recursive = &self.by_path[slot(WatchKind::PersistentRecursive)];
            if !recursive.is_empty() {
                for ancestor in ancestors_and_self(path) {
                    if let Some(set) = recursive.get(ancestor) {
                        notified.extend(set.iter().copied());
                    }
                }
            }
        }
        notified.sort_unstable();
        notified.dedup();
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn connection_count(&self) -> usize {
        self.by_conn.len()
    }

    pub fn path_count(&self) -> usize {
        self.by_path.iter().map(HashMap::len).sum()
    }

    /// Every (connection, path) pair, for the wchc/wchp four-letter words.
    pub fn pairs(&self) -> Vec<(ConnId, String)> {
        let mut pairs: Vec<(ConnId, String)> = self
            .by_conn
            .iter()
            .flat_map(|(&conn, owned)| owned.iter().map(move |(_, path)| (conn, path.clone())))
            .collect();
        pairs.sort();
        pairs.dedup();
        pairs
    }
}

/// "/a/b/c" yields "/a/b/c", "/a/b", "/a", "/".
fn ancestors_and_self(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let current = next?;
        next = if current == "/" {
            None
        } else {
            match current.rfind('/') {
                Some(0) => Some("/"),
                Some(index) => Some(&current[..index]),
                None => None,
            }
        };
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fire(manager: &mut WatchManager, path: &str, event: EventType) -> Vec<ConnId> {
        let mut notified = Vec::new();
        manager.trigger(path, event, &mut notified);
        notified
    }

    #[test]
    fn data_watch_fires_once_then_is_gone() {
        let mut manager = WatchManager::default();
        manager.add(1, WatchKind::Data, "/a");
        assert_eq!(
            fire(&mut manager, "/a", EventType::NodeDataChanged),
            vec![1]
        );
        assert_eq!(
            fire(&mut manager, "/a", EventType::NodeDataChanged),
            Vec::<ConnId>::new()
        );
        assert_eq!(manager.count(), 0);
    }

    #[test]
    fn delete_notifies_data_and_child_watchers_once_each() {
        let mut manager = WatchManager::default();
        manager.add(1, WatchKind::Data, "/a");
        manager.add(1, WatchKind::Child, "/a");
        manager.add(2, WatchKind::Child, "/a");
        assert_eq!(fire(&mut manager, "/a", EventType::NodeDeleted), vec![1, 2]);
        assert_eq!(manager.count(), 0);
    }

    #[test]
    fn recursive_watch_sees_descendants_but_not_child_list_changes() {
        let mut manager = WatchManager::default();
        manager.add(7, WatchKind::PersistentRecursive, "/a");
        assert_eq!(
            fire(&mut manager, "/a/b/c", EventType::NodeCreated),
            vec![7]
        );
        assert_eq!(
            fire(&mut manager, "/a", EventType::NodeChildrenChanged),
            Vec::<ConnId>::new()
        );
        assert_eq!(
            fire(&mut manager, "/ab", EventType::NodeCreated),
            Vec::<ConnId>::new()
        );
        assert_eq!(manager.count(), 1);
    }

    #[test]
    fn persistent_watch_sees_child_changes_and_stays() {
        let mut manager = WatchManager::default();
        manager.add(3, WatchKind::Persistent, "/p");
        assert_eq!(
            fire(&mut manager, "/p", EventType::NodeChildrenChanged),
            vec![3]
        );
        assert_eq!(
            fire(&mut manager, "/p", EventType::NodeDataChanged),
            vec![3]
        );
        assert!(manager.remove(3, "/p", WATCHER_TYPE_PERSISTENT));
        assert!(!manager.remove(3, "/p", WATCHER_TYPE_PERSISTENT));
    }

    #[test]
    fn closing_a_connection_forgets_its_watches() {
        let mut manager = WatchManager::default();
        manager.add(1, WatchKind::Data, "/x");
        manager.add(1, WatchKind::PersistentRecursive, "/");
        manager.add(2, WatchKind::Data, "/x");
        manager.remove_connection(1);
        assert_eq!(manager.count(), 1);
        assert_eq!(
            fire(&mut manager, "/x", EventType::NodeDataChanged),
            vec![2]
        );
    }

    #[test]
    fn ancestors_walk_up_to_root() {
        let all: Vec<&str> = ancestors_and_self("/a/b").collect();
        assert_eq!(all, vec!["/a/b", "/a", "/"]);
        assert_eq!(ancestors_and_self("/").collect::<Vec<_>>(), vec!["/"]);
    }
}
