//! End-to-end `export` and `cp` of real containers.

use crate::containers_common;

use std::collections::BTreeMap;

use containers_common::*;
use isula_core::CopyToOptions;
use isula_core::ErrorKind;
use isula_core::WaitCondition;
use isula_tests::images::{raw_tar, read_tar, LayerBuilder, TarEntry};

/// A tar holding one regular file.
fn one_file_tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = LayerBuilder::new();
    b.file(name, 0o644, data);
    b.finish()
}

#[test]
fn export_and_cp_both_directions() {
    each_runtime(|rt, env| {
        let e = env.e();
        let id = e
            .containers()
            .run(&env.opts(&[
                "sh",
                "-c",
                "echo written-inside > /root/note; ln -s /etc/passwd /root/plink; ln -s / /root/up; sleep 1000",
            ]))
            .unwrap();
        let rootfs = e.containers().record(&id).unwrap().rootfs;
        assert!(eventually(std::time::Duration::from_secs(20), || rootfs.join("root/up").exists()));

        // export: busybox and the file written inside.
        let mut out = Vec::new();
        e.containers().export(&id, &mut out).unwrap();
        let ents = read_tar(&out);
        // busybox's applets are hard links of one file: follow the link to its data.
        let bb = match &ents["bin/busybox"] {
            TarEntry { kind: tar::EntryType::Link, link: Some(first), .. } => &ents[first.as_str()],
            other => other,
        };
        assert_eq!(bb.kind, tar::EntryType::Regular, "{rt}");
        assert_eq!(bb.data, std::fs::read("/bin/busybox").unwrap());
        assert_eq!(ents["root/note"].data, b"written-inside\n");

        // cp out: a file, a link followed inside the container, a missing path.
        let mut out = Vec::new();
        let st = e.containers().copy_from(&id, "/root/note", false, &mut out).unwrap();
        assert_eq!(st.name, "note");
        assert_eq!(read_tar(&out)["note"].data, b"written-inside\n");
        let container_passwd = std::fs::read(rootfs.join("etc/passwd")).unwrap();
        let mut out = Vec::new();
        assert_eq!(e.containers().stat_path(&id, "/root/plink").unwrap().link_target, "/etc/passwd");
        let st = e.containers().copy_from(&id, "/root/plink", true, &mut out).unwrap();
        assert_eq!((st.name.as_str(), st.link_target.as_str()), ("plink", ""), "the target was copied");
        assert_eq!(read_tar(&out)["plink"].data, container_passwd, "{rt}: the container's passwd, not the host's");
        let mut out = Vec::new();
        e.containers().copy_from(&id, "/root/up/root/up/etc/passwd", false, &mut out).unwrap();
        assert_eq!(read_tar(&out)["passwd"].data, container_passwd);
        let err = e.containers().copy_from(&id, "/no/such", false, &mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("Could not find the file /no/such in container"), "{err}");

        // cp in: visible inside the running container.
        e.containers()
            .copy_to(&id, "/tmp", &mut &one_file_tar("hello.txt", b"from-host")[..], &CopyToOptions::default())
            .unwrap();
        let ex = e
            .containers()
            .exec(
                &id,
                &isula_core::ExecOptions { cmd: vec!["cat".into(), "/tmp/hello.txt".into()], ..Default::default() },
            )
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(ex.stdout, b"from-host", "{rt}");
        // Through the container's `/root/up -> /` link: confined to the container root.
        e.containers()
            .copy_to(&id, "/root/up/tmp", &mut &one_file_tar("two.txt", b"2")[..], &CopyToOptions::default())
            .unwrap();
        assert_eq!(std::fs::read(rootfs.join("tmp/two.txt")).unwrap(), b"2");
        // Escapes are refused and write nothing.
        for bad in ["../escape.txt", "/abs.txt"] {
            let err = e
                .containers()
                .copy_to(&id, "/tmp", &mut &raw_tar(&[(bad, b"x")])[..], &CopyToOptions::default())
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{rt} {bad}: {err}");
        }
        assert!(!rootfs.join("escape.txt").exists() && !rootfs.join("abs.txt").exists());
        let mut b = LayerBuilder::new();
        b.symlink("hostroot", "/").file("hostroot/evil", 0o644, b"x");
        let evil = b.finish();
        let err = e.containers().copy_to(&id, "/tmp", &mut &evil[..], &CopyToOptions::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(!rootfs.join("evil").exists());
        let err = e
            .containers()
            .copy_to(&id, "/nope", &mut &one_file_tar("x", b"x")[..], &CopyToOptions::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);

        // A stopped container can be exported and copied from too.
        e.containers().stop(&id, Some(1)).unwrap();
        e.containers().wait(&id, WaitCondition::NotRunning).unwrap();
        let mut out = Vec::new();
        e.containers().copy_from(&id, "/tmp/hello.txt", false, &mut out).unwrap();
        assert_eq!(read_tar(&out)["hello.txt"].data, b"from-host");
    });
}

fn cp_out(e: &isula_core::Engine, id: &str, path: &str) -> BTreeMap<String, TarEntry> {
    let mut out = Vec::new();
    e.containers().copy_from(id, path, false, &mut out).unwrap_or_else(|err| panic!("cp {path}: {err}"));
    read_tar(&out)
}

#[test]
fn cp_sees_volumes_and_binds_but_export_does_not() {
    each_runtime(|rt, env| {
        let e = env.e();
        let host = tempfile::tempdir().unwrap();
        let bind = host.path().join("bind");
        let ro = host.path().join("ro");
        std::fs::create_dir_all(&bind).unwrap();
        std::fs::create_dir_all(&ro).unwrap();
        std::fs::write(bind.join("hello.txt"), "from-bind\n").unwrap();
        std::fs::write(ro.join("keep.txt"), "read-only\n").unwrap();
        // links inside the bind source that point "out": they must resolve in the container
        std::os::unix::fs::symlink("/etc", bind.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../../../etc", bind.join("rel")).unwrap();
        let mut o = env.opts(&["sh", "-c", "echo in-volume > /vol/v.txt; echo ready > /bind/ready; sleep 1000"]);
        o.binds = vec![
            format!("{}:/bind", bind.display()),
            format!("{}:/ro:ro", ro.display()),
            format!("cpvol-{}:/vol", &env.cgroup_parent.replace('/', "")),
        ];
        let id = e.containers().run(&o).unwrap();
        assert!(eventually(std::time::Duration::from_secs(20), || bind.join("ready").exists()), "{rt}");
        let vol_src = env.mount_source(&id, "/vol");
        assert!(eventually(std::time::Duration::from_secs(20), || vol_src.join("v.txt").exists()), "{rt}");

        // cp out of a bind, a volume, and the root with both in place
        assert_eq!(cp_out(e, &id, "/bind/hello.txt")["hello.txt"].data, b"from-bind\n", "{rt}");
        let v = cp_out(e, &id, "/vol");
        assert_eq!(v["vol/v.txt"].data, b"in-volume\n", "{rt}: {:?}", v.keys().collect::<Vec<_>>());
        let all = cp_out(e, &id, "/");
        let get = |k: &str| {
            all.iter()
                .find(|(n, _)| n.trim_start_matches("./").trim_start_matches('.') == k)
                .map(|(_, v)| v.data.clone())
                .unwrap_or_else(|| panic!("{rt}: {k} missing in {:?}", all.keys().take(20).collect::<Vec<_>>()))
        };
        assert_eq!(get("bind/hello.txt"), b"from-bind\n", "{rt}");
        assert_eq!(get("vol/v.txt"), b"in-volume\n", "{rt}");
        assert_eq!(get("ro/keep.txt"), b"read-only\n", "{rt}");
        let st = e.containers().stat_path(&id, "/vol/v.txt").unwrap();
        assert_eq!(st.size, 10, "{rt}");
        assert!(e.containers().stat_path(&id, "/bind").unwrap().is_dir());

        // links in the bind source resolve inside the container, never to the host's /etc
        let container_passwd = cp_out(e, &id, "/etc/passwd")["passwd"].data.clone();
        assert_ne!(container_passwd, std::fs::read("/etc/passwd").unwrap());
        for p in ["/bind/abs/passwd", "/bind/rel/passwd", "/vol/../bind/abs/passwd"] {
            let mut out = Vec::new();
            e.containers().copy_from(&id, p, true, &mut out).unwrap();
            assert_eq!(read_tar(&out)["passwd"].data, container_passwd, "{rt}: {p}");
        }
        assert_eq!(e.containers().stat_path(&id, "/bind/abs").unwrap().link_target, "/etc", "{rt}");

        // cp in: into the volume and the bind (seen by the container), never into a ro mount
        e.containers()
            .copy_to(&id, "/vol", &mut &one_file_tar("in.txt", b"to-volume")[..], &CopyToOptions::default())
            .unwrap();
        assert_eq!(std::fs::read(vol_src.join("in.txt")).unwrap(), b"to-volume");
        e.containers()
            .copy_to(&id, "/bind", &mut &one_file_tar("in.txt", b"to-bind")[..], &CopyToOptions::default())
            .unwrap();
        assert_eq!(std::fs::read(bind.join("in.txt")).unwrap(), b"to-bind");
        let out = e
            .containers()
            .exec(
                &id,
                &isula_core::ExecOptions {
                    cmd: vec!["cat".into(), "/vol/in.txt".into(), "/bind/in.txt".into()],
                    ..Default::default()
                },
            )
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "to-volumeto-bind", "{rt}");
        let err = e
            .containers()
            .copy_to(&id, "/ro", &mut &one_file_tar("x.txt", b"x")[..], &CopyToOptions::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{rt}: {err}");
        assert!(!ro.join("x.txt").exists());
        // a tar entry that tries to climb out of the volume is refused, the host untouched
        let err = e
            .containers()
            .copy_to(
                &id,
                "/vol",
                &mut &raw_tar(&[("../../../../../../tmp/cp-escape", b"x")])[..],
                &CopyToOptions::default(),
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{rt}: {err}");
        assert!(!std::path::Path::new("/tmp/cp-escape").exists());

        // export leaves volume and bind content out (Docker's behaviour)
        let mut out = Vec::new();
        e.containers().export(&id, &mut out).unwrap();
        let ents = read_tar(&out);
        assert!(ents.contains_key("bin/busybox"));
        for k in ["vol/v.txt", "bind/hello.txt", "ro/keep.txt", "vol/in.txt"] {
            assert!(!ents.contains_key(k), "{rt}: export has {k}");
        }

        // a stopped container: still seen through its mounts
        e.containers().stop(&id, Some(1)).unwrap();
        e.containers().wait(&id, WaitCondition::NotRunning).unwrap();
        assert_eq!(cp_out(e, &id, "/vol/v.txt")["v.txt"].data, b"in-volume\n", "{rt}");

        // a read-only rootfs still takes copies into a writable mount (as Docker)
        let mut o = env.opts(&["true"]);
        o.read_only = true;
        o.binds = vec![format!("{}:/bind", bind.display())];
        let ro_root = e.containers().create(&o).unwrap();
        e.containers()
            .copy_to(&ro_root, "/bind", &mut &one_file_tar("ro-root.txt", b"ok")[..], &CopyToOptions::default())
            .unwrap();
        assert_eq!(std::fs::read(bind.join("ro-root.txt")).unwrap(), b"ok");
        let err = e
            .containers()
            .copy_to(&ro_root, "/tmp", &mut &one_file_tar("x", b"x")[..], &CopyToOptions::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{rt}: {err}");
        for c in [&id, &ro_root] {
            e.containers().remove(c, &isula_core::RemoveOptions { force: true, volumes: true }).unwrap();
        }
        let _ = std::fs::remove_dir_all(vol_src.parent().unwrap());
    });
}
