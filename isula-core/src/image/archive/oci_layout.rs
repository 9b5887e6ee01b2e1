//! OCI image layout reader: `oci-layout`, `index.json`, `blobs/<alg>/<hex>`; names from the
//! `io.containerd.image.name` or `org.opencontainers.image.ref.name` annotations.

use super::{layer_media_type, verify_layer, PendingImage, Unpacked};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::manifest::{self, Descriptor, ImageConfig, Index, Manifest};
use crate::reference::{valid_tag, Reference};

/// Annotation containerd uses for the full image name.
pub(crate) const CONTAINERD_NAME: &str = "io.containerd.image.name";
/// OCI annotation for the reference name (a tag or a full name).
pub(crate) const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Read every image of an OCI layout.
pub(crate) fn read(up: &Unpacked, layer_exists: &dyn Fn(&Digest) -> bool) -> Result<Vec<PendingImage>> {
    let layout: serde_json::Value = serde_json::from_slice(&up.read_small("oci-layout")?)
        .map_err(|e| Error::invalid(format!("invalid oci-layout: {e}")))?;
    if layout.get("imageLayoutVersion").and_then(|v| v.as_str()).is_none() {
        return Err(Error::invalid("oci-layout has no imageLayoutVersion"));
    }
    let index: Index = serde_json::from_slice(&up.read_small("index.json")?)
        .map_err(|e| Error::invalid(format!("invalid index.json: {e}")))?;
    if index.manifests.is_empty() {
        return Err(Error::invalid("index.json lists no images"));
    }
    let mut out = Vec::new();
    for d in &index.manifests {
        let names = names_of(d)?;
        let m = pick_manifest(up, d, 0)?;
        out.push(read_manifest(up, &m, names, layer_exists)?);
    }
    Ok(out)
}

fn names_of(d: &Descriptor) -> Result<Vec<Reference>> {
    if let Some(n) = d.annotations.get(CONTAINERD_NAME) {
        return Ok(vec![Reference::parse(n).map_err(|e| e.context(CONTAINERD_NAME))?]);
    }
    match d.annotations.get(REF_NAME) {
        // A bare tag names no repository: the image loads without a name.
        Some(n) if valid_tag(n) && !n.contains(['/', ':']) => Ok(vec![]),
        Some(n) => Ok(vec![Reference::parse(n).map_err(|e| e.context(REF_NAME))?]),
        None => Ok(vec![]),
    }
}

/// Read blob `d` verifying digest and size.
fn blob(up: &Unpacked, d: &Descriptor) -> Result<(std::path::PathBuf, Digest, u64)> {
    let rel = format!("blobs/{}/{}", d.digest.algorithm(), d.digest.hex());
    let (path, got, size) = up.lookup(&rel)?;
    if got != d.digest {
        return Err(Error::invalid(format!("blob {rel} has digest {got}, not {}", d.digest)));
    }
    if size != d.size {
        return Err(Error::invalid(format!("blob {} is {size} bytes, descriptor says {}", d.digest, d.size)));
    }
    Ok((path, got, size))
}

fn small_blob(up: &Unpacked, d: &Descriptor) -> Result<Vec<u8>> {
    blob(up, d)?;
    up.read_small(&format!("blobs/{}/{}", d.digest.algorithm(), d.digest.hex()))
}

/// Follow indexes down to one manifest (host platform preferred). Returns the manifest descriptor.
fn pick_manifest(up: &Unpacked, d: &Descriptor, depth: u32) -> Result<Descriptor> {
    match d.media_type.as_str() {
        manifest::OCI_MANIFEST | manifest::DOCKER_MANIFEST => Ok(d.clone()),
        manifest::OCI_INDEX | manifest::DOCKER_MANIFEST_LIST if depth < 4 => {
            let idx: Index = serde_json::from_slice(&small_blob(up, d)?)
                .map_err(|e| Error::invalid(format!("invalid index {}: {e}", d.digest)))?;
            let host = manifest::host_arch();
            let pick = idx
                .manifests
                .iter()
                .find(|m| m.platform.as_ref().map(|p| p.architecture == host && p.os == "linux").unwrap_or(false))
                .or_else(|| idx.manifests.iter().find(|m| m.platform.is_none()))
                .ok_or_else(|| Error::not_found(format!("index {} has no manifest for linux/{host}", d.digest)))?;
            pick_manifest(up, pick, depth + 1)
        }
        other => Err(Error::invalid(format!("unsupported manifest media type {other:?} for {}", d.digest))),
    }
}

fn read_manifest(
    up: &Unpacked,
    d: &Descriptor,
    names: Vec<Reference>,
    layer_exists: &dyn Fn(&Digest) -> bool,
) -> Result<PendingImage> {
    let mbytes = small_blob(up, d)?;
    let m: Manifest =
        serde_json::from_slice(&mbytes).map_err(|e| Error::invalid(format!("invalid manifest {}: {e}", d.digest)))?;
    let cbytes = small_blob(up, &m.config)?;
    let parsed = ImageConfig::parse(&cbytes)?;
    if parsed.rootfs.diff_ids.len() != m.layers.len() {
        return Err(Error::invalid(format!(
            "manifest {}: config has {} diff ids but the manifest lists {} layers",
            d.digest,
            parsed.rootfs.diff_ids.len(),
            m.layers.len()
        )));
    }
    let chains = manifest::chain_ids(&parsed.rootfs.diff_ids);
    let mut layers = Vec::new();
    for ((l, diff_id), chain) in m.layers.iter().zip(&parsed.rootfs.diff_ids).zip(&chains) {
        let (path, digest, _) = blob(up, l)?;
        let c = verify_layer(&path, &digest, diff_id, &l.digest.to_string(), layer_exists(chain))?;
        let mut desc = l.clone();
        if !is_known_layer_type(&desc.media_type) {
            return Err(Error::invalid(format!("layer {} has unsupported media type {:?}", l.digest, l.media_type)));
        }
        if desc.media_type.is_empty() {
            desc.media_type = layer_media_type(c).to_string();
        }
        layers.push((desc, path));
    }
    let media_type = m.media_type.clone().unwrap_or_else(|| d.media_type.clone());
    Ok(PendingImage {
        names,
        config: (m.config.digest.clone(), cbytes),
        parsed,
        manifest: Some((mbytes, media_type)),
        layers,
    })
}

fn is_known_layer_type(t: &str) -> bool {
    matches!(
        t,
        manifest::OCI_LAYER
            | manifest::OCI_LAYER_GZIP
            | manifest::OCI_LAYER_ZSTD
            | manifest::DOCKER_LAYER
            | manifest::DOCKER_LAYER_GZIP
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    )
}
