//! Reading snapshot files, and the `snapshots` and `snapshot` commands.

use std::io::{Read, Write};
use std::path::Path;

use corral_engine::snapshot::read_state;
use corral_engine::state::State;
use corral_wal::snapshot::SnapshotReader;
use corral_wal::WalError;

use super::args::{one_positional, parse};
use super::format::{acl_text, data_text, hex, stat_words};
use super::layout::{list_snapshots, snapshot_dir, SnapshotFile};
use super::log::Problem;
use super::{Failure, Status};

/// A snapshot read to its end with every block and the trailer verified.
pub struct Loaded {
    pub index: u64,
    pub term: u64,
    pub state: State,
}

/// Reads and decodes the whole snapshot at `path`. A bad block, a bad header or trailer, or an
/// undecodable body is a `Problem` naming the file and, when the container knows it, the offset.
pub fn load(path: &Path) -> Result<Loaded, Problem> {
    let reader = SnapshotReader::open(path).map_err(|error| wal_problem(path, error))?;
    let (index, term) = (reader.index(), reader.term());
    let mut counted = Counted {
        inner: reader,
        body_bytes: 0,
        failure: None,
    };
    let decoded = read_state(&mut counted);
    let Counted {
        inner,
        body_bytes,
        failure,
    } = counted;
    let state = match (decoded, failure) {
        (Ok(state), _) => state,
        // The container's own error names the file and the block's offset: prefer it.
        (Err(_), Some(error)) => return Err(wal_problem(path, error)),
        (Err(error), None) => {
            return Err(Problem {
                path: path.to_path_buf(),
                offset: None,
                what: format!("cannot decode the state at body byte {body_bytes}: {error}"),
            })
        }
    };
    inner.finish().map_err(|error| wal_problem(path, error))?;
    Ok(Loaded { index, term, state })
}

/// A `Problem` from a container error, keeping its offset.
fn wal_problem(path: &Path, error: WalError) -> Problem {
    let offset = match &error {
        WalError::Corrupt { offset, .. } | WalError::Io { offset, .. } => Some(*offset),
        _ => None,
    };
    let what = match error {
        WalError::Corrupt { reason, .. } => reason,
        other => other.to_string(),
    };
    Problem {
        path: path.to_path_buf(),
        offset,
        what,
    }
}

/// Counts the body bytes the decoder took and keeps the container's first error, which the
/// decoder's own error may wrap beyond recognition.
struct Counted {
    inner: SnapshotReader,
    body_bytes: u64,
    failure: Option<WalError>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(read) => {
                self.body_bytes += read as u64;
                Ok(read)
            }
            Err(error) => {
                if self.failure.is_none() {
                    self.failure = container_error(&error);
                }
                Err(error)
            }
        }
    }
}

/// The `WalError` inside an I/O error from `SnapshotReader`, rebuilt (it is not `Clone`).
fn container_error(error: &std::io::Error) -> Option<WalError> {
    match error.get_ref()?.downcast_ref::<WalError>()? {
        WalError::Corrupt {
            path,
            offset,
            reason,
        } => Some(WalError::Corrupt {
            path: path.clone(),
            offset: *offset,
            reason: reason.clone(),
        }),
        other => Some(WalError::Corrupt {
            path: Default::default(),
            offset: 0,
            reason: other.to_string(),
        }),
    }
}

/// The file's header must agree with its name, or recovery would pair it with the wrong log.
pub fn check_name(file: &SnapshotFile, loaded: &Loaded) -> Result<(), Problem> {
    if (file.index, file.term) == (loaded.index, loaded.term) {
        return Ok(());
    }
    Err(Problem {
        path: file.path.clone(),
        offset: Some(0),
        what: format!(
            "header says index {} term {}, the name says index {} term {}",
            loaded.index, loaded.term, file.index, file.term
        ),
    })
}

/// `snapshots DIR`: every snapshot file, newest first, with whether it is valid.
pub fn snapshots_command(args: &[String], out: &mut dyn Write) -> Result<Status, Failure> {
    let parsed = parse(args, &[], &[]).map_err(Failure::Usage)?;
    let given = Path::new(one_positional(&parsed, "DIR")?);
    if !given.is_dir() {
        return Err(Failure::Io(format!("{}: not a directory", given.display())));
    }
    let dir = snapshot_dir(given);
    let listing = list_snapshots(&dir).map_err(Failure::Io)?;
    let mut status = Status::Ok;
    for file in &listing.snapshots {
        let verdict = load(&file.path).and_then(|loaded| {
            check_name(file, &loaded)?;
            Ok(loaded)
        });
        let head = format!(
            "snapshot index={} term={} bytes={}",
            file.index, file.term, file.bytes
        );
        match verdict {
            Ok(loaded) => writeln!(
                out,
                "{head} valid lastZxid={} nodes={} sessions={} {}",
                hex(loaded.state.last_zxid()),
                loaded.state.node_records().count(),
                loaded.state.sessions().count(),
                file.path.display()
            )?,
            Err(problem) => {
                status = Status::Problems;
                writeln!(out, "{head} CORRUPT {problem}")?;
            }
        }
    }
    for path in &listing.unfinished {
        writeln!(
            out,
            "unfinished {} (deleted at the next start)",
            path.display()
        )?;
    }
    writeln!(
        out,
        "{} snapshot(s) in {}",
        listing.snapshots.len(),
        dir.display()
    )?;
    Ok(status)
}

/// `snapshot FILE [--tree]`: the header, the sessions, counts, and with `--tree` every node.
pub fn snapshot_command(args: &[String], out: &mut dyn Write) -> Result<Status, Failure> {
    let parsed = parse(args, &["--tree"], &[]).map_err(Failure::Usage)?;
    let path = Path::new(one_positional(&parsed, "FILE")?);
    if !path.is_file() {
        return Err(Failure::Io(format!("{}: not a file", path.display())));
    }
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(problem) => {
            writeln!(out, "CORRUPT {problem}")?;
            return Ok(Status::Problems);
        }
    };
    let state = &loaded.state;
    writeln!(
        out,
        "snapshot {} index={} term={} lastZxid={} nodes={} sessions={}",
        path.display(),
        loaded.index,
        loaded.term,
        hex(state.last_zxid()),
        state.node_records().count(),
        state.sessions().count()
    )?;
    let mut sessions: Vec<_> = state.sessions().collect();
    sessions.sort_by_key(|(session_id, _)| *session_id);
    for (session_id, info) in sessions {
        writeln!(
            out,
            "session {} timeout={} ephemerals={}",
            hex(session_id),
            info.timeout_ms,
            state.session_ephemerals(session_id).len()
        )?;
    }
    if parsed.flag("--tree") {
        for record in state.node_records() {
            let stat = state.exists(&record.path).unwrap_or_default();
            writeln!(
                out,
                "{} {} acl={} data={}",
                record.path,
                stat_words(&stat),
                acl_text(&record.acl),
                data_text(&record.data)
            )?;
        }
    }
    Ok(Status::Ok)
}
