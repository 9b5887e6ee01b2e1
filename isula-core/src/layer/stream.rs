//! The uncompressed tar stream as seen by the unpacker: hashed (diff id),
//! counted against the size limit, and its last block remembered so a missing
//! end-of-archive marker (a stream cut at an entry boundary) is noticed.

use std::cell::Cell;
use std::io::{self, Read};

use crate::digest::{Digest, Hasher};

const BLOCK: usize = 512;

/// A reader that hashes, counts and limits everything read through it.
pub(super) struct TarStream<'a, R> {
    inner: R,
    hasher: Hasher,
    limit: u64,
    exceeded: &'a Cell<bool>,
    tail: [u8; BLOCK],
    tail_len: usize,
}

impl<'a, R: Read> TarStream<'a, R> {
    /// Wrap `inner`; reading past `limit` bytes fails and sets `exceeded`.
    pub(super) fn new(inner: R, limit: u64, exceeded: &'a Cell<bool>) -> Self {
        TarStream { inner, hasher: Hasher::new(), limit, exceeded, tail: [0; BLOCK], tail_len: 0 }
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
        if self.hasher.len() + n as u64 > self.limit {
            self.exceeded.set(true);
            return Err(io::Error::new(io::ErrorKind::InvalidData, "layer exceeds the size limit"));
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
        let flag = Cell::new(false);
        let mut data = vec![1u8; 1000];
        data.extend(vec![0u8; 1048]);
        let mut s = TarStream::new(&data[..], 1 << 20, &flag);
        let mut buf = [0u8; 7];
        while s.read(&mut buf).unwrap() > 0 {}
        assert!(s.ends_with_zero_block());
        assert_eq!(s.finish(), (Digest::of(&data), 2048));

        let mut s = TarStream::new(&data[..1024], 1 << 20, &flag);
        io::copy(&mut s, &mut io::sink()).unwrap();
        assert!(!s.ends_with_zero_block());

        let mut s = TarStream::new(&data[..], 100, &flag);
        assert!(io::copy(&mut s, &mut io::sink()).is_err());
        assert!(flag.get());
    }
}
