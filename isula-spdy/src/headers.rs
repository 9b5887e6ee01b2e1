//! SPDY/3 name/value header blocks: `count`, then `len name len value` pairs (32-bit
//! big-endian lengths, lower-case names, several values of one name joined by NUL), the
//! whole block zlib-compressed with the SPDY/3 dictionary. Each direction of a connection
//! has one compression context for its lifetime; every block ends with a sync flush, so
//! each frame's block decodes on its own once the ones before it have.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::dictionary::DICTIONARY;
use crate::Error;

/// Largest decompressed header block accepted.
pub const MAX_BLOCK: usize = 1 << 20;
/// Most headers accepted in one block.
pub const MAX_HEADERS: usize = 1000;

/// The headers of a stream: names lower-case, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// Add `name: value` (the name is lower-cased; a repeated name adds a value).
    pub fn add(&mut self, name: &str, value: &str) -> &mut Headers {
        self.0.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// Builder form of [`Headers::add`].
    pub fn with(mut self, name: &str, value: &str) -> Headers {
        self.add(name, value);
        self
    }

    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every `(name, value)` pair in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The uncompressed block: values of a repeated name joined by NUL, in first-seen order.
    fn to_block(&self) -> Vec<u8> {
        let mut names: Vec<(&str, Vec<&str>)> = Vec::new();
        for (n, v) in &self.0 {
            match names.iter_mut().find(|(m, _)| m == n) {
                Some((_, vs)) => vs.push(v),
                None => names.push((n, vec![v])),
            }
        }
        let mut b = Vec::new();
        b.extend_from_slice(&(names.len() as u32).to_be_bytes());
        for (n, vs) in names {
            let v = vs.join("\0");
            b.extend_from_slice(&(n.len() as u32).to_be_bytes());
            b.extend_from_slice(n.as_bytes());
            b.extend_from_slice(&(v.len() as u32).to_be_bytes());
            b.extend_from_slice(v.as_bytes());
        }
        b
    }

    /// Parse an uncompressed block.
    fn from_block(b: &[u8]) -> Result<Headers, Error> {
        let bad = |m: &str| Error::Protocol(format!("header block: {m}"));
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], Error> {
            let s = b.get(at..at.saturating_add(n)).ok_or_else(|| bad("truncated"))?;
            at += n;
            Ok(s)
        };
        let len = |s: &[u8]| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize;
        let count = len(take(4)?);
        if count > MAX_HEADERS {
            return Err(bad(&format!("{count} headers (at most {MAX_HEADERS})")));
        }
        let mut h = Headers::new();
        for _ in 0..count {
            let n = len(take(4)?);
            let name = String::from_utf8_lossy(take(n)?).to_ascii_lowercase();
            if name.is_empty() {
                return Err(bad("empty header name"));
            }
            let n = len(take(4)?);
            let value = String::from_utf8_lossy(take(n)?).into_owned();
            for v in value.split('\0') {
                h.0.push((name.clone(), v.to_string()));
            }
        }
        Ok(h)
    }
}

/// The sending direction's compression context.
pub(crate) struct Deflater(Compress);

impl Deflater {
    pub(crate) fn new() -> Deflater {
        let mut c = Compress::new(Compression::default(), true);
        // Only fails if called after compression started.
        c.set_dictionary(DICTIONARY).expect("a fresh zlib stream takes a dictionary");
        Deflater(c)
    }

    /// Compress `h` as the next block of this direction.
    pub(crate) fn compress(&mut self, h: &Headers) -> Vec<u8> {
        let input = h.to_block();
        let mut out = Vec::with_capacity(input.len() + 64);
        let start = self.0.total_in();
        loop {
            let done = (self.0.total_in() - start) as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(256);
            }
            // Errors only on a misused stream; a full buffer just returns with room used up.
            let _ = self.0.compress_vec(&input[done..], &mut out, FlushCompress::Sync);
            // A sync flush is complete when all input is in and the output did not fill up.
            if (self.0.total_in() - start) as usize == input.len() && out.len() < out.capacity() {
                break;
            }
        }
        out
    }
}

/// The receiving direction's decompression context.
pub(crate) struct Inflater {
    z: Decompress,
    dictionary_set: bool,
}

impl Inflater {
    pub(crate) fn new() -> Inflater {
        Inflater { z: Decompress::new(true), dictionary_set: false }
    }

    /// Decompress and parse the next block of this direction. An error leaves the context
    /// unusable (the connection must end).
    pub(crate) fn decompress(&mut self, block: &[u8]) -> Result<Headers, Error> {
        let mut out = Vec::with_capacity(block.len() * 4 + 64);
        let mut used = 0usize;
        loop {
            if out.capacity() - out.len() < 256 {
                if out.len() >= MAX_BLOCK {
                    return Err(Error::Protocol(format!("header block longer than {MAX_BLOCK} bytes")));
                }
                out.reserve(4096);
            }
            let in0 = self.z.total_in();
            let before = out.len();
            let r = self.z.decompress_vec(&block[used..], &mut out, FlushDecompress::Sync);
            used += (self.z.total_in() - in0) as usize;
            match r {
                Err(e) if e.needs_dictionary().is_some() && !self.dictionary_set => {
                    self.z
                        .set_dictionary(DICTIONARY)
                        .map_err(|e| Error::Protocol(format!("header block dictionary: {e}")))?;
                    self.dictionary_set = true;
                    continue;
                }
                Err(e) => return Err(Error::Protocol(format!("header block: {e}"))),
                Ok(Status::StreamEnd) => return Err(Error::Protocol("header block ends the zlib stream".into())),
                Ok(_) => {}
            }
            if used == block.len() && out.len() < out.capacity() {
                break;
            }
            if used == block.len() && out.len() == before {
                break;
            }
        }
        Headers::from_block(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Headers {
        Headers::new().with("streamType", "stdout").with("port", "80").with("Port", "81")
    }

    #[test]
    fn blocks_round_trip_through_one_context_per_direction() {
        let (mut d, mut i) = (Deflater::new(), Inflater::new());
        let first = d.compress(&sample());
        // zlib header with FDICT and the dictionary's Adler-32 (the SPDY/3 dictionary id).
        assert_eq!(first[0], 0x78);
        assert_ne!(first[1] & 0x20, 0);
        assert_eq!(&first[2..6], &[0xe3, 0xc6, 0xa7, 0xc2]);
        let h = i.decompress(&first).unwrap();
        assert_eq!(h.get("streamtype"), Some("stdout"));
        assert_eq!(h.iter().filter(|(n, _)| *n == "port").map(|(_, v)| v).collect::<Vec<_>>(), ["80", "81"]);
        // Later blocks depend on the earlier ones and get smaller.
        let second = d.compress(&sample());
        assert!(second.len() < first.len());
        assert_eq!(i.decompress(&second).unwrap(), h);
        let empty = d.compress(&Headers::new());
        assert_eq!(i.decompress(&empty).unwrap(), Headers::new());
    }

    #[test]
    fn a_large_block_round_trips() {
        let mut h = Headers::new();
        for n in 0..300 {
            h.add(&format!("x-name-{n}"), &format!("{n:0>200}"));
        }
        let (mut d, mut i) = (Deflater::new(), Inflater::new());
        assert_eq!(i.decompress(&d.compress(&h)).unwrap(), h);
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        assert!(Inflater::new().decompress(b"not zlib at all").is_err());
        assert!(Headers::from_block(&[0, 0, 0, 1, 0, 0, 0, 5, b'a']).is_err());
        assert!(Headers::from_block(&[0, 0, 0x10, 0]).is_err());
    }
}
