//! Extracting a `docker cp` tar into a directory of a container. Every parent is opened
//! beneath the destination (openat2 `RESOLVE_BENEATH`), so no entry name, symlink in the
//! archive or symlink already in the container can lead a write outside it.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tar::EntryType;

use super::CopyToOptions;
use crate::error::{Error, Result};
use crate::sys::openat::DirFd;

/// A tar entry name as a clean relative path; absolute names and `..` leaving the
/// destination are refused with the reason. Empty means the destination itself.
fn clean(raw: &[u8]) -> std::result::Result<PathBuf, &'static str> {
    if raw.first() == Some(&b'/') {
        return Err("absolute path");
    }
    if raw.contains(&0) {
        return Err("path contains NUL");
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop().ok_or("path leaves the destination directory (\"..\")")?;
            }
            c => parts.push(c),
        }
    }
    Ok(parts.iter().map(|p| OsStr::from_bytes(p)).collect())
}

/// Does a relative symlink target, seen from the entry `rel`, climb above the destination?
fn symlink_escapes(rel: &Path, target: &[u8]) -> bool {
    if target.first() == Some(&b'/') {
        return false; // interpreted inside the container's root at run time
    }
    let mut depth = rel.components().count() as i64 - 1;
    for c in target.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

fn split(rel: &Path) -> (&Path, &OsStr) {
    match rel.file_name() {
        Some(n) => (rel.parent().unwrap_or(Path::new("")), n),
        None => (Path::new(""), OsStr::new(".")),
    }
}

pub(super) struct Extractor<'a> {
    dest: DirFd,
    shown_dest: &'a str,
    opts: &'a CopyToOptions,
    dir_times: Vec<(PathBuf, i64)>,
}

impl<'a> Extractor<'a> {
    pub(super) fn new(dest: DirFd, shown_dest: &'a str, opts: &'a CopyToOptions) -> Self {
        Extractor { dest, shown_dest, opts, dir_times: Vec::new() }
    }

    /// Extract every entry of the tar stream `r`.
    pub(super) fn run(mut self, r: &mut dyn Read) -> Result<()> {
        let mut archive = tar::Archive::new(r);
        let entries = archive.entries().map_err(corrupt)?;
        for e in entries {
            let mut e = e.map_err(corrupt)?;
            self.entry(&mut e)?;
        }
        for (rel, mtime) in self.dir_times.iter().rev() {
            let (parent, name) = split(rel);
            if let Ok(d) = self.dest.open_beneath(parent) {
                let _ = d.set_times(name, (*mtime, 0), (*mtime, 0));
            }
        }
        Ok(())
    }

    fn err(&self, rel: &Path, what: &str, e: io::Error) -> Error {
        let shown = rel.display();
        match e.raw_os_error() {
            Some(libc::EXDEV) | Some(libc::ELOOP) => Error::invalid(format!(
                "tar entry {shown:?}: its path leaves the destination {} through a symlink",
                self.shown_dest
            )),
            Some(libc::ENOTDIR) => Error::invalid(format!("tar entry {shown:?}: a parent is not a directory")),
            _ => Error::io(Path::new(self.shown_dest).join(rel), what, e),
        }
    }

    /// Open the parent of `rel`, creating missing directories (0755, root) on the way.
    fn parent(&self, rel: &Path) -> Result<DirFd> {
        let (parent, _) = split(rel);
        match self.dest.open_beneath(parent) {
            Ok(d) => return Ok(d),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(self.err(rel, "open parent of", e)),
        }
        let mut cur = PathBuf::new();
        for c in parent.iter() {
            let d = self.dest.open_beneath(&cur).map_err(|e| self.err(rel, "open parent of", e))?;
            match d.mkdir(c, 0o755) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => return Err(self.err(rel, "create parent of", e)),
            }
            cur.push(c);
        }
        self.dest.open_beneath(parent).map_err(|e| self.err(rel, "open parent of", e))
    }

    fn entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<()> {
        let kind = e.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader | EntryType::XHeader | EntryType::GNULongName | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        let raw = e.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let rel = clean(&raw).map_err(|why| Error::invalid(format!("invalid tar entry {shown:?}: {why}")))?;
        if rel.as_os_str().is_empty() {
            // `./`: the destination itself; its metadata stays the container's.
            return if kind == EntryType::Directory {
                Ok(())
            } else {
                Err(Error::invalid(format!("invalid tar entry {shown:?}: the root must be a directory")))
            };
        }
        let h = e.header().clone();
        let bad = |what: &str| Error::invalid(format!("corrupt tar: entry {shown:?}: bad {what}"));
        let mode = h.mode().map_err(|_| bad("mode"))? & 0o7777;
        let (uid, gid) = match self.opts.owner {
            Some(o) => o,
            None => (
                u32::try_from(h.uid().map_err(|_| bad("uid"))?).map_err(|_| bad("uid"))?,
                u32::try_from(h.gid().map_err(|_| bad("gid"))?).map_err(|_| bad("gid"))?,
            ),
        };
        let mtime = h.mtime().map_err(|_| bad("mtime"))? as i64;
        let mut xattrs = Vec::new();
        if let Some(pax) = e.pax_extensions().map_err(corrupt)? {
            for ext in pax {
                let ext = ext.map_err(|_| bad("PAX record"))?;
                if let Some(k) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") {
                    xattrs.push((k.to_vec(), ext.value_bytes().to_vec()));
                }
            }
        }
        let dir = self.parent(&rel)?;
        let (_, name) = split(&rel);
        let existing = dir.lstat(name).map_err(|err| self.err(&rel, "stat", err))?;
        let is_dir_entry = kind == EntryType::Directory;
        if let Some(st) = existing {
            match (st.is_dir(), is_dir_entry) {
                (true, true) => {}
                (true, false) if self.opts.no_overwrite_dir_non_dir => {
                    return Err(Error::invalid(format!(
                        "cannot overwrite directory {:?} with non-directory {shown:?}",
                        Path::new(self.shown_dest).join(&rel)
                    )))
                }
                (false, true) if self.opts.no_overwrite_dir_non_dir => {
                    return Err(Error::invalid(format!(
                        "cannot overwrite non-directory {:?} with directory {shown:?}",
                        Path::new(self.shown_dest).join(&rel)
                    )))
                }
                _ => dir.remove_all(name).map_err(|err| self.err(&rel, "replace", err))?,
            }
        }
        match kind {
            EntryType::Directory => {
                if existing.is_none_or(|s| !s.is_dir()) {
                    dir.mkdir(name, 0o700).map_err(|err| self.err(&rel, "create", err))?;
                }
                self.dir_times.push((rel.clone(), mtime));
            }
            EntryType::Regular | EntryType::Continuous => {
                let mut f = dir.create_file(name, 0o600).map_err(|err| self.err(&rel, "create", err))?;
                let want = e.size();
                let n = io::copy(e, &mut f).map_err(|err| self.err(&rel, "write", err))?;
                if n != want {
                    return Err(Error::invalid(format!(
                        "corrupt tar: entry {shown:?} truncated ({n} of {want} bytes)"
                    )));
                }
            }
            EntryType::Symlink => {
                let target = e
                    .link_name_bytes()
                    .ok_or_else(|| Error::invalid(format!("tar entry {shown:?}: symlink without target")))?
                    .into_owned();
                if symlink_escapes(&rel, &target) {
                    return Err(Error::invalid(format!(
                        "invalid symlink {shown:?} -> {:?}: it points outside the destination {}",
                        String::from_utf8_lossy(&target),
                        self.shown_dest
                    )));
                }
                dir.symlink(&target, name).map_err(|err| self.err(&rel, "create", err))?;
            }
            EntryType::Link => {
                let raw_t = e
                    .link_name_bytes()
                    .ok_or_else(|| Error::invalid(format!("tar entry {shown:?}: hard link without target")))?
                    .into_owned();
                let shown_t = String::from_utf8_lossy(&raw_t).into_owned();
                let target = clean(&raw_t)
                    .map_err(|why| Error::invalid(format!("invalid hard link {shown:?} -> {shown_t:?}: {why}")))?;
                let (tp, tn) = split(&target);
                let tdir = self.dest.open_beneath(tp).map_err(|err| self.err(&target, "open", err))?;
                match tdir.lstat(tn).map_err(|err| self.err(&target, "stat", err))? {
                    Some(st) if !st.is_dir() => {}
                    _ => {
                        return Err(Error::invalid(format!(
                            "invalid hard link {shown:?} -> {shown_t:?}: target is not a file extracted before it"
                        )))
                    }
                }
                dir.link_from(&tdir, tn, name).map_err(|err| self.err(&rel, "link", err))?;
                return Ok(());
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (major, minor) = crate::layer::device_numbers(&h).ok_or_else(|| bad("device"))?;
                let t = match kind {
                    EntryType::Char => libc::S_IFCHR,
                    EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                dir.mknod(name, t | 0o600, major, minor).map_err(|err| self.err(&rel, "create", err))?;
            }
            other => return Err(Error::invalid(format!("tar entry {shown:?}: unsupported entry type {other:?}"))),
        }
        dir.chown(name, uid, gid).map_err(|err| self.err(&rel, "chown", err))?;
        if kind != EntryType::Symlink {
            dir.chmod(name, mode).map_err(|err| self.err(&rel, "chmod", err))?;
        }
        for (k, v) in &xattrs {
            if let Err(err) = dir.set_xattr(name, k, v) {
                log::warn!("cp: {shown}: xattr {} not set: {err}", String::from_utf8_lossy(k));
            }
        }
        if kind != EntryType::Directory {
            dir.set_times(name, (mtime, 0), (mtime, 0)).map_err(|err| self.err(&rel, "set times of", err))?;
        }
        Ok(())
    }
}

fn corrupt(e: io::Error) -> Error {
    Error::invalid(format!("corrupt tar stream: {e}")).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_symlink_targets() {
        assert_eq!(clean(b"./a/b/../c").unwrap(), Path::new("a/c"));
        assert!(clean(b"/etc/passwd").is_err());
        assert!(clean(b"a/../../x").is_err());
        assert!(symlink_escapes(Path::new("a"), b"../x"));
        assert!(!symlink_escapes(Path::new("a/b"), b"../x"));
        assert!(symlink_escapes(Path::new("a/b"), b"../../x"));
        assert!(!symlink_escapes(Path::new("a"), b"/etc/passwd"));
        assert!(!symlink_escapes(Path::new("a"), b"./b/../c"));
    }
}
