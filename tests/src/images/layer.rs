//! Deterministic layer tarballs: every entry gets a fixed mtime so digests are stable between runs;
//! hostile ones with raw entry names ([`raw_tar`]); and reading a tar back ([`read_tar`]).

use std::collections::BTreeMap;
use std::io::Read;

/// Fixed modification time of every tar entry (2024-01-01T00:00:00Z).
pub const MTIME: u64 = 1_704_067_200;

/// Builds an uncompressed layer tar entry by entry. Paths are relative (`bin/sh`, no leading `/`).
pub struct LayerBuilder {
    tar: tar::Builder<Vec<u8>>,
    uid: u64,
    gid: u64,
}

impl Default for LayerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerBuilder {
    /// An empty layer; entries are owned by root until [`LayerBuilder::owner`] changes it.
    pub fn new() -> Self {
        let mut tar = tar::Builder::new(Vec::new());
        tar.mode(tar::HeaderMode::Deterministic);
        LayerBuilder { tar, uid: 0, gid: 0 }
    }

    /// Owner (uid, gid) of the entries added after this call.
    pub fn owner(&mut self, uid: u64, gid: u64) -> &mut Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    fn header(&self, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(MTIME);
        h.set_uid(self.uid);
        h.set_gid(self.gid);
        h
    }

    /// Add a directory with permission bits `mode` (e.g. `0o755`, `0o1777`).
    pub fn dir(&mut self, path: &str, mode: u32) -> &mut Self {
        let mut h = self.header(tar::EntryType::Directory, mode, 0);
        let p = format!("{}/", path.trim_end_matches('/'));
        self.tar.append_data(&mut h, p, std::io::empty()).expect("append dir to layer");
        self
    }

    /// Add a regular file with permission bits `mode`.
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> &mut Self {
        let mut h = self.header(tar::EntryType::Regular, mode, data.len() as u64);
        self.tar.append_data(&mut h, path, data).expect("append file to layer");
        self
    }

    /// Add a symbolic link `path` -> `target`.
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = self.header(tar::EntryType::Symlink, 0o777, 0);
        self.tar.append_link(&mut h, path, target).expect("append symlink to layer");
        self
    }

    /// Add a hard link `path` to the earlier entry `target` (a layer-relative path).
    pub fn hardlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = self.header(tar::EntryType::Link, 0o755, 0);
        self.tar.append_link(&mut h, path, target).expect("append hard link to layer");
        self
    }

    /// Add a whiteout that deletes `path` from lower layers (an empty file `dir/.wh.name`).
    pub fn whiteout(&mut self, path: &str) -> &mut Self {
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (format!("{d}/"), n),
            None => (String::new(), path),
        };
        self.file(&format!("{dir}.wh.{name}"), 0o600, b"")
    }

    /// Add an opaque-directory marker: `dir/.wh..wh..opq` hides everything lower layers put in `dir`.
    pub fn opaque(&mut self, dir: &str) -> &mut Self {
        self.file(&format!("{}/.wh..wh..opq", dir.trim_end_matches('/')), 0o600, b"")
    }

    /// Finish the archive and return the uncompressed tar bytes.
    pub fn finish(self) -> Vec<u8> {
        self.tar.into_inner().expect("finish layer tar")
    }
}

/// Names of the applets compiled into the host's busybox (`busybox --list`), without `busybox` itself.
pub fn busybox_applets() -> Vec<String> {
    let out = std::process::Command::new(super::BUSYBOX)
        .arg("--list")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} --list (install busybox-static): {e}", super::BUSYBOX));
    assert!(out.status.success(), "{} --list failed", super::BUSYBOX);
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "busybox" && !l.contains('/'))
        .map(String::from)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Applets installed as symlinks (`-> busybox`) instead of hard links, to exercise both kinds.
pub const SYMLINK_APPLETS: &[&str] = &["env", "ls", "true", "false"];

/// Add the busybox root filesystem to `b` (see [`super::busybox_layer_tar`] for the contents).
pub(super) fn add_busybox_rootfs(b: &mut LayerBuilder) {
    let bin = std::fs::read(super::BUSYBOX)
        .unwrap_or_else(|e| panic!("cannot read {} (install busybox-static): {e}", super::BUSYBOX));
    for d in ["bin", "dev", "etc", "home", "proc", "sys", "usr", "usr/bin", "usr/sbin", "sbin", "var"] {
        b.dir(d, 0o755);
    }
    b.dir("root", 0o700);
    b.dir("tmp", 0o1777);
    b.owner(1000, 1000).dir("home/app", 0o755).owner(0, 0);
    b.file("bin/busybox", 0o755, &bin);
    for applet in busybox_applets() {
        let path = format!("bin/{applet}");
        if SYMLINK_APPLETS.contains(&applet.as_str()) {
            b.symlink(&path, "busybox");
        } else {
            b.hardlink(&path, "bin/busybox");
        }
    }
    b.file(
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    );
    b.file("etc/group", 0o644, b"root:x:0:\napp:x:1000:\nnogroup:x:65534:\n");
}

/// A tar of regular files whose names are written raw, so that `../x` and `/x` (which
/// [`LayerBuilder`] and the `tar` crate refuse) are possible.
pub fn raw_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_old();
        {
            let old = h.as_old_mut();
            old.name.iter_mut().for_each(|c| *c = 0);
            old.name[..name.len()].copy_from_slice(name.as_bytes());
        }
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(MTIME);
        h.set_cksum();
        b.append(&h, *data).expect("append raw entry");
    }
    b.into_inner().expect("finish raw tar")
}

/// One entry of a tar read by [`read_tar`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarEntry {
    /// Regular, directory, symlink, hard link, …
    pub kind: tar::EntryType,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Link target (links only).
    pub link: Option<String>,
    /// Contents (regular files).
    pub data: Vec<u8>,
}

/// The entries of an uncompressed tar by path (without a trailing `/`).
pub fn read_tar(tar_bytes: &[u8]) -> BTreeMap<String, TarEntry> {
    let mut a = tar::Archive::new(tar_bytes);
    let mut out = BTreeMap::new();
    for e in a.entries().expect("read tar") {
        let mut e = e.expect("tar entry");
        let path = e.path().expect("entry path").to_string_lossy().trim_end_matches('/').to_string();
        let h = e.header().clone();
        let link = e.link_name().expect("link name").map(|l| l.to_string_lossy().into_owned());
        let mut data = Vec::new();
        e.read_to_end(&mut data).expect("entry data");
        out.insert(
            path,
            TarEntry { kind: h.entry_type(), mode: h.mode().unwrap_or(0), uid: h.uid().unwrap_or(0), link, data },
        );
    }
    out
}
