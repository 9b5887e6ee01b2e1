//! Entry-path hygiene: tar entry names turned into clean relative paths below the layer root.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Normalise a tar entry name into components below the root: `.` and empty
/// components are dropped, `..` pops a component. An absolute name or a `..`
/// that would climb above the root is refused with the reason. An empty result
/// means the root itself (`./`).
pub(super) fn clean_entry_path(raw: &[u8]) -> Result<PathBuf, &'static str> {
    if raw.first() == Some(&b'/') {
        return Err("absolute path");
    }
    if raw.contains(&0) {
        return Err("path contains NUL");
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for comp in raw.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() {
                    return Err("path escapes the layer root");
                }
            }
            c => parts.push(c),
        }
    }
    let mut out = PathBuf::new();
    for p in parts {
        out.push(OsStr::from_bytes(p));
    }
    Ok(out)
}

/// Split a clean path into its parent and final name; the root splits into (``, `.`).
pub(super) fn split_parent(rel: &Path) -> (&Path, &OsStr) {
    match rel.file_name() {
        Some(name) => (rel.parent().unwrap_or(Path::new("")), name),
        None => (Path::new(""), OsStr::new(".")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_and_refuses() {
        assert_eq!(clean_entry_path(b"./a//b/./c/").unwrap(), Path::new("a/b/c"));
        assert_eq!(clean_entry_path(b"a/../b").unwrap(), Path::new("b"));
        assert_eq!(clean_entry_path(b"./").unwrap(), Path::new(""));
        for bad in [&b"../evil"[..], b"/abs", b"a/../../evil", b"./.."] {
            assert!(clean_entry_path(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(split_parent(Path::new("a/b")), (Path::new("a"), OsStr::new("b")));
        assert_eq!(split_parent(Path::new("a")), (Path::new(""), OsStr::new("a")));
        assert_eq!(split_parent(Path::new("")), (Path::new(""), OsStr::new(".")));
    }
}
