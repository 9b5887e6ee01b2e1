//! Container features the CRI server relies on, through the core API on real runtimes:
//! the `cri` log driver and its reopen, killing an exec, masked and read-only paths,
//! hugepage limits, symlinked bind sources, mount propagation, and the security-context
//! and resource mappings (user, groups, capabilities, seccomp, sysctls, devices, …).

use crate::containers_common;

use std::path::Path;
use std::time::Duration;

use containers_common::*;
use isula_core::{ErrorKind, WaitCondition};

const T: Duration = Duration::from_secs(20);

/// One parsed CRI record: (time, stream, tag, message).
fn cri_records(path: &Path) -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let mut it = l.splitn(4, ' ');
            let rec = (
                it.next().unwrap_or("").to_string(),
                it.next().unwrap_or("").to_string(),
                it.next().unwrap_or("").to_string(),
                it.next().unwrap_or_else(|| panic!("not a CRI record: {l:?}")).to_string(),
            );
            let t = &rec.0;
            assert!(t.ends_with('Z') && t.len() >= 20 && t.as_bytes()[10] == b'T', "time of {l:?}");
            assert!(isula_core::time::parse_rfc3339(t).is_some(), "time of {l:?}");
            assert!(rec.1 == "stdout" || rec.1 == "stderr", "stream of {l:?}");
            assert!(rec.2 == "F" || rec.2 == "P", "tag of {l:?}");
            rec
        })
        .collect()
}

fn cri_opts(env: &Env, cmd: &[&str], path: &Path) -> isula_core::CreateOptions {
    let mut o = env.opts(cmd);
    o.log_config.driver = "cri".into();
    o.log_config.config.insert("path".into(), path.to_string_lossy().into_owned());
    o
}

#[test]
fn cri_log_records_full_partial_and_stderr() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("runc");
    let e = env.e();
    // The parent directory does not exist yet: the engine creates it.
    let path = env.root.path().join("pods/ns_pod_uid/app/0.log");
    let script = "echo out1; echo err1 >&2; head -c 40000 /dev/zero | tr '\\0' x; echo; echo; printf tail";
    let id = e.containers().run(&cri_opts(&env, &["sh", "-c", script], &path)).unwrap();
    assert_eq!(e.containers().wait(&id, WaitCondition::NotRunning).unwrap(), 0);
    assert_eq!(e.containers().inspect(&id).unwrap().log_path, path.to_string_lossy());
    let recs = cri_records(&path);
    let out: Vec<(String, usize, String)> = recs
        .iter()
        .filter(|r| r.1 == "stdout")
        .map(|r| (r.2.clone(), r.3.len(), if r.3.len() < 10 { r.3.clone() } else { String::new() }))
        .collect();
    assert_eq!(
        out,
        vec![
            ("F".to_string(), 4, "out1".to_string()),
            ("P".to_string(), 16384, String::new()),
            ("P".to_string(), 16384, String::new()),
            ("F".to_string(), 40000 - 2 * 16384, String::new()),
            ("F".to_string(), 0, String::new()),
            ("P".to_string(), 4, "tail".to_string()),
        ],
        "{recs:?}"
    );
    let err: Vec<_> = recs.iter().filter(|r| r.1 == "stderr").map(|r| (r.2.as_str(), r.3.as_str())).collect();
    assert_eq!(err, vec![("F", "err1")]);
    // `logs` reads the CRI file: the output as written.
    let stream = |stdout: bool| {
        let mut s = String::new();
        let o = isula_core::LogOptions { stdout, stderr: !stdout, ..Default::default() };
        e.containers()
            .logs(&id, &o, &mut |l| {
                s.push_str(&l.log);
                true
            })
            .unwrap();
        s
    };
    assert!(stream(true) == format!("out1\n{}\n\ntail", "x".repeat(40000)));
    assert_eq!(stream(false), "err1\n");

    // A tty: everything is stdout, without the pty's \r.
    let path2 = env.root.path().join("pods/ns_pod_uid/tty/0.log");
    let mut o = cri_opts(&env, &["sh", "-c", "echo a; echo b >&2"], &path2);
    o.tty = true;
    let id2 = e.containers().run(&o).unwrap();
    e.containers().wait(&id2, WaitCondition::NotRunning).unwrap();
    let recs: Vec<_> = cri_records(&path2).into_iter().map(|r| (r.1, r.2, r.3)).collect();
    let s = |a: &str| a.to_string();
    assert_eq!(recs, vec![(s("stdout"), s("F"), s("a")), (s("stdout"), s("F"), s("b"))]);
}

#[test]
fn cri_log_reopen_after_rename() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("runc");
    let e = env.e();
    let dir = env.root.path().join("pods/p/c");
    let path = dir.join("0.log");
    let script = "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.05; done";
    let id = e.containers().run(&cri_opts(&env, &["sh", "-c", script], &path)).unwrap();
    wait_until(T, "first records", || cri_records(&path).len() >= 2);
    let rotated = dir.join("0.log.20260101-000000");
    std::fs::rename(&path, &rotated).unwrap();
    e.containers().reopen_log(&id).unwrap();
    wait_until(T, "records in the new file", || cri_records(&path).len() >= 2);
    let old: Vec<String> = cri_records(&rotated).into_iter().map(|r| r.3).collect();
    let new: Vec<String> = cri_records(&path).into_iter().map(|r| r.3).collect();
    // The new file continues where the old one stopped: no line lost or written twice.
    let last_old: usize = old.last().unwrap().trim_start_matches("line").parse().unwrap();
    let first_new: usize = new[0].trim_start_matches("line").parse().unwrap();
    assert_eq!(first_new, last_old + 1, "old {old:?} new {new:?}");

    // The path cannot be opened (a directory took its place): an error, the shim keeps
    // writing to the file it has; once the path is free a reopen works again.
    let rotated2 = dir.join("0.log.20260101-000001");
    std::fs::rename(&path, &rotated2).unwrap();
    std::fs::create_dir(&path).unwrap();
    assert_eq!(e.containers().reopen_log(&id).unwrap_err().kind(), ErrorKind::Internal);
    let n = cri_records(&rotated2).len();
    wait_until(T, "records in the kept file", || cri_records(&rotated2).len() > n);
    std::fs::remove_dir(&path).unwrap();
    e.containers().reopen_log(&id).unwrap();
    wait_until(T, "records in the third file", || cri_records(&path).len() >= 2);

    // A json-file container, a stopped one, an unknown one: clear errors.
    let jid = e.containers().run(&env.opts(&["sleep", "1000"])).unwrap();
    assert_eq!(e.containers().reopen_log(&jid).unwrap_err().kind(), ErrorKind::FailedPrecondition);
    e.containers().stop(&id, Some(0)).unwrap();
    assert_eq!(e.containers().reopen_log(&id).unwrap_err().kind(), ErrorKind::FailedPrecondition);
    assert_eq!(e.containers().reopen_log("no-such-container").unwrap_err().kind(), ErrorKind::NotFound);
    // Bad log options change nothing.
    let mut bad = env.opts(&["true"]);
    bad.log_config.driver = "cri".into();
    assert_eq!(e.containers().create(&bad).unwrap_err().kind(), ErrorKind::InvalidArgument);
    bad.log_config.config.insert("path".into(), "relative.log".into());
    assert_eq!(e.containers().create(&bad).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

/// Host pids of the processes in container `id` (from `top`).
fn container_pids(env: &Env, id: &str) -> Vec<String> {
    let top = env.e().containers().top(id, &[]).unwrap();
    let col = top.titles.iter().position(|t| t == "PID").expect("a PID column");
    top.processes.iter().map(|p| p[col].clone()).collect()
}

#[test]
fn killed_exec_leaves_no_process() {
    if !prerequisites() {
        return;
    }
    for rt in RUNTIMES {
        let env = Env::new(rt);
        let e = env.e();
        let id = e.containers().run(&env.opts(&["sleep", "2000"])).unwrap();
        let before = container_pids(&env, &id);
        let opts = isula_core::ExecOptions {
            cmd: vec!["sh".into(), "-c".into(), "sleep 1001 & sleep 1002 & echo started; wait".into()],
            ..Default::default()
        };
        let mut x = e.containers().exec(&id, &opts).unwrap();
        let mut s = x.take_stream().unwrap();
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            while let Some(ev) = s.read_event().unwrap() {
                match ev {
                    isula_core::AttachEvent::Stdout(b) => out.extend(b),
                    isula_core::AttachEvent::Stderr(_) => {}
                    isula_core::AttachEvent::Exit(st) => return (out, Some(st.code)),
                }
            }
            (out, None)
        });
        wait_until(T, "the exec's children", || container_pids(&env, &id).len() >= before.len() + 3);
        // The timeout of an ExecSync: nothing happened within it.
        assert_eq!(x.wait_timeout(Duration::from_millis(100)).unwrap(), None, "{rt}");
        x.kill(9).unwrap();
        assert_eq!(x.wait().unwrap(), 137, "{rt}");
        let (out, code) = reader.join().unwrap();
        assert_eq!(code, Some(137), "{rt}");
        assert_eq!(String::from_utf8_lossy(&out), "started\n", "{rt}");
        wait_until(T, "only the init left", || container_pids(&env, &id) == before);
        // Killing an exited exec is fine; a bad signal is not.
        x.kill(9).unwrap();
        assert_eq!(x.kill(1000).unwrap_err().kind(), ErrorKind::InvalidArgument, "{rt}");
        // A gentler signal reaches the process (sh ignores nothing here: it dies of TERM).
        let y = e
            .containers()
            .exec(
                &id,
                &isula_core::ExecOptions {
                    cmd: vec!["sleep".into(), "1003".into()],
                    detach: true,
                    ..Default::default()
                },
            )
            .unwrap();
        wait_until(T, "sleep 1003", || container_pids(&env, &id).len() == before.len() + 1);
        y.kill(15).unwrap();
        assert_eq!(y.wait().unwrap(), 143, "{rt}");
    }
}

/// Run `script` in a busybox container made from `o` (cmd replaced) and return its output and exit code.
fn run_script(env: &Env, mut o: isula_core::CreateOptions, script: &str) -> (String, i32) {
    o.cmd = Some(vec!["sh".into(), "-c".into(), script.into()]);
    let id = env.e().containers().run(&o).unwrap();
    let code = env.e().containers().wait(&id, WaitCondition::NotRunning).unwrap();
    (logs_text(env, &id), code)
}

/// `sh -c script` through exec in a running container: (stdout+stderr, exit code).
fn exec_sh(env: &Env, id: &str, script: &str) -> (String, i32) {
    let x = env
        .e()
        .containers()
        .exec(id, &isula_core::ExecOptions { cmd: vec!["sh".into(), "-c".into(), script.into()], ..Default::default() })
        .unwrap();
    let out = x.collect().unwrap();
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (s, out.exit_code)
}

#[test]
fn masked_and_readonly_paths_as_given() {
    if !prerequisites() {
        return;
    }
    for rt in RUNTIMES {
        let env = Env::new(rt);
        let script =
            "echo cpuinfo=$(cat /proc/cpuinfo | wc -c); touch /etc/x 2>/dev/null && echo etc=rw || echo etc=ro; \
                      echo keys=$(grep -c ' /proc/keys ' /proc/self/mountinfo); \
                      echo sysro=$(grep -c ' /proc/sys ro' /proc/self/mountinfo)";
        // Defaults: /proc/keys masked, /proc/sys read-only.
        let (out, _) = run_script(&env, env.opts(&[]), script);
        assert!(out.contains("keys=1") && out.contains("sysro=1") && out.contains("etc=rw"), "{rt}: {out}");
        assert!(!out.contains("cpuinfo=0\n"), "{rt}: {out}");
        // Exactly the given lists.
        let mut o = env.opts(&[]);
        o.masked_paths = Some(vec!["/proc/cpuinfo".into()]);
        o.readonly_paths = Some(vec!["/etc".into()]);
        let (out, _) = run_script(&env, o.clone(), script);
        assert!(out.contains("cpuinfo=0\n") && out.contains("etc=ro"), "{rt}: {out}");
        assert!(out.contains("keys=0") && out.contains("sysro=0"), "{rt}: {out}");
        // Privileged clears them.
        o.privileged = true;
        let (out, _) = run_script(&env, o, script);
        assert!(!out.contains("cpuinfo=0\n") && out.contains("etc=rw") && out.contains("keys=0"), "{rt}: {out}");
        // A relative path is refused.
        let mut bad = env.opts(&["true"]);
        bad.masked_paths = Some(vec!["proc/kcore".into()]);
        assert_eq!(env.e().containers().create(&bad).unwrap_err().kind(), ErrorKind::InvalidArgument, "{rt}");
    }
}

/// The container's cgroup (v1 hierarchy `controller`) as a host directory, from /proc/PID/cgroup.
fn cgroup_dir(pid: i32, controller: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for l in text.lines() {
        let mut it = l.splitn(3, ':');
        let (_, ctrls, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or(""));
        if ctrls.split(',').any(|c| c == controller) {
            return Path::new("/sys/fs/cgroup").join(controller).join(path.trim_start_matches('/'));
        }
        if ctrls.is_empty() {
            return Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
        }
    }
    panic!("no {controller} cgroup in {text}");
}

#[test]
fn hugepage_limits_at_create_and_update() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("runc");
    let e = env.e();
    let sizes: Vec<String> = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .map(|rd| rd.flatten().map(|d| d.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let mut o = env.opts(&["sleep", "1000"]);
    o.resources.hugepage_limits.insert("2MB".into(), 4 << 20);
    if !sizes.iter().any(|s| s == "hugepages-2048kB") {
        let err = e.containers().create(&o).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("hugepage"), "{err}");
        return;
    }
    let id = e.containers().run(&o).unwrap();
    let pid = e.containers().inspect(&id).unwrap().state.pid;
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let (dir, file) = if v2 {
        (cgroup_dir(pid, ""), "hugetlb.2MB.max")
    } else {
        (cgroup_dir(pid, "hugetlb"), "hugetlb.2MB.limit_in_bytes")
    };
    let read = || std::fs::read_to_string(dir.join(file)).unwrap().trim().to_string();
    assert_eq!(read(), (4u64 << 20).to_string());
    let mut u = isula_core::UpdateOptions::default();
    u.resources.hugepage_limits.insert("2MB".into(), 8 << 20);
    e.containers().update(&id, &u).unwrap();
    assert_eq!(read(), (8u64 << 20).to_string());
    // An unknown page size: refused at create and at update, nothing created or changed.
    let before = e.containers().list(&isula_core::ListOptions { all: true, ..Default::default() }).unwrap().len();
    let mut bad = env.opts(&["true"]);
    bad.resources.hugepage_limits.insert("3MB".into(), 1 << 20);
    let err = e.containers().create(&bad).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("3MB"), "{err}");
    let after = e.containers().list(&isula_core::ListOptions { all: true, ..Default::default() }).unwrap().len();
    assert_eq!(before, after);
    let mut u = isula_core::UpdateOptions::default();
    u.resources.hugepage_limits.insert("3MB".into(), 1 << 20);
    assert_eq!(e.containers().update(&id, &u).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(read(), (8u64 << 20).to_string());
}

#[test]
fn symlinked_bind_source_is_resolved() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("runc");
    let data = env.root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("f"), "through the link\n").unwrap();
    let link = env.root.path().join("link");
    std::os::unix::fs::symlink("data", &link).unwrap();
    let mut o = env.opts(&[]);
    o.binds = vec![format!("{}:/mnt:ro", link.display())];
    let (out, code) = run_script(&env, o.clone(), "cat /mnt/f");
    assert_eq!((out.as_str(), code), ("through the link\n", 0));
    let id = env.e().containers().create(&o).unwrap();
    let rec = env.e().containers().inspect(&id).unwrap();
    let m = rec.mounts.iter().find(|m| m.destination == "/mnt").unwrap();
    assert_eq!(Path::new(&m.source), std::fs::canonicalize(&data).unwrap());
}

fn sh(cmd: &str) {
    let st = std::process::Command::new("sh").args(["-c", cmd]).status().unwrap();
    assert!(st.success(), "{cmd}");
}

#[test]
fn mount_propagation_rslave_rshared_private() {
    if !prerequisites() {
        return;
    }
    for rt in RUNTIMES {
        let env = Env::new(rt);
        let e = env.e();
        let src = env.root.path().join("shared-src");
        std::fs::create_dir(&src).unwrap();
        let s = src.display().to_string();
        sh(&format!("mount -t tmpfs tmpfs {s} && mount --make-shared {s}"));
        let mut ids = Vec::new();
        for prop in ["rslave", "rshared", "rprivate"] {
            let mut o = env.opts(&["sleep", "1000"]);
            o.binds = vec![format!("{s}:/mnt:{prop}")];
            ids.push(e.containers().run(&o).unwrap());
        }
        // A mount made on the host under the source after the start.
        sh(&format!("mkdir {s}/sub && mount -t tmpfs tmpfs {s}/sub && echo hello > {s}/sub/file"));
        assert_eq!(exec_sh(&env, &ids[0], "cat /mnt/sub/file"), ("hello\n".to_string(), 0), "{rt} rslave");
        assert_eq!(exec_sh(&env, &ids[1], "cat /mnt/sub/file"), ("hello\n".to_string(), 0), "{rt} rshared");
        assert_ne!(exec_sh(&env, &ids[2], "cat /mnt/sub/file").1, 0, "{rt} rprivate sees the new mount");
        sh(&format!("umount {s}/sub"));
        // A private source cannot serve rshared or rslave: a clear error, nothing created.
        let private = env.root.path().join("private-src");
        std::fs::create_dir(&private).unwrap();
        let p = private.display().to_string();
        sh(&format!("mount -t tmpfs tmpfs {p} && mount --make-private {p}"));
        for prop in ["rshared", "rslave"] {
            let mut o = env.opts(&["true"]);
            o.binds = vec![format!("{p}:/mnt:{prop}")];
            let err = e.containers().create(&o).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{rt} {prop}: {err}");
        }
        let n = e.containers().list(&isula_core::ListOptions { all: true, ..Default::default() }).unwrap().len();
        assert_eq!(n, 3, "{rt}");
        for id in ids {
            e.containers().remove(&id, &isula_core::RemoveOptions { force: true, volumes: true }).unwrap();
        }
    }
}

/// Load an image `cri-user:latest`: busybox with `/etc/group` memberships of user `app`
/// (groups `extra` 3000 and `more` 3001).
fn load_user_image(env: &Env) {
    use isula_tests::images::{busybox_plus, docker_archive, DockerLayout, LayerBuilder};
    let mut b = LayerBuilder::new();
    b.file("etc/group", 0o644, b"root:x:0:\napp:x:1000:\nextra:x:3000:app\nmore:x:3001:root,app\nnogroup:x:65534:\n");
    let img = busybox_plus(Some(b.finish()), |_| {});
    let tar = docker_archive(&[(&img, &["cri-user:latest"])], DockerLayout::Legacy);
    env.e().images().load(&mut &tar[..], &isula_core::LoadOptions::default()).unwrap();
}

/// The value of `key:` in the output of `grep key /proc/self/status` lines.
fn status_field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {out:?}"))
        .trim()
        .to_string()
}

#[test]
fn user_and_supplementary_groups() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("runc");
    load_user_image(&env);
    let run_with = |user: Option<&str>, group_add: &[&str], strict: bool| {
        let mut o = env.opts(&[]);
        o.image = "cri-user".into();
        o.user = user.map(String::from);
        o.group_add = group_add.iter().map(|s| s.to_string()).collect();
        o.strict_supplemental_groups = strict;
        // (The kernel keeps supplementary groups sorted.)
        let (out, code) = run_script(&env, o, "echo $(id -u) $(id -g) / $(id -G | tr ' ' '\\n' | sort -n)");
        assert_eq!(code, 0, "{out}");
        out.trim().to_string()
    };
    let run = |user: Option<&str>, group_add: &[&str]| run_with(user, group_add, false);
    // A uid: the passwd entry's primary group and its /etc/group memberships.
    assert_eq!(run(Some("1000"), &[]), "1000 1000 / 1000 3000 3001");
    // A user name from the image's /etc/passwd, plus added groups (by name and number).
    assert_eq!(run(Some("app"), &["nogroup", "5000"]), "1000 1000 / 1000 3000 3001 5000 65534");
    // uid:gid: that group, and the added ones.
    assert_eq!(run(Some("1000:2000"), &["4000"]), "1000 2000 / 2000 4000");
    // A uid without a passwd entry runs with gid 0.
    assert_eq!(run(Some("4242"), &[]), "4242 0 / 0");
    // Root by default, with its memberships.
    assert_eq!(run(None, &[]), "0 0 / 0 3001");
    // SupplementalGroupsPolicy Strict: the image's memberships are left out.
    assert_eq!(run_with(Some("app"), &["5000"], true), "1000 1000 / 1000 5000");
    assert_eq!(run_with(Some("1000:2000"), &[], true), "1000 2000 / 2000");
    // An unknown name is a clear error.
    let mut o = env.opts(&["true"]);
    o.user = Some("nosuchuser".into());
    assert_eq!(env.e().containers().create(&o).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn capabilities_nnp_readonly_privileged_seccomp() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("runc");
    let host_bnd = status_field(&std::fs::read_to_string("/proc/self/status").unwrap(), "CapBnd");
    let host_bnd = u64::from_str_radix(&host_bnd, 16).unwrap();
    let script = "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; \
                  touch /rootfs-probe 2>/dev/null && echo rootfs=rw || echo rootfs=ro; \
                  mkdir /tmp/probe 2>/dev/null && echo mkdir=ok || echo mkdir=denied; \
                  echo devs=$(ls /dev | wc -l)";
    let probe = |edit: &dyn Fn(&mut isula_core::CreateOptions)| {
        let mut o = env.opts(&[]);
        edit(&mut o);
        let (out, _) = run_script(&env, o, script);
        let cap = u64::from_str_radix(&status_field(&out, "CapEff"), 16).unwrap();
        (cap, out)
    };
    let caps = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let bit = |n: u32| 1u64 << n;
    // Defaults: Docker's 14 capabilities, seccomp filter on, writable rootfs, nnp off.
    let (default_caps, out) = probe(&|_| {});
    assert_eq!(default_caps.count_ones(), 14, "{out}");
    assert_eq!(status_field(&out, "NoNewPrivs"), "0");
    assert_eq!(status_field(&out, "Seccomp"), "2");
    assert!(out.contains("rootfs=rw"), "{out}");
    // ALL added: the engine's whole bounding set; minus a dropped one.
    assert_eq!(probe(&|o| o.cap_add = caps(&["ALL"])).0, host_bnd);
    assert_eq!(
        probe(&|o| {
            o.cap_add = caps(&["ALL"]);
            o.cap_drop = caps(&["CHOWN"]);
        })
        .0,
        host_bnd & !bit(0)
    );
    // ALL dropped: none; plus an added one (CAP_NET_RAW = 13, CRI's names without CAP_).
    assert_eq!(probe(&|o| o.cap_drop = caps(&["ALL"])).0, 0);
    assert_eq!(
        probe(&|o| {
            o.cap_drop = caps(&["ALL"]);
            o.cap_add = caps(&["NET_RAW", "CAP_KILL"]);
        })
        .0,
        bit(13) | bit(5)
    );
    // no-new-privileges, read-only rootfs.
    let (_, out) = probe(&|o| {
        o.security_opt = caps(&["no-new-privileges"]);
        o.read_only = true;
    });
    assert_eq!(status_field(&out, "NoNewPrivs"), "1");
    assert!(out.contains("rootfs=ro"), "{out}");
    // Privileged: every capability, no seccomp, the host's devices.
    let (cap, out) = probe(&|o| o.privileged = true);
    assert_eq!(cap, host_bnd);
    assert_eq!(status_field(&out, "Seccomp"), "0");
    let devs = |out: &str| out.lines().find_map(|l| l.strip_prefix("devs=")).unwrap().parse::<usize>().unwrap();
    assert!(devs(&out) > devs(&probe(&|_| {}).1), "{out}");
    // Seccomp unconfined; an absolute profile path (denying mkdir).
    let (_, out) = probe(&|o| o.security_opt = caps(&["seccomp=unconfined"]));
    assert_eq!(status_field(&out, "Seccomp"), "0");
    let profile = env.root.path().join("deny-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let (_, out) = probe(&|o| o.security_opt = vec![format!("seccomp={}", profile.display())]);
    assert_eq!(status_field(&out, "Seccomp"), "2");
    assert!(out.contains("mkdir=denied"), "{out}");
    assert!(probe(&|_| {}).1.contains("mkdir=ok"));
    // A missing profile: a clear error.
    let mut o = env.opts(&["true"]);
    o.security_opt = vec![format!("seccomp={}", env.root.path().join("missing.json").display())];
    assert!(env.e().containers().create(&o).is_err());
}

#[test]
fn sysctls_devices_oom_score_adj() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("runc");
    let mut o = env.opts(&[]);
    o.sysctls.insert("net.ipv4.ping_group_range".into(), "0 2147483647".into());
    o.sysctls.insert("kernel.shm_rmid_forced".into(), "1".into());
    o.resources.oom_score_adj = Some(500);
    let script = "cat /proc/sys/net/ipv4/ping_group_range; cat /proc/sys/kernel/shm_rmid_forced; \
                  cat /proc/self/oom_score_adj";
    let (out, _) = run_script(&env, o, script);
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines, vec!["0\t2147483647", "1", "500"], "{out}");
    // A device (not in the default allow list) with its cgroup permissions: `r` opens for
    // reading only, `rw` for writing too.
    if Path::new("/dev/fuse").exists() {
        for (perms, expected) in [("r", "read=ok write=denied"), ("rw", "read=ok write=ok")] {
            let mut o = env.opts(&[]);
            o.devices.push(Default::default());
            let d = o.devices.last_mut().unwrap();
            d.path_on_host = "/dev/fuse".into();
            d.path_in_container = "/dev/xfuse".into();
            d.cgroup_permissions = perms.into();
            let script = "(: < /dev/xfuse) 2>/dev/null && r=ok || r=denied; \
                          (: > /dev/xfuse) 2>/dev/null && w=ok || w=denied; echo read=$r write=$w";
            let (out, _) = run_script(&env, o, script);
            assert_eq!(out.trim(), expected, "{perms}");
        }
    }
    // A non-namespaced sysctl is refused.
    let mut bad = env.opts(&["true"]);
    bad.sysctls.insert("kernel.panic".into(), "1".into());
    assert_eq!(env.e().containers().create(&bad).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn cpu_memory_limits_and_oom_killed() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("runc");
    let e = env.e();
    let mut o = env.opts(&["sleep", "1000"]);
    o.resources.cpu_shares = Some(512);
    o.resources.cpu_quota = Some(50_000);
    o.resources.cpu_period = Some(100_000);
    o.resources.cpuset_cpus = Some("0".into());
    o.resources.memory = Some(64 << 20);
    let id = e.containers().run(&o).unwrap();
    let pid = e.containers().inspect(&id).unwrap().state.pid;
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let read = |ctrl: &str, file: &str| {
        let d = cgroup_dir(pid, if v2 { "" } else { ctrl });
        std::fs::read_to_string(d.join(file)).unwrap().trim().to_string()
    };
    if v2 {
        assert_eq!(read("cpu", "cpu.max"), "50000 100000");
        assert_eq!(read("memory", "memory.max"), (64u64 << 20).to_string());
        assert_eq!(read("cpuset", "cpuset.cpus"), "0");
    } else {
        assert_eq!(read("cpu", "cpu.shares"), "512");
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(read("cpuset", "cpuset.cpus"), "0");
        assert_eq!(read("memory", "memory.limit_in_bytes"), (64u64 << 20).to_string());
    }
    // Over the memory limit: killed by the OOM killer, recorded as OOMKilled.
    let mut o = env.opts(&["sh", "-c", "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done"]);
    o.resources.memory = Some(16 << 20);
    o.resources.memory_swap = Some(16 << 20);
    let id = e.containers().run(&o).unwrap();
    assert_eq!(e.containers().wait(&id, WaitCondition::NotRunning).unwrap(), 137);
    let st = e.containers().inspect(&id).unwrap().state;
    assert!(st.oom_killed, "{st:?}");
    // A normal exit is not an OOM kill.
    let id = e.containers().run(&env.opts(&["sh", "-c", "exit 3"])).unwrap();
    assert_eq!(e.containers().wait(&id, WaitCondition::NotRunning).unwrap(), 3);
    assert!(!e.containers().inspect(&id).unwrap().state.oom_killed);
}
