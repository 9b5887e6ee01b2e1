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
