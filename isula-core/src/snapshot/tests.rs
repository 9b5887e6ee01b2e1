//! Snapshotter tests with real overlayfs mounts (run as root).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::layers::{chain_id, LayerInfo};
use super::snapshots::SnapshotInfo;
use super::*;
use crate::layer::testutil::{gzip, TarBuilder};
use crate::sys::mount;
use crate::ErrorKind;

/// A snapshotter in its own temp dir; on drop, unmounts anything left below it
/// (even when the test panicked) before the directory is deleted.
struct Fixture {
    snap: Snapshotter,
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let snap = Snapshotter::open(&tmp.path().join("snap")).unwrap();
        Fixture { snap, tmp }
    }
    fn target(&self, name: &str) -> PathBuf {
        let p = self.tmp.path().join(name);
        fs::create_dir_all(&p).unwrap();
        p
    }
    fn mounted(&self) -> Vec<PathBuf> {
        mount::mounts_under(&self.tmp.path().canonicalize().unwrap())
    }
    fn layer(&self, parent: Option<&Digest>, tar: &[u8]) -> LayerInfo {
        let diff = Digest::of(tar);
        self.snap.create_layer(parent, &diff, &mut &tar[..]).unwrap()
    }
    fn entries(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.snap.dir().join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".lock"))
            .collect();
        v.sort();
        v
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Ok(root) = self.tmp.path().canonicalize() {
            for m in mount::mounts_under(&root) {
                let _ = mount::unmount(&m, true);
            }
        }
    }
}

fn ls(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn chain_ids_follow_oci() {
    let a = Digest::of(b"a");
    let b = Digest::of(b"b");
    assert_eq!(chain_id(None, &a), a);
    assert_eq!(chain_id(Some(&a), &b), Digest::of(format!("{a} {b}").as_bytes()));
}

#[test]
fn whiteouts_and_opaque_dirs_through_a_real_overlay_mount() {
    let fx = Fixture::new();
    let mut t1 = TarBuilder::new();
    t1.dir("etc/", 0o755)
        .file("etc/keep", b"keep", 0o644)
        .file("etc/x", b"delete me", 0o644)
        .dir("opq/", 0o755)
        .file("opq/old1", b"o", 0o644)
        .file("opq/old2", b"o", 0o644);
    // A gzip stream: the diff id is that of the plain tar.
    let tar1 = t1.finish();
    let l1 = fx.snap.create_layer(None, &Digest::of(&tar1), &mut &gzip(&tar1)[..]).unwrap();
    let mut t2 = TarBuilder::new();
    t2.dir("etc/", 0o755)
        .file("etc/.wh.x", b"", 0o644)
        .dir("opq/", 0o755)
        .file("opq/.wh..wh..opq", b"", 0o644)
        .file("opq/new", b"n", 0o644);
    let l2 = fx.layer(Some(&l1.chain_id), &t2.finish());
    assert_eq!(l2.parent.as_ref(), Some(&l1.chain_id));

    fx.snap.prepare("c1", Some(&l2.chain_id), Some("img")).unwrap();
    let target = fx.target("rootfs");
    fx.snap.mount("c1", &target).unwrap();
    assert!(fx.snap.snapshots().unwrap()[0].mounted);
    assert!(!target.join("etc/x").exists(), "whited-out file still visible");
    assert_eq!(fs::read(target.join("etc/keep")).unwrap(), b"keep");
    assert_eq!(ls(&target.join("opq")), vec!["new".to_string()], "opaque dir shows lower entries");
    // The layer below is untouched; writes go to the snapshot's upper dir.
    assert!(fx.snap.layer_dir(&l1.chain_id).join("etc/x").is_file());
    fs::write(target.join("etc/new-file"), b"rw").unwrap();
    assert_eq!(fs::read(fx.snap.upper_dir("c1").join("etc/new-file")).unwrap(), b"rw");

    fx.snap.unmount("c1", &target).unwrap();
    assert!(fx.mounted().is_empty(), "left mounted: {:?}", fx.mounted());
    assert!(!fx.snap.snapshots().unwrap()[0].mounted);
}

#[test]
fn gzip_layers_get_the_plain_diff_id() {
    let fx = Fixture::new();
    let mut t = TarBuilder::new();
    t.file("a", b"a", 0o644);
    let tar = t.finish();
    let info = fx.snap.create_layer(None, &Digest::of(&tar), &mut &gzip(&tar)[..]).unwrap();
    assert_eq!(info.diff_id, Digest::of(&tar));
    assert_eq!(info.size, 1);
    assert_eq!(fx.snap.layer(&info.chain_id).unwrap(), info);
    assert_eq!(fx.snap.layers().unwrap(), vec![info.clone()]);
    assert_eq!(fs::read(fx.snap.layer_dir(&info.chain_id).join("a")).unwrap(), b"a");
    assert_eq!(
        fs::read_link(fx.snap.dir().join("l").join(&info.link)).unwrap(),
        Path::new("../layers").join(info.chain_id.hex()).join("diff")
    );

    // Existing layer: returned without reading the stream.
    struct Unreadable;
    impl Read for Unreadable {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            panic!("existing layer must not be read again");
        }
    }
    assert_eq!(fx.snap.create_layer(None, &Digest::of(&tar), &mut Unreadable).unwrap(), info);
}

#[test]
fn bad_layers_leave_nothing_behind() {
    let fx = Fixture::new();
    let sentinel = fx.target("sentinel");
    let mut good = TarBuilder::new();
    good.file("a", b"a", 0o644);
    let good = good.finish();
    let mut evil = TarBuilder::new();
    evil.link("lnk", sentinel.to_str().unwrap(), false).file("lnk/evil", b"x", 0o644);
    let evil = evil.finish();
    let mut cut = good.clone();
    cut.truncate(700);
    let cases: Vec<(&str, Vec<u8>, Digest, ErrorKind)> = vec![
        ("diff id mismatch", good.clone(), Digest::of(b"other"), ErrorKind::InvalidArgument),
        ("escaping symlink", evil.clone(), Digest::of(&evil), ErrorKind::InvalidArgument),
        ("truncated", cut.clone(), Digest::of(&cut), ErrorKind::InvalidArgument),
        ("bzip2", b"BZh9xxxx".to_vec(), Digest::of(b"BZh9xxxx"), ErrorKind::InvalidArgument),
    ];
    for (what, data, diff, kind) in cases {
        let e = fx.snap.create_layer(None, &diff, &mut &data[..]).expect_err(what);
        assert_eq!(e.kind(), kind, "{what}: {e}");
        assert!(fx.snap.layers().unwrap().is_empty(), "{what}");
        assert!(fx.entries("layers").is_empty(), "{what}: {:?}", fx.entries("layers"));
        assert!(fx.entries("tmp").is_empty(), "{what}: {:?}", fx.entries("tmp"));
        assert!(fx.entries("l").is_empty(), "{what}: {:?}", fx.entries("l"));
        assert!(ls(&sentinel).is_empty(), "{what}: wrote outside");
    }
    let e = fx.snap.create_layer(Some(&Digest::of(b"nope")), &Digest::of(&good), &mut &good[..]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(fx.entries("tmp").is_empty());
}

#[test]
fn a_120_layer_chain_mounts() {
    let fx = Fixture::new();
    let mut parent: Option<Digest> = None;
    for i in 0..120 {
        let mut t = TarBuilder::new();
        t.file(&format!("layer{i}"), format!("{i}").as_bytes(), 0o644).file("top", format!("{i}").as_bytes(), 0o644);
        let info = fx.layer(parent.as_ref(), &t.finish());
        parent = Some(info.chain_id);
    }
    let top = parent.unwrap();
    assert!(fx.snap.mount_options("nope").is_err());
    fx.snap.prepare("tall", Some(&top), None).unwrap();
    let opts = fx.snap.mount_options("tall").unwrap();
    assert!(opts.len() < 4096, "{} bytes", opts.len());
    let target = fx.target("rootfs");
    fx.snap.mount("tall", &target).unwrap();
    assert_eq!(fs::read_to_string(target.join("top")).unwrap(), "119");
    assert_eq!(fs::read_to_string(target.join("layer0")).unwrap(), "0");
    assert_eq!(ls(&target).len(), 121);
    // remove() unmounts what is still mounted.
    fx.snap.remove("tall").unwrap();
    assert!(fx.mounted().is_empty(), "left mounted: {:?}", fx.mounted());
    assert!(fx.entries("snapshots").is_empty());
}

#[test]
fn concurrent_creation_yields_one_layer() {
    let fx = Arc::new(Fixture::new());
    let mut t = TarBuilder::new();
    for i in 0..200 {
        t.file(&format!("f{i}"), &[i as u8; 3000], 0o644);
    }
    let tar = Arc::new(t.finish());
    let diff = Digest::of(&tar);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (fx, tar, diff) = (fx.clone(), tar.clone(), diff.clone());
            std::thread::spawn(move || fx.snap.create_layer(None, &diff, &mut &tar[..]).unwrap())
        })
        .collect();
    let infos: Vec<LayerInfo> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(infos.iter().all(|i| *i == infos[0]), "{infos:?}");
    assert_eq!(fx.snap.layers().unwrap().len(), 1);
    assert_eq!(fx.entries("l"), vec![infos[0].link.clone()]);
    assert!(fx.entries("tmp").is_empty());
}

#[test]
fn layers_in_use_cannot_be_removed() {
    let fx = Fixture::new();
    let mut t = TarBuilder::new();
    t.file("a", b"a", 0o644);
    let base = fx.layer(None, &t.finish());
    let mut t = TarBuilder::new();
    t.file("b", b"b", 0o644);
    let child = fx.layer(Some(&base.chain_id), &t.finish());

    let e = fx.snap.remove_layer(&base.chain_id).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition, "{e}");
    fx.snap.prepare("c1", Some(&child.chain_id), Some("img1")).unwrap();
    let e = fx.snap.remove_layer(&child.chain_id).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition, "{e}");
    assert!(e.to_string().contains("snapshot c1"), "{e}");

    fx.snap.remove("c1").unwrap();
    assert_eq!(fx.snap.remove("c1").unwrap_err().kind(), ErrorKind::NotFound);
    fx.snap.remove_layer(&child.chain_id).unwrap();
    fx.snap.remove_layer(&base.chain_id).unwrap();
    assert_eq!(fx.snap.remove_layer(&base.chain_id).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(fx.snap.layer(&base.chain_id).unwrap_err().kind(), ErrorKind::NotFound);
    assert!(fx.entries("layers").is_empty());
    assert!(fx.entries("l").is_empty());
    assert!(fx.entries("tmp").is_empty());
}

#[test]
fn snapshots_prepare_list_and_validate() {
    let fx = Fixture::new();
    let info = fx.snap.prepare("empty1", None, None).unwrap();
    assert_eq!(info, SnapshotInfo { key: "empty1".into(), parent: None, image: None, mounted: false });
    assert_eq!(fx.snap.prepare("empty1", None, None).unwrap_err().kind(), ErrorKind::AlreadyExists);
    for bad in ["", "../x", "a/b", ".hidden", "-x"] {
        assert_eq!(fx.snap.prepare(bad, None, None).unwrap_err().kind(), ErrorKind::InvalidArgument, "{bad:?}");
    }
    let e = fx.snap.prepare("c2", Some(&Digest::of(b"missing")), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(fx.snap.snapshots().unwrap(), vec![info]);
    // An empty rootfs mounts, and is writable.
    let target = fx.target("rootfs");
    fx.snap.mount("empty1", &target).unwrap();
    assert!(ls(&target).is_empty());
    fs::write(target.join("f"), b"1").unwrap();
    fx.snap.unmount("empty1", &target).unwrap();
    fx.snap.unmount("empty1", &target).unwrap(); // not mounted: fine
    assert_eq!(fs::read(fx.snap.upper_dir("empty1").join("f")).unwrap(), b"1");
    assert!(fx.mounted().is_empty());
}

#[test]
fn repair_removes_leftovers() {
    let fx = Fixture::new();
    let mut t = TarBuilder::new();
    t.file("a", b"a", 0o644);
    let good = fx.layer(None, &t.finish());
    fx.snap.prepare("ok", Some(&good.chain_id), None).unwrap();
    let dir = fx.snap.dir();
    fs::create_dir_all(dir.join("tmp/half/diff")).unwrap();
    fs::create_dir_all(dir.join("layers").join(Digest::of(b"half").hex()).join("diff")).unwrap();
    fs::create_dir_all(dir.join("snapshots/half/upper")).unwrap();
    std::os::unix::fs::symlink("../layers/gone/diff", dir.join("l/DANGLING")).unwrap();
    let stale_lock = dir.join("locks").join(format!("{}.lock", Digest::of(b"half").hex()));
    fs::write(&stale_lock, b"").unwrap();
    // A mount record whose mount is gone (as after a reboot) is forgotten.
    let target = fx.target("rootfs");
    fx.snap.mount("ok", &target).unwrap();
    mount::unmount(&target, false).unwrap();
    fx.snap.repair().unwrap();
    assert!(!stale_lock.exists());
    assert!(fx.snap.snapshot_meta("ok").unwrap().mounts.is_empty());
    assert!(fx.entries("tmp").is_empty());
    assert_eq!(fx.entries("layers"), vec![good.chain_id.hex().to_string()]);
    assert_eq!(fx.entries("snapshots"), vec!["ok".to_string()]);
    assert_eq!(fx.entries("l"), vec![good.link.clone()]);
    assert_eq!(fx.snap.layers().unwrap(), vec![good]);
}

#[test]
fn mounts_are_cleaned_up_when_a_test_panics() {
    let root = std::sync::Mutex::new(None::<PathBuf>);
    let res = std::panic::catch_unwind(|| {
        let fx = Fixture::new();
        fx.snap.prepare("p", None, None).unwrap();
        let target = fx.target("rootfs");
        fx.snap.mount("p", &target).unwrap();
        let canon = fx.tmp.path().canonicalize().unwrap();
        assert_eq!(mount::mounts_under(&canon).len(), 1);
        *root.lock().unwrap() = Some(canon);
        panic!("simulated test failure while mounted");
    });
    assert!(res.is_err());
    let root = root.lock().unwrap().clone().unwrap();
    assert!(mount::mounts_under(&root).is_empty());
    assert!(!root.exists(), "temp dir not removed");
}

#[test]
fn staged_layers_are_invisible_until_committed_and_bad_metadata_is_remade() {
    let fx = Fixture::new();
    let mut t1 = TarBuilder::new();
    t1.file("a", b"a", 0o644);
    let t1 = t1.finish();
    let mut t2 = TarBuilder::new();
    t2.file("b", b"b", 0o644);
    let t2 = t2.finish();
    let (g1, g2) = (gzip(&t1), gzip(&t2));
    // Staged in parallel, the upper layer first.
    let (s2, s1) = std::thread::scope(|sc| {
        let h2 = sc.spawn(|| fx.snap.stage_layer(&mut &g2[..], None).unwrap());
        let h1 = sc.spawn(|| fx.snap.stage_layer(&mut &g1[..], None).unwrap());
        (h2.join().unwrap(), h1.join().unwrap())
    });
    assert!(fx.snap.layers().unwrap().is_empty(), "staged layers are not listed");
    assert_eq!(fx.entries("tmp").len(), 2);
    let l1 = fx.snap.commit_staged(None, &Digest::of(&t1), s1).unwrap();
    assert_eq!(l1.chain_id, Digest::of(&t1));
    // A staged layer whose content is not the diff id asked for is refused and removed.
    let e = fx.snap.commit_staged(Some(&l1.chain_id), &Digest::of(b"other"), s2).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(fx.entries("tmp").is_empty(), "{:?}", fx.entries("tmp"));
    assert_eq!(fx.snap.layers().unwrap(), vec![l1.clone()]);
    // Metadata lost to a power loss (written, never flushed): ignored in listings, and the
    // layer is made again when an image needs it.
    fs::write(fx.snap.dir().join("layers").join(l1.chain_id.hex()).join("meta.json"), b"").unwrap();
    assert!(fx.snap.layers().unwrap().is_empty());
    let again = fx.layer(None, &t1);
    assert_eq!(again.chain_id, l1.chain_id);
    assert_eq!(fs::read(fx.snap.layer_dir(&again.chain_id).join("a")).unwrap(), b"a");
    assert_eq!(fx.snap.layers().unwrap(), vec![again]);
}
