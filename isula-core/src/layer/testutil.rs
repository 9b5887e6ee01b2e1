//! Test helper: build layer tars in memory, including hostile ones that the
//! `tar` crate's own builder would refuse to write (`..`, absolute names).

use std::io::Write;

use tar::{EntryType, Header};

/// An in-memory tar under construction.
pub(crate) struct TarBuilder {
    out: Vec<u8>,
    /// mtime given to new entries.
    pub mtime: u64,
}

impl Default for TarBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn put_field(dst: &mut [u8], value: &[u8]) {
    assert!(value.len() <= dst.len(), "field too long: {}", String::from_utf8_lossy(value));
    dst.fill(0);
    dst[..value.len()].copy_from_slice(value);
}

/// A PAX record `"<len> key=value\n"` (the length counts itself).
pub(crate) fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3;
    let mut len = body + body.to_string().len();
    if len.to_string().len() + body != len {
        len += 1;
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    assert_eq!(r.len(), len);
    r
}

impl TarBuilder {
    /// An empty archive.
    pub(crate) fn new() -> Self {
        TarBuilder { out: Vec::new(), mtime: 1_600_000_000 }
    }

    fn header(&self, kind: EntryType, name: &str, mode: u32, size: u64) -> Header {
        let mut h = Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(self.mtime);
        h.set_size(size);
        put_field(&mut h.as_mut_bytes()[..100], name.as_bytes());
        h
    }

    fn push(&mut self, mut h: Header, data: &[u8]) {
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
    }

    /// A PAX extended header applying to the next entry.
    pub(crate) fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut data = Vec::new();
        for (k, v) in records {
            data.extend(pax_record(k, v));
        }
        let h = self.header(EntryType::XHeader, "PaxHeader", 0o644, data.len() as u64);
        self.push(h, &data);
        self
    }

    /// A regular file.
    pub(crate) fn file(&mut self, name: &str, data: &[u8], mode: u32) -> &mut Self {
        self.file_owned(name, data, mode, 0, 0)
    }

    /// A regular file with owner.
    pub(crate) fn file_owned(&mut self, name: &str, data: &[u8], mode: u32, uid: u64, gid: u64) -> &mut Self {
        let mut h = self.header(EntryType::Regular, name, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.push(h, data);
        self
    }

    /// A directory.
    pub(crate) fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        let h = self.header(EntryType::Directory, name, mode, 0);
        self.push(h, &[]);
        self
    }

    /// A symlink (hard link when `hard`) named `name` with target `target`.
    pub(crate) fn link(&mut self, name: &str, target: &str, hard: bool) -> &mut Self {
        let kind = if hard { EntryType::Link } else { EntryType::Symlink };
        let mut h = self.header(kind, name, 0o777, 0);
        put_field(&mut h.as_mut_bytes()[157..257], target.as_bytes());
        self.push(h, &[]);
        self
    }

    /// A device node or fifo.
    pub(crate) fn node(&mut self, name: &str, kind: EntryType, mode: u32, major: u32, minor: u32) -> &mut Self {
        let mut h = self.header(kind, name, mode, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.push(h, &[]);
        self
    }

    /// A FIFO whose device number fields are left empty, as GNU tar writes them.
    pub(crate) fn fifo_blank(&mut self, name: &str, mode: u32) -> &mut Self {
        let mut h = self.header(EntryType::Fifo, name, mode, 0);
        h.as_mut_bytes()[329..345].fill(0);
        self.push(h, &[]);
        self
    }

    /// The archive with its two end-of-archive blocks.
    pub(crate) fn finish(&self) -> Vec<u8> {
        let mut out = self.out.clone();
        out.extend(std::iter::repeat_n(0u8, 1024));
        out
    }
}

/// gzip-compress `data`.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// zstd-compress `data`.
pub(crate) fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

/// xz-compress `data`.
pub(crate) fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}
