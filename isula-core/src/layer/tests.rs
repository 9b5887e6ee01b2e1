//! Layer application tests: real files, devices, xattrs and hostile archives (run as root).

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tar::EntryType;

use super::testutil::{gzip, xz, zstd, TarBuilder};
use super::whiteout::OPAQUE_XATTR;
use super::*;
use crate::digest::Digest;
use crate::sys::xattr;
use crate::ErrorKind;

fn apply_bytes(data: &[u8], dest: &Path) -> crate::Result<AppliedLayer> {
    apply_layer_with(&mut &data[..], dest, &ApplyOptions::default())
}

/// A scratch area with a destination and a sentinel directory beside it.
struct Area {
    tmp: tempfile::TempDir,
}

impl Area {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("dest")).unwrap();
        fs::create_dir(tmp.path().join("sentinel")).unwrap();
        Area { tmp }
    }
    fn dest(&self) -> std::path::PathBuf {
        self.tmp.path().join("dest")
    }
    fn sentinel(&self) -> std::path::PathBuf {
        self.tmp.path().join("sentinel")
    }
    fn outside_untouched(&self) {
        let names: Vec<_> = fs::read_dir(self.tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "unexpected entries beside dest: {names:?}");
        assert_eq!(fs::read_dir(self.sentinel()).unwrap().count(), 0, "sentinel written");
    }
}

#[test]
fn every_entry_type_round_trips() {
    let area = Area::new();
    let mut t = TarBuilder::new();
    t.dir("d/", 0o1777)
        .pax(&[("SCHILY.xattr.user.note", b"hello"), ("mtime", b"1600000000.25")])
        .file_owned("d/suid", b"#!/bin/sh\n", 0o4755, 1234, 5678)
        .link("d/hard", "d/suid", true)
        .pax(&[("SCHILY.xattr.user.skipped", b"symlinks take no user xattrs")])
        .link("d/sym", "suid", false)
        .node("d/null", EntryType::Char, 0o666, 1, 3)
        .node("d/loop", EntryType::Block, 0o660, 7, 0)
        .node("d/fifo", EntryType::Fifo, 0o644, 0, 0)
        .fifo_blank("d/gnu-fifo", 0o600)
        .file("implicit/parent/file", b"x", 0o600);
    let long = format!("{}/{}", "a".repeat(120), "long-name");
    t.pax(&[("path", long.as_bytes())]).file("ignored", b"long", 0o644);
    let tar = t.finish();
    let dest = area.dest();
    let applied = apply_bytes(&tar, &dest).unwrap();
    assert_eq!(applied.diff_id, Digest::of(&tar));
    assert_eq!(applied.size, tar.len() as u64);

    let d = fs::symlink_metadata(dest.join("d")).unwrap();
    assert!(d.is_dir());
    assert_eq!(d.mode() & 0o7777, 0o1777);
    assert_eq!(d.mtime(), 1_600_000_000, "dir mtime must be fixed after its children");

    let f = fs::symlink_metadata(dest.join("d/suid")).unwrap();
    assert_eq!(f.mode() & 0o7777, 0o4755);
    assert_eq!((f.uid(), f.gid()), (1234, 5678));
    assert_eq!((f.mtime(), f.mtime_nsec()), (1_600_000_000, 250_000_000));
    assert_eq!(fs::read(dest.join("d/suid")).unwrap(), b"#!/bin/sh\n");
    assert_eq!(xattr::lget(&dest.join("d/suid"), "user.note").unwrap().as_deref(), Some(&b"hello"[..]));

    let h = fs::symlink_metadata(dest.join("d/hard")).unwrap();
    assert_eq!(h.ino(), f.ino(), "hard link shares the inode");
    assert_eq!(f.nlink(), 2);

    assert_eq!(fs::read_link(dest.join("d/sym")).unwrap(), Path::new("suid"));
    assert_eq!(fs::symlink_metadata(dest.join("d/sym")).unwrap().mtime(), 1_600_000_000);

    let null = fs::symlink_metadata(dest.join("d/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!((libc::major(null.rdev()), libc::minor(null.rdev())), (1, 3));
    assert_eq!(null.mode() & 0o7777, 0o666);
    let blk = fs::symlink_metadata(dest.join("d/loop")).unwrap();
    assert!(blk.file_type().is_block_device());
    assert_eq!((libc::major(blk.rdev()), libc::minor(blk.rdev())), (7, 0));
    assert!(fs::symlink_metadata(dest.join("d/fifo")).unwrap().file_type().is_fifo());
    // GNU tar leaves a FIFO's device numbers empty: zero, not a corrupt archive.
    assert!(fs::symlink_metadata(dest.join("d/gnu-fifo")).unwrap().file_type().is_fifo());

    assert_eq!(fs::read(dest.join("implicit/parent/file")).unwrap(), b"x");
    assert_eq!(fs::symlink_metadata(dest.join("implicit")).unwrap().mode() & 0o7777, 0o755);
    assert_eq!(fs::read(dest.join(&long)).unwrap(), b"long");
    area.outside_untouched();
}

#[test]
fn whiteouts_become_overlay_form() {
    let area = Area::new();
    let mut t = TarBuilder::new();
    t.dir("etc/", 0o755)
        .file("etc/.wh.gone", b"", 0o644)
        .dir("opq/", 0o755)
        .file("opq/.wh..wh..opq", b"", 0o644)
        .file("opq/new", b"n", 0o644)
        .file(".wh..wh.plnk", b"", 0o644);
    let dest = area.dest();
    apply_bytes(&t.finish(), &dest).unwrap();
    let w = fs::symlink_metadata(dest.join("etc/gone")).unwrap();
    assert!(w.file_type().is_char_device());
    assert_eq!(w.rdev(), 0);
    assert!(!dest.join("etc/.wh.gone").exists());
    assert_eq!(xattr::lget(&dest.join("opq"), OPAQUE_XATTR).unwrap().as_deref(), Some(&b"y"[..]));
    assert!(!dest.join("opq/.wh..wh..opq").exists());
    assert!(!dest.join(".wh..wh.plnk").exists());
}

#[test]
fn later_entries_replace_earlier_ones() {
    let area = Area::new();
    let mut t = TarBuilder::new();
    t.dir("a/", 0o755)
        .file("a/x", b"1", 0o644)
        .file("a", b"now a file", 0o644)
        .file("b", b"1", 0o644)
        .dir("b/", 0o700)
        .dir("b/", 0o711);
    let dest = area.dest();
    apply_bytes(&t.finish(), &dest).unwrap();
    assert_eq!(fs::read(dest.join("a")).unwrap(), b"now a file");
    assert_eq!(fs::symlink_metadata(dest.join("b")).unwrap().mode() & 0o7777, 0o711);
}

#[test]
fn compressed_layers_have_the_uncompressed_diff_id() {
    let mut t = TarBuilder::new();
    t.dir("x/", 0o755).file("x/data", &vec![42u8; 200_000], 0o644);
    let mut tar = t.finish();
    tar.extend(vec![0u8; 10240 - tar.len() % 10240]); // record padding, as GNU tar writes
    let want = Digest::of(&tar);
    for (name, data) in [("plain", tar.clone()), ("gzip", gzip(&tar)), ("zstd", zstd(&tar)), ("xz", xz(&tar))] {
        let area = Area::new();
        let got = apply_bytes(&data, &area.dest()).unwrap();
        assert_eq!(got.diff_id, want, "{name}");
        assert_eq!(got.size, tar.len() as u64, "{name}");
        assert_eq!(got.content_bytes, 200_000, "{name}");
        assert_eq!(fs::read(area.dest().join("x/data")).unwrap().len(), 200_000, "{name}");
    }
    let area = Area::new();
    let e = apply_bytes(b"BZh91AY&SY\x01\x02\x03", &area.dest()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("bzip2"), "{e}");
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 253) as u8 + 1).collect();
    let e = apply_bytes(&garbage, &area.dest()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("corrupt layer tar"), "{e}");
    let e = apply_bytes(&gzip(&garbage)[..100], &area.dest()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

fn assert_refused(t: &TarBuilder, what: &str) {
    let area = Area::new();
    let e = apply_bytes(&t.finish(), &area.dest()).expect_err(what);
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{what}: {e}");
    assert!(e.to_string().contains("layer entry"), "{what}: error must name the entry: {e}");
    area.outside_untouched();
}

#[test]
fn hostile_paths_are_refused() {
    let area = Area::new(); // only for its path: where the sentinel of each case would be
    let sentinel_abs = area.sentinel();
    let sentinel_abs = sentinel_abs.to_str().unwrap();
    let mut t = TarBuilder::new();
    t.file("../evil", b"x", 0o644);
    assert_refused(&t, "dot-dot");
    let mut t = TarBuilder::new();
    t.file("../sentinel/evil", b"x", 0o644);
    assert_refused(&t, "dot-dot into sentinel");
    let mut t = TarBuilder::new();
    t.file("/abs", b"x", 0o644);
    assert_refused(&t, "absolute");
    let mut t = TarBuilder::new();
    t.dir("a/", 0o755).file("a/../../evil", b"x", 0o644);
    assert_refused(&t, "a/../../evil");
    let mut t = TarBuilder::new();
    t.link("lnk", "/tmp", false).file("lnk/evil", b"x", 0o644);
    assert_refused(&t, "absolute symlink parent");
    let mut t = TarBuilder::new();
    t.link("lnk", "../sentinel", false).file("lnk/evil", b"x", 0o644);
    assert_refused(&t, "relative symlink parent");
    let mut t = TarBuilder::new();
    t.dir("a/", 0o755).link("a/up", "../..", false).dir("a/up/sentinel/", 0o755);
    assert_refused(&t, "symlink dir parent");
    let mut t = TarBuilder::new();
    t.link("lnk", "../sentinel", false).file("lnk/.wh.x", b"", 0o644);
    assert_refused(&t, "whiteout through symlink");
    let mut t = TarBuilder::new();
    t.link("lnk", "../sentinel", false).file("lnk/.wh..wh..opq", b"", 0o644);
    assert_refused(&t, "opaque through symlink");
    let mut t = TarBuilder::new();
    t.link("passwd", "../../etc/passwd", true);
    assert_refused(&t, "hardlink outside");
    let mut t = TarBuilder::new();
    t.link("lnk", "/etc", false).link("passwd", "lnk/passwd", true);
    assert_refused(&t, "hardlink through symlink");
    let mut t = TarBuilder::new();
    t.link("lnk", "nowhere", false).file("lnk/x", b"x", 0o644);
    assert_refused(&t, "dangling symlink parent");
    let mut t = TarBuilder::new();
    t.link("x", "missing", true);
    assert_refused(&t, "hardlink to a missing file");
    let mut t = TarBuilder::new();
    t.link("lnk", sentinel_abs, false).file("lnk/evil", b"x", 0o644);
    assert_refused(&t, "symlink to the sentinel's absolute path");
}

#[test]
fn symlinks_inside_the_root_are_followed() {
    let area = Area::new();
    let mut t = TarBuilder::new();
    t.dir("usr/lib/", 0o755).link("lib", "usr/lib", false).file("lib/libc.so", b"elf", 0o644);
    apply_bytes(&t.finish(), &area.dest()).unwrap();
    assert_eq!(fs::read(area.dest().join("usr/lib/libc.so")).unwrap(), b"elf");
}

#[test]
fn truncated_and_oversized_layers_are_refused() {
    let mut t = TarBuilder::new();
    t.file("a", &vec![1u8; 5000], 0o644).file("b", b"b", 0o644);
    let tar = t.finish();
    // Cut inside file data, inside a header, and exactly at an entry boundary.
    for cut in [2000, 512 * 11 + 100, 512 * 11] {
        let area = Area::new();
        let e = apply_bytes(&tar[..cut], &area.dest()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "cut {cut}: {e}");
        assert!(e.to_string().contains("corrupt layer tar"), "cut {cut}: {e}");
    }
    let area = Area::new();
    let small = ApplyOptions { max_size: 4096, ..ApplyOptions::default() };
    let e = apply_layer_with(&mut &tar[..], &area.dest(), &small).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("maximum uncompressed size"), "{e}");
    let area = Area::new();
    let few = ApplyOptions { max_entries: 1, ..ApplyOptions::default() };
    let e = apply_layer_with(&mut &tar[..], &area.dest(), &few).unwrap_err();
    assert!(e.to_string().contains("more than 1 entries"), "{e}");
}

#[test]
fn empty_stream_is_an_empty_layer() {
    let area = Area::new();
    let got = apply_bytes(b"", &area.dest()).unwrap();
    assert_eq!(got.diff_id, Digest::of(b""));
    let got = apply_bytes(&[0u8; 1024], &area.dest()).unwrap();
    assert_eq!(got.size, 1024);
}

/// Rough throughput figure for a ~100 MB layer: `cargo test -p isula-core apply_throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn apply_throughput() {
    let mut t = TarBuilder::new();
    let big = vec![0x5au8; 1 << 20];
    t.dir("big/", 0o755);
    for i in 0..80 {
        t.file(&format!("big/f{i}"), &big, 0o644);
    }
    t.dir("small/", 0o755);
    for i in 0..5000 {
        t.file(&format!("small/{}/f{i}", i % 50), &big[..4000], 0o644);
    }
    let tar = t.finish();
    let mb = tar.len() as f64 / 1e6;
    for (name, data) in [("plain", tar.clone()), ("gzip", gzip(&tar)), ("zstd", zstd(&tar))] {
        let start = std::time::Instant::now();
        let mut r = decompress(Box::new(&data[..])).unwrap();
        let mut h = crate::digest::Hasher::new();
        std::io::copy(&mut r, &mut h).unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!("decompress+sha256 {name}: {mb:.1} MB in {secs:.2}s = {:.0} MB/s", mb / secs);
        for sync in [false, true] {
            let area = Area::new();
            let opts = ApplyOptions { sync, ..ApplyOptions::default() };
            let start = std::time::Instant::now();
            apply_layer_with(&mut &data[..], &area.dest(), &opts).unwrap();
            let secs = start.elapsed().as_secs_f64();
            println!("apply {name} (syncfs {sync}): {mb:.1} MB, 5082 entries in {secs:.2}s = {:.0} MB/s", mb / secs);
        }
    }
}

/// Apply the tar file named by `ISULA_BENCH_TAR` (ad-hoc comparisons with other unpackers):
/// `ISULA_BENCH_TAR=/path/x.tar cargo test -p isula-core apply_file_throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn apply_file_throughput() {
    let Ok(path) = std::env::var("ISULA_BENCH_TAR") else {
        return;
    };
    let area = Area::new();
    let start = std::time::Instant::now();
    let mut f = fs::File::open(&path).unwrap();
    let got = apply_layer_with(&mut f, &area.dest(), &ApplyOptions { sync: false, ..Default::default() }).unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!("apply {path}: {:.1} MB in {secs:.2}s = {:.0} MB/s", got.size as f64 / 1e6, got.size as f64 / 1e6 / secs);
}

/// Describe a tree for comparison: type, mode, owner, size, mtime, link target, xattrs.
fn describe(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut ents: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        ents.sort();
        for p in ents {
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let link = if m.file_type().is_symlink() {
                fs::read_link(&p).unwrap().display().to_string()
            } else {
                String::new()
            };
            let size = if m.is_file() { m.len() } else { 0 };
            let mtime = m.mtime();
            let mut xs = xattr::llist(&p).unwrap();
            xs.sort();
            let xs: Vec<String> = xs
                .iter()
                .filter(|k| k.starts_with("user."))
                .map(|k| format!("{k}={:?}", xattr::lget(&p, k).unwrap()))
                .collect();
            out.push(format!(
                "{rel} mode={:o} {}:{} size={size} mtime={mtime} nlink={} link={link} {xs:?}",
                m.mode(),
                m.uid(),
                m.gid(),
                m.nlink()
            ));
            if m.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

/// Archives written by GNU tar (both its own format and POSIX/PAX) unpack to the
/// same tree GNU tar itself extracts.
#[test]
fn gnu_tar_archives_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let long_dir = src.join("d".repeat(90)).join("e".repeat(90));
    fs::create_dir_all(&long_dir).unwrap();
    fs::write(long_dir.join("f".repeat(120)), b"long").unwrap();
    fs::write(src.join("suid"), b"x").unwrap();
    fs::set_permissions(src.join("suid"), std::os::unix::fs::PermissionsExt::from_mode(0o4711)).unwrap();
    std::os::unix::fs::lchown(src.join("suid"), Some(1000), Some(2000)).unwrap();
    fs::hard_link(src.join("suid"), src.join("hard")).unwrap();
    std::os::unix::fs::symlink("d".repeat(90) + "/" + &"e".repeat(90) + "/" + &"f".repeat(120), src.join("longlink"))
        .unwrap();
    xattr::lset(&src.join("suid"), "user.k", b"v").unwrap();
    fs::create_dir(src.join("empty")).unwrap();
    for format in ["gnu", "posix"] {
        let tarball = tmp.path().join(format!("{format}.tar"));
        // GNU tar stores xattrs only in POSIX archives.
        let mut create = std::process::Command::new("tar");
        if format == "posix" {
            create.args(["--xattrs", "--xattrs-include=user.*"]);
        }
        let st = create
            .args(["--numeric-owner", &format!("--format={format}"), "-C"])
            .arg(&src)
            .arg("-cf")
            .arg(&tarball)
            .arg(".")
            .status()
            .expect("GNU tar is installed");
        assert!(st.success());
        let ours = tmp.path().join(format!("ours-{format}"));
        let theirs = tmp.path().join(format!("theirs-{format}"));
        fs::create_dir(&ours).unwrap();
        fs::create_dir(&theirs).unwrap();
        let st = std::process::Command::new("tar")
            .args(["--xattrs", "--xattrs-include=user.*", "--numeric-owner", "-p", "-C"])
            .arg(&theirs)
            .arg("-xf")
            .arg(&tarball)
            .status()
            .unwrap();
        assert!(st.success());
        let data = fs::read(&tarball).unwrap();
        let got = apply_bytes(&data, &ours).unwrap();
        assert_eq!(got.diff_id, Digest::of(&data), "{format}");
        assert_eq!(describe(&ours), describe(&theirs), "{format}");
        if format == "posix" {
            assert!(describe(&ours).iter().any(|l| l.contains("user.k")), "{format}: xattr lost");
        }
    }
}

/// Unmounts (lazily) on drop.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_layer_that_would_fill_the_disk_is_stopped_first() {
    if !nix::unistd::geteuid().is_root() {
        return; // mounting a small filesystem needs root (the suite runs as root)
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    fs::create_dir(&mnt).unwrap();
    let ok = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=32m", "tmpfs"]).arg(&mnt).status();
    assert!(ok.unwrap().success(), "mount a 32 MiB tmpfs");
    let _unmount = Unmount(mnt.clone());
    // A decompression bomb: 64 MiB of zeros in well under 1 MiB of gzip.
    let bomb = gzip(&TarBuilder::new().file("zeros", &vec![0u8; 64 << 20], 0o644).finish());
    assert!(bomb.len() < 1 << 20);
    let dest = mnt.join("bomb");
    fs::create_dir(&dest).unwrap();
    let err = apply_bytes(&bomb, &dest).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");
    assert!(err.to_string().contains("not enough disk space"), "{err}");
    // Many files that fill it step by step are stopped too, with the reserve still free.
    let mut t = TarBuilder::new();
    let chunk = vec![7u8; 4 << 20];
    for i in 0..12 {
        t.file(&format!("f{i}"), &chunk, 0o644);
    }
    let dest = mnt.join("many");
    fs::create_dir(&dest).unwrap();
    let err = apply_bytes(&t.finish(), &dest).unwrap_err();
    assert!(err.to_string().contains("not enough disk space"), "{err}");
    let st = nix::sys::statvfs::statvfs(&mnt).unwrap();
    #[allow(clippy::unnecessary_cast)]
    let avail = st.blocks_available() as u64 * st.fragment_size() as u64;
    assert!(avail >= 1 << 20, "the filesystem was filled: {avail} bytes left");
}
