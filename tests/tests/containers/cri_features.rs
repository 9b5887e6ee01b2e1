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
