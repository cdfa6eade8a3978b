//! The handshake: the first frame of a connection and its answer.
//!
//! ZooKeeper 3.8 reads ConnectRequest without its readOnly flag and then tries to read one more
//! byte; a client that sent none (44-byte frame with a 16-byte password) is an "old client" and
//! gets a ConnectResponse without the flag too (36 bytes instead of 37). Bytes after the flag
//! are ignored. A frame too short for the fixed fields closes the connection unanswered.

use corral_engine::wire::{Reader, WireResult, Writer};

use super::reply::framed;
use super::DecodeError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout_ms: i32,
    pub session_id: i64,
    /// A null password reads as empty (it then matches no session).
    pub password: Vec<u8>,
    pub read_only: bool,
    /// Whether the client sent the readOnly byte at all. Pass it to `encode_connect_response`
    /// as `include_read_only`: clients that did not send it do not expect it back.
    pub read_only_present: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectResponse {
    /// ZooKeeper always answers 0.
    pub protocol_version: i32,
    /// The negotiated timeout; 0 when the session to resume is invalid.
    pub timeout_ms: i32,
    /// 0 when the session to resume is invalid (then close the connection after sending).
    pub session_id: i64,
    /// Zeros when the session to resume is invalid.
    pub password: [u8; 16],
    pub read_only: bool,
}

pub fn decode_connect(frame: &[u8]) -> Result<ConnectRequest, DecodeError> {
    read_connect(&mut Reader::new(frame))
        .map_err(|error| DecodeError::Malformed(format!("connect request: {error}")))
}

fn read_connect(reader: &mut Reader<'_>) -> WireResult<ConnectRequest> {
    let protocol_version = reader.read_i32()?;
    let last_zxid_seen = reader.read_i64()?;
    let timeout_ms = reader.read_i32()?;
    let session_id = reader.read_i64()?;
    let password = reader.read_buffer()?.to_vec();
    let read_only_present = !reader.is_empty();
    let read_only = read_only_present && reader.read_bool()?;
    Ok(ConnectRequest {
        protocol_version,
        last_zxid_seen,
        timeout_ms,
        session_id,
        password,
        read_only,
        read_only_present,
    })
}

/// Appends the framed ConnectResponse (length prefix included).
pub fn encode_connect_response(
    out: &mut Vec<u8>,
    response: &ConnectResponse,
    include_read_only: bool,
) {
    framed(out, |writer: &mut Writer<'_>| {
        writer
            .i32(response.protocol_version)
            .i32(response.timeout_ms)
            .i64(response.session_id)
            .buffer(&response.password);
        if include_read_only {
            writer.bool(response.read_only);
        }
    });
}
