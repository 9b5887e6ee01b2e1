//! OCI/AUFS whiteout names and their overlayfs form.
//!
//! In a layer tar, `dir/.wh.name` deletes `name` from the layers below and
//! `dir/.wh..wh..opq` hides everything below in `dir`. Overlayfs expresses the
//! first as a 0/0 character device named `name`, the second as the xattr
//! `trusted.overlay.opaque=y` on `dir`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Prefix of whiteout entries.
pub(super) const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// Prefix of whiteout metadata entries (`.wh..wh.*`).
pub(super) const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
/// Name of the opaque-directory marker.
pub(super) const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
/// The overlayfs xattr that makes a directory opaque.
pub(super) const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What a tar entry's final name means.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Whiteout<'a> {
    /// An ordinary entry.
    None,
    /// `.wh.<name>`: delete `name` from lower layers.
    Delete(&'a OsStr),
    /// `.wh..wh..opq`: the parent directory is opaque.
    Opaque,
    /// Another `.wh..wh.*` metadata entry (AUFS bookkeeping): ignored.
    Meta,
}

/// Classify the final component of an entry name; an unusable target
/// (`.wh.`, `.wh..`, `.wh...`) is `Err`.
pub(super) fn classify(name: &OsStr) -> Result<Whiteout<'_>, &'static str> {
    let b = name.as_bytes();
    if !b.starts_with(WHITEOUT_PREFIX) {
        return Ok(Whiteout::None);
    }
    if b == OPAQUE_MARKER {
        return Ok(Whiteout::Opaque);
    }
    if b.starts_with(WHITEOUT_META_PREFIX) {
        return Ok(Whiteout::Meta);
    }
    match &b[WHITEOUT_PREFIX.len()..] {
        b"" | b"." | b".." => Err("invalid whiteout name"),
        t => Ok(Whiteout::Delete(OsStr::from_bytes(t))),
    }
}

/// True for xattrs a layer must not set itself: overlayfs' private attributes
/// (they would let a layer redirect or hide paths on its own).
pub(super) fn is_overlay_private_xattr(key: &[u8]) -> bool {
    key.starts_with(b"trusted.overlay.") || key.starts_with(b"user.overlay.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify(OsStr::new("x")).unwrap(), Whiteout::None);
        assert_eq!(classify(OsStr::new(".wh.x")).unwrap(), Whiteout::Delete(OsStr::new("x")));
        assert_eq!(classify(OsStr::new(".wh..wh..opq")).unwrap(), Whiteout::Opaque);
        assert_eq!(classify(OsStr::new(".wh..wh.plnk")).unwrap(), Whiteout::Meta);
        assert!(classify(OsStr::new(".wh...")).is_err());
        assert!(classify(OsStr::new(".wh.")).is_err());
        assert!(is_overlay_private_xattr(b"trusted.overlay.redirect"));
        assert!(!is_overlay_private_xattr(b"security.capability"));
    }
}
