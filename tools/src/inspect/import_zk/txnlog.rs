//! ZooKeeper's transaction log file (`log.<first zxid in hex>`), as `FileTxnLog` writes it:
//! a `FileHeader` (magic `ZKLG`, version 2, dbid), then records, each
//!
//! - the Adler-32 of the body, as a long;
//! - the body as a buffer: `TxnHeader`, the txn record of its type, 3.6+ a `TxnDigest`;
//! - the end-of-record byte `B`.
//!
//! ZooKeeper preallocates logs with zeros, so a zero length (or the file's end) ends the log.
//! A record cut short by a crash (the file ends inside it, or its end byte or checksum is wrong
//! and only zeros follow) is a torn tail: ZooKeeper ignores it, and so does this reader when
//! told the log is the newest one. Anywhere else it is corruption.

use std::io::Read;
use std::path::Path;

use super::error::{Fault, FormatError};
use super::input::Input;
use super::limits;
use super::txn::{decode_entry, TxnEntry};

/// "ZKLG" as a big-endian int.
pub const LOG_MAGIC: i32 = i32::from_be_bytes(*b"ZKLG");
/// The end-of-record byte.
const END_OF_RECORD: u8 = b'B';

/// A decoded record and where it starts (the offset of its checksum).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub offset: u64,
    pub entry: TxnEntry,
}

/// How a log ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogEnd {
    /// At the end of the file, or at the zeros ZooKeeper preallocates.
    Clean,
    /// A torn last record at `offset`, ignored.
    TornTail { offset: u64, reason: String },
}

/// Reads every record of the log at `path`, handing each to `visit` in order. `newest` says
/// whether a torn tail is tolerated. `visit` errors stop the read and are returned.
pub fn read_log<E: From<FormatError>>(
    path: &Path,
    newest: bool,
    visit: impl FnMut(LogRecord) -> Result<(), E>,
) -> Result<LogEnd, E> {
    let open = |error: std::io::Error| Fault::invalid(0, error.to_string()).in_file(path);
    let file = std::fs::File::open(path).map_err(open)?;
    let len = file.metadata().map_err(open)?.len();
    let mut input = Input::new(std::io::BufReader::new(file), len);
    parse_log(&mut input, newest, visit, path)
}

/// Parses a log from `input`; `path` only names it in errors.
pub fn parse_log<R: Read, E: From<FormatError>>(
    input: &mut Input<R>,
    newest: bool,
    mut visit: impl FnMut(LogRecord) -> Result<(), E>,
    path: &Path,
) -> Result<LogEnd, E> {
    read_header(input).map_err(|fault| fault.in_file(path))?;
    loop {
        match next_record(input) {
            Ok(Some(record)) => visit(record)?,
            Ok(None) => return Ok(LogEnd::Clean),
            Err(Bad::Torn(fault)) if newest => {
                return Ok(LogEnd::TornTail {
                    offset: fault.offset,
                    reason: fault.reason,
                })
            }
            Err(Bad::Torn(fault)) => {
                let reason = format!(
                    "{} (torn record in a log that is not the newest)",
                    fault.reason
                );
                return Err(Fault::invalid(fault.offset, reason).in_file(path).into());
            }
            Err(Bad::Corrupt(fault)) => return Err(fault.in_file(path).into()),
        }
    }
}

fn read_header<R: Read>(input: &mut Input<R>) -> Result<(), Fault> {
    let magic = input.i32("file header magic")?;
    if magic != LOG_MAGIC {
        return Err(Fault::invalid(0, format!("magic {magic:#x} is not ZKLG")));
    }
    let version = input.i32("file header version")?;
    if version != 2 {
        return Err(Fault::invalid(
            4,
            format!("log format version {version}, expected 2"),
        ));
    }
    input.i64("file header dbid")?;
    Ok(())
}

/// What is wrong with a record: torn (explained by a crash at the tail) or corrupt.
enum Bad {
    Torn(Fault),
    Corrupt(Fault),
}

/// The next record; `None` at the end of the log.
fn next_record<R: Read>(input: &mut Input<R>) -> Result<Option<LogRecord>, Bad> {
    let offset = input.offset();
    if input.remaining() == 0 {
        return Ok(None);
    }
    let torn_or_corrupt = |fault: Fault| {
        if fault.truncated {
            Bad::Torn(Fault::invalid(offset, fault.reason))
        } else {
            Bad::Corrupt(fault)
        }
    };
    let checksum = input.i64("record checksum").map_err(torn_or_corrupt)?;
    let length_offset = input.offset();
    let length = input.i32("record length").map_err(torn_or_corrupt)?;
    if length == 0 {
        return Ok(None);
    }
    if length < 0 || length as usize > limits::JUTE_BUFFER_BYTES_MAX {
        return Err(Bad::Corrupt(Fault::invalid(
            length_offset,
            format!("record length {length} is unreasonable"),
        )));
    }
    if length as u64 > input.remaining() {
        return Err(Bad::Torn(Fault::invalid(
            offset,
            format!("record of {length} bytes runs past the end of the file"),
        )));
    }
    let mut body = vec![0u8; length as usize];
    input
        .read_exact(&mut body, "record body")
        .map_err(torn_or_corrupt)?;
    let end = input.u8("end-of-record byte").map_err(torn_or_corrupt)?;
    let computed = super::input::Adler32::of(&body);
    let problem = if end != END_OF_RECORD {
        Some(format!("end-of-record byte is {end:#04x}, not 'B'"))
    } else if checksum != i64::from(computed) {
        Some(format!(
            "checksum mismatch: stored {checksum:#x}, computed {computed:#x}"
        ))
    } else {
        None
    };
    if let Some(reason) = problem {
        // A crash leaves a partly written record followed by preallocated zeros; anything
        // else after a bad record means the damage is not at the tail.
        let tail = input.rest_is_zero().map_err(Bad::Corrupt)?;
        let fault = Fault::invalid(offset, reason);
        return Err(if tail {
            Bad::Torn(fault)
        } else {
            Bad::Corrupt(fault)
        });
    }
    let entry = decode_entry(&body, length_offset + 4)
        .map_err(|fault| Bad::Corrupt(Fault::invalid(fault.offset, fault.reason)))?;
    Ok(Some(LogRecord { offset, entry }))
}
