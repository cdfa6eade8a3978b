//! `tree`: the nodes as the server would serve them, from a data directory (as of its newest
//! state or a zxid) or from one snapshot file.

use std::io::Write;
use std::path::Path;

use corral_engine::state::State;

use super::args::{one_positional, parse, parse_zxid, Parsed};
use super::format::{acl_text, data_text, hex, stat_words};
use super::layout::{list_snapshots, DataLayout};
use super::log::LogScan;
use super::replay::replay;
use super::snapshots::load;
use super::{Failure, Status};

const FLAGS: &[&str] = &["--stat", "--acl", "--data"];
const OPTIONS: &[&str] = &["--log-dir", "--zxid", "--snapshot"];

/// `tree DATA_DIR [--log-dir DIR] [--zxid Z | --snapshot FILE] [--stat] [--acl] [--data]`.
/// With `--snapshot`, DATA_DIR may be left out.
pub fn tree_command(
    args: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Status, Failure> {
    let parsed = parse(args, FLAGS, OPTIONS).map_err(Failure::Usage)?;
    if let Some(file) = parsed.option("--snapshot") {
        if parsed.option("--zxid").is_some() || parsed.option("--log-dir").is_some() {
            return Err(Failure::Usage(
                "--snapshot prints one file as it is: no --zxid or --log-dir".to_string(),
            ));
        }
        if parsed.positional.len() > 1 {
            return Err(Failure::Usage(format!(
                "unexpected argument {}",
                parsed.positional[1]
            )));
        }
        return tree_of_snapshot(Path::new(file), &parsed, out, err);
    }
    let data_dir = Path::new(one_positional(&parsed, "DATA_DIR")?);
    let zxid = parsed.option("--zxid").map(parse_zxid).transpose()?;
    let layout = DataLayout::new(data_dir, parsed.option("--log-dir").map(Path::new))
        .map_err(Failure::Io)?;
    let listing = list_snapshots(&layout.snapshot_dir).map_err(Failure::Io)?;
    let log = LogScan::read(&layout.wal_dir).map_err(Failure::Io)?;
    let mut status = Status::Ok;
    for problem in &log.problems {
        writeln!(err, "CORRUPT {problem}")?;
        status = Status::Problems;
    }
    let replayed = match replay(&listing, &log, zxid) {
        Ok(replayed) => replayed,
        Err(why) => {
            writeln!(err, "cannot rebuild the tree: {why}")?;
            return Ok(Status::Problems);
        }
    };
    for why in &replayed.skipped {
        writeln!(err, "skipped {why}")?;
    }
    for problem in &replayed.corrupt_snapshots {
        writeln!(err, "CORRUPT {problem} (skipped, as recovery would)")?;
        status = Status::Problems;
    }
    for problem in &replayed.problems {
        writeln!(err, "CORRUPT {problem} (the tree stops before it)")?;
        status = Status::Problems;
    }
    let last_zxid = replayed.state.last_zxid();
    if let Some(target) = zxid.filter(|target| *target > last_zxid) {
        writeln!(
            err,
            "zxid {} is past the last one the files hold ({}): showing the newest tree",
            hex(target),
            hex(last_zxid)
        )?;
        status = Status::Problems;
    }
    writeln!(
        err,
        "tree as of zxid {} (entry {}): {} and {} log entries",
        hex(last_zxid),
        replayed.last_index,
        replayed.base.describe(),
        replayed.entries_applied
    )?;
    print_nodes(&replayed.state, &parsed, out)?;
    Ok(status)
}

fn tree_of_snapshot(
    path: &Path,
    parsed: &Parsed,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Status, Failure> {
    if !path.is_file() {
        return Err(Failure::Io(format!("{}: not a file", path.display())));
    }
    match load(path) {
        Ok(loaded) => {
            writeln!(
                err,
                "tree as of zxid {} (entry {}): snapshot {}",
                hex(loaded.state.last_zxid()),
                loaded.index,
                path.display()
            )?;
            print_nodes(&loaded.state, parsed, out)?;
            Ok(Status::Ok)
        }
        Err(problem) => {
            writeln!(err, "CORRUPT {problem}")?;
            Ok(Status::Problems)
        }
    }
}

/// One line per node in path order (a parent before its children): the path, then what the
/// flags ask for.
fn print_nodes(state: &State, parsed: &Parsed, out: &mut dyn Write) -> std::io::Result<()> {
    for record in state.node_records() {
        let mut line = record.path.clone();
        if parsed.flag("--stat") {
            // The stat a client is served (cversion, numChildren and the owner as ZooKeeper
            // derives them), not the stored fields.
            let stat = state.exists(&record.path).unwrap_or_default();
            line.push(' ');
            line.push_str(&stat_words(&stat));
        }
        if parsed.flag("--acl") {
            line.push_str(" acl=");
            line.push_str(&acl_text(&record.acl));
        }
        if parsed.flag("--data") {
            line.push_str(" data=");
            line.push_str(&data_text(&record.data));
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}
