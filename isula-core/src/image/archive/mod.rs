//! Image archives: docker-archive (`docker save`) and OCI image layout tars.
//!
//! Loading unpacks the (optionally compressed) tar into a scratch directory, hashing every
//! file on the way, then a format reader turns it into [`PendingImage`]s whose blobs are all
//! verified before anything is written to the stores.

pub(crate) mod docker_archive;
pub(crate) mod oci_layout;
pub(crate) mod save;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use super::manifest::{self, Compression, Descriptor, ImageConfig};
use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::reference::Reference;

/// Largest manifest, index or config file read into memory.
pub(crate) const MAX_JSON: u64 = 16 << 20;

/// An image read from an archive, verified, not yet stored.
#[derive(Debug, Clone)]
pub(crate) struct PendingImage {
    /// Names from the archive.
    pub names: Vec<Reference>,
    /// Config blob: digest, bytes, parsed.
    pub config: (Digest, Vec<u8>),
    /// Parsed config (validated on read; not used after).
    #[allow(dead_code)]
    pub parsed: ImageConfig,
    /// Manifest bytes and media type, when the archive has one (else synthesised on store).
    pub manifest: Option<(Vec<u8>, String)>,
    /// Layers: descriptor and the file holding the blob.
    pub layers: Vec<(Descriptor, PathBuf)>,
}

/// A tar unpacked into a scratch directory, with the digest and size of every regular file.
#[derive(Debug)]
pub(crate) struct Unpacked {
    dir: PathBuf,
    files: HashMap<String, (Digest, u64)>,
    /// Small files (JSON documents, tiny layers) kept in memory instead of on disk; written
    /// out only when their path is asked for.
    small: HashMap<String, Vec<u8>>,
    links: HashMap<String, String>,
}

/// Archive files up to this size stay in memory while loading.
const IN_MEMORY_MAX: u64 = 64 * 1024;

/// Normalise an archive path: relative, no `..`, no empty result. `InvalidArgument` otherwise.
pub(crate) fn clean_path(p: &str) -> Result<String> {
    let bad = || Error::invalid(format!("archive path {p:?} points outside the archive"));
    let path = Path::new(p);
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str().ok_or_else(bad)?.to_string()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return Err(bad()),
        }
    }
    if parts.is_empty() {
        return Err(Error::invalid(format!("empty archive path {p:?}")));
    }
    Ok(parts.join("/"))
}

impl Unpacked {
    /// Unpack `reader` (plain, gzip, zstd or xz tar) into the empty directory `dir`.
    pub(crate) fn unpack(reader: &mut dyn Read, dir: &Path) -> Result<Unpacked> {
        let stream = manifest::auto_decompress(reader).map_err(|e| e.context("read archive"))?;
        let mut ar = tar::Archive::new(stream);
        let corrupt = |e: io::Error| Error::invalid(format!("corrupt or truncated archive: {e}"));
        let mut files = HashMap::new();
        let mut small: HashMap<String, Vec<u8>> = HashMap::new();
        let mut links = HashMap::new();
        let mut entries = 0usize;
        for entry in ar.entries().map_err(corrupt)? {
            let mut entry = entry.map_err(corrupt)?;
            entries += 1;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let kind = entry.header().entry_type();
            if kind.is_dir() || kind.is_pax_global_extensions() {
                if kind.is_dir() && raw.trim_matches('/') != "." {
                    clean_path(&raw)?;
                }
                continue;
            }
            let rel = clean_path(&raw)?;
            let target = dir.join(&rel);
            if kind.is_file() && entry.size() <= IN_MEMORY_MAX {
                let mut data = Vec::with_capacity(entry.size() as usize);
                entry.read_to_end(&mut data).map_err(corrupt)?;
                if files.contains_key(&rel) && !small.contains_key(&rel) {
                    // A later entry of the same name replaces a file written earlier.
                    let _ = fs::remove_file(&target);
                }
                files.insert(rel.clone(), (Digest::of(&data), data.len() as u64));
                small.insert(rel, data);
                continue;
            }
            if kind.is_file() {
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create", e))?;
                }
                small.remove(&rel);
                let mut f = File::create(&target).map_err(|e| Error::io(&target, "create", e))?;
                let mut h = Hasher::new();
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = entry.read(&mut buf).map_err(corrupt)?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                    f.write_all(&buf[..n]).map_err(|e| Error::io(&target, "write", e))?;
                }
                let size = h.len();
                if size >= 256 * 1024 {
                    // Layer files become blobs: start their way to the disk now.
                    crate::sys::fs::start_writeback(&f);
                }
                files.insert(rel, (h.finish(), size));
            } else if kind.is_symlink() || kind.is_hard_link() {
                let link =
                    entry.link_name_bytes().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
                // Symlinks are relative to the entry's directory, hard links to the archive root.
                let base = if kind.is_symlink() { rel.rsplit_once('/').map(|(d, _)| d).unwrap_or("") } else { "" };
                let joined = if base.is_empty() { link.clone() } else { format!("{base}/{link}") };
                let resolved = normalise_dots(&joined).ok_or_else(|| {
                    Error::invalid(format!("archive link {rel:?} -> {link:?} points outside the archive"))
                })?;
                links.insert(rel, resolved);
            }
        }
        if entries == 0 {
            return Err(Error::invalid("archive is empty or not a tar archive"));
        }
        Ok(Unpacked { dir: dir.to_path_buf(), files, small, links })
    }

    /// True when the archive has the file `rel`.
    pub(crate) fn has(&self, rel: &str) -> bool {
        self.resolve(rel).is_ok()
    }

    /// The on-disk path, digest and size of archive file `rel` (links followed); a file
    /// kept in memory is written out first.
    pub(crate) fn lookup(&self, rel: &str) -> Result<(PathBuf, Digest, u64)> {
        let (cur, d, n) = self.resolve(rel)?;
        let path = self.dir.join(&cur);
        if let Some(data) = self.small.get(&cur) {
            if !path.exists() {
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create", e))?;
                }
                fs::write(&path, data).map_err(|e| Error::io(&path, "write", e))?;
            }
        }
        Ok((path, d, n))
    }

    /// The archive file `rel` names (links followed), with its digest and size.
    fn resolve(&self, rel: &str) -> Result<(String, Digest, u64)> {
        let mut cur = clean_path(rel)?;
        for _ in 0..16 {
            if let Some((d, n)) = self.files.get(&cur) {
                return Ok((cur, d.clone(), *n));
            }
            match self.links.get(&cur) {
                Some(next) => cur = next.clone(),
                None => return Err(Error::not_found(format!("archive has no file {rel:?}"))),
            }
        }
        Err(Error::invalid(format!("too many links resolving archive file {rel:?}")))
    }

    /// Read a small (JSON) file of the archive.
    pub(crate) fn read_small(&self, rel: &str) -> Result<Vec<u8>> {
        let (cur, _, size) = self.resolve(rel)?;
        if let Some(data) = self.small.get(&cur) {
            return Ok(data.clone());
        }
        let path = self.dir.join(&cur);
        if size > MAX_JSON {
            return Err(Error::invalid(format!("archive file {rel:?} is too large ({size} bytes)")));
        }
        fs::read(&path).map_err(|e| Error::io(&path, "read", e))
    }
}

/// Resolve `.` and `..` in a relative path; `None` if it climbs above the root.
fn normalise_dots(p: &str) -> Option<String> {
    if p.starts_with('/') {
        return None;
    }
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            x => out.push(x),
        }
    }
    Some(out.join("/"))
}

/// Check a layer file against its expected diff id; returns its compression.
/// Uncompressed layers are checked by their file digest; compressed ones by hashing the
/// decompressed stream when `check_compressed` (callers skip it for layers the snapshotter
/// will create, as it checks the diff id while applying).
pub(crate) fn verify_layer(
    path: &Path,
    file_digest: &Digest,
    diff_id: &Digest,
    what: &str,
    check_compressed: bool,
) -> Result<Compression> {
    let f = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let (head, rest) = manifest::peek(f, 512)?;
    let c = manifest::sniff_compression(&head).map_err(|e| e.context(format!("layer {what}")))?;
    if c != Compression::None && !check_compressed {
        return Ok(c);
    }
    let got = if c == Compression::None {
        file_digest.clone()
    } else {
        let mut r = crate::layer::decompress(rest)?;
        let mut h = Hasher::new();
        io::copy(&mut r, &mut h).map_err(|e| Error::invalid(format!("layer {what}: corrupt compressed data: {e}")))?;
        h.finish()
    };
    if &got != diff_id {
        return Err(Error::invalid(format!(
            "layer {what} does not match its diff id: config says {diff_id}, content is {got}"
        )));
    }
    Ok(c)
}

/// OCI media type of a layer with compression `c`.
pub(crate) fn layer_media_type(c: Compression) -> &'static str {
    match c {
        Compression::None => manifest::OCI_LAYER,
        Compression::Gzip => manifest::OCI_LAYER_GZIP,
        Compression::Zstd => manifest::OCI_LAYER_ZSTD,
        Compression::Xz => "application/vnd.oci.image.layer.v1.tar+xz",
    }
}

/// Read an archive of either format from `reader`, unpacking into `scratch`.
/// `layer_exists(chain_id)` tells which layers already exist (their compressed blobs are
/// fully verified here, as the snapshotter will not read them).
pub(crate) fn read_archive(
    reader: &mut dyn Read,
    scratch: &Path,
    layer_exists: &dyn Fn(&Digest) -> bool,
) -> Result<Vec<PendingImage>> {
    let up = Unpacked::unpack(reader, scratch)?;
    if up.has("manifest.json") {
        docker_archive::read(&up, layer_exists)
    } else if up.has("index.json") {
        oci_layout::read(&up, layer_exists)
    } else {
        Err(Error::invalid("archive is neither a docker-archive (manifest.json) nor an OCI layout (index.json)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_confined() {
        assert_eq!(clean_path("./a/b").unwrap(), "a/b");
        for p in ["../x", "/etc/passwd", "a/../../x", "..", ""] {
            assert!(clean_path(p).is_err(), "{p}");
        }
        assert_eq!(normalise_dots("a/../b").as_deref(), Some("b"));
        assert_eq!(normalise_dots("a/../../b"), None);
    }
}
