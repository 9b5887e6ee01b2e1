//! Content digests (`sha256:<hex>`, the value is [`isula_types::digest::Digest`]) and
//! streaming verification.

use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

pub(crate) use isula_types::digest::hex_encode;
pub use isula_types::digest::Digest;

/// An incremental sha256 hasher that also counts bytes.
#[derive(Clone, Default)]
pub(crate) struct Hasher {
    inner: Sha256,
    len: u64,
}

impl Hasher {
    /// A fresh hasher.
    pub(crate) fn new() -> Self {
        Self::default()
    }
    /// Feed bytes.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
        self.len += data.len() as u64;
    }
    /// Bytes hashed so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }
    /// The digest of everything fed so far.
    pub(crate) fn finish(self) -> Digest {
        Digest::from_sha256(&self.inner.finalize().into())
    }
}

impl Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A reader that hashes everything read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> HashingReader<R> {
    /// Wrap `inner`.
    pub(crate) fn new(inner: R) -> Self {
        HashingReader { inner, hasher: Hasher::new() }
    }
    /// Read the rest of the stream (so the digest covers it all) and return digest and size.
    pub(crate) fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        let len = self.hasher.len();
        Ok((self.hasher.finish(), len))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_reader_matches() {
        let data = vec![7u8; 100_000];
        let (d, n) = HashingReader::new(&data[..]).finish().unwrap();
        assert_eq!(n, 100_000);
        assert_eq!(d, Digest::of(&data));
    }
}
