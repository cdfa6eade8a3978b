//! Encoding and decoding of frames and records (the layout is described in the crate docs).

use crate::aligned::AlignedBuffer;
use crate::limits::SECTOR_BYTES;
use crate::{HardState, LogEntryRef};

/// "CRWL" when the four little-endian bytes are read as ASCII.
pub(crate) const MAGIC: u32 = u32::from_le_bytes(*b"CRWL");
pub(crate) const FORMAT_VERSION: u8 = 2;
pub(crate) const FRAME_HEADER_BYTES: usize = 48;
pub(crate) const SEGMENT_HEADER_BYTES: usize = 48;
pub(crate) const RECORD_HEADER_BYTES: usize = 32;
pub(crate) const HARD_STATE_PAYLOAD_BYTES: usize = 24;

const KIND_FRAME: u8 = 1;
const KIND_ENTRY: u8 = 2;
const KIND_HARD_STATE: u8 = 3;
const KIND_SEAL: u8 = 4;
const KIND_SEGMENT_HEADER: u8 = 5;

// A frame header must fit in the first sector of the frame, which is written atomically enough
// for the header checksum to tell whether it is whole.
const _: () = assert!(FRAME_HEADER_BYTES as u64 <= SECTOR_BYTES);
const _: () = assert!(SEGMENT_HEADER_BYTES as u64 <= SECTOR_BYTES);

/// Where a frame claims to live; recovery accepts a frame only where it claims to be, so a frame
/// copied into a payload, or a misdirected write, can never be mistaken for a real one. The salt
/// is the random number of the segment's current use, so neither a stale frame left from a
/// recycled segment's earlier use nor a frame image a client placed in a payload (it cannot
/// know the salt) is ever taken for a frame of this segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FramePlace {
    pub(crate) segment_sequence: u64,
    pub(crate) salt: u64,
    pub(crate) offset: u64,
}

/// The first sector of every segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SegmentHeader {
    pub(crate) sequence: u64,
    pub(crate) salt: u64,
    /// Bytes below this offset may hold stale frames of the file's earlier use (recycled
    /// segments); at and beyond it the file was zero-filled.
    pub(crate) stale_end: u64,
}

/// Encodes a segment header into the start of a zeroed sector.
pub(crate) fn encode_segment_header(buffer: &mut AlignedBuffer, header: &SegmentHeader) {
    buffer.clear();
    buffer.extend_zeros(SECTOR_BYTES as usize);
    let bytes = &mut buffer.as_mut_slice()[..SEGMENT_HEADER_BYTES];
    bytes[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    bytes[4] = KIND_SEGMENT_HEADER;
    bytes[5] = FORMAT_VERSION;
    bytes[8..16].copy_from_slice(&header.sequence.to_le_bytes());
    bytes[16..24].copy_from_slice(&header.salt.to_le_bytes());
    bytes[24..32].copy_from_slice(&header.stale_end.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[..44]);
    bytes[44..48].copy_from_slice(&crc.to_le_bytes());
}

/// Decodes the segment header at the start of `segment`, which must name `sequence`.
pub(crate) fn decode_segment_header(
    segment: &[u8],
    sequence: u64,
) -> Result<SegmentHeader, String> {
    let bytes = segment
        .get(..SEGMENT_HEADER_BYTES)
        .ok_or_else(|| "segment header cut off by the end of the file".to_string())?;
    if read_u32(bytes, 0) != MAGIC || bytes[4] != KIND_SEGMENT_HEADER {
        return Err("no segment header".to_string());
    }
    if crc32c::crc32c(&bytes[..44]) != read_u32(bytes, 44) {
        return Err("segment header checksum mismatch".to_string());
    }
    if bytes[5] != FORMAT_VERSION {
        return Err(format!(
            "format version {} (this build reads version {FORMAT_VERSION})",
            bytes[5]
        ));
    }
    let header = SegmentHeader {
        sequence: read_u64(bytes, 8),
        salt: read_u64(bytes, 16),
        stale_end: read_u64(bytes, 24),
    };
    if header.sequence != sequence {
        return Err(format!(
            "segment header names sequence {}, file name says {sequence}",
            header.sequence
        ));
    }
    Ok(header)
}

/// Encodes the one-sector seal that closes a segment at `place`.
pub(crate) fn encode_seal(buffer: &mut AlignedBuffer, place: FramePlace) {
    buffer.clear();
    buffer.extend_zeros(SECTOR_BYTES as usize);
    let header = frame_header(KIND_SEAL, place, 0, 0);
    buffer.as_mut_slice()[..FRAME_HEADER_BYTES].copy_from_slice(&header);
}

/// One decoded record, borrowing its payload from the segment bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Record<'a> {
    Entry {
        index: u64,
        term: u64,
        payload: &'a [u8],
    },
    HardState(HardState),
}

/// Bytes a frame holding these records occupies on disk, sector padding included.
pub(crate) fn frame_bytes(entries: &[LogEntryRef<'_>], hard_state: Option<&HardState>) -> u64 {
    let mut body_bytes: u64 = 0;
    for entry in entries {
        body_bytes += (RECORD_HEADER_BYTES + entry.payload.len()) as u64;
    }
    if hard_state.is_some() {
        body_bytes += (RECORD_HEADER_BYTES + HARD_STATE_PAYLOAD_BYTES) as u64;
    }
    (FRAME_HEADER_BYTES as u64 + body_bytes).div_ceil(SECTOR_BYTES) * SECTOR_BYTES
}

/// Fills `buffer` with one frame (header, entry records, then the hard state record, then zero
/// padding to a sector boundary) and returns its length.
pub(crate) fn encode_frame(
    buffer: &mut AlignedBuffer,
    place: FramePlace,
    entries: &[LogEntryRef<'_>],
    hard_state: Option<&HardState>,
) -> usize {
    buffer.clear();
    buffer.extend_zeros(FRAME_HEADER_BYTES);
    for entry in entries {
        encode_record(buffer, KIND_ENTRY, entry.index, entry.term, entry.payload);
    }
    if let Some(hard_state) = hard_state {
        let payload = encode_hard_state(hard_state);
        encode_record(buffer, KIND_HARD_STATE, 0, 0, &payload);
    }
    let body_bytes = buffer.len() - FRAME_HEADER_BYTES;
    let record_count = entries.len() + usize::from(hard_state.is_some());
    let header = frame_header(KIND_FRAME, place, body_bytes, record_count);
    buffer.as_mut_slice()[..FRAME_HEADER_BYTES].copy_from_slice(&header);
    let padding =
        (SECTOR_BYTES as usize - buffer.len() % SECTOR_BYTES as usize) % SECTOR_BYTES as usize;
    buffer.extend_zeros(padding);
    assert_eq!(buffer.len() as u64, frame_bytes(entries, hard_state));
    buffer.len()
}

/// The payload of a hard-state record.
pub(crate) fn encode_hard_state(hard_state: &HardState) -> [u8; HARD_STATE_PAYLOAD_BYTES] {
    let mut payload = [0u8; HARD_STATE_PAYLOAD_BYTES];
    payload[0..8].copy_from_slice(&hard_state.term.to_le_bytes());
    payload[8..16].copy_from_slice(&hard_state.vote.to_le_bytes());
    payload[16..24].copy_from_slice(&hard_state.commit.to_le_bytes());
    payload
}

fn frame_header(
    kind: u8,
    place: FramePlace,
    body_bytes: usize,
    record_count: usize,
) -> [u8; FRAME_HEADER_BYTES] {
    let body_bytes = u32::try_from(body_bytes).expect("frame body bounded by FRAME_BYTES_MAX");
    let record_count = u32::try_from(record_count).expect("record count bounded by body bytes");
    let mut header = [0u8; FRAME_HEADER_BYTES];
    header[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    header[4] = kind;
    header[5] = FORMAT_VERSION;
    header[8..12].copy_from_slice(&body_bytes.to_le_bytes());
    header[12..16].copy_from_slice(&record_count.to_le_bytes());
    header[16..24].copy_from_slice(&place.offset.to_le_bytes());
    header[24..32].copy_from_slice(&place.segment_sequence.to_le_bytes());
    header[32..40].copy_from_slice(&place.salt.to_le_bytes());
    let crc = crc32c::crc32c(&header[..44]);
    header[44..48].copy_from_slice(&crc.to_le_bytes());
    header
}

fn encode_record(buffer: &mut AlignedBuffer, kind: u8, index: u64, term: u64, payload: &[u8]) {
    let payload_bytes = u32::try_from(payload.len()).expect("payload bounded by ENTRY_BYTES_MAX");
    let mut header = [0u8; RECORD_HEADER_BYTES];
    header[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    header[4] = kind;
    header[8..12].copy_from_slice(&payload_bytes.to_le_bytes());
    header[12..20].copy_from_slice(&index.to_le_bytes());
    header[20..28].copy_from_slice(&term.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[..28]), payload);
    header[28..32].copy_from_slice(&crc.to_le_bytes());
    buffer.extend_from_slice(&header);
    buffer.extend_from_slice(payload);
}

/// A frame decoded from segment bytes: its records and the bytes it spans, padding included.
#[derive(Debug)]
pub(crate) struct DecodedFrame<'a> {
    pub(crate) records: Vec<Record<'a>>,
    /// Offset of each record's header from the start of the frame.
    pub(crate) record_offsets: Vec<u64>,
    /// Bytes of the records, padding excluded.
    pub(crate) body_bytes: u32,
    pub(crate) frame_bytes: u64,
    /// A seal (no records) rather than a frame.
    pub(crate) seal: bool,
}

/// Decodes and validates the frame that should start at `place.offset` of `segment`. The frame
/// is valid only if its header and every record check out; the error says what did not.
pub(crate) fn decode_frame(segment: &[u8], place: FramePlace) -> Result<DecodedFrame<'_>, String> {
    let start = usize::try_from(place.offset).map_err(|_| "offset beyond memory".to_string())?;
    decode_frame_at(segment, start, place)
}

/// Decodes the frame at `start` of `bytes` that claims to live at `place` (`start` differs from
/// `place.offset` when checking a frame still in the write buffer).
pub(crate) fn decode_frame_at(
    bytes: &[u8],
    start: usize,
    place: FramePlace,
) -> Result<DecodedFrame<'_>, String> {
    let segment = bytes;
    let FrameHeader {
        body_bytes,
        record_count,
        seal,
    } = decode_frame_header_at(segment, start, place)?;
    let body_start = start + FRAME_HEADER_BYTES;
    let body_end = body_start
        .checked_add(body_bytes)
        .filter(|&end| end <= segment.len())
        .ok_or_else(|| format!("frame body of {body_bytes} bytes runs past the end of the file"))?;
    let body = &segment[body_start..body_end];
    let mut records = Vec::new();
    let mut record_offsets = Vec::new();
    let mut position = 0;
    while position < body.len() {
        record_offsets.push((FRAME_HEADER_BYTES + position) as u64);
        let (record, consumed) = decode_record(&body[position..]).map_err(|reason| {
            format!(
                "record at frame offset {}: {reason}",
                FRAME_HEADER_BYTES + position
            )
        })?;
        records.push(record);
        position += consumed;
    }
    if records.len() != record_count {
        return Err(format!(
            "frame holds {} records, header says {record_count}",
            records.len()
        ));
    }
    let frame_bytes =
        ((FRAME_HEADER_BYTES + body_bytes) as u64).div_ceil(SECTOR_BYTES) * SECTOR_BYTES;
    Ok(DecodedFrame {
        records,
        record_offsets,
        // The header stored the length as a u32.
        body_bytes: body_bytes as u32,
        frame_bytes,
        seal,
    })
}

/// What a valid frame header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub(crate) body_bytes: usize,
    pub(crate) record_count: usize,
    pub(crate) seal: bool,
}

impl FrameHeader {
    /// Bytes the frame spans, padding included.
    pub(crate) fn frame_bytes(&self) -> u64 {
        ((FRAME_HEADER_BYTES + self.body_bytes) as u64).div_ceil(SECTOR_BYTES) * SECTOR_BYTES
    }
}

/// Checks the frame (or seal) header at `place`.
pub(crate) fn decode_frame_header(
    segment: &[u8],
    place: FramePlace,
) -> Result<FrameHeader, String> {
    let start = usize::try_from(place.offset).map_err(|_| "offset beyond memory".to_string())?;
    decode_frame_header_at(segment, start, place)
}

/// For a header at `place` that fails its checks: whether it still names this segment's
/// sequence, salt and offset, which only a frame written here in this use of the file can (a
/// torn or damaged frame of ours, not stale bytes), and if so the frame length it announces.
pub(crate) fn damaged_frame_bytes(segment: &[u8], place: FramePlace) -> Option<u64> {
    let start = usize::try_from(place.offset).ok()?;
    let header = segment.get(start..start.checked_add(FRAME_HEADER_BYTES)?)?;
    let ours = read_u64(header, 16) == place.offset
        && read_u64(header, 24) == place.segment_sequence
        && read_u64(header, 32) == place.salt;
    let body_bytes = read_u32(header, 8) as u64;
    ours.then(|| (FRAME_HEADER_BYTES as u64 + body_bytes).div_ceil(SECTOR_BYTES) * SECTOR_BYTES)
}

fn decode_frame_header_at(
    segment: &[u8],
    start: usize,
    place: FramePlace,
) -> Result<FrameHeader, String> {
    let header = segment
        .get(start..start + FRAME_HEADER_BYTES)
        .ok_or_else(|| "frame header cut off by the end of the file".to_string())?;
    if read_u32(header, 0) != MAGIC || (header[4] != KIND_FRAME && header[4] != KIND_SEAL) {
        return Err("no frame header".to_string());
    }
    let crc = crc32c::crc32c(&header[..44]);
    if crc != read_u32(header, 44) {
        return Err("frame header checksum mismatch".to_string());
    }
    if header[5] != FORMAT_VERSION {
        return Err(format!("unknown format version {}", header[5]));
    }
    let offset = read_u64(header, 16);
    let segment_sequence = read_u64(header, 24);
    let salt = read_u64(header, 32);
    if offset != place.offset || segment_sequence != place.segment_sequence || salt != place.salt {
        return Err(format!(
            "frame claims segment {segment_sequence} (salt {salt:#x}) offset {offset}, found at \
             segment {} (salt {:#x}) offset {}",
            place.segment_sequence, place.salt, place.offset
        ));
    }
    let seal = header[4] == KIND_SEAL;
    let body_bytes = read_u32(header, 8) as usize;
    let record_count = read_u32(header, 12) as usize;
    if seal && (body_bytes != 0 || record_count != 0) {
        return Err(format!(
            "seal with {body_bytes} body bytes and {record_count} records"
        ));
    }
    Ok(FrameHeader {
        body_bytes,
        record_count,
        seal,
    })
}

fn decode_record(bytes: &[u8]) -> Result<(Record<'_>, usize), String> {
    let header = bytes
        .get(..RECORD_HEADER_BYTES)
        .ok_or_else(|| "record header cut off by the end of the frame".to_string())?;
    if read_u32(header, 0) != MAGIC {
        return Err("bad record magic".to_string());
    }
    let payload_bytes = read_u32(header, 8) as usize;
    let payload = bytes
        .get(RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + payload_bytes)
        .ok_or_else(|| format!("record payload of {payload_bytes} bytes runs past the frame"))?;
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[..28]), payload);
    if crc != read_u32(header, 28) {
        return Err("record checksum mismatch".to_string());
    }
    let index = read_u64(header, 12);
    let term = read_u64(header, 20);
    let record = match header[4] {
        KIND_ENTRY => Record::Entry {
            index,
            term,
            payload,
        },
        KIND_HARD_STATE if payload.len() == HARD_STATE_PAYLOAD_BYTES => {
            Record::HardState(HardState {
                term: read_u64(payload, 0),
                vote: read_u64(payload, 8),
                commit: read_u64(payload, 16),
            })
        }
        kind => {
            return Err(format!(
                "record kind {kind} with {} payload bytes",
                payload.len()
            ))
        }
    };
    Ok((record, RECORD_HEADER_BYTES + payload_bytes))
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trips_entries_and_hard_state() {
        let mut buffer = AlignedBuffer::with_capacity(0);
        let place = FramePlace {
            segment_sequence: 3,
            salt: 0xfeed,
            offset: 8192,
        };
        let entries = [
            LogEntryRef {
                index: 5,
                term: 2,
                payload: b"hello",
            },
            LogEntryRef {
                index: 6,
                term: 2,
                payload: b"",
            },
        ];
        let hard_state = HardState {
            term: 2,
            vote: 1,
            commit: 5,
        };
        let bytes = encode_frame(&mut buffer, place, &entries, Some(&hard_state));
        assert_eq!(bytes, 4096);
        let mut segment = vec![0u8; 8192];
        segment.extend_from_slice(buffer.as_slice());
        let frame = decode_frame(&segment, place).expect("valid frame");
        assert_eq!(frame.frame_bytes, 4096);
        assert_eq!(
            frame.records,
            vec![
                Record::Entry {
                    index: 5,
                    term: 2,
                    payload: b"hello"
                },
                Record::Entry {
                    index: 6,
                    term: 2,
                    payload: b""
                },
                Record::HardState(hard_state),
            ]
        );
        // The same bytes at another offset are not accepted as a frame.
        let moved = FramePlace {
            segment_sequence: 3,
            salt: 0xfeed,
            offset: 0,
        };
        assert!(decode_frame(buffer.as_slice(), moved).is_err());
        // Nor in a later use of the same segment file (another salt).
        let resalted = FramePlace {
            salt: 0xbeef,
            ..place
        };
        assert!(decode_frame(&segment, resalted).is_err());
    }

    #[test]
    fn any_flipped_bit_in_a_frame_body_is_detected() {
        let mut buffer = AlignedBuffer::with_capacity(0);
        let place = FramePlace {
            segment_sequence: 1,
            salt: 7,
            offset: 0,
        };
        let entries = [LogEntryRef {
            index: 1,
            term: 1,
            payload: b"payload bytes",
        }];
        encode_frame(&mut buffer, place, &entries, None);
        let used = FRAME_HEADER_BYTES + RECORD_HEADER_BYTES + 13;
        for byte in 0..used {
            let mut copy = buffer.as_slice().to_vec();
            copy[byte] ^= 0x10;
            assert!(
                decode_frame(&copy, place).is_err(),
                "flip at byte {byte} went unnoticed"
            );
        }
    }

    #[test]
    fn segment_headers_and_seals_round_trip_and_name_their_place() {
        let mut buffer = AlignedBuffer::with_capacity(0);
        let header = SegmentHeader {
            sequence: 9,
            salt: 0x1234_5678_9abc_def0,
            stale_end: 65536,
        };
        encode_segment_header(&mut buffer, &header);
        assert_eq!(buffer.len() as u64, SECTOR_BYTES);
        assert_eq!(decode_segment_header(buffer.as_slice(), 9), Ok(header));
        assert!(decode_segment_header(buffer.as_slice(), 10).is_err());
        let mut damaged = buffer.as_slice().to_vec();
        damaged[20] ^= 1;
        assert!(decode_segment_header(&damaged, 9).is_err());

        let place = FramePlace {
            segment_sequence: 9,
            salt: header.salt,
            offset: 4096,
        };
        encode_seal(&mut buffer, place);
        let mut segment = vec![0u8; 4096];
        segment.extend_from_slice(buffer.as_slice());
        let seal = decode_frame(&segment, place).expect("valid seal");
        assert!(seal.seal && seal.records.is_empty());
        assert_eq!(seal.frame_bytes, SECTOR_BYTES);
        // A damaged header that still names its place is recognized as ours, a stale one not.
        segment[4096 + 12] ^= 1;
        assert!(decode_frame(&segment, place).is_err());
        assert_eq!(damaged_frame_bytes(&segment, place), Some(SECTOR_BYTES));
        let other_use = FramePlace { salt: 1, ..place };
        assert_eq!(damaged_frame_bytes(&segment, other_use), None);
    }
}
