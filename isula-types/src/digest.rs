//! Content digests (`sha256:<hex>`) as values: parsed, validated, printed and (de)serialised.
//! Streaming verification is the engine's (`isula_core`).

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// A validated `sha256:<64 lowercase hex>` digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parse `sha256:<hex>`; other algorithms and malformed hex are invalid.
    pub fn parse(s: &str) -> Result<Self> {
        let (algo, hex) =
            s.split_once(':').ok_or_else(|| Error::invalid(format!("invalid digest {s:?}: missing algorithm")))?;
        if algo != "sha256" {
            return Err(Error::invalid(format!("unsupported digest algorithm {algo:?} in {s:?}")));
        }
        Self::from_hex(hex).map_err(|_| Error::invalid(format!("invalid digest {s:?}")))
    }

    /// Build from the 64-character hex part alone.
    pub fn from_hex(hex: &str) -> Result<Self> {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(Error::invalid(format!("invalid sha256 hex {hex:?}")));
        }
        Ok(Digest { hex: hex.to_string() })
    }

    /// The digest whose sha256 output is `bytes`.
    pub fn from_sha256(bytes: &[u8; 32]) -> Self {
        Digest { hex: hex_encode(bytes) }
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self::from_sha256(&Sha256::digest(data).into())
    }

    /// The algorithm (always `sha256`).
    pub fn algorithm(&self) -> &'static str {
        "sha256"
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex characters, as `docker images` shows ids.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Digest::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Lower-case hex encoding.
pub fn hex_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let d = Digest::of(b"");
        assert_eq!(d.to_string(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        assert_eq!(d.short(), "e3b0c44298fc");
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{d}\""));
        assert_eq!(serde_json::from_str::<Digest>(&format!("\"{d}\"")).unwrap(), d);
    }

    #[test]
    fn rejects_bad_digests() {
        for s in [
            "sha256:abc",
            "md5:e3b0",
            "e3b0c442",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        ] {
            assert!(matches!(Digest::parse(s), Err(Error::InvalidArgument(_))), "{s}");
        }
        assert!(serde_json::from_str::<Digest>("\"sha256:abc\"").is_err());
    }
}
