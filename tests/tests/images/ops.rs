//! End-to-end: import, tag, list with filters, inspect by every kind of name, remove.

use crate::images_common;

use images_common::*;
use isula_core::{Digest, ErrorKind};
use isula_core::{ImportOptions, ListImagesOptions, LoadOptions, RemoveImageOptions, RemovedImage};
use isula_tests::images;

fn load(e: &isula_core::Engine, data: &[u8]) -> String {
    e.images().load(&mut &data[..], &LoadOptions::default()).unwrap()[0].id.clone()
}

fn list(e: &isula_core::Engine, filters: &[&str]) -> isula_core::Result<Vec<Vec<String>>> {
    let opts = ListImagesOptions { all: false, filters: filters.iter().map(|s| s.to_string()).collect() };
    Ok(e.images().list(&opts)?.into_iter().map(|s| s.repo_tags).collect())
}

fn rootfs_tar(marker: &str) -> Vec<u8> {
    let mut b = images::LayerBuilder::new();
    b.dir("etc", 0o755).file("etc/marker", 0o644, marker.as_bytes());
    b.finish()
}

#[test]
fn import_from_file_and_compressed_readers() {
    let (root, e) = engine();
    let tar = images::busybox_layer_tar();
    let file = root.path().join("rootfs.tar");
    std::fs::write(&file, &tar).unwrap();
    let id = e
        .images()
        .import(
            &mut std::fs::File::open(&file).unwrap(),
            &ImportOptions { reference: Some("imported:v1".into()), message: Some("hello".into()) },
        )
        .unwrap();
    let ins = e.images().inspect("imported:v1").unwrap();
    assert_eq!(ins.id, id.to_string());
    assert_eq!(ins.os, "linux");
    assert_eq!(ins.architecture, images::host_arch());
    assert_eq!(ins.root_fs.layers, vec![sha(&tar)]);
    assert!(ins.created.ends_with('Z') && ins.created.len() == 20, "{}", ins.created);
    assert!(ins.size > 500_000, "busybox is big: {}", ins.size);

    // gzip reader, no name: dangling.
    let gz = gzip(&rootfs_tar("gz"));
    let id2 = e.images().import(&mut &gz[..], &ImportOptions::default()).unwrap();
    assert_eq!(e.images().inspect(&id2.to_string()).unwrap().root_fs.layers, vec![sha(&rootfs_tar("gz"))]);
    assert_eq!(list(&e, &["dangling=true"]).unwrap(), vec![Vec::<String>::new()]);

    // xz reader (made by the xz tool).
    if isula_tests::env::require("xz") {
        let plain = rootfs_tar("xz");
        let p = root.path().join("r.tar");
        std::fs::write(&p, &plain).unwrap();
        let st = std::process::Command::new("xz").args(["-k", "-z"]).arg(&p).status().unwrap();
        assert!(st.success());
        let xz = std::fs::read(root.path().join("r.tar.xz")).unwrap();
        let id3 =
            e.images().import(&mut &xz[..], &ImportOptions { reference: Some("xz:1".into()), message: None }).unwrap();
        assert_eq!(e.images().inspect("xz:1").unwrap().id, id3.to_string());
        assert_eq!(e.images().inspect("xz:1").unwrap().root_fs.layers, vec![sha(&plain)]);
    }
    // zstd reader.
    let z = zstd::encode_all(&rootfs_tar("zst")[..], 3).unwrap();
    e.images().import(&mut &z[..], &ImportOptions { reference: Some("zst:1".into()), message: None }).unwrap();
    assert_eq!(e.images().inspect("zst:1").unwrap().root_fs.layers, vec![sha(&rootfs_tar("zst"))]);

    // Not a tar: refused, nothing left behind.
    let before = state(&e);
    let err = e.images().import(&mut &b"this is not a tar archive at all"[..], &ImportOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let err = e
        .images()
        .import(&mut &tar[..], &ImportOptions { reference: Some("UPPER".into()), message: None })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert_eq!(state(&e), before);
}

#[test]
fn tag_list_filters_and_inspect_by_every_name() {
    let (_root, e) = engine();
    let a = images::busybox();
    let b = images::busybox_plus(Some(rootfs_tar("b")), |c| {
        c["created"] = serde_json::json!("2024-03-01T00:00:00Z");
        c["config"]["Labels"] = serde_json::json!({"team": "core", "tier": "web"});
    });
    let c = images::busybox_plus(Some(rootfs_tar("c")), |c| {
        c["created"] = serde_json::json!("2024-06-01T00:00:00Z");
        c["config"]["Labels"] = serde_json::json!({"team": "edge"});
    });
    load(&e, &images::oci_archive(&a, Some("busybox:latest")));
    load(&e, &images::oci_archive(&b, Some("localhost:5000/team/b:1")));
    load(&e, &images::oci_archive(&c, None));
    e.images().tag("busybox", "busybox:1.36").unwrap();
    e.images().tag(&b.id()[7..19], "other:x").unwrap();

    // Newest first.
    assert_eq!(
        list(&e, &[]).unwrap(),
        vec![
            vec![],
            vec!["localhost:5000/team/b:1".to_string(), "other:x".into()],
            vec!["busybox:latest".into(), "busybox:1.36".into()]
        ]
    );
    assert_eq!(list(&e, &["reference=busy*"]).unwrap().len(), 1);
    assert_eq!(list(&e, &["reference=busybox:1.36"]).unwrap().len(), 1);
    assert_eq!(list(&e, &["reference=docker.io/library/busybox"]).unwrap().len(), 1);
    assert_eq!(list(&e, &["reference=localhost:5000/*/*"]).unwrap().len(), 1);
    assert_eq!(list(&e, &["reference=busy*", "reference=other*"]).unwrap().len(), 2);
    assert_eq!(list(&e, &["reference=nothing*"]).unwrap().len(), 0);
    assert_eq!(list(&e, &["dangling=true"]).unwrap(), vec![Vec::<String>::new()]);
    assert_eq!(list(&e, &["dangling=false"]).unwrap().len(), 2);
    assert_eq!(list(&e, &["label=team"]).unwrap().len(), 2);
    assert_eq!(list(&e, &["label=team=core"]).unwrap()[0][0], "localhost:5000/team/b:1");
    assert_eq!(list(&e, &["label=team=core", "label=tier=web"]).unwrap().len(), 1);
    assert_eq!(list(&e, &["label=team=core", "label=tier=db"]).unwrap().len(), 0);
    assert_eq!(list(&e, &["before=other:x"]).unwrap(), vec![vec!["busybox:latest".to_string(), "busybox:1.36".into()]]);
    assert_eq!(list(&e, &["since=other:x"]).unwrap(), vec![Vec::<String>::new()]);
    for bad in ["colour=red", "dangling=maybe", "noequals", "label="] {
        assert_eq!(list(&e, &[bad]).unwrap_err().kind(), ErrorKind::InvalidArgument, "{bad}");
    }
    assert_eq!(list(&e, &["before=missing:1"]).unwrap_err().kind(), ErrorKind::NotFound);

    // Summary fields.
    let s = e.images().list(&ListImagesOptions::default()).unwrap();
    let sb = s.iter().find(|x| x.id == b.id()).unwrap();
    assert_eq!(sb.created, 1_709_251_200);
    assert_eq!(sb.labels.get("tier").map(String::as_str), Some("web"));
    assert!(sb.size > 0);

    // Inspect by every form of name.
    let hex = &a.id()[7..];
    for n in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
        "library/busybox:1.36",
        a.id(),
        hex,
        &hex[..12],
        &a.id()[..12],
    ] {
        assert_eq!(e.images().inspect(n).unwrap().id, a.id(), "{n}");
    }
    let ins = e.images().inspect("busybox").unwrap();
    assert_eq!(ins.repo_tags, vec!["busybox:latest", "busybox:1.36"]);
    let json = serde_json::to_value(&ins).unwrap();
    for k in
        ["Id", "RepoTags", "RepoDigests", "Created", "Size", "Config", "Architecture", "Os", "RootFS", "GraphDriver"]
    {
        assert!(json.get(k).is_some(), "{k} in {json}");
    }
    assert_eq!(json["RootFS"]["Type"], "layers");
    assert_eq!(json["GraphDriver"]["Name"], "overlay2");
    assert_eq!(e.images().inspect("busybox:2").unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(e.images().inspect("sha256:0000").unwrap_err().kind(), ErrorKind::NotFound);

    // Tag errors and moves.
    assert_eq!(e.images().tag("missing", "x:1").unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(e.images().tag("busybox", "Bad/Name").unwrap_err().kind(), ErrorKind::InvalidArgument);
    let dig = format!("busybox@{}", a.manifest.digest);
    assert_eq!(e.images().tag("busybox", &dig).unwrap_err().kind(), ErrorKind::InvalidArgument);
    e.images().tag("other:x", "busybox:1.36").unwrap();
    assert_eq!(e.images().inspect("busybox:1.36").unwrap().id, b.id(), "the tag moved");
    assert_eq!(e.images().inspect(a.id()).unwrap().repo_tags, vec!["busybox:latest"]);
}

#[test]
fn ambiguous_id_prefix_is_invalid_argument() {
    let (_root, e) = engine();
    let mut ids: Vec<Digest> = Vec::new();
    for i in 0..17 {
        ids.push(e.images().import(&mut &rootfs_tar(&i.to_string())[..], &ImportOptions::default()).unwrap());
    }
    // 17 ids over 16 first hex digits: some first digit is shared.
    let shared = (0..ids.len())
        .flat_map(|i| (0..ids.len()).map(move |j| (i, j)))
        .find(|&(i, j)| i != j && ids[i].hex()[..1] == ids[j].hex()[..1])
        .unwrap();
    let prefix = &ids[shared.0].hex()[..1];
    let err = e.images().inspect(prefix).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("ambiguous"), "{err}");
}

#[test]
fn remove_untags_deletes_and_frees_layers_and_blobs() {
    let (_root, e) = engine();
    let empty = state(&e);
    let a = images::busybox();
    let b = images::busybox_plus(Some(rootfs_tar("b")), |_| {});
    load(&e, &images::oci_archive(&a, Some("busybox:latest")));
    load(&e, &images::oci_archive(&b, Some("app:1")));
    e.images().tag("app:1", "app:2").unwrap();
    assert_eq!(state(&e).layers.len(), 2, "busybox's layer is shared");

    // By name with another name left: untag only.
    assert_eq!(
        e.images().remove("app:2", &RemoveImageOptions::default()).unwrap(),
        vec![RemovedImage::Untagged("app:2".into())]
    );
    assert_eq!(e.images().inspect("app:1").unwrap().id, b.id());
    // By id with several names: Conflict unless forced.
    e.images().tag("app:1", "app:3").unwrap();
    let err = e.images().remove(b.id(), &RemoveImageOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("multiple repositories"), "{err}");
    e.images().remove("app:3", &RemoveImageOptions::default()).unwrap();

    // Used by a container snapshot: refused, then allowed with force.
    e.prepare_snapshot_for_test("ctr1", "app:1").unwrap();
    let err = e.images().remove("app:1", &RemoveImageOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("ctr1"), "{err}");
    let err = e.images().remove(b.id(), &RemoveImageOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(e.images().inspect("app:1").is_ok());
    let removed = e.images().remove("app:1", &RemoveImageOptions { force: true, no_prune: false }).unwrap();
    assert_eq!(removed, vec![RemovedImage::Untagged("app:1".into()), RemovedImage::Deleted(b.id().into())]);
    // The container's layers stay while its snapshot exists; its blobs are freed.
    assert_eq!(state(&e).layers.len(), 2);
    for blob in [&b.config, &b.manifest, &b.layers[1]] {
        assert!(!e.content().contains(&blob.digest.parse().unwrap()), "{blob:?} freed");
    }
    e.remove_snapshot_for_test("ctr1").unwrap();
    assert_eq!(state(&e).layers.len(), 1, "b's own layer goes with the last container using it");
    // busybox still complete.
    assert_eq!(e.images().inspect("busybox").unwrap().id, a.id());
    for blob in a.blobs() {
        assert!(e.content().contains(&blob.digest.parse().unwrap()), "{blob:?} kept");
    }

    // A fresh load of b, removed by id: its own layer goes, the shared one stays.
    load(&e, &images::oci_archive(&b, Some("app:1")));
    assert_eq!(state(&e).layers.len(), 2);
    e.images().remove(&b.id()[7..20], &RemoveImageOptions::default()).unwrap();
    assert_eq!(state(&e).layers.len(), 1, "only b's own layer is freed");
    assert_eq!(e.images().inspect("busybox").unwrap().id, a.id());

    // Missing image.
    assert_eq!(e.images().remove("nope:1", &RemoveImageOptions::default()).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(e.images().remove("Bad:Ref!", &RemoveImageOptions::default()).unwrap_err().kind(), ErrorKind::NotFound);

    // Last name: untag + delete; the store is empty again.
    let out = e.images().remove("busybox", &RemoveImageOptions::default()).unwrap();
    assert_eq!(out, vec![RemovedImage::Untagged("busybox:latest".into()), RemovedImage::Deleted(a.id().into())]);
    assert_eq!(state(&e), empty);
}

#[test]
fn records_survive_reopen_and_repair_collects_garbage() {
    let root = isula_tests::env::TestRoot::new();
    let a = images::busybox();
    {
        let e = isula_core::Engine::open(root.config()).unwrap();
        load(&e, &images::oci_archive(&a, Some("busybox:latest")));
        e.images().tag("busybox", "keep:1").unwrap();
        // An unreferenced blob (e.g. from an interrupted pull).
        e.content().put(b"orphan", None).unwrap();
    }
    let e = isula_core::Engine::open(root.config()).unwrap();
    assert_eq!(all_tags(&e), vec!["busybox:latest", "keep:1"]);
    assert!(!e.content().contains(&Digest::of(b"orphan")), "repair freed the orphan blob");
    for blob in a.blobs() {
        assert!(e.content().contains(&blob.digest.parse().unwrap()));
    }
    assert_eq!(state(&e).layers.len(), 1);

    // A record whose layer vanished from disk is dropped at the next open; its blobs are freed.
    let b = images::busybox_plus(Some(rootfs_tar("gone")), |_| {});
    load(&e, &images::oci_archive(&b, Some("gone:1")));
    let top = e.image_layers_for_test().unwrap().into_iter().find(|c| c.to_string() != a.diff_ids[0]).unwrap();
    drop(e);
    std::fs::remove_dir_all(root.path().join("root/snapshots/layers").join(top.hex())).unwrap();
    let e = isula_core::Engine::open(root.config()).unwrap();
    assert_eq!(all_tags(&e), vec!["busybox:latest", "keep:1"]);
    assert!(!e.content().contains(&b.config.digest.parse().unwrap()));
    assert!(!e.content().contains(&b.layers[1].digest.parse().unwrap()));
    assert_eq!(e.images().inspect("busybox").unwrap().id, a.id());
}

#[test]
fn concurrent_loads_and_lists_from_many_threads() {
    let (_root, e) = engine();
    let archives: Vec<Vec<u8>> = (0..6)
        .map(|i| {
            let img = images::busybox_plus(Some(rootfs_tar(&format!("t{i}"))), |_| {});
            images::oci_archive(&img, Some(&format!("par/img{i}:1")))
        })
        .collect();
    std::thread::scope(|s| {
        for a in &archives {
            let e = &e;
            s.spawn(move || {
                e.images().load(&mut &a[..], &LoadOptions::default()).unwrap();
                e.images().list(&ListImagesOptions::default()).unwrap();
            });
        }
    });
    assert_eq!(list(&e, &["reference=par/*"]).unwrap().len(), 6);
    assert_eq!(state(&e).layers.len(), 7, "one shared busybox layer plus one per image");
}

#[test]
fn concurrent_load_and_remove_of_images_sharing_blobs() {
    let (_root, e) = engine();
    let empty = state(&e);
    let archives: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| {
            let img = images::busybox_plus(Some(rootfs_tar(&format!("s{i}"))), |_| {});
            let name = format!("share/img{i}:1");
            let ar = images::oci_archive(&img, Some(&name));
            (name, ar)
        })
        .collect();
    std::thread::scope(|s| {
        for (name, ar) in &archives {
            let e = &e;
            s.spawn(move || {
                for _ in 0..8 {
                    e.images().load(&mut &ar[..], &LoadOptions::default()).unwrap();
                    e.images().remove(name, &RemoveImageOptions::default()).unwrap();
                }
            });
        }
    });
    assert_eq!(state(&e), empty, "everything freed");
}
