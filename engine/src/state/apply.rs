//! `State::apply`: ZooKeeper's write semantics, reproduced from its `PrepRequestProcessor`
//! (validation, error precedence, sequence names, ACL checks, multi) and `DataTree` (stat
//! updates, watch triggers).
//!
//! Every op validates everything before it changes anything, so a failed op leaves the state as
//! it was. A multi runs its ops on a clone (cheap: the structure is persistent) and keeps the
//! clone only if every op succeeded. Every txn but `Sync` takes the next zxid, failed ones too:
//! ZooKeeper logs an error txn for them.

use std::sync::Arc;

use super::node::{java_length, session_id_storable, ttl_owner, AclList, Node, OwnerKind, Path};
use super::{canonical, housekeeping, parent_of, SessionInfo, State};
use crate::types::{
    perms, Applied, CreateMode, CreateOp, Data, ErrorCode, EventType, Id, OpResult, SessionId, Txn,
    WatchTrigger, WriteOp, Zxid, CONTAINER_EPHEMERAL_OWNER,
};
use crate::{acl, limits, paths};

/// What every op of one txn shares.
struct Context<'a> {
    zxid: Zxid,
    time_ms: i64,
    session_id: SessionId,
    auth: &'a [Id],
}

/// The nodes ZooKeeper refuses to delete (`DataTree.isSpecialPath`).
const SPECIAL_PATHS: [&str; 4] = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"];

impl State {
    /// Applies one txn. Deterministic: the result depends only on the state and the txn.
    pub fn apply(&mut self, txn: &Txn) -> Applied {
        if let WriteOp::Sync { path } = &txn.op {
            return Applied {
                zxid: self.last_zxid,
                result: OpResult::Sync { path: path.clone() },
                triggers: Vec::new(),
            };
        }
        let zxid = self.last_zxid.wrapping_add(1);
        assert!(zxid > self.last_zxid, "zxid space exhausted");
        let context = Context {
            zxid,
            time_ms: txn.time_ms,
            session_id: txn.session_id,
            auth: &txn.auth,
        };
        let mut triggers = Vec::new();
        let result = match &txn.op {
            WriteOp::Multi(ops) => self.apply_multi(ops, &context, &mut triggers),
            WriteOp::CreateSession {
                timeout_ms,
                password,
            } => self.create_session(txn.session_id, *timeout_ms, *password),
            WriteOp::CloseSession => self.close_session(&context, &mut triggers),
            WriteOp::Refused { code } => OpResult::Error(*code),
            op => self
                .apply_op(op, &context, &mut triggers)
                .unwrap_or_else(OpResult::Error),
        };
        assert!(triggers.iter().all(|trigger| trigger.zxid == zxid));
        self.last_zxid = zxid;
        Applied {
            zxid,
            result,
            triggers,
        }
    }

    /// One op that changes the tree, on its own or inside a multi.
    fn apply_op(
        &mut self,
        op: &WriteOp,
        context: &Context,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<OpResult, ErrorCode> {
        match op {
            WriteOp::Create(create) => self.create(create, context, triggers),
            WriteOp::Delete { path, version } => self.delete(path, *version, context, triggers),
            WriteOp::SetData {
                path,
                data,
                version,
            } => self.set_data(path, data, *version, context, triggers),
            WriteOp::SetAcl { path, acl, version } => self.set_acl(path, acl, *version, context),
            WriteOp::Check { path, version } => self.check(path, *version, context),
            WriteOp::DeleteContainer { path } => self.delete_container(path, context, triggers),
            // These are whole txns; `apply` handles them before it gets here, so one can only
            // arrive as an op of a multi, which ZooKeeper's multi cannot carry.
            WriteOp::Multi(_)
            | WriteOp::Refused { .. }
            | WriteOp::CreateSession { .. }
            | WriteOp::CloseSession
            | WriteOp::Sync { .. } => Err(ErrorCode::BadArguments),
        }
    }

    /// All ops or none, under one zxid. On failure every op reports an error as ZooKeeper's
    /// `DataTree` does: Ok before the failed op, its code, RuntimeInconsistency after it.
    fn apply_multi(
        &mut self,
        ops: &[WriteOp],
        context: &Context,
        triggers: &mut Vec<WatchTrigger>,
    ) -> OpResult {
        let mut scratch = self.clone();
        let mut scratch_triggers = Vec::new();
        let mut results = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            let allowed = matches!(
                op,
                WriteOp::Create(_)
                    | WriteOp::Delete { .. }
                    | WriteOp::SetData { .. }
                    | WriteOp::Check { .. }
            );
            let outcome = if allowed {
                scratch.apply_op(op, context, &mut scratch_triggers)
            } else {
                Err(ErrorCode::BadArguments)
            };
            match outcome {
                Ok(result) => results.push(result),
                Err(code) => {
                    let mut errors = vec![OpResult::Error(ErrorCode::Ok); index];
                    errors.push(OpResult::Error(code));
                    errors.resize(ops.len(), OpResult::Error(ErrorCode::RuntimeInconsistency));
                    return OpResult::Multi(errors);
                }
            }
        }
        *self = scratch;
        triggers.append(&mut scratch_triggers);
        OpResult::Multi(results)
    }

    /// Registers a session. Ids that would read back as another owner kind are refused, and so
    /// is reopening an existing id with another password (it would hand that session's
    /// ephemerals to whoever holds the new password); a replay with the same password only
    /// takes the new timeout.
    fn create_session(
        &mut self,
        session_id: SessionId,
        timeout_ms: i32,
        password: [u8; 16],
    ) -> OpResult {
        if !session_id_storable(session_id) {
            return OpResult::Error(ErrorCode::BadArguments);
        }
        if let Some(existing) = self.sessions.get(&session_id) {
            if existing.password != password {
                return OpResult::Error(ErrorCode::BadArguments);
            }
        }
        self.sessions.insert(
            session_id,
            SessionInfo {
                timeout_ms,
                password,
            },
        );
        OpResult::SessionCreated {
            session_id,
            timeout_ms,
            password,
        }
    }

    /// Deletes the session's ephemerals in path order and forgets it; an unknown session is a
    /// successful no-op.
    fn close_session(&mut self, context: &Context, triggers: &mut Vec<WatchTrigger>) -> OpResult {
        if let Some(owned) = self.ephemerals.get(&context.session_id).cloned() {
            for path in owned.iter() {
                self.remove_node(path, context.zxid, triggers);
            }
        }
        assert!(!self.ephemerals.contains_key(&context.session_id));
        self.sessions.remove(&context.session_id);
        OpResult::SessionClosed
    }

    /// ZooKeeper's `pRequest2TxnCreate`, checks in its order: TTL bounds, session, path shape,
    /// ACL fix-up, parent, CREATE on the parent, sequence suffix and full path validation,
    /// existence, ephemeral parent.
    fn create(
        &mut self,
        op: &CreateOp,
        context: &Context,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<OpResult, ErrorCode> {
        let owner = create_owner(op, context.session_id)?;
        if op.mode.is_ephemeral() && !self.sessions.contains_key(&context.session_id) {
            return Err(ErrorCode::SessionExpired);
        }
        let parent_path = create_parent(&op.path)?;
        let acl = acl::fixup(&op.acl, context.auth)?;
        let parent = self.node(parent_path).ok_or(ErrorCode::NoNode)?;
        if !acl::check(&parent.acl, context.auth, perms::CREATE) {
            return Err(ErrorCode::NoAuth);
        }
        let path = if op.mode.is_sequential() {
            format!("{}{:010}", op.path, parent.child_creates)
        } else {
            op.path.clone()
        };
        paths::validate(&path, false).map_err(|_| ErrorCode::BadArguments)?;
        if self.node(&path).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        if matches!(parent.kind(), OwnerKind::Ephemeral(_)) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        // Children usually carry their parent's ACL: share the parent's list then.
        let acl: AclList = if *parent.acl == *acl {
            parent.acl.clone()
        } else {
            Arc::from(acl)
        };
        let path: Path = Arc::from(path);
        let node = Node::new(op.data.clone(), acl, context.zxid, context.time_ms, owner);
        let stat = node.stat();
        self.insert_node(path.clone(), node, context.zxid, triggers);
        Ok(OpResult::Create {
            path: path.to_string(),
            stat,
        })
    }

    /// ZooKeeper's delete: path shape (special nodes refused), parent, DELETE on the parent,
    /// node, version, children.
    fn delete(
        &mut self,
        path: &str,
        version: i32,
        context: &Context,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<OpResult, ErrorCode> {
        let parent_path = delete_parent(path)?;
        let parent = self.node(parent_path).ok_or(ErrorCode::NoNode)?;
        if !acl::check(&parent.acl, context.auth, perms::DELETE) {
            return Err(ErrorCode::NoAuth);
        }
        let node = self.node(path).ok_or(ErrorCode::NoNode)?;
        next_version(node.version, version)?;
        if !node.children.is_empty() {
            return Err(ErrorCode::NotEmpty);
        }
        self.remove_node(path, context.zxid, triggers);
        Ok(OpResult::Delete)
    }

    /// ZooKeeper's setData: path, node, WRITE, version; then version+1, mzxid, mtime.
    fn set_data(
        &mut self,
        path: &str,
        data: &Data,
        version: i32,
        context: &Context,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<OpResult, ErrorCode> {
        paths::validate(path, false).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.node(path).ok_or(ErrorCode::NoNode)?;
        if !acl::check(&node.acl, context.auth, perms::WRITE) {
            return Err(ErrorCode::NoAuth);
        }
        let new_version = next_version(node.version, version)?;
        let old_length = node.data.len() as u64;
        let node = self.node_mut(path);
        node.data = data.clone();
        node.version = new_version;
        node.mzxid = context.zxid;
        node.mtime_ms = context.time_ms;
        let stat = node.stat();
        assert!(
            self.data_size >= old_length,
            "data size accounting underflow"
        );
        self.data_size = self.data_size - old_length + data.len() as u64;
        triggers.push(trigger(path, EventType::NodeDataChanged, context.zxid));
        Ok(OpResult::SetData { stat })
    }

    /// ZooKeeper's setACL: path, ACL fix-up, node, ADMIN, aversion. Fires no watch.
    fn set_acl(
        &mut self,
        path: &str,
        acl: &[crate::types::Acl],
        version: i32,
        context: &Context,
    ) -> Result<OpResult, ErrorCode> {
        paths::validate(path, false).map_err(|_| ErrorCode::BadArguments)?;
        let fixed = acl::fixup(acl, context.auth)?;
        let node = self.node(path).ok_or(ErrorCode::NoNode)?;
        if !acl::check(&node.acl, context.auth, perms::ADMIN) {
            return Err(ErrorCode::NoAuth);
        }
        let new_version = next_version(node.aversion, version)?;
        let node = self.node_mut(path);
        if *node.acl != *fixed {
            node.acl = Arc::from(fixed);
        }
        node.aversion = new_version;
        Ok(OpResult::SetAcl { stat: node.stat() })
    }

    /// ZooKeeper's check (3.8 requires READ): path, node, READ, version. Changes nothing.
    fn check(&self, path: &str, version: i32, context: &Context) -> Result<OpResult, ErrorCode> {
        paths::validate(path, false).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.node(path).ok_or(ErrorCode::NoNode)?;
        if !acl::check(&node.acl, context.auth, perms::READ) {
            return Err(ErrorCode::NoAuth);
        }
        next_version(node.version, version)?;
        Ok(OpResult::Check)
    }

    /// The leader's housekeeping delete. ZooKeeper's codes: BadArguments for a special path,
    /// NoNode, NotEmpty, and BadVersion for a node that is not (or no longer) removable; the
    /// removability rule is `housekeeping`'s, judged at the txn's time, so every replica agrees.
    fn delete_container(
        &mut self,
        path: &str,
        context: &Context,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<OpResult, ErrorCode> {
        delete_parent(path)?;
        let node = self.node(path).ok_or(ErrorCode::NoNode)?;
        if !node.children.is_empty() {
            return Err(ErrorCode::NotEmpty);
        }
        if !housekeeping::removable(node, context.time_ms) {
            return Err(ErrorCode::BadVersion);
        }
        self.remove_node(path, context.zxid, triggers);
        Ok(OpResult::Delete)
    }

    /// The node at `path` for writing; it must exist (callers checked).
    fn node_mut(&mut self, path: &str) -> &mut Node {
        match self.nodes.get_mut(canonical(path)) {
            Some(node) => Arc::make_mut(node),
            None => panic!("node {path} vanished between check and change"),
        }
    }

    /// Links a new node under its parent (`DataTree.createNode`): the parent counts one more
    /// child creation and takes the zxid as pzxid.
    fn insert_node(
        &mut self,
        path: Path,
        node: Node,
        zxid: Zxid,
        triggers: &mut Vec<WatchTrigger>,
    ) {
        let parent_path = parent_of(&path);
        let parent = self.node_mut(parent_path);
        assert!(
            parent.children.insert(path.clone()),
            "child {path} already linked"
        );
        parent.child_creates = parent.child_creates.wrapping_add(1);
        parent.pzxid = zxid;
        self.data_size += java_length(&path) + node.data.len() as u64;
        match node.kind() {
            OwnerKind::Ephemeral(session_id) => {
                match self.ephemerals.get_mut(&session_id) {
                    Some(owned) => {
                        owned.insert(path.clone());
                    }
                    None => {
                        let owned = im::OrdSet::unit(path.clone());
                        self.ephemerals.insert(session_id, owned);
                    }
                }
                self.ephemeral_count += 1;
            }
            OwnerKind::Container => {
                self.containers.insert(path.clone());
            }
            OwnerKind::Ttl(_) => {
                self.ttls.insert(path.clone());
            }
            OwnerKind::Persistent => {}
        }
        triggers.push(trigger(&path, EventType::NodeCreated, zxid));
        triggers.push(trigger(parent_path, EventType::NodeChildrenChanged, zxid));
        let previous = self.nodes.insert(path, Arc::new(node));
        assert!(previous.is_none(), "node created twice");
    }

    /// Unlinks a childless node (`DataTree.deleteNode`): the parent takes the zxid as pzxid; its
    /// stored cversion stays (it counts creations).
    fn remove_node(&mut self, path: &str, zxid: Zxid, triggers: &mut Vec<WatchTrigger>) {
        let Some((path, node)) = self.nodes.remove_with_key(path) else {
            panic!("node {path} vanished between check and delete");
        };
        assert!(node.children.is_empty(), "deleting {path} with children");
        let parent_path = parent_of(&path);
        let parent = self.node_mut(parent_path);
        assert!(parent.children.remove(&path), "{path} was not linked");
        parent.pzxid = parent.pzxid.max(zxid);
        let size = java_length(&path) + node.data.len() as u64;
        assert!(self.data_size >= size, "data size accounting underflow");
        self.data_size -= size;
        match node.kind() {
            OwnerKind::Ephemeral(session_id) => self.forget_ephemeral(session_id, &path),
            OwnerKind::Container => assert!(self.containers.remove(&path).is_some()),
            OwnerKind::Ttl(_) => assert!(self.ttls.remove(&path).is_some()),
            OwnerKind::Persistent => {}
        }
        triggers.push(trigger(&path, EventType::NodeDeleted, zxid));
        triggers.push(trigger(parent_path, EventType::NodeChildrenChanged, zxid));
    }

    fn forget_ephemeral(&mut self, session_id: SessionId, path: &str) {
        let Some(owned) = self.ephemerals.get_mut(&session_id) else {
            panic!("ephemeral {path} of an unindexed session");
        };
        assert!(owned.remove(path).is_some(), "ephemeral {path} not indexed");
        if owned.is_empty() {
            self.ephemerals.remove(&session_id);
        }
        assert!(self.ephemeral_count > 0);
        self.ephemeral_count -= 1;
    }
}

/// The stored ephemeralOwner of a create, after ZooKeeper's `EphemeralType.validateTTL`: a TTL
/// mode needs 0 < ttl ≤ 2^40−1, any other mode a negative ttl (−1).
fn create_owner(op: &CreateOp, session_id: SessionId) -> Result<i64, ErrorCode> {
    if op.mode.is_ttl() {
        if op.ttl_ms <= 0 || op.ttl_ms > limits::TTL_MS_MAX {
            return Err(ErrorCode::BadArguments);
        }
        return Ok(ttl_owner(op.ttl_ms));
    }
    if op.ttl_ms >= 0 {
        return Err(ErrorCode::BadArguments);
    }
    Ok(match op.mode {
        CreateMode::Container => CONTAINER_EPHEMERAL_OWNER,
        mode if mode.is_ephemeral() => session_id,
        _ => 0,
    })
}

/// ZooKeeper's `validatePathForCreate`: a slash somewhere and no NUL; the parent is everything
/// before the last slash (the empty string, the root's alias, for `/x`).
fn create_parent(path: &str) -> Result<&str, ErrorCode> {
    match path.rfind('/') {
        Some(slash) if !path.contains('\0') => Ok(&path[..slash]),
        _ => Err(ErrorCode::BadArguments),
    }
}

/// ZooKeeper's `getParentPathAndValidate`: as `create_parent`, and the special nodes cannot be
/// deleted.
fn delete_parent(path: &str) -> Result<&str, ErrorCode> {
    if SPECIAL_PATHS.contains(&path) {
        return Err(ErrorCode::BadArguments);
    }
    create_parent(path)
}

/// ZooKeeper's `checkAndIncVersion`: −1 matches any version; Java's int arithmetic wraps.
fn next_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

fn trigger(path: &str, event: EventType, zxid: Zxid) -> WatchTrigger {
    WatchTrigger {
        path: canonical(path).to_owned(),
        event,
        zxid,
    }
}
