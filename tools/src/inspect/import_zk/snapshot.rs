//! ZooKeeper's snapshot file (`snapshot.<zxid in hex>`), as `FileSnap` writes it:
//!
//! - `FileHeader`: magic `ZKSN`, version (2), dbid;
//! - the sessions: a count, then (session id, timeout ms) pairs;
//! - the ACL cache: a count, then (id, `vector<ACL>`) pairs; nodes refer to ACLs by id, −1
//!   meaning world:anyone ALL;
//! - the nodes, parent before children: path (the root's is empty), data buffer, ACL id and
//!   `StatPersisted`; the path `/` ends the list;
//! - the seal: the Adler-32 of every byte before it, as a long, then the string `/`;
//! - 3.6+: a `ZxidDigest` (zxid, digest version, digest) and a second seal over everything
//!   before it.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use corral_engine::types::{perms, Acl, Id};

use super::error::{Fault, FormatError};
use super::input::Input;

/// "ZKSN" as a big-endian int.
pub const SNAP_MAGIC: i32 = i32::from_be_bytes(*b"ZKSN");
/// The ACL id ZooKeeper's cache uses for world:anyone ALL without storing it.
const OPEN_ACL_ID: i64 = -1;

/// ZooKeeper's `StatPersisted`: cversion here is the stored count of child creations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatPersisted {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime_ms: i64,
    pub mtime_ms: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub pzxid: i64,
}

/// One node as the snapshot holds it; the root's path is the empty string, as in ZooKeeper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapNode {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub acl: Arc<[Acl]>,
    pub stat: StatPersisted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkSnapshot {
    pub dbid: i64,
    /// (session id, timeout ms), in file order.
    pub sessions: Vec<(i64, i32)>,
    pub nodes: Vec<SnapNode>,
    /// The 3.6+ `ZxidDigest` (zxid, version, digest) when present.
    pub digest: Option<(i64, i32, i64)>,
}

/// The world:anyone ALL list that ZooKeeper stores as ACL id −1 or as a null vector.
pub fn open_acl() -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: Id::new("world", "anyone"),
    }]
}

/// Reads and verifies a whole snapshot file.
pub fn read_snapshot(path: &Path) -> Result<ZkSnapshot, FormatError> {
    let file = std::fs::File::open(path)
        .map_err(|error| Fault::invalid(0, error.to_string()).in_file(path))?;
    let len = file
        .metadata()
        .map_err(|error| Fault::invalid(0, error.to_string()).in_file(path))?
        .len();
    let mut input = Input::new(std::io::BufReader::new(file), len);
    parse_snapshot(&mut input).map_err(|fault| fault.in_file(path))
}

/// Parses a snapshot from `input`, checking both seals.
pub fn parse_snapshot<R: Read>(input: &mut Input<R>) -> Result<ZkSnapshot, Fault> {
    let magic = input.i32("file header magic")?;
    if magic != SNAP_MAGIC {
        return Err(Fault::invalid(0, format!("magic {magic:#x} is not ZKSN")));
    }
    let version_offset = input.offset();
    let version = input.i32("file header version")?;
    if version != 2 {
        return Err(Fault::invalid(
            version_offset,
            format!("snapshot format version {version}, expected 2"),
        ));
    }
    let dbid = input.i64("file header dbid")?;
    let sessions = read_sessions(input)?;
    let acls = read_acl_cache(input)?;
    let nodes = read_nodes(input, &acls)?;
    check_seal(input)?;
    let digest = if input.remaining() == 0 {
        None
    } else {
        let zxid = input.i64("digest zxid")?;
        let digest_version = input.i32("digest version")?;
        // Digest versions before 2 wrote the value as a hex string.
        let value = if digest_version < 2 {
            let offset = input.offset();
            let text = input.string_opt("digest")?.unwrap_or_default();
            u64::from_str_radix(&text, 16)
                .map_err(|_| Fault::invalid(offset, format!("digest {text:?} is not hex")))?
                as i64
        } else {
            input.i64("digest")?
        };
        check_seal(input)?;
        Some((zxid, digest_version, value))
    };
    if input.remaining() != 0 {
        return Err(Fault::invalid(
            input.offset(),
            format!("{} bytes after the last seal", input.remaining()),
        ));
    }
    Ok(ZkSnapshot {
        dbid,
        sessions,
        nodes,
        digest,
    })
}

fn read_sessions<R: Read>(input: &mut Input<R>) -> Result<Vec<(i64, i32)>, Fault> {
    // A session takes 12 bytes: id and timeout.
    let count = input.count_opt("session count", 12)?.unwrap_or(0);
    let mut sessions = Vec::with_capacity(count);
    for _ in 0..count {
        let id = input.i64("session id")?;
        let timeout_ms = input.i32("session timeout")?;
        sessions.push((id, timeout_ms));
    }
    Ok(sessions)
}

fn read_acl_cache<R: Read>(input: &mut Input<R>) -> Result<HashMap<i64, Arc<[Acl]>>, Fault> {
    // An entry takes at least its id (8) and a vector count (4).
    let count = input.count_opt("ACL cache size", 12)?.unwrap_or(0);
    let mut acls = HashMap::with_capacity(count);
    for _ in 0..count {
        let id = input.i64("ACL cache id")?;
        let offset = input.offset();
        let Some(list) = input.acl_list_opt("ACL cache list")? else {
            return Err(Fault::invalid(offset, format!("ACL {id} is a null vector")));
        };
        acls.insert(id, Arc::from(list));
    }
    Ok(acls)
}

fn read_nodes<R: Read>(
    input: &mut Input<R>,
    acls: &HashMap<i64, Arc<[Acl]>>,
) -> Result<Vec<SnapNode>, Fault> {
    let open: Arc<[Acl]> = Arc::from(open_acl());
    let mut nodes = Vec::new();
    loop {
        let path = input.string("node path")?;
        if path == "/" {
            return Ok(nodes);
        }
        let data = input.buffer_opt("node data")?;
        let acl_offset = input.offset();
        let acl_id = input.i64("node ACL id")?;
        let acl = if acl_id == OPEN_ACL_ID {
            open.clone()
        } else {
            acls.get(&acl_id).cloned().ok_or_else(|| {
                Fault::invalid(
                    acl_offset,
                    format!("node {path:?}: ACL id {acl_id} is not in the ACL cache"),
                )
            })?
        };
        let stat = StatPersisted {
            czxid: input.i64("czxid")?,
            mzxid: input.i64("mzxid")?,
            ctime_ms: input.i64("ctime")?,
            mtime_ms: input.i64("mtime")?,
            version: input.i32("version")?,
            cversion: input.i32("cversion")?,
            aversion: input.i32("aversion")?,
            ephemeral_owner: input.i64("ephemeralOwner")?,
            pzxid: input.i64("pzxid")?,
        };
        nodes.push(SnapNode {
            path,
            data,
            acl,
            stat,
        });
    }
}

/// The seal: the checksum of everything before it, then the string "/".
fn check_seal<R: Read>(input: &mut Input<R>) -> Result<(), Fault> {
    let computed = input.checksum();
    let offset = input.offset();
    let stored = input.i64("checksum")?;
    let marker = input.string_opt("end marker")?;
    if stored != i64::from(computed) {
        return Err(Fault::invalid(
            offset,
            format!("checksum mismatch: stored {stored:#x}, computed {computed:#x}"),
        ));
    }
    if marker.as_deref() != Some("/") {
        return Err(Fault::invalid(offset + 8, "end marker is not \"/\""));
    }
    Ok(())
}
