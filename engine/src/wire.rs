//! Big-endian primitives in ZooKeeper's jute layout, shared by the client codec (`corral-net`)
//! and the log-entry codec of this crate.
//!
//! `Reader` never allocates more than the bytes it actually holds: every length prefix is checked
//! against the remaining input before anything is reserved, so a forged prefix cannot make it
//! allocate beyond the frame it was given.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum WireError {
    #[error("input ended: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    #[error("negative or oversized length {length} at offset {offset}")]
    BadLength { offset: usize, length: i32 },
    #[error("string at offset {offset} is not UTF-8")]
    NotUtf8 { offset: usize },
    #[error("{0}")]
    Invalid(&'static str),
}

pub type WireResult<T> = Result<T, WireError>;

pub struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, offset: 0 }
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn take(&mut self, count: usize) -> WireResult<&'a [u8]> {
        if count > self.remaining() {
            return Err(WireError::Truncated {
                offset: self.offset,
                needed: count - self.remaining(),
            });
        }
        let slice = &self.bytes[self.offset..self.offset + count];
        self.offset += count;
        Ok(slice)
    }

    pub fn read_u8(&mut self) -> WireResult<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn read_bool(&mut self) -> WireResult<bool> {
        Ok(self.read_u8()? != 0)
    }

    pub fn read_i32(&mut self) -> WireResult<i32> {
        let bytes = self.take(4)?;
        Ok(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    pub fn read_i64(&mut self) -> WireResult<i64> {
        let bytes = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(i64::from_be_bytes(array))
    }

    /// A length-prefixed buffer; `None` for the null buffer (length −1).
    pub fn read_buffer_opt(&mut self) -> WireResult<Option<&'a [u8]>> {
        let offset = self.offset;
        let length = self.read_i32()?;
        if length == -1 {
            return Ok(None);
        }
        if length < 0 || length as usize > self.remaining() {
            return Err(WireError::BadLength { offset, length });
        }
        Ok(Some(self.take(length as usize)?))
    }

    /// A length-prefixed buffer; the null buffer reads as empty, as ZooKeeper does.
    pub fn read_buffer(&mut self) -> WireResult<&'a [u8]> {
        Ok(self.read_buffer_opt()?.unwrap_or(&[]))
    }

    pub fn read_string_opt(&mut self) -> WireResult<Option<&'a str>> {
        let offset = self.offset;
        match self.read_buffer_opt()? {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|_| WireError::NotUtf8 { offset }),
        }
    }

    /// A ustring; null reads as empty.
    pub fn read_string(&mut self) -> WireResult<&'a str> {
        Ok(self.read_string_opt()?.unwrap_or(""))
    }

    /// A vector count; −1 (null) reads as 0. The count is checked against the remaining input
    /// given the smallest possible element size, so it can size an allocation safely.
    pub fn read_count(&mut self, element_bytes_min: usize) -> WireResult<usize> {
        let offset = self.offset;
        let count = self.read_i32()?;
        if count == -1 {
            return Ok(0);
        }
        if count < 0 || (count as usize).saturating_mul(element_bytes_min.max(1)) > self.remaining()
        {
            return Err(WireError::BadLength {
                offset,
                length: count,
            });
        }
        Ok(count as usize)
    }
}

/// Appends jute-encoded values to a caller-owned buffer, so buffers can be reused.
pub struct Writer<'a> {
    pub bytes: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    pub fn new(bytes: &'a mut Vec<u8>) -> Self {
        Writer { bytes }
    }

    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes.push(value);
        self
    }

    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.u8(value as u8)
    }

    pub fn i32(&mut self, value: i32) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_be_bytes());
        self
    }

    pub fn i64(&mut self, value: i64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_be_bytes());
        self
    }

    pub fn buffer(&mut self, value: &[u8]) -> &mut Self {
        self.i32(value.len() as i32);
        self.bytes.extend_from_slice(value);
        self
    }

    /// The null buffer (length −1), which ZooKeeper sends for a node created with null data.
    pub fn null_buffer(&mut self) -> &mut Self {
        self.i32(-1)
    }

    pub fn string(&mut self, value: &str) -> &mut Self {
        self.buffer(value.as_bytes())
    }
}
