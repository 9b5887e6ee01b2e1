//! Layer compression: detection from magic bytes and transparent decompression.

use std::io::{self, Cursor, Read};

use crate::error::{Error, Result};

/// How a layer stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    /// A plain tar stream.
    None,
    /// gzip (`application/vnd.oci.image.layer.v1.tar+gzip`).
    Gzip,
    /// zstd (`application/vnd.oci.image.layer.v1.tar+zstd`).
    Zstd,
    /// xz.
    Xz,
}

const GZIP: &[u8] = &[0x1f, 0x8b];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ: &[u8] = &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const BZIP2: &[u8] = b"BZh";
const LZ4: &[u8] = &[0x04, 0x22, 0x4d, 0x18];

/// Bytes [`decompress`] peeks to decide: enough to see a tar header's `ustar` magic.
pub(super) const PEEK_LEN: usize = 512;

/// Detect the compression of a stream from its first bytes (up to [`PEEK_LEN`]).
/// A plain tar (ustar magic at offset 257) always wins; known but unsupported
/// formats (bzip2, lz4) are `InvalidArgument`; anything else is taken as plain tar
/// (the tar reader then refuses garbage).
pub(crate) fn detect_compression(prefix: &[u8]) -> Result<Compression> {
    if prefix.len() >= 262 && &prefix[257..262] == b"ustar" {
        return Ok(Compression::None);
    }
    if prefix.starts_with(GZIP) {
        Ok(Compression::Gzip)
    } else if prefix.starts_with(ZSTD) {
        Ok(Compression::Zstd)
    } else if prefix.starts_with(XZ) {
        Ok(Compression::Xz)
    } else if prefix.starts_with(BZIP2) {
        Err(Error::invalid("unsupported layer compression bzip2"))
    } else if prefix.starts_with(LZ4) {
        Err(Error::invalid("unsupported layer compression lz4"))
    } else {
        Ok(Compression::None)
    }
}

/// Wrap `r` in the decompressor its magic bytes call for. The peeked bytes are
/// put back in front of the stream, so nothing is lost.
pub(crate) fn decompress<'a>(r: Box<dyn Read + 'a>) -> Result<Box<dyn Read + 'a>> {
    decompress_detect(r).map(|(r, _)| r)
}

/// [`decompress`], also returning the compression found.
pub(super) fn decompress_detect<'a>(mut r: Box<dyn Read + 'a>) -> Result<(Box<dyn Read + 'a>, Compression)> {
    let mut prefix = vec![0u8; PEEK_LEN];
    let mut n = 0;
    while n < prefix.len() {
        match r.read(&mut prefix[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::from(e).context("read layer stream")),
        }
    }
    prefix.truncate(n);
    let kind = detect_compression(&prefix)?;
    let joined: Box<dyn Read + 'a> = Box::new(Cursor::new(prefix).chain(r));
    let out: Box<dyn Read + 'a> = match kind {
        Compression::None => joined,
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(BUF, joined))),
        #[cfg(feature = "zstd")]
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(io::BufReader::with_capacity(BUF, joined))
                .map_err(|e| Error::invalid(format!("corrupt zstd layer stream: {e}")))?,
        ),
        #[cfg(feature = "xz")]
        Compression::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(io::BufReader::with_capacity(BUF, joined))),
        #[cfg(not(feature = "zstd"))]
        Compression::Zstd => return Err(not_built("zstd")),
        #[cfg(not(feature = "xz"))]
        Compression::Xz => return Err(not_built("xz")),
    };
    Ok((out, kind))
}

/// The error for a compression this build cannot read (isula-core feature `feature` off).
#[cfg(not(all(feature = "zstd", feature = "xz")))]
fn not_built(feature: &str) -> Error {
    Error::unimplemented(format!(
        "{feature}-compressed layers are not supported by this isula build (isula-core feature \"{feature}\")"
    ))
}

/// Read-buffer size for compressed input.
const BUF: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn roundtrip(kind: Compression, data: &[u8]) -> Vec<u8> {
        let compressed = match kind {
            Compression::None => data.to_vec(),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => zstd::encode_all(data, 1).unwrap(),
            Compression::Xz => {
                let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        };
        let (mut r, found) = decompress_detect(Box::new(&compressed[..])).unwrap();
        assert_eq!(found, kind);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn detects_and_keeps_peeked_bytes() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for kind in [Compression::None, Compression::Gzip, Compression::Zstd, Compression::Xz] {
            assert_eq!(roundtrip(kind, &data), data, "{kind:?}");
        }
        // Short streams (fewer bytes than the peek) survive too.
        assert_eq!(roundtrip(Compression::None, b"abc"), b"abc");
    }

    #[test]
    fn refuses_unsupported() {
        let e = detect_compression(b"BZh91AY&SY").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("bzip2"), "{e}");
        assert!(decompress(Box::new(&b"BZh91AY&SYxxxx"[..])).is_err());
    }
}
