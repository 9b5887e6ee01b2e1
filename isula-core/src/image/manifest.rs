//! Manifest, index and image config types (OCI and Docker schema 2 share one JSON shape),
//! media types, chain ids and compression sniffing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result};

/// OCI image manifest media type.
pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config media type.
pub(crate) const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI uncompressed layer.
pub(crate) const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI gzip layer.
pub(crate) const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI zstd layer.
pub(crate) const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// Docker schema 2 manifest media type.
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type.
pub(crate) const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker gzip layer.
pub(crate) const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker uncompressed layer.
pub(crate) const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Digest of the content.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Platform (index entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// A descriptor without platform or annotations.
    pub(crate) fn new(media_type: &str, digest: Digest, size: u64) -> Self {
        Descriptor { media_type: media_type.to_string(), digest, size, platform: None, annotations: BTreeMap::new() }
    }
}

/// Platform of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Platform {
    /// CPU architecture (`amd64`, `arm64`, …).
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// Variant (`v8`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// Manifest media type (optional in OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// Layer blobs, bottom first.
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index / manifest list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// Media type (optional in OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Entries.
    pub manifests: Vec<Descriptor>,
}

/// The parts of an image config the engine reads; the blob itself is kept verbatim.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ImageConfig {
    /// Creation time, RFC 3339.
    #[serde(default)]
    pub created: Option<String>,
    /// Author.
    #[serde(default)]
    pub author: Option<String>,
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// Variant.
    #[serde(default)]
    pub variant: Option<String>,
    /// Execution parameters (`Env`, `Cmd`, `Labels`, …), kept as JSON.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// Layer diff ids.
    pub rootfs: RootFsConfig,
}

/// `rootfs` of an image config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RootFsConfig {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Uncompressed layer digests, bottom first.
    pub diff_ids: Vec<Digest>,
}

impl ImageConfig {
    /// Parse and check a config blob (`rootfs.type` must be `layers`).
    pub(crate) fn parse(data: &[u8]) -> Result<Self> {
        let c: ImageConfig =
            serde_json::from_slice(data).map_err(|e| Error::invalid(format!("invalid image config: {e}")))?;
        if c.rootfs.kind != "layers" {
            return Err(Error::invalid(format!(
                "invalid image config: rootfs type {:?}, want \"layers\"",
                c.rootfs.kind
            )));
        }
        Ok(c)
    }

    /// Labels of `config.Labels`.
    pub(crate) fn labels(&self) -> BTreeMap<String, String> {
        self.config
            .as_ref()
            .and_then(|c| c.get("Labels"))
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default()
    }

    /// `created` as seconds since the epoch (0 when absent or unparsable).
    pub(crate) fn created_unix(&self) -> i64 {
        self.created.as_deref().and_then(crate::time::parse_rfc3339).map_or(0, crate::time::Timestamp::unix_secs)
    }
}

/// Chain ids of a diff id list (OCI: `chain(n) = sha256(chain(n-1) + " " + diff(n))`).
pub(crate) fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(p) => Digest::of(format!("{p} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

pub(crate) use crate::layer::Compression;

/// Sniff the compression from a blob's first bytes (the layer module's detection), and
/// insist that anything uncompressed really starts like a tar: unknown compressions and
/// garbage are `InvalidArgument` before any work is done.
pub(crate) fn sniff_compression(head: &[u8]) -> Result<Compression> {
    let c = crate::layer::detect_compression(head)?;
    if c != Compression::None {
        return Ok(c);
    }
    let ustar = head.len() >= 262 && &head[257..262] == b"ustar";
    if ustar || head.iter().all(|&b| b == 0) || tar_checksum_ok(head) {
        Ok(c)
    } else if head.len() < 512 {
        Err(Error::invalid("data is neither a tar archive nor a supported compression (gzip, zstd, xz)"))
    } else {
        Err(Error::invalid("unknown compression or not a tar archive"))
    }
}

/// True when `head` starts with a tar header whose checksum is right (old v7 headers have no magic).
fn tar_checksum_ok(head: &[u8]) -> bool {
    if head.len() < 512 {
        return false;
    }
    let field = &head[148..156];
    let digits: String = field.iter().take_while(|&&b| b != 0).map(|&b| b as char).collect();
    let Ok(want) = u32::from_str_radix(digits.trim(), 8) else {
        return false;
    };
    let sum: u32 =
        head[..512].iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { b as u32 }).sum();
    sum == want
}

/// Open a reader with its compression sniffed (strictly, see [`sniff_compression`]) and undone.
pub(crate) fn auto_decompress<'a, R: std::io::Read + 'a>(r: R) -> Result<Box<dyn std::io::Read + 'a>> {
    let (head, r) = peek(r, 512)?;
    sniff_compression(&head)?;
    crate::layer::decompress(r)
}

/// Read up to `n` bytes ahead; returns them and a reader that still yields the whole stream.
pub(crate) fn peek<'a, R: std::io::Read + 'a>(mut r: R, n: usize) -> Result<(Vec<u8>, Box<dyn std::io::Read + 'a>)> {
    use std::io::Read;
    let mut head = Vec::with_capacity(n);
    (&mut r).take(n as u64).read_to_end(&mut head)?;
    let again = std::io::Cursor::new(head.clone()).chain(r);
    Ok((head, Box::new(again)))
}

/// Docker's GOARCH name of the host CPU.
pub(crate) fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_oci() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let c = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(c[0], a);
        assert_eq!(c[1], Digest::of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn sniffs() {
        assert_eq!(sniff_compression(&[0x1f, 0x8b, 8]).unwrap(), Compression::Gzip);
        assert_eq!(sniff_compression(&[0x28, 0xb5, 0x2f, 0xfd]).unwrap(), Compression::Zstd);
        assert!(sniff_compression(b"BZh91AY").is_err());
        assert!(sniff_compression(b"hello").is_err());
        assert_eq!(sniff_compression(&[0u8; 1024]).unwrap(), Compression::None);
    }
}
