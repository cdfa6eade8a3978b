//! The requests a shard answers itself, from its newest state root: reads, watch management,
//! pings and whoAmI. Writes go to the pipeline instead (see `connection`).

use corral_engine::state::State;
use corral_engine::types::{ErrorCode, EventType, Id};

use super::connection::Conn;
use super::shard::Shard;
use super::watches::{WatchKind, ADD_WATCH_PERSISTENT, ADD_WATCH_PERSISTENT_RECURSIVE};
use crate::jute::{
    encode_event, encode_ping_reply, encode_reply, ReadOp, ReadResult, Reply, Request, SetWatches,
    NOTIFICATION_ZXID,
};

/// The keeper state of events delivered to a connected session.
const STATE_SYNC_CONNECTED: i32 = 3;

pub fn execute(shard: &Shard, conn: &Conn, xid: i32, request: Request) {
    let state = shard.state();
    let zxid = state.last_zxid();
    // Borrowed, not cloned: nothing on the read path changes a connection's identities.
    let auth = conn.auth.borrow();
    match request {
        Request::Ping => conn.push_output(|out| encode_ping_reply(out, zxid)),
        Request::Exists { path, watch } => {
            let stat = state.exists(&path);
            if watch {
                // An exists watch on a missing node waits for its creation.
                shard.watches().add(conn.id, WatchKind::Data, &path);
            }
            let reply = stat.map(Reply::Stat).ok_or(ErrorCode::NoNode);
            conn.push_output(|out| encode_reply(out, xid, zxid, reply));
        }
        Request::GetData { path, watch } => {
            let result = state.get_data(&path, &auth);
            if watch && result.is_ok() {
                shard.watches().add(conn.id, WatchKind::Data, &path);
            }
            let reply = result
                .as_ref()
                .map(|(data, stat)| Reply::Data { data, stat: *stat })
                .map_err(|code| *code);
            conn.push_output(|out| encode_reply(out, xid, zxid, reply));
        }
        Request::GetChildren { path, watch } => {
            let result = children(shard, conn, &state, &path, watch, &auth);
            let reply = result
                .as_ref()
                .map(|(names, _)| Reply::Children(names))
                .map_err(|code| *code);
            conn.push_output(|out| encode_reply(out, xid, zxid, reply));
        }
        Request::GetChildren2 { path, watch } => {
            let result = children(shard, conn, &state, &path, watch, &auth);
            let reply = result
                .as_ref()
                .map(|(children, stat)| Reply::Children2 {
                    children,
                    stat: *stat,
                })
                .map_err(|code| *code);
            conn.push_output(|out| encode_reply(out, xid, zxid, reply));
        }
        Request::GetAcl { path } => {
            let result = state.get_acl(&path, &auth);
            let reply = result
                .as_ref()
                .map(|(acl, stat)| Reply::Acl { acl, stat: *stat })
                .map_err(|code| *code);
            conn.push_output(|out| encode_reply(out, xid, zxid, reply));
        }
        Request::GetAllChildrenNumber { path } => {
            let reply = state.all_children_number(&path, &auth).map(Reply::Number);
            conn.push_output(|out| encode_reply(out, xid, zxid, reply));
        }
        Request::GetEphemerals { prefix } => {
            let paths = state.ephemerals(conn.session_id.get(), &prefix);
            conn.push_output(|out| encode_reply(out, xid, zxid, Ok(Reply::Ephemerals(&paths))));
        }
        Request::MultiRead(ops) => {
            let results = ops.iter().map(|op| read_one(&state, op, &auth)).collect();
            conn.push_output(|out| encode_reply(out, xid, zxid, Ok(Reply::MultiRead(results))));
        }
        Request::AddWatch { path, mode } => {
            let kind = match mode {
                ADD_WATCH_PERSISTENT => Some(WatchKind::Persistent),
                ADD_WATCH_PERSISTENT_RECURSIVE => Some(WatchKind::PersistentRecursive),
                _ => None,
            };
            let reply = match kind {
                Some(kind) => {
                    shard.watches().add(conn.id, kind, &path);
                    Ok(Reply::AddWatch)
                }
                None => Err(ErrorCode::BadArguments),
            };
            conn.push_output(|out| encode_reply(out, xid, zxid, reply));
        }
        Request::CheckWatches { path, watcher_type } => {
            let found = shard.watches().check(conn.id, &path, watcher_type);
            let reply = if found {
                Ok(Reply::Empty)
            } else {
                Err(ErrorCode::NoWatcher)
            };
            conn.push_output(|out| encode_reply(out, xid, zxid, reply));
        }
        Request::RemoveWatches { path, watcher_type } => {
            let removed = shard.watches().remove(conn.id, &path, watcher_type);
            let reply = if removed {
                Ok(Reply::Empty)
            } else {
                Err(ErrorCode::NoWatcher)
            };
            conn.push_output(|out| encode_reply(out, xid, zxid, reply));
        }
        Request::SetWatches(set) => {
            set_watches(shard, conn, &state, &set);
            conn.push_output(|out| encode_reply(out, xid, zxid, Ok(Reply::Empty)));
        }
        Request::WhoAmI => {
            // ZooKeeper reports the user name a scheme's provider derives from each id: for
            // digest ids the name before the hash.
            let ids: Vec<Id> = conn
                .auth
                .borrow()
                .iter()
                .map(|id| match (id.scheme.as_str(), id.id.split_once(':')) {
                    ("digest", Some((user, _))) => Id::new("digest", user),
                    _ => id.clone(),
                })
                .collect();
            conn.push_output(|out| encode_reply(out, xid, zxid, Ok(Reply::WhoAmI(&ids))));
        }
        Request::Write(_) | Request::CloseSession | Request::Auth { .. } | Request::Sasl { .. } => {
            unreachable!("writes, closeSession and auth never reach the read path")
        }
    }
}

fn children(
    shard: &Shard,
    conn: &Conn,
    state: &State,
    path: &str,
    watch: bool,
    auth: &[corral_engine::types::Id],
) -> Result<(Vec<String>, corral_engine::types::Stat), ErrorCode> {
    let result = state.get_children(path, auth);
    if watch && result.is_ok() {
        shard.watches().add(conn.id, WatchKind::Child, path);
    }
    result
}

fn read_one(
    state: &State,
    op: &ReadOp,
    auth: &[corral_engine::types::Id],
) -> Result<ReadResult, ErrorCode> {
    match op {
        ReadOp::GetData { path } => state
            .get_data(path, auth)
            .map(|(data, stat)| ReadResult::Data { data, stat }),
        ReadOp::GetChildren { path } => state
            .get_children(path, auth)
            .map(|(children, _)| ReadResult::Children(children)),
    }
}

/// Re-registers a reconnecting client's watches. A change the client missed while away (newer
/// than `relative_zxid`) fires the watch at once instead, as ZooKeeper does.
fn set_watches(shard: &Shard, conn: &Conn, state: &State, set: &SetWatches) {
    let mut fired: Vec<(EventType, &str)> = Vec::new();
    let mut watches = shard.watches();
    for path in &set.data {
        match state.exists(path) {
            None => fired.push((EventType::NodeDeleted, path)),
            Some(stat) if stat.mzxid > set.relative_zxid => {
                fired.push((EventType::NodeDataChanged, path))
            }
            Some(_) => watches.add(conn.id, WatchKind::Data, path),
        }
    }
    for path in &set.exist {
        match state.exists(path) {
            Some(_) => fired.push((EventType::NodeCreated, path)),
            None => watches.add(conn.id, WatchKind::Data, path),
        }
    }
    for path in &set.child {
        match state.exists(path) {
            None => fired.push((EventType::NodeDeleted, path)),
            Some(stat) if stat.pzxid > set.relative_zxid => {
                fired.push((EventType::NodeChildrenChanged, path))
            }
            Some(_) => watches.add(conn.id, WatchKind::Child, path),
        }
    }
    for path in &set.persistent {
        watches.add(conn.id, WatchKind::Persistent, path);
    }
    for path in &set.persistent_recursive {
        watches.add(conn.id, WatchKind::PersistentRecursive, path);
    }
    drop(watches);
    for (event, path) in fired {
        conn.push_output(|out| {
            encode_event(
                out,
                NOTIFICATION_ZXID,
                event as i32,
                STATE_SYNC_CONNECTED,
                path,
            )
        });
    }
}
