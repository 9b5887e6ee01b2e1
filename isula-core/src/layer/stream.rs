//! The uncompressed tar stream as seen by the unpacker: hashed (diff id),
//! counted against the size limit, and its last block remembered so a missing
//! end-of-archive marker (a stream cut at an entry boundary) is noticed.

use std::cell::Cell;
use std::io::{self, Read};

use super::limits::ImageBudget;
use crate::digest::{Digest, Hasher};

const BLOCK: usize = 512;

/// Which size limit a stream passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exceeded {
    /// The layer's own limit.
    Layer,
    /// The budget shared by the layers of one image operation.
    Image,
}

/// A reader that hashes, counts and limits everything read through it.
pub(super) struct TarStream<'a, R> {
    inner: R,
    hasher: Hasher,
    limit: u64,
    image: Option<&'a ImageBudget>,
    exceeded: &'a Cell<Option<Exceeded>>,
    tail: [u8; BLOCK],
    tail_len: usize,
}

impl<'a, R: Read> TarStream<'a, R> {
    /// Wrap `inner`; reading past `limit` bytes, or past what `image` has left, fails and
    /// says which in `exceeded`.
    pub(super) fn new(
        inner: R,
        limit: u64,
        image: Option<&'a ImageBudget>,
        exceeded: &'a Cell<Option<Exceeded>>,
    ) -> Self {
        TarStream { inner, hasher: Hasher::new(), limit, image, exceeded, tail: [0; BLOCK], tail_len: 0 }
    }

    /// Bytes read so far.
    pub(super) fn len(&self) -> u64 {
        self.hasher.len()
    }

    /// True when the last 512 bytes read are all zero and the length is a whole
    /// number of blocks: the stream ended with an end-of-archive block.
    pub(super) fn ends_with_zero_block(&self) -> bool {
        self.len().is_multiple_of(BLOCK as u64) && self.tail_len == BLOCK && self.tail.iter().all(|b| *b == 0)
    }

    /// The digest and length of everything read.
    pub(super) fn finish(self) -> (Digest, u64) {
        let n = self.hasher.len();
        (self.hasher.finish(), n)
    }

    fn remember_tail(&mut self, data: &[u8]) {
        if data.len() >= BLOCK {
            self.tail.copy_from_slice(&data[data.len() - BLOCK..]);
            self.tail_len = BLOCK;
        } else {
            let keep = (BLOCK - data.len()).min(self.tail_len);
            self.tail.copy_within(self.tail_len - keep..self.tail_len, 0);
            self.tail[keep..keep + data.len()].copy_from_slice(data);
            self.tail_len = keep + data.len();
        }
    }
}

impl<R: Read> Read for TarStream<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Ok(0);
        }
        let over = if self.hasher.len() + n as u64 > self.limit {
            Some(Exceeded::Layer)
        } else if self.image.is_some_and(|b| !b.charge(n as u64)) {
            Some(Exceeded::Image)
        } else {
            None
        };
        if over.is_some() {
            self.exceeded.set(over);
            return Err(io::Error::new(io::ErrorKind::InvalidData, "layer exceeds a size limit"));
        }
        self.hasher.update(&buf[..n]);
        self.remember_tail(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_and_limit() {
        let flag = Cell::new(None);
        let mut data = vec![1u8; 1000];
        data.extend(vec![0u8; 1048]);
        let mut s = TarStream::new(&data[..], 1 << 20, None, &flag);
        let mut buf = [0u8; 7];
        while s.read(&mut buf).unwrap() > 0 {}
        assert!(s.ends_with_zero_block());
        assert_eq!(s.finish(), (Digest::of(&data), 2048));

        let mut s = TarStream::new(&data[..1024], 1 << 20, None, &flag);
        io::copy(&mut s, &mut io::sink()).unwrap();
        assert!(!s.ends_with_zero_block());

        let mut s = TarStream::new(&data[..], 100, None, &flag);
        assert!(io::copy(&mut s, &mut io::sink()).is_err());
        assert_eq!(flag.get(), Some(Exceeded::Layer));

        // Two streams sharing an image budget of 3000 bytes: the second passes it.
        let limits = super::super::limits::StorageLimits { max_layer_size: None, max_image_size: Some(3000) };
        let budget = limits.image_budget().unwrap();
        let flag = Cell::new(None);
        let mut s = TarStream::new(&data[..], 1 << 20, Some(&budget), &flag);
        io::copy(&mut s, &mut io::sink()).unwrap();
        let mut s = TarStream::new(&data[..], 1 << 20, Some(&budget), &flag);
        assert!(io::copy(&mut s, &mut io::sink()).is_err());
        assert_eq!(flag.get(), Some(Exceeded::Image));
    }
}
