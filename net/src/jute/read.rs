//! Jute values read the way ZooKeeper's Java `BinaryInputArchive` reads them.
//!
//! Two leniencies matter to clients: strings are decoded lossily (Java replaces bad UTF-8 with
//! U+FFFD instead of failing, so a path with bad bytes is looked up, or refused by path
//! validation, rather than breaking the request), and a negative vector count other than −1
//! reads as an empty vector (Java's vector index is simply "done" at once).

use corral_engine::types::{Acl, Id};
use corral_engine::wire::{Reader, WireError, WireResult};

/// Smallest encoding of a ustring: its length prefix.
pub const USTRING_BYTES_MIN: usize = 4;
/// Smallest encoding of an ACL: perms, then an Id of two empty ustrings.
pub const ACL_BYTES_MIN: usize = 4 + 2 * USTRING_BYTES_MIN;

/// A ustring; `None` for the null string (length −1).
pub fn ustring_opt(reader: &mut Reader<'_>) -> WireResult<Option<String>> {
    Ok(reader
        .read_buffer_opt()?
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned()))
}

/// A ustring where null and empty mean the same to ZooKeeper.
pub fn ustring(reader: &mut Reader<'_>) -> WireResult<String> {
    Ok(ustring_opt(reader)?.unwrap_or_default())
}

/// A buffer; null reads as empty.
pub fn buffer(reader: &mut Reader<'_>) -> WireResult<Vec<u8>> {
    Ok(reader.read_buffer()?.to_vec())
}

/// A vector count. Negative counts read as 0; a count whose smallest encoding would not fit in
/// the remaining bytes is an error, which also bounds any allocation sized by it.
pub fn count(reader: &mut Reader<'_>, element_bytes_min: usize) -> WireResult<usize> {
    let offset = reader.offset();
    let count = reader.read_i32()?;
    if count < 0 {
        return Ok(0);
    }
    let count = count as usize;
    if count.saturating_mul(element_bytes_min.max(1)) > reader.remaining() {
        return Err(WireError::BadLength {
            offset,
            length: count as i32,
        });
    }
    Ok(count)
}

pub fn ustring_vector(reader: &mut Reader<'_>) -> WireResult<Vec<String>> {
    let length = count(reader, USTRING_BYTES_MIN)?;
    let mut strings = Vec::with_capacity(length);
    for _ in 0..length {
        strings.push(ustring(reader)?);
    }
    Ok(strings)
}

/// An ACL list as the create and setACL records carry it.
pub struct AclList {
    pub acl: Vec<Acl>,
    /// Some `world` entry had a null id. ZooKeeper then fails with a NullPointerException while
    /// fixing the list up, which clients see as MarshallingError. (A null scheme reads as the
    /// empty scheme, which ZooKeeper refuses as InvalidACL like any unknown scheme; other null
    /// ids read as empty and fail the scheme's own validation.)
    pub has_null_world_id: bool,
}

pub fn acl_list(reader: &mut Reader<'_>) -> WireResult<AclList> {
    let length = count(reader, ACL_BYTES_MIN)?;
    let mut list = AclList {
        acl: Vec::with_capacity(length),
        has_null_world_id: false,
    };
    for _ in 0..length {
        let perms = reader.read_i32()?;
        let scheme = ustring(reader)?;
        let id = ustring_opt(reader)?;
        list.has_null_world_id |= id.is_none() && scheme == "world";
        list.acl.push(Acl {
            perms,
            id: Id {
                scheme,
                id: id.unwrap_or_default(),
            },
        });
    }
    Ok(list)
}
