//! Layer tar application (the snapshotter's `apply_layer`) into a scratch directory that is
//! removed after each input; nothing may appear, change or gain a link outside it.
//!
//! Input: first byte even: the rest is the layer stream as is (tar, or gzip/zstd/xz of one);
//! odd: the rest describes entries that are written as raw tar headers (names, link names,
//! types and modes exactly as given, valid checksums), so the fuzzer reaches the path and
//! link checks instead of tripping on checksums.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use isula_core::fuzzing;

const TYPES: [u8; 10] = [b'0', b'5', b'2', b'1', b'3', b'6', b'x', b'L', b'K', b'4'];
const SENTINEL: &[u8] = b"outside\n";

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, rest) = self.0.split_at(n);
        self.0 = rest;
        a
    }
}

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// Build a tar from the structured description.
fn build(data: &[u8]) -> Vec<u8> {
    let mut inp = Input(data);
    let mut out = Vec::new();
    while let Some(t) = inp.byte() {
        let kind = TYPES[usize::from(t) % TYPES.len()];
        let name_len = usize::from(inp.byte().unwrap_or(0) % 128);
        let name = inp.bytes(name_len).to_vec();
        let link_len = usize::from(inp.byte().unwrap_or(0) % 128);
        let link = inp.bytes(link_len).to_vec();
        let mode = u32::from_le_bytes([inp.byte().unwrap_or(0xa4), inp.byte().unwrap_or(1), 0, 0]) & 0o7777;
        let owner = u64::from(inp.byte().unwrap_or(0));
        let size_len = usize::from(inp.byte().unwrap_or(0));
        let content = inp.bytes(size_len).to_vec();
        let mut h = tar::Header::new_gnu();
        {
            let old = h.as_old_mut();
            let n = name.len().min(old.name.len());
            old.name[..n].copy_from_slice(&name[..n]);
            let n = link.len().min(old.linkname.len());
            old.linkname[..n].copy_from_slice(&link[..n]);
        }
        h.set_entry_type(tar::EntryType::new(kind));
        h.set_mode(mode);
        h.set_uid(owner);
        h.set_gid(owner / 2);
        h.set_mtime(1_700_000_000 + owner);
        let carries_data = matches!(kind, b'0' | b'x' | b'L' | b'K');
        h.set_size(if carries_data { content.len() as u64 } else { 0 });
        if kind == b'3' || kind == b'4' {
            let _ = h.set_device_major(u32::from(mode as u8 & 1));
            let _ = h.set_device_minor(0);
        }
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        if carries_data {
            out.extend_from_slice(&content);
            pad(&mut out);
        }
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Every path under `dir` except the `skip` subtree, with what matters of each.
fn snapshot(dir: &Path, skip: &Path, out: &mut Vec<(String, u32, u64, u64)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read scratch").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for p in entries {
        if p == skip {
            continue;
        }
        let m = std::fs::symlink_metadata(&p).expect("stat scratch");
        out.push((p.display().to_string(), m.mode(), m.nlink(), m.size()));
        if m.is_dir() {
            snapshot(&p, skip, out);
        }
    }
}

/// See the module doc.
pub fn layer(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    let built;
    let stream = if sel & 1 == 0 {
        rest
    } else {
        built = build(rest);
        &built[..]
    };
    let scratch = crate::scratch();
    // scratch/outside/sentinel and scratch/a/b/root (the destination): relative escapes of
    // up to three levels land in a place that is watched.
    let outside = scratch.path().join("outside");
    std::fs::create_dir(&outside).expect("mkdir outside");
    std::fs::write(outside.join("sentinel"), SENTINEL).expect("write sentinel");
    let root = scratch.path().join("a/b/root");
    std::fs::create_dir_all(&root).expect("mkdir root");
    let mut before = Vec::new();
    snapshot(scratch.path(), &root, &mut before);
    let result = fuzzing::apply_layer(&mut &stream[..], &root);
    let mut after = Vec::new();
    snapshot(scratch.path(), &root, &mut after);
    assert_eq!(before, after, "applying the layer changed the scratch dir outside its destination ({result:?})");
    assert_eq!(std::fs::read(outside.join("sentinel")).expect("read sentinel"), SENTINEL);
    // Nothing under root may be a hard link to (or a device standing for) a file outside.
    let sentinel_ino = std::fs::metadata(outside.join("sentinel")).expect("stat sentinel").ino();
    for e in walk(&root) {
        let m = std::fs::symlink_metadata(&e).expect("stat");
        assert!(m.ino() != sentinel_ino, "{} is the outside sentinel", e.display());
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}
