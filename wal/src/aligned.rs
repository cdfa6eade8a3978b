//! A byte buffer whose start is sector-aligned, as O_DIRECT requires of user memory.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

use crate::limits::SECTOR_BYTES;

const ALIGN: usize = SECTOR_BYTES as usize;

/// A growable buffer aligned to `SECTOR_BYTES`. Its capacity is always a whole number of
/// sectors, so padding a frame to a sector boundary never needs a reallocation of its own.
pub(crate) struct AlignedBuffer {
    ptr: NonNull<u8>,
    len: usize,
    capacity: usize,
}

// The buffer owns its allocation exclusively, like a Vec<u8>.
unsafe impl Send for AlignedBuffer {}

impl AlignedBuffer {
    pub(crate) fn with_capacity(capacity: usize) -> AlignedBuffer {
        let capacity = round_up(capacity.max(ALIGN));
        AlignedBuffer {
            ptr: allocate(capacity),
            len: 0,
            capacity,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        // The first `len` bytes are initialized: allocation zeroes them and writes keep them so.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        // `reserve` guarantees room; source and destination cannot overlap as we own ours.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.ptr.as_ptr().add(self.len),
                bytes.len(),
            );
        }
        self.len += bytes.len();
    }

    /// Appends `count` zero bytes.
    pub(crate) fn extend_zeros(&mut self, count: usize) {
        self.reserve(count);
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(self.len), 0, count) };
        self.len += count;
    }

    /// Makes the capacity at least `len + additional`, keeping the contents.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let needed = self
            .len
            .checked_add(additional)
            .expect("buffer length overflows usize");
        if needed <= self.capacity {
            return;
        }
        let capacity = round_up(needed.max(self.capacity.saturating_mul(2)));
        let ptr = allocate(capacity);
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), ptr.as_ptr(), self.len);
            alloc::dealloc(self.ptr.as_ptr(), layout(self.capacity));
        }
        self.ptr = ptr;
        self.capacity = capacity;
    }

    /// Releases memory beyond `capacity_max` when the buffer has grown past it, dropping contents.
    pub(crate) fn shrink_to(&mut self, capacity_max: usize) {
        if self.capacity > round_up(capacity_max.max(ALIGN)) {
            *self = AlignedBuffer::with_capacity(capacity_max);
        }
    }
}

impl Drop for AlignedBuffer {
    fn drop(&mut self) {
        unsafe { alloc::dealloc(self.ptr.as_ptr(), layout(self.capacity)) };
    }
}

fn round_up(bytes: usize) -> usize {
    bytes.div_ceil(ALIGN) * ALIGN
}

fn layout(capacity: usize) -> Layout {
    // Capacity is a non-zero multiple of a power-of-two alignment, so this cannot fail unless the
    // size overflows isize, which no bounded frame approaches.
    Layout::from_size_align(capacity, ALIGN).expect("aligned buffer layout")
}

fn allocate(capacity: usize) -> NonNull<u8> {
    assert!(capacity > 0 && capacity.is_multiple_of(ALIGN));
    let layout = layout(capacity);
    // Zeroed so that every byte below `len` is always initialized.
    let ptr = unsafe { alloc::alloc_zeroed(layout) };
    match NonNull::new(ptr) {
        Some(ptr) => ptr,
        None => alloc::handle_alloc_error(layout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_stays_aligned_and_keeps_contents_when_growing() {
        let mut buffer = AlignedBuffer::with_capacity(10);
        assert_eq!(buffer.capacity(), ALIGN);
        buffer.extend_from_slice(&[7u8; 100]);
        buffer.extend_zeros(ALIGN * 3);
        buffer.extend_from_slice(&[9u8; 5]);
        assert_eq!(buffer.len(), 100 + ALIGN * 3 + 5);
        assert_eq!(buffer.as_slice().as_ptr() as usize % ALIGN, 0);
        assert_eq!(&buffer.as_slice()[..100], &[7u8; 100][..]);
        assert!(buffer.as_slice()[100..100 + ALIGN * 3]
            .iter()
            .all(|&b| b == 0));
        assert_eq!(&buffer.as_slice()[100 + ALIGN * 3..], &[9u8; 5][..]);
        buffer.shrink_to(ALIGN);
        assert_eq!(buffer.capacity(), ALIGN);
        assert_eq!(buffer.len(), 0);
    }
}
