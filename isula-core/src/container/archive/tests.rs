//! Archive tests on a temporary rootfs holding busybox and crafted links.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::Path;

use tar::EntryType;

use super::*;
use crate::layer::testutil::TarBuilder;
use crate::ErrorKind;

const PASSWD: &str = "root:x:0:0:rootfs-passwd-marker:/root:/bin/sh\n";

/// A small rootfs: busybox, /bin/sh link, /etc/passwd, an absolute and an escaping
/// link, a hard link, a fifo, /dev/null, a file owned by 1000 with an xattr.
fn rootfs() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for d in ["bin", "etc", "dev", "tmp", "data"] {
        std::fs::create_dir(r.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", r.join("bin/busybox")).unwrap();
    symlink("busybox", r.join("bin/sh")).unwrap();
    std::fs::write(r.join("etc/passwd"), PASSWD).unwrap();
    symlink("/etc/passwd", r.join("etc/link")).unwrap();
    symlink("../../../../../../../..", r.join("escape")).unwrap();
    std::fs::write(r.join("data/a"), "hello").unwrap();
    std::fs::hard_link(r.join("data/a"), r.join("data/hard")).unwrap();
    std::os::unix::fs::lchown(r.join("data/a"), Some(1000), Some(1001)).unwrap();
    crate::sys::xattr::lset(&r.join("data/a"), "user.isula", b"yes").unwrap();
    nix::unistd::mkfifo(&r.join("data/fifo"), nix::sys::stat::Mode::from_bits_truncate(0o640)).unwrap();
    nix::sys::stat::mknod(
        &r.join("dev/null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        libc::makedev(1, 3),
    )
    .unwrap();
    std::fs::set_permissions(r.join("tmp"), std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    t
}

#[derive(Debug)]
struct Ent {
    kind: EntryType,
    mode: u32,
    uid: u64,
    link: Option<String>,
    data: Vec<u8>,
    dev: (u32, u32),
    xattrs: Vec<(String, Vec<u8>)>,
}

fn entries(tar_bytes: &[u8]) -> BTreeMap<String, Ent> {
    let mut a = tar::Archive::new(tar_bytes);
    let mut out = BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().trim_end_matches('/').to_string();
        let h = e.header();
        let kind = h.entry_type();
        let mode = h.mode().unwrap();
        let uid = h.uid().unwrap();
        let link = e.link_name().unwrap().map(|l| l.to_string_lossy().into_owned());
        let dev = (h.device_major().unwrap().unwrap_or(0), h.device_minor().unwrap().unwrap_or(0));
        let mut xattrs = Vec::new();
        if let Some(p) = e.pax_extensions().unwrap() {
            for x in p {
                let x = x.unwrap();
                if let Some(k) = x.key().unwrap().strip_prefix("SCHILY.xattr.") {
                    xattrs.push((k.to_string(), x.value_bytes().to_vec()));
                }
            }
        }
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(name, Ent { kind, mode, uid, link, data, dev, xattrs });
    }
    out
}

#[test]
fn export_keeps_everything() {
    let t = rootfs();
    let mut out = Vec::new();
    export_rootfs(t.path(), &mut out).unwrap();
    let e = entries(&out);
    let bb = &e["bin/busybox"];
    assert_eq!(bb.kind, EntryType::Regular);
    assert_eq!(bb.data, std::fs::read("/bin/busybox").unwrap());
    assert_eq!(bb.mode & 0o111, 0o111);
    assert_eq!(e["bin/sh"].kind, EntryType::Symlink);
    assert_eq!(e["bin/sh"].link.as_deref(), Some("busybox"));
    assert_eq!(e["etc/link"].link.as_deref(), Some("/etc/passwd"));
    assert_eq!(e["tmp"].kind, EntryType::Directory);
    assert_eq!(e["tmp"].mode, 0o1777);
    // data/a comes first in name order; data/hard is a hard link to it.
    assert_eq!(e["data/a"].uid, 1000);
    assert_eq!(e["data/a"].xattrs, vec![("user.isula".to_string(), b"yes".to_vec())]);
    assert_eq!(e["data/hard"].kind, EntryType::Link);
    assert_eq!(e["data/hard"].link.as_deref(), Some("data/a"));
    assert_eq!(e["data/fifo"].kind, EntryType::Fifo);
    assert_eq!(e["data/fifo"].mode, 0o640);
    assert_eq!(e["dev/null"].kind, EntryType::Char);
    assert_eq!(e["dev/null"].dev, (1, 3));
    assert!(!e.keys().any(|k| k.starts_with('/') || k.starts_with("..")));
    // GNU tar reads it too, with the same listing.
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), &out).unwrap();
    let list = std::process::Command::new("tar").arg("-tf").arg(f.path()).output().unwrap();
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.lines().any(|l| l == "bin/busybox"), "{listed}");
    assert_eq!(listed.lines().count(), e.len());
}

#[test]
fn copy_from_resolves_inside_the_rootfs() {
    let t = rootfs();
    // An absolute link: the rootfs's /etc/passwd, never the host's.
    let mut out = Vec::new();
    let st = copy_from(t.path(), "/etc/link", true, &mut out).unwrap();
    let e = entries(&out);
    assert_eq!(e.len(), 1);
    assert_eq!(e["link"].data, PASSWD.as_bytes());
    assert!(!st.is_dir());
    assert_eq!(st.size, PASSWD.len() as u64);
    // Without -L: the link itself.
    let mut out = Vec::new();
    let st = copy_from(t.path(), "/etc/link", false, &mut out).unwrap();
    assert_eq!(entries(&out)["link"].link.as_deref(), Some("/etc/passwd"));
    assert_eq!(st.link_target, "/etc/passwd");
    // `..` and a link climbing out stop at the rootfs.
    for p in ["/escape/etc/passwd", "../../../etc/passwd", "/escape/etc/link"] {
        let mut out = Vec::new();
        copy_from(t.path(), p, true, &mut out).unwrap();
        let e = entries(&out);
        assert_eq!(e.values().next().unwrap().data, PASSWD.as_bytes(), "{p}");
    }
    // A directory gives its tree under its base name.
    let mut out = Vec::new();
    let st = copy_from(t.path(), "/data", false, &mut out).unwrap();
    assert!(st.is_dir());
    let e = entries(&out);
    assert_eq!(e.keys().collect::<Vec<_>>(), ["data", "data/a", "data/fifo", "data/hard"]);
    assert_eq!(e["data/a"].data, b"hello");
    // The root itself.
    let mut out = Vec::new();
    copy_from(t.path(), "/", false, &mut out).unwrap();
    assert!(entries(&out).contains_key("./bin/busybox") || entries(&out).contains_key("bin/busybox"));
    // Missing.
    let err = copy_from(t.path(), "/nope/x", false, &mut Vec::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.to_string(), "Could not find the file /nope/x in container");
    assert_eq!(
        copy_from(t.path(), "/etc/passwd/", false, &mut Vec::new()).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn stat_path_reports_links_and_dirs() {
    let t = rootfs();
    let s = stat_path(t.path(), "/etc/link").unwrap();
    assert_eq!((s.name.as_str(), s.link_target.as_str()), ("link", "/etc/passwd"));
    assert_eq!(s.mode & libc::S_IFMT, libc::S_IFLNK);
    assert_eq!(stat_path(t.path(), "/bin/sh").unwrap().link_target, "/bin/busybox");
    assert_eq!(stat_path(t.path(), "/escape").unwrap().link_target, "/");
    assert_eq!(stat_path(t.path(), "/etc/passwd").unwrap().link_target, "");
    let s = stat_path(t.path(), "/escape/tmp").unwrap();
    assert!(s.is_dir());
    assert_eq!(s.mode & 0o7777, 0o1777);
    assert_eq!(stat_path(t.path(), "/missing").unwrap_err().kind(), ErrorKind::NotFound);
}

fn sample_tar() -> Vec<u8> {
    let mut b = TarBuilder::new();
    b.file_owned("a.txt", b"A", 0o640, 1000, 1000)
        .dir("d", 0o750)
        .file("d/f", b"F", 0o600)
        .link("s", "d/f", false)
        .link("h", "d/f", true);
    b.finish()
}

#[test]
fn copy_to_extracts_into_a_container_dir() {
    let t = rootfs();
    let r = t.path();
    copy_to(r, "/tmp", &mut &sample_tar()[..], &CopyToOptions::default()).unwrap();
    assert_eq!(std::fs::read(r.join("tmp/a.txt")).unwrap(), b"A");
    let m = std::fs::metadata(r.join("tmp/a.txt")).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (1000, 0o640));
    assert_eq!(std::fs::metadata(r.join("tmp/d")).unwrap().mode() & 0o7777, 0o750);
    assert_eq!(std::fs::read_link(r.join("tmp/s")).unwrap(), Path::new("d/f"));
    assert_eq!(std::fs::metadata(r.join("tmp/h")).unwrap().ino(), std::fs::metadata(r.join("tmp/d/f")).unwrap().ino());
    // Owner override; an absolute link as destination resolves inside the rootfs.
    symlink("/data", r.join("tmp/datalink")).unwrap();
    let opts = CopyToOptions { owner: Some((5, 6)), ..Default::default() };
    copy_to(r, "/tmp/datalink", &mut &sample_tar()[..], &opts).unwrap();
    let m = std::fs::metadata(r.join("data/a.txt")).unwrap();
    assert_eq!((m.uid(), m.gid()), (5, 6));
    // Destination missing or not a directory.
    let e = copy_to(r, "/nope", &mut &sample_tar()[..], &CopyToOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = copy_to(r, "/etc/passwd", &mut &sample_tar()[..], &CopyToOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    // A directory is not replaced by a file (Docker's default).
    let mut b = TarBuilder::new();
    b.file("d", b"x", 0o644);
    let e = copy_to(r, "/tmp", &mut &b.finish()[..], &CopyToOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(r.join("tmp/d").is_dir());
}

#[test]
fn copy_to_refuses_escapes() {
    let t = rootfs();
    let r = t.path();
    let host = tempfile::tempdir().unwrap();
    // The container's /tmp/out points at a host directory: inside the rootfs that path
    // does not exist, so the copy is confined (NotFound), and the host dir stays empty.
    symlink(host.path(), r.join("tmp/out")).unwrap();
    let e = copy_to(r, "/tmp/out", &mut &sample_tar()[..], &CopyToOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    // A link climbing out is confined to the rootfs root.
    copy_to(r, "/escape/tmp", &mut &sample_tar()[..], &CopyToOptions::default()).unwrap();
    assert!(r.join("tmp/a.txt").exists());

    std::fs::create_dir(r.join("dst")).unwrap();
    symlink("/", r.join("dst/up")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dotdot", TarBuilder::new().file("../evil", b"x", 0o644).finish()),
        ("absolute", TarBuilder::new().file("/evil", b"x", 0o644).finish()),
        ("symlink above", TarBuilder::new().link("s", "../../etc", false).finish()),
        ("through a tar symlink", TarBuilder::new().link("root", "/", false).file("root/evil", b"x", 0o644).finish()),
        ("through an existing symlink", TarBuilder::new().file("up/evil", b"x", 0o644).finish()),
        ("hard link out", TarBuilder::new().link("h", "../etc/passwd", true).finish()),
    ];
    for (what, tar) in cases {
        let e = copy_to(r, "/dst", &mut &tar[..], &CopyToOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{what}: {e}");
    }
    assert!(!r.join("evil").exists() && !r.join("etc/evil").exists());
    assert_eq!(std::fs::read_dir(host.path()).unwrap().count(), 0);
    assert_eq!(std::fs::read_to_string(r.join("etc/passwd")).unwrap(), PASSWD);
}
