//! Which nodes the leader should delete on its own, by ZooKeeper's `ContainerManager` rules:
//! a container that once had a child and has none now, and a childless TTL node not modified for
//! longer than its TTL. The leader proposes a `DeleteContainer` per path; apply checks the rule
//! again at the txn's time, so a node that gained a child meanwhile survives.

use super::node::{Node, OwnerKind};
use super::State;
use crate::limits;

impl State {
    /// Paths to delete as of `now_ms`, sorted, at most `HOUSEKEEPING_PATHS_MAX`.
    pub fn housekeeping(&self, now_ms: i64) -> Vec<String> {
        let mut due: Vec<String> = self
            .containers
            .iter()
            .chain(self.ttls.iter())
            .filter(|path| {
                self.nodes
                    .get(*path)
                    .is_some_and(|node| removable(node, now_ms))
            })
            .take(limits::HOUSEKEEPING_PATHS_MAX)
            .map(|path| path.to_string())
            .collect();
        due.sort_unstable();
        due
    }
}

/// ZooKeeper's candidate rule. A container's stored cversion counts child creations, so
/// `child_creates > 0` is its "had a child" test (a container never used stays, as ZooKeeper's
/// default `maxNeverUsedIntervalMs` of 0 leaves it). A TTL node expires strictly after its TTL.
pub(super) fn removable(node: &Node, now_ms: i64) -> bool {
    if !node.children.is_empty() {
        return false;
    }
    match node.kind() {
        OwnerKind::Container => node.child_creates > 0,
        OwnerKind::Ttl(ttl_ms) => ttl_ms != 0 && now_ms.saturating_sub(node.mtime_ms) > ttl_ms,
        OwnerKind::Persistent | OwnerKind::Ephemeral(_) => false,
    }
}
