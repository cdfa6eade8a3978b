//! Reading ZooKeeper's jute encoding (big-endian integers, length-prefixed buffers, strings and
//! vectors) from a byte stream, keeping the offset for error messages and, for snapshots, the
//! running Adler-32 checksum that ZooKeeper seals its files with.

use std::io::Read;

use corral_engine::types::{Acl, Id};

use super::error::Fault;
use super::limits;

/// Adler-32 as `java.util.zip.Adler32` computes it.
#[derive(Clone, Copy, Debug)]
pub struct Adler32 {
    a: u32,
    b: u32,
}

/// The largest prime below 2^16, Adler-32's modulus.
const ADLER_MODULUS: u32 = 65_521;
/// Bytes that can be summed before `b` could overflow a u32 and must be reduced.
const ADLER_CHUNK_BYTES: usize = 5_552;

impl Default for Adler32 {
    fn default() -> Self {
        Adler32 { a: 1, b: 0 }
    }
}

impl Adler32 {
    pub fn update(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(ADLER_CHUNK_BYTES) {
            for &byte in chunk {
                self.a += u32::from(byte);
                self.b += self.a;
            }
            self.a %= ADLER_MODULUS;
            self.b %= ADLER_MODULUS;
        }
    }

    pub fn value(&self) -> u32 {
        (self.b << 16) | self.a
    }

    pub fn of(bytes: &[u8]) -> u32 {
        let mut adler = Adler32::default();
        adler.update(bytes);
        adler.value()
    }
}

/// A jute reader over `R` that knows its offset (relative to `base`) and how many bytes the
/// input holds in all, so that no length prefix can make it allocate more than is there.
#[derive(Clone)]
pub struct Input<R> {
    inner: R,
    offset: u64,
    end: u64,
    adler: Adler32,
}

impl<'a> Input<&'a [u8]> {
    /// A reader over an in-memory record whose first byte is at file offset `base`.
    pub fn of_slice(bytes: &'a [u8], base: u64) -> Self {
        Input {
            inner: bytes,
            offset: base,
            end: base + bytes.len() as u64,
            adler: Adler32::default(),
        }
    }
}

impl<R: Read> Input<R> {
    /// A reader over `inner`, whose first byte is at offset 0 and which holds `len` bytes.
    pub fn new(inner: R, len: u64) -> Self {
        Input {
            inner,
            offset: 0,
            end: len,
            adler: Adler32::default(),
        }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn remaining(&self) -> u64 {
        self.end.saturating_sub(self.offset)
    }

    /// The Adler-32 of every byte read so far.
    pub fn checksum(&self) -> u32 {
        self.adler.value()
    }

    pub fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), Fault> {
        let offset = self.offset;
        if (buf.len() as u64) > self.remaining() {
            return Err(Fault::truncated(
                offset,
                format!("input ends inside {what}"),
            ));
        }
        self.inner.read_exact(buf).map_err(|error| {
            if error.kind() == std::io::ErrorKind::UnexpectedEof {
                Fault::truncated(offset, format!("input ends inside {what}"))
            } else {
                Fault::invalid(offset, format!("reading {what}: {error}"))
            }
        })?;
        self.adler.update(buf);
        self.offset += buf.len() as u64;
        Ok(())
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, Fault> {
        let mut bytes = [0u8; 1];
        self.read_exact(&mut bytes, what)?;
        Ok(bytes[0])
    }

    pub fn bool(&mut self, what: &str) -> Result<bool, Fault> {
        Ok(self.u8(what)? != 0)
    }

    pub fn i32(&mut self, what: &str) -> Result<i32, Fault> {
        let mut bytes = [0u8; 4];
        self.read_exact(&mut bytes, what)?;
        Ok(i32::from_be_bytes(bytes))
    }

    pub fn i64(&mut self, what: &str) -> Result<i64, Fault> {
        let mut bytes = [0u8; 8];
        self.read_exact(&mut bytes, what)?;
        Ok(i64::from_be_bytes(bytes))
    }

    /// A length-prefixed buffer; `None` for the null buffer (length −1).
    pub fn buffer_opt(&mut self, what: &str) -> Result<Option<Vec<u8>>, Fault> {
        let offset = self.offset;
        let length = self.i32(what)?;
        if length == -1 {
            return Ok(None);
        }
        if length < 0 || length as usize > limits::JUTE_BUFFER_BYTES_MAX {
            return Err(Fault::invalid(
                offset,
                format!("{what}: unreasonable length {length}"),
            ));
        }
        if length as u64 > self.remaining() {
            return Err(Fault::truncated(
                offset,
                format!("{what}: length {length} runs past the end of the input"),
            ));
        }
        let mut bytes = vec![0u8; length as usize];
        self.read_exact(&mut bytes, what)?;
        Ok(Some(bytes))
    }

    /// A string; Java decodes it as UTF-8 replacing bad sequences, and so does this.
    pub fn string_opt(&mut self, what: &str) -> Result<Option<String>, Fault> {
        Ok(self
            .buffer_opt(what)?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// A string that must not be null (ZooKeeper would fail on a null path).
    pub fn string(&mut self, what: &str) -> Result<String, Fault> {
        let offset = self.offset;
        self.string_opt(what)?
            .ok_or_else(|| Fault::invalid(offset, format!("{what} is null")))
    }

    /// A vector's element count; `None` for the null vector (count −1). The count is checked
    /// against the bytes left, each element taking at least `element_bytes_min`.
    pub fn count_opt(
        &mut self,
        what: &str,
        element_bytes_min: u64,
    ) -> Result<Option<usize>, Fault> {
        let offset = self.offset;
        let count = self.i32(what)?;
        if count == -1 {
            return Ok(None);
        }
        if count < 0 {
            return Err(Fault::invalid(
                offset,
                format!("{what}: negative count {count}"),
            ));
        }
        if (count as u64).saturating_mul(element_bytes_min) > self.remaining() {
            return Err(Fault::truncated(
                offset,
                format!("{what}: {count} elements cannot fit in the rest of the input"),
            ));
        }
        Ok(Some(count as usize))
    }

    /// A `vector<ACL>`; `None` for the null vector.
    pub fn acl_list_opt(&mut self, what: &str) -> Result<Option<Vec<Acl>>, Fault> {
        // perms (4) plus two string lengths (4 + 4): the smallest ACL encoding.
        let Some(count) = self.count_opt(what, 12)? else {
            return Ok(None);
        };
        let mut acl = Vec::with_capacity(count);
        for _ in 0..count {
            let perms = self.i32("acl perms")?;
            let scheme = self.string_opt("acl scheme")?.unwrap_or_default();
            let id = self.string_opt("acl id")?.unwrap_or_default();
            acl.push(Acl {
                perms,
                id: Id { scheme, id },
            });
        }
        Ok(Some(acl))
    }

    /// Reads everything that is left and says whether it is all zero; a torn record at a log's
    /// tail must be followed by nothing but the preallocated zeros.
    pub fn rest_is_zero(&mut self) -> Result<bool, Fault> {
        let mut chunk = vec![0u8; limits::ZERO_CHECK_CHUNK_BYTES];
        loop {
            let offset = self.offset;
            let read = self
                .inner
                .read(&mut chunk)
                .map_err(|error| Fault::invalid(offset, format!("reading: {error}")))?;
            if read == 0 {
                return Ok(true);
            }
            self.offset += read as u64;
            if chunk[..read].iter().any(|&byte| byte != 0) {
                return Ok(false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_matches_known_values() {
        assert_eq!(Adler32::of(b""), 1);
        assert_eq!(Adler32::of(b"Wikipedia"), 0x11E6_0398);
        // Long input exercises the deferred modulo across chunks.
        let long = vec![0xffu8; 100_000];
        let mut split = Adler32::default();
        split.update(&long[..7]);
        split.update(&long[7..]);
        assert_eq!(split.value(), Adler32::of(&long));
        assert_eq!(Adler32::of(&long), 0x149A_302C);
    }

    #[test]
    fn buffer_longer_than_the_input_is_truncated_not_allocated() {
        let bytes = [0x7f, 0xff, 0xff, 0xf0, 1, 2];
        let mut input = Input::of_slice(&bytes, 100);
        let fault = input.buffer_opt("data").unwrap_err();
        assert_eq!(fault.offset, 100);
        assert!(
            !fault.truncated,
            "over the jute bound is invalid: {fault:?}"
        );
        let bytes = [0, 0, 0, 9, 1, 2];
        let fault = Input::of_slice(&bytes, 0).buffer_opt("data").unwrap_err();
        assert!(fault.truncated);
    }
}
