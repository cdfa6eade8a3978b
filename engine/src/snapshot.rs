//! The binary encoding of a whole `State`: the body of a snapshot file.
//!
//! The body is a sequence of records, each `kind: u8`, `length: i32` (bytes of payload), then
//! the payload in the jute layout of `wire` (big-endian; strings and buffers length-prefixed):
//!
//! | kind | record    | payload |
//! |------|-----------|---------|
//! | 1    | header    | format version i32 = 1, last_zxid i64, session count i64, node count i64 |
//! | 2    | session   | session id i64, timeout_ms i32, password buffer (16 bytes) |
//! | 3    | ACL list  | list number i32 (0, 1, 2… in order), count i32, then per entry: perms i32, scheme string, id string |
//! | 4    | node      | path string, data buffer (null for null data), ACL list number i32, czxid, mzxid, pzxid i64, ctime_ms, mtime_ms i64, version, aversion, child_creates i32, ephemeral_owner i64 |
//! | 5    | end       | session count i64, node count i64, ACL list count i64 |
//!
//! The header comes first, then every session, then the nodes in path order, each ACL list
//! record just before the first node that uses it (most nodes share a handful of lists, so a
//! million nodes do not repeat them), then the end record, which must be last. Decoding checks
//! that every count matches and that nothing follows the end record, so a body cut short or
//! padded is an error even outside the checksummed container.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;

use thiserror::Error;

use crate::limits::{
    SNAPSHOT_READ_CHUNK_BYTES, SNAPSHOT_RESERVE_NODES_MAX, SNAPSHOT_WRITE_CHUNK_BYTES,
};
use crate::state::{SessionInfo, State, StateBuildError, StateBuilder, StoredFields};
use crate::types::{data_from_buffer, is_null_data, Acl, Id};
use crate::wire::{Reader, WireError, Writer};

const FORMAT_VERSION: i32 = 1;
const KIND_HEADER: u8 = 1;
const KIND_SESSION: u8 = 2;
const KIND_ACL_LIST: u8 = 3;
const KIND_NODE: u8 = 4;
const KIND_END: u8 = 5;
/// Record kind byte and payload length.
const RECORD_HEADER_BYTES: usize = 5;
const PASSWORD_BYTES: usize = 16;

/// Why a snapshot body does not decode to a state.
#[derive(Debug, Error)]
pub enum SnapshotDecodeError {
    /// Reading failed; a corrupt block of the snapshot container surfaces here as its io::Error
    /// (`corral_wal::snapshot::wal_error_of` recovers the file and offset).
    #[error("snapshot read failed: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a valid encoding; `offset` is the body offset of the record at fault.
    #[error("snapshot body invalid at offset {offset}: {reason}")]
    Invalid { offset: u64, reason: String },
    /// The records decode but do not form a tree.
    #[error("snapshot state invalid: {0}")]
    Build(#[from] StateBuildError),
}

/// Writes `state` to `out`, streaming node by node from the held (cloned) state. It allocates
/// per distinct ACL list, not per node.
pub fn write_state<W: Write>(state: &State, out: &mut W) -> std::io::Result<()> {
    let mut encoder = Encoder {
        out,
        chunk: Vec::with_capacity(SNAPSHOT_WRITE_CHUNK_BYTES + 1024),
        last_acl: None,
        acl_by_address: HashMap::new(),
        acl_by_content: HashMap::new(),
    };
    // Sorted, so that equal states always encode to the same bytes.
    let mut sessions: Vec<_> = state.sessions().collect();
    sessions.sort_unstable_by_key(|(session_id, _)| *session_id);
    let node_count = state.stored_node_count();
    encoder.record(KIND_HEADER, |writer| {
        writer
            .i32(FORMAT_VERSION)
            .i64(state.last_zxid())
            .i64(sessions.len() as i64)
            .i64(node_count as i64);
    })?;
    for (session_id, info) in &sessions {
        encoder.record(KIND_SESSION, |writer| {
            writer
                .i64(*session_id)
                .i32(info.timeout_ms)
                .buffer(&info.password);
        })?;
    }
    let mut written_nodes = 0usize;
    for view in state.node_views() {
        let acl_number = encoder.acl_number(view.acl)?;
        encoder.record(KIND_NODE, |writer| {
            writer.string(view.path);
            if is_null_data(view.data) {
                writer.null_buffer();
            } else {
                writer.buffer(view.data);
            }
            let fields = &view.fields;
            writer
                .i32(acl_number)
                .i64(fields.czxid)
                .i64(fields.mzxid)
                .i64(fields.pzxid)
                .i64(fields.ctime_ms)
                .i64(fields.mtime_ms)
                .i32(fields.version)
                .i32(fields.aversion)
                .i32(fields.child_creates)
                .i64(fields.ephemeral_owner);
        })?;
        written_nodes += 1;
    }
    assert_eq!(
        written_nodes, node_count,
        "node count changed while writing"
    );
    let acl_lists = encoder.acl_by_content.len();
    encoder.record(KIND_END, |writer| {
        writer
            .i64(sessions.len() as i64)
            .i64(node_count as i64)
            .i64(acl_lists as i64);
    })?;
    encoder.flush_chunk()
}

/// Gathers records into a chunk and writes it out when full.
struct Encoder<'s, 'w, W: Write> {
    out: &'w mut W,
    chunk: Vec<u8>,
    /// The address and number of the list the previous node used: runs of nodes share one list
    /// (most trees use one or two), so this spares the hash lookup for nearly every node.
    last_acl: Option<(usize, i32)>,
    /// ACL lists already written, by the address of the shared list (the fast, usual hit) and
    /// by content (so equal lists held separately are still written once).
    acl_by_address: HashMap<usize, i32>,
    acl_by_content: HashMap<&'s [Acl], i32>,
}

impl<'s, W: Write> Encoder<'s, '_, W> {
    fn record(&mut self, kind: u8, fill: impl FnOnce(&mut Writer)) -> std::io::Result<()> {
        let start = self.chunk.len();
        self.chunk.push(kind);
        self.chunk.extend_from_slice(&[0; 4]);
        fill(&mut Writer::new(&mut self.chunk));
        let payload_bytes = self.chunk.len() - start - RECORD_HEADER_BYTES;
        let length = i32::try_from(payload_bytes).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "snapshot record over 2 GiB",
            )
        })?;
        self.chunk[start + 1..start + RECORD_HEADER_BYTES].copy_from_slice(&length.to_be_bytes());
        if self.chunk.len() >= SNAPSHOT_WRITE_CHUNK_BYTES {
            self.flush_chunk()?;
        }
        Ok(())
    }

    fn flush_chunk(&mut self) -> std::io::Result<()> {
        self.out.write_all(&self.chunk)?;
        self.chunk.clear();
        Ok(())
    }

    /// The number of `acl`'s list, writing the list first if this is its first use.
    fn acl_number(&mut self, acl: &'s Arc<[Acl]>) -> std::io::Result<i32> {
        // The state outlives the encoder, so a list's address stays unique while it runs.
        let address = Arc::as_ptr(acl) as *const Acl as usize;
        if let Some((last_address, number)) = self.last_acl {
            if last_address == address {
                return Ok(number);
            }
        }
        if let Some(number) = self.acl_by_address.get(&address) {
            self.last_acl = Some((address, *number));
            return Ok(*number);
        }
        let number = match self.acl_by_content.get(acl.as_ref()) {
            Some(number) => *number,
            None => {
                let number = self.acl_by_content.len() as i32;
                self.acl_by_content.insert(acl.as_ref(), number);
                self.record(KIND_ACL_LIST, |writer| {
                    writer.i32(number).i32(acl.len() as i32);
                    for entry in acl.iter() {
                        writer
                            .i32(entry.perms)
                            .string(&entry.id.scheme)
                            .string(&entry.id.id);
                    }
                })?;
                number
            }
        };
        self.acl_by_address.insert(address, number);
        self.last_acl = Some((address, number));
        Ok(number)
    }
}

/// Reads a state written by `write_state`, building it directly (no per-node checks beyond
/// those of `State::from_records`, which it shares).
pub fn read_state<R: Read>(input: &mut R) -> Result<State, SnapshotDecodeError> {
    let mut source = Source::new(input);
    let (offset, kind, payload) = source.next_record()?;
    if kind != KIND_HEADER {
        return Err(invalid(
            offset,
            "the body does not start with a header record",
        ));
    }
    let header = decode_header(payload).map_err(|e| wire_invalid(offset, e))?;
    if header.version != FORMAT_VERSION {
        let reason = format!("snapshot body version {} not supported", header.version);
        return Err(invalid(offset, reason));
    }
    let mut decoder = Decoder {
        builder: StateBuilder::new(header.last_zxid),
        acl_lists: Vec::new(),
        sessions: 0,
        nodes: 0,
    };
    decoder
        .builder
        .reserve(header.node_count.min(SNAPSHOT_RESERVE_NODES_MAX as u64) as usize);
    loop {
        let (offset, kind, payload) = source.next_record()?;
        let mut reader = Reader::new(payload);
        let done = decoder
            .record(kind, &mut reader, &header)
            .map_err(|e| wire_invalid(offset, e))?;
        if !reader.is_empty() {
            return Err(invalid(offset, "record longer than its fields"));
        }
        if done {
            break;
        }
    }
    if !source.at_end()? {
        return Err(invalid(source.offset(), "bytes follow the end record"));
    }
    Ok(decoder.builder.build()?)
}

struct Header {
    version: i32,
    last_zxid: i64,
    session_count: u64,
    node_count: u64,
}

fn decode_header(payload: &[u8]) -> Result<Header, WireError> {
    let mut reader = Reader::new(payload);
    let header = Header {
        version: reader.read_i32()?,
        last_zxid: reader.read_i64()?,
        session_count: count(reader.read_i64()?)?,
        node_count: count(reader.read_i64()?)?,
    };
    if !reader.is_empty() {
        return Err(WireError::Invalid("header record longer than its fields"));
    }
    Ok(header)
}

fn count(value: i64) -> Result<u64, WireError> {
    u64::try_from(value).map_err(|_| WireError::Invalid("negative count"))
}

/// What the body has defined so far.
struct Decoder {
    builder: StateBuilder,
    acl_lists: Vec<Arc<[Acl]>>,
    sessions: u64,
    nodes: u64,
}

impl Decoder {
    /// Decodes one record after the header; true for the end record.
    fn record(
        &mut self,
        kind: u8,
        reader: &mut Reader,
        header: &Header,
    ) -> Result<bool, WireError> {
        match kind {
            KIND_SESSION if self.nodes == 0 && self.acl_lists.is_empty() => self.session(reader)?,
            KIND_ACL_LIST => self.acl_list(reader)?,
            KIND_NODE => self.node(reader)?,
            KIND_END => {
                let sessions = count(reader.read_i64()?)?;
                let nodes = count(reader.read_i64()?)?;
                let acl_lists = count(reader.read_i64()?)?;
                let expected = (header.session_count, header.node_count);
                if (sessions, nodes) != expected
                    || (self.sessions, self.nodes) != expected
                    || acl_lists != self.acl_lists.len() as u64
                {
                    return Err(WireError::Invalid("counts disagree with the records"));
                }
                return Ok(true);
            }
            KIND_SESSION => return Err(WireError::Invalid("session record after the nodes")),
            _ => return Err(WireError::Invalid("unknown record kind")),
        }
        Ok(false)
    }

    fn session(&mut self, reader: &mut Reader) -> Result<(), WireError> {
        let session_id = reader.read_i64()?;
        let timeout_ms = reader.read_i32()?;
        let password = <[u8; PASSWORD_BYTES]>::try_from(reader.read_buffer()?)
            .map_err(|_| WireError::Invalid("session password is not 16 bytes"))?;
        let info = SessionInfo {
            timeout_ms,
            password,
        };
        self.builder
            .add_session(session_id, info)
            .map_err(|_| WireError::Invalid("session appears twice"))?;
        self.sessions += 1;
        Ok(())
    }

    fn acl_list(&mut self, reader: &mut Reader) -> Result<(), WireError> {
        let number = reader.read_i32()?;
        if i64::from(number) != self.acl_lists.len() as i64 {
            return Err(WireError::Invalid("ACL list out of sequence"));
        }
        // Each entry takes at least 12 bytes: perms and two length prefixes.
        let entries = reader.read_count(12)?;
        let mut list = Vec::with_capacity(entries);
        for _ in 0..entries {
            let perms = reader.read_i32()?;
            let scheme = reader.read_string()?;
            let id = reader.read_string()?;
            list.push(Acl {
                perms,
                id: Id::new(scheme, id),
            });
        }
        self.acl_lists.push(Arc::from(list));
        Ok(())
    }

    fn node(&mut self, reader: &mut Reader) -> Result<(), WireError> {
        let path: Arc<str> = Arc::from(reader.read_string()?);
        let data = data_from_buffer(reader.read_buffer_opt()?);
        let acl_number = reader.read_i32()?;
        let acl = usize::try_from(acl_number)
            .ok()
            .and_then(|number| self.acl_lists.get(number))
            .ok_or(WireError::Invalid("node names an undefined ACL list"))?
            .clone();
        let fields = StoredFields {
            czxid: reader.read_i64()?,
            mzxid: reader.read_i64()?,
            pzxid: reader.read_i64()?,
            ctime_ms: reader.read_i64()?,
            mtime_ms: reader.read_i64()?,
            version: reader.read_i32()?,
            aversion: reader.read_i32()?,
            child_creates: reader.read_i32()?,
            ephemeral_owner: reader.read_i64()?,
        };
        self.builder.add_node(path, data, acl, fields);
        self.nodes += 1;
        Ok(())
    }
}

fn invalid(offset: u64, reason: impl Into<String>) -> SnapshotDecodeError {
    SnapshotDecodeError::Invalid {
        offset,
        reason: reason.into(),
    }
}

fn wire_invalid(offset: u64, error: WireError) -> SnapshotDecodeError {
    invalid(offset, error.to_string())
}

/// Buffered records from the input: reads in large chunks and hands out whole records as
/// slices of its buffer, growing the buffer only for a record that does not fit.
struct Source<'r, R: Read> {
    input: &'r mut R,
    buffer: Vec<u8>,
    /// The unread bytes are `buffer[start..end]`; `start` is at body offset `consumed`.
    start: usize,
    end: usize,
    consumed: u64,
    input_ended: bool,
}

impl<'r, R: Read> Source<'r, R> {
    fn new(input: &'r mut R) -> Self {
        Source {
            input,
            buffer: vec![0; SNAPSHOT_READ_CHUNK_BYTES],
            start: 0,
            end: 0,
            consumed: 0,
            input_ended: false,
        }
    }

    fn offset(&self) -> u64 {
        self.consumed
    }

    /// The next record: its body offset, kind and payload.
    fn next_record(&mut self) -> Result<(u64, u8, &[u8]), SnapshotDecodeError> {
        let offset = self.consumed;
        if !self.fill(RECORD_HEADER_BYTES)? {
            return Err(invalid(offset, "the body ends before its end record"));
        }
        let head = &self.buffer[self.start..self.start + RECORD_HEADER_BYTES];
        let kind = head[0];
        let length = i32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        let Ok(length) = usize::try_from(length) else {
            return Err(invalid(offset, "negative record length"));
        };
        if !self.fill(RECORD_HEADER_BYTES + length)? {
            return Err(invalid(offset, "the body ends inside a record"));
        }
        let payload_start = self.start + RECORD_HEADER_BYTES;
        self.start = payload_start + length;
        self.consumed += (RECORD_HEADER_BYTES + length) as u64;
        Ok((
            offset,
            kind,
            &self.buffer[payload_start..payload_start + length],
        ))
    }

    /// Whether the input has nothing left.
    fn at_end(&mut self) -> Result<bool, SnapshotDecodeError> {
        Ok(!self.fill(1)?)
    }

    /// Makes `count` unread bytes available; false when the input ends first.
    fn fill(&mut self, count: usize) -> Result<bool, SnapshotDecodeError> {
        while self.end - self.start < count {
            if self.input_ended {
                return Ok(false);
            }
            if self.buffer.len() - self.start < count {
                self.buffer.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buffer.len() {
                // Grows only once the buffer is full of real bytes, so a forged length cannot
                // make it allocate more than twice what the input actually holds.
                self.buffer.resize(self.buffer.len() * 2, 0);
            }
            match self.input.read(&mut self.buffer[self.end..]) {
                Ok(0) => self.input_ended = true,
                Ok(read) => self.end += read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body built record by record, to forge the cases `write_state` never produces.
    #[derive(Default)]
    struct Body {
        bytes: Vec<u8>,
        /// Body offset of each record, in order.
        offsets: Vec<u64>,
    }

    impl Body {
        fn record(mut self, kind: u8, fill: impl FnOnce(&mut Writer)) -> Body {
            let mut payload = Vec::new();
            fill(&mut Writer::new(&mut payload));
            self.offsets.push(self.bytes.len() as u64);
            self.bytes.push(kind);
            self.bytes
                .extend_from_slice(&(payload.len() as i32).to_be_bytes());
            self.bytes.extend_from_slice(&payload);
            self
        }

        fn header(self, version: i32, sessions: i64, nodes: i64) -> Body {
            self.record(KIND_HEADER, |w| {
                w.i32(version).i64(77).i64(sessions).i64(nodes);
            })
        }

        fn acl_list(self, number: i32) -> Body {
            self.record(KIND_ACL_LIST, |w| {
                w.i32(number)
                    .i32(1)
                    .i32(31)
                    .string("world")
                    .string("anyone");
            })
        }

        fn node(self, path: &str, acl_number: i32) -> Body {
            self.record(KIND_NODE, |w| {
                w.string(path).buffer(b"data").i32(acl_number);
                for _ in 0..5 {
                    w.i64(1);
                }
                w.i32(0).i32(0).i32(0).i64(0);
            })
        }

        fn end(self, sessions: i64, nodes: i64, acl_lists: i64) -> Body {
            self.record(KIND_END, |w| {
                w.i64(sessions).i64(nodes).i64(acl_lists);
            })
        }

        fn decode(&self) -> Result<State, SnapshotDecodeError> {
            read_state(&mut &self.bytes[..])
        }
    }

    /// The offset and reason of an `Invalid` error.
    fn invalid_at(result: Result<State, SnapshotDecodeError>) -> (u64, String) {
        match result {
            Err(SnapshotDecodeError::Invalid { offset, reason }) => (offset, reason),
            Err(other) => panic!("expected Invalid, got {other}"),
            Ok(_) => panic!("expected Invalid, got a state"),
        }
    }

    fn root_only() -> Body {
        Body::default().header(1, 0, 1).acl_list(0).node("/", 0)
    }

    #[test]
    fn a_minimal_body_decodes() {
        let body = root_only().end(0, 1, 1);
        let state = match body.decode() {
            Ok(state) => state,
            Err(error) => panic!("{error}"),
        };
        state.assert_invariants();
        assert_eq!(state.last_zxid(), 77);
        assert_eq!(state.node_count(), 2);
        assert_eq!(state.approximate_data_size(), 1 + 4);
    }

    #[test]
    fn forged_records_are_refused_at_their_offset() {
        let body = Body::default().header(2, 0, 1);
        let (offset, reason) = invalid_at(body.decode());
        assert_eq!(
            (offset, reason.as_str()),
            (0, "snapshot body version 2 not supported")
        );

        let body = root_only().record(9, |_| {}).end(0, 1, 1);
        assert_eq!(
            invalid_at(body.decode()),
            (body.offsets[3], "unknown record kind".into())
        );

        let body = root_only().node("/a", 1).end(0, 2, 1);
        let expected = (
            body.offsets[3],
            "node names an undefined ACL list".to_string(),
        );
        assert_eq!(invalid_at(body.decode()), expected);

        let body = root_only().acl_list(5);
        let expected = (body.offsets[3], "ACL list out of sequence".to_string());
        assert_eq!(invalid_at(body.decode()), expected);

        let body = root_only().end(0, 2, 1);
        let expected = (
            body.offsets[3],
            "counts disagree with the records".to_string(),
        );
        assert_eq!(invalid_at(body.decode()), expected);

        let body = root_only().record(KIND_SESSION, |w| {
            w.i64(5).i32(1000).buffer(&[0; 16]);
        });
        let expected = (
            body.offsets[3],
            "session record after the nodes".to_string(),
        );
        assert_eq!(invalid_at(body.decode()), expected);

        let body = root_only().record(KIND_END, |w| {
            w.i64(0).i64(1).i64(1).i64(0);
        });
        let expected = (body.offsets[3], "record longer than its fields".to_string());
        assert_eq!(invalid_at(body.decode()), expected);

        let body = root_only();
        let end = body.bytes.len() as u64;
        let expected = (end, "the body ends before its end record".to_string());
        assert_eq!(invalid_at(body.decode()), expected);
    }

    #[test]
    fn a_body_that_is_not_a_tree_names_the_path() {
        let body = Body::default()
            .header(1, 0, 2)
            .acl_list(0)
            .node("/", 0)
            .node("/a/b", 0)
            .end(0, 2, 1);
        match body.decode() {
            Err(SnapshotDecodeError::Build(StateBuildError::MissingParent { path })) => {
                assert_eq!(path, "/a/b")
            }
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("a tree without /a decoded"),
        }
    }
}
