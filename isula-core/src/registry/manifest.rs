//! Manifests as registries serve them: media types, parsing of image manifests and
//! indexes (OCI and Docker schema 2), refusal of schema 1, and platform selection.

use crate::error::{Error, Result};

pub(crate) use crate::image::manifest::{Descriptor, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};
pub(crate) use crate::image::manifest::{Index as ImageIndex, Manifest as ImageManifest, Platform as EntryPlatform};

/// Docker schema 1 (refused).
pub(crate) const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Docker signed schema 1 (refused).
pub(crate) const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
/// Largest manifest or index accepted.
pub(crate) const MAX_MANIFEST_SIZE: u64 = 4 << 20;

/// The `Accept` header of manifest requests: every supported type.
pub(crate) fn accept_header() -> String {
    [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST].join(", ")
}

/// A wanted platform: os/architecture/variant (`variant` empty when unspecified).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Platform {
    /// Operating system (`linux`).
    pub os: String,
    /// CPU architecture in Go's names (`amd64`, `arm64`).
    pub architecture: String,
    /// Variant (`v7`), may be empty.
    pub variant: String,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

impl Platform {
    /// Parse `os/arch[/variant]`.
    pub(crate) fn parse(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(Error::invalid(format!("invalid platform {s:?}: expected os/arch[/variant]")));
        }
        let mut p = Platform {
            os: parts[0].to_ascii_lowercase(),
            architecture: normalize_arch(&parts[1].to_ascii_lowercase()).to_string(),
            variant: parts.get(2).map(|v| v.to_ascii_lowercase()).unwrap_or_default(),
        };
        if p.architecture == "arm64" && p.variant == "v8" {
            p.variant.clear();
        }
        Ok(p)
    }

    /// The platform this process runs on.
    pub(crate) fn host() -> Self {
        let arch = normalize_arch(std::env::consts::ARCH).to_string();
        let variant = if arch == "arm" { "v7".to_string() } else { String::new() };
        Platform { os: std::env::consts::OS.to_string(), architecture: arch, variant }
    }

    /// True when an index entry for `other` can run as `self` (an empty variant
    /// on `self` accepts any variant; arm64's `v8` equals no variant).
    pub(crate) fn matches(&self, other: &Platform) -> bool {
        let ov = if other.architecture == "arm64" && other.variant == "v8" { "" } else { other.variant.as_str() };
        self.os == other.os
            && self.architecture == normalize_arch(&other.architecture)
            && (self.variant.is_empty() || self.variant == ov)
    }
}

impl From<&EntryPlatform> for Platform {
    fn from(p: &EntryPlatform) -> Self {
        Platform {
            os: p.os.clone(),
            architecture: p.architecture.clone(),
            variant: p.variant.clone().unwrap_or_default(),
        }
    }
}

fn normalize_arch(a: &str) -> &str {
    match a {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i686" | "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "armhf" | "armel" => "arm",
        other => other,
    }
}

/// A parsed manifest document.
#[derive(Debug, Clone)]
pub(crate) enum Manifest {
    /// A single-platform image manifest.
    Image(ImageManifest),
    /// A multi-platform index.
    Index(ImageIndex),
}

/// Decide the media type of `data` from the Content-Type header or the document,
/// refuse schema 1, and parse it.
pub(crate) fn parse(data: &[u8], content_type: Option<&str>, what: &str) -> Result<(String, Manifest)> {
    let v: serde_json::Value =
        serde_json::from_slice(data).map_err(|e| Error::invalid(format!("{what}: manifest is not valid JSON: {e}")))?;
    let doc_type = v.get("mediaType").and_then(|m| m.as_str()).map(String::from);
    let header_type = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
        .filter(|c| !c.is_empty() && c != "application/json" && c != "text/plain" && c != "application/octet-stream");
    let schema = v.get("schemaVersion").and_then(|s| s.as_u64()).unwrap_or(0);
    let mt = match (doc_type, header_type) {
        (Some(d), _) => d,
        (None, Some(h)) => h,
        (None, None) if schema == 1 => DOCKER_SCHEMA1.to_string(),
        (None, None) if v.get("manifests").is_some() => OCI_INDEX.to_string(),
        (None, None) => OCI_MANIFEST.to_string(),
    };
    if mt == DOCKER_SCHEMA1 || mt == DOCKER_SCHEMA1_SIGNED || schema == 1 {
        return Err(Error::invalid(format!(
            "{what}: Docker image manifest schema 1 ({mt}) is deprecated and not supported; \
             push the image again with a current client to get a schema 2 or OCI manifest"
        )));
    }
    let m = match mt.as_str() {
        OCI_MANIFEST | DOCKER_MANIFEST => Manifest::Image(
            serde_json::from_value(v).map_err(|e| Error::invalid(format!("{what}: invalid image manifest: {e}")))?,
        ),
        OCI_INDEX | DOCKER_MANIFEST_LIST => Manifest::Index(
            serde_json::from_value(v).map_err(|e| Error::invalid(format!("{what}: invalid image index: {e}")))?,
        ),
        other => return Err(Error::invalid(format!("{what}: unsupported manifest media type {other:?}"))),
    };
    if schema != 2 {
        return Err(Error::invalid(format!("{what}: unsupported manifest schemaVersion {schema}")));
    }
    Ok((mt, m))
}

/// Pick the entry of `index` for `want`: the first exact match, else the first compatible one.
/// No match is `NotFound`, listing the platforms the index offers.
pub(crate) fn select<'a>(index: &'a ImageIndex, want: &Platform, what: &str) -> Result<&'a Descriptor> {
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| d.media_type != OCI_INDEX && d.media_type != DOCKER_MANIFEST_LIST)
        .filter(|d| d.platform.as_ref().is_some_and(|p| want.matches(&p.into())))
        .collect();
    let exact =
        candidates.iter().find(|d| d.platform.as_ref().is_some_and(|p| Platform::from(p).variant == want.variant));
    if let Some(d) = exact.or(candidates.first()) {
        return Ok(d);
    }
    let available: Vec<String> = index
        .manifests
        .iter()
        .map(|d| d.platform.as_ref().map(|p| Platform::from(p).to_string()).unwrap_or_else(|| "unknown".into()))
        .collect();
    Err(Error::not_found(format!(
        "{what}: no manifest for platform {want}; available: {}",
        if available.is_empty() { "none".to_string() } else { available.join(", ") }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn d(n: u8) -> String {
        Digest::of(&[n]).to_string()
    }

    #[test]
    fn parses_types_and_refuses_schema1() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"x","digest":"{}","size":1}},"layers":[]}}"#,
            d(1)
        );
        let (mt, parsed) = parse(m.as_bytes(), None, "t").unwrap();
        assert_eq!(mt, DOCKER_MANIFEST);
        assert!(matches!(parsed, Manifest::Image(_)));
        let s1 = r#"{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]}"#;
        let e = parse(s1.as_bytes(), Some(DOCKER_SCHEMA1_SIGNED), "t").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("schema 1"), "{e}");
        assert!(parse(b"{", None, "t").is_err());
    }

    #[test]
    fn selects_platforms_and_lists_available() {
        let idx: ImageIndex = serde_json::from_str(&format!(
            r#"{{"schemaVersion":2,"manifests":[
              {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1,"platform":{{"os":"linux","architecture":"arm","variant":"v6"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1,"platform":{{"os":"linux","architecture":"arm","variant":"v7"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#,
            d(1),
            d(2),
            d(3)
        ))
        .unwrap();
        assert_eq!(select(&idx, &Platform::parse("linux/arm/v7").unwrap(), "t").unwrap().digest.to_string(), d(2));
        assert_eq!(select(&idx, &Platform::parse("linux/arm").unwrap(), "t").unwrap().digest.to_string(), d(1));
        assert_eq!(select(&idx, &Platform::parse("linux/aarch64").unwrap(), "t").unwrap().digest.to_string(), d(3));
        let e = select(&idx, &Platform::parse("linux/s390x").unwrap(), "t").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::NotFound);
        assert!(e.to_string().contains("linux/arm/v6, linux/arm/v7, linux/arm64/v8"), "{e}");
        assert!(Platform::parse("linux").is_err());
        assert_eq!(Platform::parse("linux/x86_64").unwrap().to_string(), "linux/amd64");
    }
}
