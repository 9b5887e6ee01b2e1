//! End-to-end `export` and `cp` of real containers.

use crate::containers_common;

use std::collections::BTreeMap;
use std::io::Read;

use containers_common::*;
use isula_core::CopyToOptions;
use isula_core::ErrorKind;
use isula_core::WaitCondition;

fn tar_entries(data: &[u8]) -> BTreeMap<String, (tar::EntryType, Vec<u8>, Option<String>)> {
    let mut a = tar::Archive::new(data);
    let mut out = BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().trim_end_matches('/').to_string();
        let kind = e.header().entry_type();
        let link = e.link_name().unwrap().map(|l| l.to_string_lossy().into_owned());
        let mut d = Vec::new();
        e.read_to_end(&mut d).unwrap();
        out.insert(name, (kind, d, link));
    }
    out
}

fn one_file_tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, name, data).unwrap();
    b.into_inner().unwrap()
}

/// A tar whose entry name the tar crate would refuse to write (`../x`, `/x`).
fn raw_name_tar(name: &str) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.as_mut_bytes()[..name.len()].copy_from_slice(name.as_bytes());
    h.set_size(1);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.push(b'x');
    out.resize(1024, 0);
    out.extend(vec![0u8; 1024]);
    out
}

#[test]
fn export_and_cp_both_directions() {
    if !prerequisites() {
        return;
    }
    for rt in RUNTIMES {
        let env = Env::new(rt);
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
        let ents = tar_entries(&out);
        // busybox's applets are hard links of one file: follow the link to its data.
        let bb = match &ents["bin/busybox"] {
            (tar::EntryType::Link, _, Some(first)) => &ents[first.as_str()],
            other => other,
        };
        assert_eq!(bb.0, tar::EntryType::Regular, "{rt}");
        assert_eq!(bb.1, std::fs::read("/bin/busybox").unwrap());
        assert_eq!(ents["root/note"].1, b"written-inside\n");

        // cp out: a file, a link followed inside the container, a missing path.
        let mut out = Vec::new();
        let st = e.containers().copy_from(&id, "/root/note", false, &mut out).unwrap();
        assert_eq!(st.name, "note");
        assert_eq!(tar_entries(&out)["note"].1, b"written-inside\n");
        let container_passwd = std::fs::read(rootfs.join("etc/passwd")).unwrap();
        let mut out = Vec::new();
        assert_eq!(e.containers().stat_path(&id, "/root/plink").unwrap().link_target, "/etc/passwd");
        let st = e.containers().copy_from(&id, "/root/plink", true, &mut out).unwrap();
        assert_eq!((st.name.as_str(), st.link_target.as_str()), ("plink", ""), "the target was copied");
        assert_eq!(tar_entries(&out)["plink"].1, container_passwd, "{rt}: the container's passwd, not the host's");
        let mut out = Vec::new();
        e.containers().copy_from(&id, "/root/up/root/up/etc/passwd", false, &mut out).unwrap();
        assert_eq!(tar_entries(&out)["passwd"].1, container_passwd);
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
                .copy_to(&id, "/tmp", &mut &raw_name_tar(bad)[..], &CopyToOptions::default())
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{rt} {bad}: {err}");
        }
        assert!(!rootfs.join("escape.txt").exists() && !rootfs.join("abs.txt").exists());
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_link(&mut h, "hostroot", "/").unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, "hostroot/evil", &b"x"[..]).unwrap();
        let evil = b.into_inner().unwrap();
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
        assert_eq!(tar_entries(&out)["hello.txt"].1, b"from-host");
    }
}

fn cp_out(e: &isula_core::Engine, id: &str, path: &str) -> BTreeMap<String, (tar::EntryType, Vec<u8>, Option<String>)> {
    let mut out = Vec::new();
    e.containers().copy_from(id, path, false, &mut out).unwrap_or_else(|err| panic!("cp {path}: {err}"));
    tar_entries(&out)
}

#[test]
fn cp_sees_volumes_and_binds_but_export_does_not() {
    if !prerequisites() {
        return;
    }
    for rt in RUNTIMES {
        let env = Env::new(rt);
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
        let vol_src = e
            .containers()
            .record(&id)
            .unwrap()
            .mounts
            .iter()
            .find(|m| m.destination == "/vol")
            .map(|m| std::path::PathBuf::from(&m.source))
            .unwrap();
        assert!(eventually(std::time::Duration::from_secs(20), || vol_src.join("v.txt").exists()), "{rt}");

        // cp out of a bind, a volume, and the root with both in place
        assert_eq!(cp_out(e, &id, "/bind/hello.txt")["hello.txt"].1, b"from-bind\n", "{rt}");
        let v = cp_out(e, &id, "/vol");
        assert_eq!(v["vol/v.txt"].1, b"in-volume\n", "{rt}: {:?}", v.keys().collect::<Vec<_>>());
        let all = cp_out(e, &id, "/");
        let get = |k: &str| {
            all.iter()
                .find(|(n, _)| n.trim_start_matches("./").trim_start_matches('.') == k)
                .map(|(_, v)| v.1.clone())
                .unwrap_or_else(|| panic!("{rt}: {k} missing in {:?}", all.keys().take(20).collect::<Vec<_>>()))
        };
        assert_eq!(get("bind/hello.txt"), b"from-bind\n", "{rt}");
        assert_eq!(get("vol/v.txt"), b"in-volume\n", "{rt}");
        assert_eq!(get("ro/keep.txt"), b"read-only\n", "{rt}");
        let st = e.containers().stat_path(&id, "/vol/v.txt").unwrap();
        assert_eq!(st.size, 10, "{rt}");
        assert!(e.containers().stat_path(&id, "/bind").unwrap().is_dir());

        // links in the bind source resolve inside the container, never to the host's /etc
        let container_passwd = cp_out(e, &id, "/etc/passwd")["passwd"].1.clone();
        assert_ne!(container_passwd, std::fs::read("/etc/passwd").unwrap());
        for p in ["/bind/abs/passwd", "/bind/rel/passwd", "/vol/../bind/abs/passwd"] {
            let mut out = Vec::new();
            e.containers().copy_from(&id, p, true, &mut out).unwrap();
            assert_eq!(tar_entries(&out)["passwd"].1, container_passwd, "{rt}: {p}");
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
            .copy_to(&id, "/vol", &mut &raw_name_tar("../../../../../../tmp/cp-escape")[..], &CopyToOptions::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{rt}: {err}");
        assert!(!std::path::Path::new("/tmp/cp-escape").exists());

        // export leaves volume and bind content out (Docker's behaviour)
        let mut out = Vec::new();
        e.containers().export(&id, &mut out).unwrap();
        let ents = tar_entries(&out);
        assert!(ents.contains_key("bin/busybox"));
        for k in ["vol/v.txt", "bind/hello.txt", "ro/keep.txt", "vol/in.txt"] {
            assert!(!ents.contains_key(k), "{rt}: export has {k}");
        }

        // a stopped container: still seen through its mounts
        e.containers().stop(&id, Some(1)).unwrap();
        e.containers().wait(&id, WaitCondition::NotRunning).unwrap();
        assert_eq!(cp_out(e, &id, "/vol/v.txt")["v.txt"].1, b"in-volume\n", "{rt}");

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
    }
}
