//! Writing a directory tree into a tar stream, reaching every file through directory
//! descriptors (never a path that a concurrent rename could redirect).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use super::mounts::{dup, MountTarget, Mounts, OpenMount};
use crate::error::{Error, Result};
use crate::sys::openat::DirFd;

/// `/proc/self/fd/<dir>/<name>`: `name` looked up in the directory the descriptor holds.
pub(super) fn fd_path(dir: &DirFd, name: &OsStr) -> PathBuf {
    Path::new(&format!("/proc/self/fd/{}", dir.as_fd().as_raw_fd())).join(name)
}

/// Major and minor numbers of a Linux `dev_t`.
fn dev_split(dev: u64) -> (u32, u32) {
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0fff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0x00ff);
    (major as u32, minor as u32)
}

/// One PAX record `"<len> key=value\n"`, where len counts the whole record.
fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    let mut r = format!("{len} ").into_bytes();
    r.extend_from_slice(key);
    r.push(b'=');
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

/// A tar stream being written from directory descriptors.
pub(super) struct TarWriter<'w> {
    builder: tar::Builder<&'w mut dyn Write>,
    /// (dev, ino) of multiply-linked files already written → their name in the archive.
    links: HashMap<(u64, u64), PathBuf>,
    /// The container's mounts, with the archive name and container path of the archive root.
    mounts: Option<(Mounts, PathBuf, PathBuf)>,
}

fn write_err(e: io::Error) -> Error {
    Error::from(e).context("write archive")
}

impl<'w> TarWriter<'w> {
    /// A writer producing a tar stream on `w`.
    pub(super) fn new(w: &'w mut dyn Write) -> Self {
        let mut builder = tar::Builder::new(w);
        builder.mode(tar::HeaderMode::Complete);
        TarWriter { builder, links: HashMap::new(), mounts: None }
    }

    /// Archive what `mounts` mount instead of what the rootfs has at their destinations;
    /// the archive name `arc_root` is the container path `container_root`.
    pub(super) fn set_mounts(&mut self, mounts: &Mounts, arc_root: &Path, container_root: &Path) -> Result<()> {
        let own = mounts.try_clone().map_err(|e| Error::io(container_root, "open mount", e))?;
        self.mounts = Some((own, arc_root.to_path_buf(), container_root.to_path_buf()));
        Ok(())
    }

    /// The mount at the container path of archive name `arc_name`, if any.
    fn mount_of(&self, arc_name: &Path) -> Option<&OpenMount> {
        let (mounts, arc_root, root) = self.mounts.as_ref()?;
        let rel = arc_name.strip_prefix(arc_root).ok()?;
        mounts.at(&root.join(rel))
    }

    /// Write the end-of-archive blocks and flush.
    pub(super) fn finish(self) -> Result<()> {
        let w = self.builder.into_inner().map_err(write_err)?;
        w.flush().map_err(write_err)
    }

    /// Add the children of `dir` (not `dir` itself) under the archive prefix `prefix`
    /// (empty for the archive root), recursively, in name order.
    pub(super) fn add_children(&mut self, dir: &DirFd, prefix: &Path) -> Result<()> {
        let listing = fd_path(dir, OsStr::new("."));
        let mut names: Vec<_> = std::fs::read_dir(&listing)
            .map_err(|e| Error::io(prefix, "list directory", e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(|e| Error::io(prefix, "list directory", e))?;
        names.sort();
        for name in names {
            self.add(dir, &name, &prefix.join(&name))?;
        }
        Ok(())
    }

    /// Add the entry `name` of `dir` as `arc_name` (a directory with everything below it).
    /// Entries that vanish while we walk are skipped; sockets cannot be archived and are skipped.
    /// A mount point is replaced by what is mounted there (see [`set_mounts`](Self::set_mounts)).
    pub(super) fn add(&mut self, dir: &DirFd, name: &OsStr, arc_name: &Path) -> Result<()> {
        let mounted = match self.mount_of(arc_name).map(|m| &m.target) {
            None => None,
            Some(MountTarget::Dir(d)) => Some((dup(d), OsString::from("."))),
            Some(MountTarget::File(d, n)) => Some((dup(d), n.clone())),
        };
        match mounted {
            None => self.add_entry(dir, name, arc_name),
            Some((Err(e), _)) => Err(Error::io(arc_name, "open mount", e)),
            Some((Ok(d), n)) => self.add_entry(&d, &n, arc_name),
        }
    }

    fn add_entry(&mut self, dir: &DirFd, name: &OsStr, arc_name: &Path) -> Result<()> {
        let path = fd_path(dir, name);
        let m = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(arc_name, "stat", e)),
        };
        let ft = m.file_type();
        if ft.is_socket() {
            return Ok(());
        }
        let mut h = header(&m);
        self.xattrs(&path, arc_name)?;
        if ft.is_dir() {
            h.set_entry_type(EntryType::Directory);
            self.builder.append_data(&mut h, arc_name, io::empty()).map_err(write_err)?;
            let sub = match dir.open_beneath(Path::new(name)) {
                Ok(d) => d,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
                Err(e) => return Err(Error::io(arc_name, "open directory", e)),
            };
            return self.add_children(&sub, arc_name);
        }
        if ft.is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| Error::io(arc_name, "read link", e))?;
            h.set_entry_type(EntryType::Symlink);
            return self.builder.append_link(&mut h, arc_name, target).map_err(write_err);
        }
        if m.nlink() > 1 {
            if let Some(first) = self.links.get(&(m.dev(), m.ino())) {
                h.set_entry_type(EntryType::Link);
                let first = first.clone();
                return self.builder.append_link(&mut h, arc_name, first).map_err(write_err);
            }
            self.links.insert((m.dev(), m.ino()), arc_name.to_path_buf());
        }
        if ft.is_file() {
            let file = match std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(Error::io(arc_name, "open", e)),
            };
            let size = file.metadata().map_err(|e| Error::io(arc_name, "stat", e))?.len();
            h.set_entry_type(EntryType::Regular);
            h.set_size(size);
            // Exactly `size` bytes even if the file changes meanwhile: cut or zero-padded.
            let data = ExactLen { file, left: size };
            return self.builder.append_data(&mut h, arc_name, data).map_err(write_err);
        }
        let kind = if ft.is_char_device() {
            EntryType::Char
        } else if ft.is_block_device() {
            EntryType::Block
        } else if ft.is_fifo() {
            EntryType::Fifo
        } else {
            return Ok(());
        };
        h.set_entry_type(kind);
        if kind != EntryType::Fifo {
            let (major, minor) = dev_split(m.rdev());
            h.set_device_major(major).map_err(write_err)?;
            h.set_device_minor(minor).map_err(write_err)?;
        }
        self.builder.append_data(&mut h, arc_name, io::empty()).map_err(write_err)
    }

    /// Append a directory entry built by the caller (for a directory held only as a descriptor).
    pub(super) fn add_dir_header(&mut self, h: &mut Header, arc_name: &Path) -> Result<()> {
        self.builder.append_data(h, arc_name, io::empty()).map_err(write_err)
    }

    /// Emit a PAX header carrying the entry's extended attributes, if it has any.
    fn xattrs(&mut self, path: &Path, arc_name: &Path) -> Result<()> {
        let names = match crate::sys::xattr::llist(path) {
            Ok(n) => n,
            Err(_) => return Ok(()), // filesystems without xattr support
        };
        let mut body = Vec::new();
        for n in names {
            if let Ok(Some(v)) = crate::sys::xattr::lget(path, &n) {
                body.extend(pax_record(format!("SCHILY.xattr.{n}").as_bytes(), &v));
            }
        }
        if body.is_empty() {
            return Ok(());
        }
        let mut h = Header::new_ustar();
        h.set_entry_type(EntryType::XHeader);
        h.set_mode(0o644);
        h.set_size(body.len() as u64);
        let base = arc_name.file_name().map(|n| n.as_bytes()).unwrap_or(b"root");
        let short = &base[..base.len().min(80)];
        let name = Path::new("PaxHeaders.0").join(OsStr::from_bytes(short));
        self.builder.append_data(&mut h, name, &body[..]).map_err(write_err)
    }
}

/// A GNU header with the mode, owner and mtime of `m` (size 0, type to be set).
pub(super) fn header(m: &Metadata) -> Header {
    let mut h = Header::new_gnu();
    h.set_mode(m.mode() & 0o7777);
    h.set_uid(m.uid() as u64);
    h.set_gid(m.gid() as u64);
    h.set_mtime(m.mtime().max(0) as u64);
    h.set_size(0);
    // Numeric zeros rather than empty fields: some readers insist on numbers.
    let _ = h.set_device_major(0);
    let _ = h.set_device_minor(0);
    h
}

/// A file read as exactly `left` bytes: truncated if it grew, zero-filled if it shrank.
struct ExactLen {
    file: File,
    left: u64,
}

impl Read for ExactLen {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = match self.file.read(&mut buf[..want])? {
            0 => {
                buf[..want].fill(0);
                want
            }
            n => n,
        };
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths_count_themselves() {
        let r = pax_record(b"SCHILY.xattr.user.a", b"v");
        assert_eq!(r, b"25 SCHILY.xattr.user.a=v\n");
        assert_eq!(r.len(), 25);
        let long = vec![b'x'; 95];
        let r = pax_record(b"k", &long);
        assert_eq!(r.len().to_string(), String::from_utf8_lossy(&r[..3]));
        assert_eq!(dev_split(libc::makedev(8, 1)), (8, 1));
        assert_eq!(dev_split(libc::makedev(259, 70000)), (259, 70000));
    }
}
