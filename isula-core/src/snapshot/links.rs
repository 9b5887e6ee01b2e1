//! Short links: `l/<26 random chars>` -> `../layers/<chain-hex>/diff`.
//!
//! A lowerdir list of full layer paths overflows the one page the kernel allows
//! for mount options after a few dozen layers; 29 bytes per layer fits 120+.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::error::{Error, Result};

/// Name of the short-link directory (also the prefix used in mount options).
pub(super) const LINK_DIR: &str = "l";
/// Length of a short link id.
pub(super) const LINK_LEN: usize = 26;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A fresh random link id (26 characters of base32).
fn new_link_id() -> Result<String> {
    let mut bytes = [0u8; LINK_LEN];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::io("/dev/urandom", "read", e))?;
    Ok(bytes.iter().map(|b| ALPHABET[(*b & 31) as usize] as char).collect())
}

/// The target a layer's short link points at, relative to the link directory.
fn link_target(chain_id: &Digest) -> PathBuf {
    Path::new("../layers").join(chain_id.hex()).join("diff")
}

/// Create a new short link for the layer `chain_id` in `links_dir` and return its id.
pub(super) fn create(links_dir: &Path, chain_id: &Digest) -> Result<String> {
    loop {
        let id = new_link_id()?;
        let path = links_dir.join(&id);
        match std::os::unix::fs::symlink(link_target(chain_id), &path) {
            Ok(()) => return Ok(id),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&path, "create short link", e)),
        }
    }
}

/// Remove the short link `id` (a missing link is not an error).
pub(super) fn remove(links_dir: &Path, id: &str) -> Result<()> {
    let path = links_dir.join(id);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&path, "remove short link", e)),
    }
}

/// Entries of `links_dir` that are not symlinks to an existing directory.
pub(super) fn dangling(links_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let rd = std::fs::read_dir(links_dir).map_err(|e| Error::io(links_dir, "read", e))?;
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(links_dir, "read", e))?;
        let path = ent.path();
        let is_link = ent.file_type().map(|t| t.is_symlink()).unwrap_or(false);
        if !is_link || !path.is_dir() {
            out.push(path);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_short() {
        let a = new_link_id().unwrap();
        let b = new_link_id().unwrap();
        assert_eq!(a.len(), LINK_LEN);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
    }
}
