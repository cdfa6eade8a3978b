//! `corral-inspect import-zk`: turns an Apache ZooKeeper 3.4–3.8 data directory into a Corral
//! data directory holding the same tree, stats, ACLs and sessions.
//!
//! It restores the tree as ZooKeeper does at start-up, from the newest valid snapshot plus
//! every logged txn after it, then writes one Corral snapshot.
//!
//! - `input`: the jute reader and Adler-32.
//! - `snapshot`: ZooKeeper's `snapshot.<zxid>` files.
//! - `txnlog`: ZooKeeper's `log.<zxid>` files; `txn`: the records they hold.
//! - `tree`: ZooKeeper's replay semantics on a small tree model.
//! - `password`: ZooKeeper's session passwords, derived from session ids.
//! - `error`, `limits`.

pub mod error;
pub mod input;
pub mod limits;
pub mod password;
pub mod snapshot;
pub mod tree;
pub mod txn;
pub mod txnlog;

use std::io::Write;
use std::path::{Path, PathBuf};

use corral_engine::state::{SessionInfo, State};
use corral_wal::snapshot::SnapshotStore;

use super::{Failure, Status};
use error::{io_error, FormatError, ImportError};
use tree::ZkTree;
use txnlog::LogEnd;

/// Where to read from and write to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportOptions {
    /// ZooKeeper's dataDir, with or without its `version-2/`.
    pub from: PathBuf,
    /// ZooKeeper's dataLogDir when it differs from dataDir.
    pub log_from: Option<PathBuf>,
    /// The new Corral data directory; must be absent or empty.
    pub to: PathBuf,
}

/// What an import read and wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    pub snapshot: PathBuf,
    pub snapshot_zxid: i64,
    /// Newer snapshots that failed to read and were passed over, with the reason.
    pub skipped_snapshots: Vec<String>,
    pub logs: Vec<PathBuf>,
    /// Logged txns applied after the snapshot.
    pub txns_applied: u64,
    /// Ops that failed on replay and were skipped, as ZooKeeper skips them.
    pub ops_skipped: u64,
    /// A torn last record of the newest log: (file, offset, reason).
    pub torn_tail: Option<(PathBuf, u64, String)>,
    pub nodes: usize,
    pub sessions: usize,
    pub last_zxid: i64,
    /// The Corral snapshot written.
    pub written: PathBuf,
}

impl ImportOptions {
    pub fn parse(args: &[String]) -> Result<ImportOptions, ImportError> {
        let (mut from, mut log_from, mut to) = (None, None, None);
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let slot = match arg.as_str() {
                "--from" => &mut from,
                "--log-from" => &mut log_from,
                "--to" => &mut to,
                other => {
                    return Err(ImportError::Usage(format!(
                        "import-zk: unknown argument {other}"
                    )))
                }
            };
            let value = args
                .next()
                .ok_or_else(|| ImportError::Usage(format!("import-zk: {arg} needs a value")))?;
            *slot = Some(PathBuf::from(value));
        }
        match (from, to) {
            (Some(from), Some(to)) => Ok(ImportOptions { from, log_from, to }),
            _ => Err(ImportError::Usage(
                "import-zk needs --from ZK_DATA_DIR and --to CORRAL_DATA_DIR".to_string(),
            )),
        }
    }
}

/// `corral-inspect import-zk`: parses `args` (after the command name), imports, and prints the
/// summary. A damaged or incomplete ZooKeeper directory is a problem found (exit status 1).
pub fn command(args: &[String], out: &mut dyn Write) -> Result<Status, Failure> {
    let options = ImportOptions::parse(args).map_err(|error| Failure::Usage(error.to_string()))?;
    match import(&options) {
        Ok(summary) => {
            write!(out, "{}", render_summary(&summary))?;
            Ok(Status::Ok)
        }
        Err(error @ ImportError::Usage(_)) => Err(Failure::Usage(error.to_string())),
        Err(
            error @ (ImportError::Io { .. }
            | ImportError::Wal(_)
            | ImportError::TargetNotEmpty { .. }),
        ) => Err(Failure::Io(error.to_string())),
        Err(error) => {
            writeln!(out, "import-zk: {error}")?;
            Ok(Status::Problems)
        }
    }
}

/// Imports `options.from` into `options.to`.
pub fn import(options: &ImportOptions) -> Result<ImportSummary, ImportError> {
    check_target(&options.to)?;
    let snap_dir = version_dir(&options.from);
    let log_dir = version_dir(options.log_from.as_ref().unwrap_or(&options.from));
    let (mut tree, mut summary) = load_newest_snapshot(&snap_dir)?;
    replay_logs(&log_dir, &mut tree, &mut summary)?;
    summary.ops_skipped = tree.skipped_ops;
    summary.last_zxid = tree.last_zxid;
    let sessions: Vec<(i64, SessionInfo)> = tree
        .sessions
        .iter()
        .map(|(&id, &timeout_ms)| {
            let password = password::zookeeper_password(id);
            (
                id,
                SessionInfo {
                    timeout_ms,
                    password,
                },
            )
        })
        .collect();
    summary.sessions = sessions.len();
    let last_zxid = tree.last_zxid;
    let records = tree.into_records();
    summary.nodes = records.len();
    let state = State::from_records(records, sessions, last_zxid)?;
    summary.written = write_corral(&options.to, &state)?;
    Ok(summary)
}

/// ZooKeeper keeps its files in `version-2/` under dataDir and dataLogDir; either is accepted.
fn version_dir(dir: &Path) -> PathBuf {
    let nested = dir.join("version-2");
    if nested.is_dir() {
        nested
    } else {
        dir.to_path_buf()
    }
}

/// The target must not exist or be an empty directory, so nothing is ever overwritten.
fn check_target(to: &Path) -> Result<(), ImportError> {
    match std::fs::read_dir(to) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(ImportError::TargetNotEmpty {
                path: to.to_path_buf(),
            }),
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(io_error(to)(error)),
    }
}

/// Files named `<prefix>.<hex zxid>` or `<prefix>.<hex zxid>.<suffix>` (for a suffix in
/// `suffixes`) in `dir`, by zxid ascending. Anything else, such as the `.tmp` file of a snapshot
/// that a crash interrupted, is not ZooKeeper's data and is left alone.
fn zxid_files(
    dir: &Path,
    prefix: &str,
    suffixes: &[&str],
) -> Result<Vec<(i64, PathBuf)>, ImportError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let mut parts = name.split('.');
        if parts.next() != Some(prefix) {
            continue;
        }
        let Some(zxid) = parts
            .next()
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        else {
            continue;
        };
        let known_suffix = match (parts.next(), parts.next()) {
            (None, _) => true,
            (Some(suffix), None) => suffixes.contains(&suffix),
            (Some(_), Some(_)) => false,
        };
        if known_suffix {
            files.push((zxid as i64, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

/// `FileSnap.deserialize`: the newest snapshot that reads back whole, trying up to
/// `SNAPSHOTS_TRIED_MAX`; the ones passed over are reported.
fn load_newest_snapshot(dir: &Path) -> Result<(ZkTree, ImportSummary), ImportError> {
    let mut reasons = Vec::new();
    let candidates = zxid_files(dir, "snapshot", &["gz", "snappy"])?;
    for (zxid, path) in candidates
        .into_iter()
        .rev()
        .take(limits::SNAPSHOTS_TRIED_MAX)
    {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".gz") || name.ends_with(".snappy") {
            return Err(ImportError::Compressed { path });
        }
        let snapshot = match snapshot::read_snapshot(&path) {
            Ok(snapshot) => snapshot,
            Err(error) => {
                reasons.push(error.to_string());
                continue;
            }
        };
        let tree =
            ZkTree::from_snapshot(snapshot.nodes, &snapshot.sessions, zxid).map_err(|error| {
                FormatError {
                    file: path.clone(),
                    offset: 0,
                    reason: format!("node {:?}: {}", error.path, error.reason),
                }
            })?;
        let summary = ImportSummary {
            snapshot: path,
            snapshot_zxid: zxid,
            skipped_snapshots: reasons,
            logs: Vec::new(),
            txns_applied: 0,
            ops_skipped: 0,
            torn_tail: None,
            nodes: 0,
            sessions: 0,
            last_zxid: zxid,
            written: PathBuf::new(),
        };
        return Ok((tree, summary));
    }
    Err(ImportError::NoSnapshot {
        dir: dir.to_path_buf(),
        reasons,
    })
}

/// `FileTxnSnapLog.fastForwardFromEdits`: the log that starts at or before the snapshot and
/// every later one, applying each txn above the snapshot's zxid. Unlike ZooKeeper, a gap in
/// the zxids (a missing log) is an error rather than a silently shorter history.
fn replay_logs(
    dir: &Path,
    tree: &mut ZkTree,
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    let logs = zxid_files(dir, "log", &[])?;
    let snapshot_zxid = summary.snapshot_zxid;
    let first = logs
        .iter()
        .rposition(|(zxid, _)| *zxid <= snapshot_zxid)
        .unwrap_or(0);
    let chosen: Vec<PathBuf> = logs.into_iter().skip(first).map(|(_, path)| path).collect();
    let mut previous = snapshot_zxid;
    for (index, path) in chosen.iter().enumerate() {
        let newest = index + 1 == chosen.len();
        let end = txnlog::read_log(path, newest, |record| {
            let zxid = record.entry.header.zxid;
            if zxid <= snapshot_zxid {
                return Ok(());
            }
            if !follows(previous, zxid) {
                return Err(ImportError::Gap {
                    file: path.clone(),
                    offset: record.offset,
                    after_zxid: previous,
                    found_zxid: zxid,
                });
            }
            previous = zxid;
            tree.apply(&record.entry.header, &record.entry.txn);
            summary.txns_applied += 1;
            Ok(())
        })?;
        if let LogEnd::TornTail { offset, reason } = end {
            summary.torn_tail = Some((path.clone(), offset, reason));
        }
    }
    summary.logs = chosen;
    Ok(())
}

/// Whether `next` may directly follow `previous`: the next counter in the same epoch, or any
/// zxid of a later epoch (a new leader's epoch starts its own counter).
fn follows(previous: i64, next: i64) -> bool {
    let epoch = |zxid: i64| zxid >> 32;
    next == previous + 1 || epoch(next) > epoch(previous)
}

/// Writes the state as the Corral snapshot the server starts from (raft index 1, term 1).
fn write_corral(to: &Path, state: &State) -> Result<PathBuf, ImportError> {
    std::fs::create_dir_all(to).map_err(io_error(to))?;
    let store = SnapshotStore::open(&to.join("snapshots"))?;
    let mut writer = store.create(1, 1)?;
    corral_engine::snapshot::write_state(state, &mut writer).map_err(io_error(to))?;
    Ok(writer.finish()?.path)
}

/// The text `run` prints.
pub fn render_summary(summary: &ImportSummary) -> String {
    let mut text = String::new();
    for reason in &summary.skipped_snapshots {
        text.push_str(&format!("skipped snapshot: {reason}\n"));
    }
    text.push_str(&format!(
        "snapshot: {} (zxid {:#x})\n",
        summary.snapshot.display(),
        summary.snapshot_zxid
    ));
    for log in &summary.logs {
        text.push_str(&format!("log: {}\n", log.display()));
    }
    if let Some((file, offset, reason)) = &summary.torn_tail {
        text.push_str(&format!(
            "torn last record ignored: {} at offset {offset}: {reason}\n",
            file.display()
        ));
    }
    text.push_str(&format!(
        "txns applied: {}, ops skipped on replay: {}\n",
        summary.txns_applied, summary.ops_skipped
    ));
    text.push_str(&format!(
        "imported {} nodes, {} sessions, last zxid {:#x}\nwrote {}\n",
        summary.nodes,
        summary.sessions,
        summary.last_zxid,
        summary.written.display()
    ));
    text
}

#[cfg(test)]
mod tests;
