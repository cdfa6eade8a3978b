//! `corral-inspect`: looks inside a Corral data directory without changing it.
//!
//! - `args`: splitting a subcommand's arguments.
//! - `layout`: where the WAL and the snapshots are; snapshot file names.
//! - `log`: the WAL as recovery reads it (over `corral_wal::scan`), problems with offsets.
//! - `snapshots`: loading and checking snapshot files; `snapshots` and `snapshot`.
//! - `replay`: the state a server would serve, from a snapshot and the log, to a zxid.
//! - `wal`, `verify`, `tree`: the other subcommands.
//! - `format`: how stats, ACLs, data and txns are written.
//! - `import_zk`: `import-zk`, an Apache ZooKeeper data directory into a Corral one.
//! - `limits`: the tool's bounds.

mod args;
mod format;
pub mod import_zk;
mod layout;
mod limits;
mod log;
mod replay;
mod snapshots;
mod tree;
mod verify;
mod wal;

use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "\
usage: corral-inspect COMMAND [ARGS]

Reads a Corral server's files (never changes them) and prints one item a line.
Exit status: 0 all is well, 1 problems found (corruption, a server that would not
start, a zxid the files do not reach), 2 usage or I/O error.

commands:
  wal DIR [--records] [--txns]
      The WAL's segments (sequence, size, how each ends) and frames (offset, records,
      bytes); --records adds every record (index, term, kind, payload bytes); --txns
      adds each entry's txns (zxid when the log's start is known, session, cxid, op,
      path). DIR is the data log dir or its wal/ subdirectory.
  snapshots DIR
      Every snapshot file, newest first: index, term, size, valid or what is wrong.
      DIR is the data dir or its snapshots/ subdirectory.
  snapshot FILE [--tree]
      One snapshot: header, sessions, node count, last zxid; --tree prints its nodes.
  verify DATA_DIR [--log-dir DIR]
      Checks every WAL frame and record and every snapshot block, decodes every entry,
      prints each problem with its file and byte offset (lines start with CORRUPT), and
      says whether the server would start and from what. A torn tail of the last
      segment is reported as such: a crash explains it and recovery zeroes it.
  tree DATA_DIR [--log-dir DIR] [--zxid Z | --snapshot FILE] [--stat] [--acl] [--data]
      The tree, one node a line, as of the newest state the files give, as of zxid Z
      (decimal or 0x hex: the newest snapshot at or below Z, then the log txn by txn up
      to and including Z), or exactly as snapshot FILE holds it. --stat adds the stat
      fields under ZooKeeper's names (zxids and owners in hex, times in ms), --acl the
      ACLs as scheme:id:perms (zkCli's cdrwa letters), --data the data (\"text\", 0x
      hex, or null). What was replayed goes to stderr.
  import-zk --from ZK_DATA_DIR [--log-from ZK_DATALOG_DIR] --to CORRAL_DATA_DIR
      Writes a new Corral data directory holding the tree, stats, ACLs and sessions of
      an Apache ZooKeeper 3.4-3.8 data directory (its newest valid snapshot plus the
      logged txns after it, replayed as ZooKeeper does at start-up). Sessions keep their
      ids and passwords. CORRAL_DATA_DIR must be absent or empty.
  help
      This text.
";

/// How a command ended when it could do its work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// It found corruption or could not give what was asked; exit status 1.
    Problems,
}

/// Why a command could not do its work; exit status 2.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    Usage(String),
    Io(String),
    /// Whoever read the output stopped (`| head`): nothing to report.
    OutputClosed,
}

impl From<String> for Failure {
    fn from(why: String) -> Failure {
        Failure::Usage(why)
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Failure {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            Failure::OutputClosed
        } else {
            Failure::Io(format!("writing the output: {error}"))
        }
    }
}

/// Runs the tool with the process's arguments (without the program name).
pub fn main(args: &[String]) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = std::io::stderr().lock();
    let outcome = run(args, &mut out, &mut err);
    let flushed = out.flush();
    let code = match (outcome, flushed) {
        (Ok(Status::Ok), Ok(())) => 0,
        (Ok(Status::Problems), Ok(())) => 1,
        (Ok(_), Err(error)) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            let _ = writeln!(err, "corral-inspect: writing the output: {error}");
            2
        }
        (Ok(_), Err(_)) | (Err(Failure::OutputClosed), _) => 2,
        (Err(Failure::Usage(why)), _) => {
            let _ = writeln!(err, "corral-inspect: {why}\n\n{USAGE}");
            2
        }
        (Err(Failure::Io(why)), _) => {
            let _ = writeln!(err, "corral-inspect: {why}");
            2
        }
    };
    ExitCode::from(code)
}

/// Dispatches to a subcommand; normal output goes to `out`, notes about it to `err`.
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> Result<Status, Failure> {
    let Some((command, rest)) = args.split_first() else {
        return Err(Failure::Usage("no command given".to_string()));
    };
    if rest.iter().any(|arg| arg == "--help" || arg == "-h") {
        write!(out, "{USAGE}")?;
        return Ok(Status::Ok);
    }
    match command.as_str() {
        "help" | "--help" | "-h" => {
            write!(out, "{USAGE}")?;
            Ok(Status::Ok)
        }
        "wal" => wal::wal_command(rest, out),
        "snapshots" => snapshots::snapshots_command(rest, out),
        "snapshot" => snapshots::snapshot_command(rest, out),
        "verify" => verify::verify_command(rest, out),
        "tree" => tree::tree_command(rest, out, err),
        "import-zk" => import_zk::command(rest, out),
        other => Err(Failure::Usage(format!("unknown command {other}"))),
    }
}
