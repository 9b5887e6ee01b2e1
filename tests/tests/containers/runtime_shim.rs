//! Real tests of the runtime driver, isulad-shim and the json-file log, with runc AND crun.
//! Run as root. Each test builds a busybox bundle by hand in its own temp dir.
//!
//! The shim and the runtimes come from [`isula_tests::shim`] (shared with the containers_* tests).

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use isula_core::oci_spec::runtime::ProcessBuilder;
use isula_core::unstable::runtime::{
    CreateRequest, ExecRequest, OciRuntime, Runtime, RuntimeStatus, ShimHandle, ShimLogConfig,
};
use isula_core::unstable::{follow_logs, read_logs};
use isula_core::AttachEvent;
use isula_core::ErrorKind;
use isula_core::{LogOptions, LogStream};
use isula_tests::poll::{holds_for, wait_until};
use isula_tests::shim::{shim_path, RUNTIMES};

const WAIT: Option<Duration> = Some(Duration::from_secs(20));

fn unique_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    format!("isrt-{}-{}-{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// One container's temp dir, runtime and cleanup.
struct Fixture {
    dir: tempfile::TempDir,
    id: String,
    rt: OciRuntime,
    shims: Vec<i32>,
}

impl Fixture {
    fn new(runtime: &str) -> Fixture {
        let dir = tempfile::Builder::new().prefix("isrt").tempdir_in("/tmp").unwrap();
        let rt = OciRuntime::new(runtime, runtime, vec![], &dir.path().join("rtroot"), &shim_path()).unwrap();
        Fixture { dir, id: unique_id(), rt, shims: Vec::new() }
    }

    fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }
    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    fn log_path(&self) -> PathBuf {
        self.dir.path().join("ctr.log")
    }

    /// Write rootfs (busybox + applet links) and config.json.
    fn make_bundle(&self, args: &[&str], terminal: bool, pid_ns: bool) {
        self.make_bundle_res(args, terminal, pid_ns, serde_json::json!({}));
    }

    /// [`Fixture::make_bundle`] with `linux.resources`.
    fn make_bundle_res(&self, args: &[&str], terminal: bool, pid_ns: bool, resources: serde_json::Value) {
        let rootfs = self.bundle().join("rootfs");
        for d in ["bin", "proc", "dev", "sys", "tmp"] {
            fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
        for a in ["sh", "echo", "sleep", "cat", "stty", "true", "ls", "dd"] {
            symlink("busybox", rootfs.join("bin").join(a)).unwrap();
        }
        let mut ns = vec!["ipc", "uts", "mount", "network"];
        if pid_ns {
            ns.push("pid");
        }
        let cfg = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": terminal,
                "user": {"uid": 0, "gid": 0},
                "args": args,
                "env": ["PATH=/bin", "TERM=xterm"],
                "cwd": "/",
                "noNewPrivileges": true
            },
            "root": {"path": "rootfs", "readonly": true},
            "hostname": "rt-test",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}
            ],
            "linux": {
                "cgroupsPath": format!("/{}", self.id),
                "resources": resources,
                "namespaces": ns.iter().map(|t| serde_json::json!({"type": t})).collect::<Vec<_>>()
            }
        });
        fs::write(self.bundle().join("config.json"), serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    }

    fn request(&self) -> CreateRequest {
        CreateRequest {
            id: self.id.clone(),
            bundle: self.bundle(),
            state_dir: self.state_dir(),
            log: Some(ShimLogConfig {
                path: self.log_path(),
                max_size: 1 << 20,
                max_file: 7,
                format: Default::default(),
            }),
            terminal: false,
            open_stdin: false,
            attach: false,
            start: false,
        }
    }

    fn create(&mut self, req: &CreateRequest) -> ShimHandle {
        let s = self.rt.create(req).unwrap_or_else(|e| panic!("{} create: {e}", self.rt.name()));
        self.shims.push(s.handle.shim_pid);
        assert!(s.handle.is_alive());
        s.handle
    }

    fn run(&mut self, args: &[&str]) -> ShimHandle {
        self.make_bundle(args, false, true);
        let h = self.create(&self.request());
        self.rt.start(&self.id).unwrap();
        h
    }

    /// Assert the shim exits after its process (give PID 1 no role: judge by /proc state).
    fn assert_shim_gone(&self, h: &ShimHandle) {
        wait_until(Duration::from_secs(10), &format!("shim {} to exit", h.shim_pid), || !h.is_alive());
    }

    fn log_lines(&self) -> Vec<(LogStream, String)> {
        let mut v = Vec::new();
        read_logs(&self.log_path(), &LogOptions::default(), &mut |l| {
            v.push((l.stream, l.log));
            true
        })
        .unwrap();
        v
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.rt.delete(&self.id, true);
        for &pid in &self.shims {
            if isula_core::unstable::runtime::is_shim_alive(pid, 0) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
        if let Ok(ents) = fs::read_dir("/sys/fs/cgroup") {
            for e in ents.flatten() {
                let _ = fs::remove_dir(e.path().join(&self.id));
            }
        }
    }
}

#[test]
fn echo_hello_is_logged_and_exits_0() {
    for rt in RUNTIMES {
        let mut f = Fixture::new(rt);
        let h = f.run(&["echo", "hello"]);
        let st = h.wait_exit(WAIT).unwrap().expect("exited");
        assert_eq!((st.code, st.signal), (0, None), "{rt}");
        let raw = fs::read_to_string(f.log_path()).unwrap();
        let v: serde_json::Value = serde_json::from_str(raw.lines().next().unwrap()).unwrap();
        assert_eq!(v["log"], "hello\n", "{rt}: {raw}");
        assert_eq!(v["stream"], "stdout");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(f.rt.state(&f.id).unwrap().status, RuntimeStatus::Stopped, "{rt}: runtime state kept");
        f.assert_shim_gone(&h);
    }
}

#[test]
fn exit_code_and_stderr() {
    for rt in RUNTIMES {
        let mut f = Fixture::new(rt);
        let h = f.run(&["sh", "-c", "echo oops >&2; exit 3"]);
        let st = h.wait_exit(WAIT).unwrap().unwrap();
        assert_eq!(st.code, 3, "{rt}");
        assert_eq!(f.log_lines(), vec![(LogStream::Stderr, "oops\n".to_string())], "{rt}");
        f.assert_shim_gone(&h);
    }
}

#[test]
fn kill_sigterm_gives_143() {
    for rt in RUNTIMES {
        let mut f = Fixture::new(rt);
        // No pid namespace: a pid-1 `sleep` would ignore SIGTERM.
        f.make_bundle(&["sleep", "100"], false, false);
        let h = f.create(&f.request());
        f.rt.start(&f.id).unwrap();
        assert_eq!(f.rt.state(&f.id).unwrap().status, RuntimeStatus::Running);
        assert_eq!(h.wait_exit(Some(Duration::from_millis(100))).unwrap(), None, "still running");
        f.rt.kill(&f.id, 15, false).unwrap();
        let st = h.wait_exit(WAIT).unwrap().unwrap();
        assert_eq!((st.code, st.signal), (143, Some(15)), "{rt}");
        f.assert_shim_gone(&h);
        let e = f.rt.kill(&f.id, 9, false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FailedPrecondition, "{rt}: {e}");
    }
}

#[test]
fn signals_to_the_shim_are_forwarded() {
    for rt in RUNTIMES {
        let mut f = Fixture::new(rt);
        f.make_bundle(&["sleep", "100"], false, false);
        let h = f.create(&f.request());
        f.rt.start(&f.id).unwrap();
        h.signal_shim(libc::SIGTERM).unwrap();
        let st = h.wait_exit(WAIT).unwrap().unwrap();
        assert_eq!(st.code, 143, "{rt}");
    }
}

#[test]
fn pause_resume_and_pids() {
    for rt in RUNTIMES {
        let mut f = Fixture::new(rt);
        let h = f.run(&["sleep", "100"]);
        assert!(f.rt.pids(&f.id).unwrap().contains(&h.pid), "{rt}");
        f.rt.pause(&f.id).unwrap();
        assert_eq!(f.rt.state(&f.id).unwrap().status, RuntimeStatus::Paused, "{rt}");
        f.rt.resume(&f.id).unwrap();
        let s = f.rt.state(&f.id).unwrap();
        assert_eq!((s.status, s.pid), (RuntimeStatus::Running, h.pid), "{rt}");
        f.rt.update(&f.id, &serde_json::json!({"pids": {"limit": 50}})).unwrap();
        f.rt.kill(&f.id, 9, true).unwrap();
        assert_eq!(h.wait_exit(WAIT).unwrap().unwrap().code, 137, "{rt}");
        f.rt.delete(&f.id, false).unwrap();
        assert_eq!(f.rt.state(&f.id).unwrap_err().kind(), ErrorKind::NotFound, "{rt}");
    }
}

#[test]
fn exec_output_and_exit_code() {
    for rt in RUNTIMES {
        let mut f = Fixture::new(rt);
        let h = f.run(&["sleep", "100"]);
        let process = ProcessBuilder::default()
            .args(vec!["sh".into(), "-c".into(), "echo out; echo err >&2; exit 5".into()])
            .env(vec!["PATH=/bin".into()])
            .cwd("/")
            .build()
            .unwrap();
        let req = ExecRequest {
            id: f.id.clone(),
            process,
            state_dir: f.state_dir().join("exec1"),
            log: None,
            terminal: false,
            open_stdin: false,
            attach: true,
        };
        let s = f.rt.exec(&req).unwrap_or_else(|e| panic!("{rt} exec: {e}"));
        f.shims.push(s.handle.shim_pid);
        let mut a = s.attach.unwrap();
        let (mut out, mut err, mut exit) = (Vec::new(), Vec::new(), None);
        while let Some(ev) = a.read_event().unwrap() {
            match ev {
                AttachEvent::Stdout(d) => out.extend(d),
                AttachEvent::Stderr(d) => err.extend(d),
                AttachEvent::Exit(st) => exit = Some(st.code),
            }
        }
        assert_eq!((out.as_slice(), err.as_slice(), exit), (&b"out\n"[..], &b"err\n"[..], Some(5)), "{rt}");
        assert_eq!(s.handle.wait_exit(WAIT).unwrap().unwrap().code, 5);
        f.assert_shim_gone(&s.handle);
        // The container is untouched by the exec.
        assert_eq!(f.rt.state(&f.id).unwrap().status, RuntimeStatus::Running);
        // An exec of a missing binary fails with the runtime's message.
        let bad = ExecRequest {
            process: ProcessBuilder::default().args(vec!["/nope".into()]).cwd("/").build().unwrap(),
            state_dir: f.state_dir().join("exec2"),
            attach: false,
            ..req
        };
        let e = f.rt.exec(&bad).unwrap_err();
        assert!(e.to_string().contains(&format!("{rt} exec failed")), "{rt}: {e}");
        f.rt.kill(&f.id, 9, true).unwrap();
        h.wait_exit(WAIT).unwrap().unwrap();
        f.assert_shim_gone(&h);
    }
}

#[test]
fn attach_to_cat_echoes_stdin() {
    for rt in RUNTIMES {
        let mut f = Fixture::new(rt);
        f.make_bundle(&["cat"], false, true);
        let req = CreateRequest { open_stdin: true, ..f.request() };
        let h = f.create(&req);
        let mut a = h.attach().unwrap();
        f.rt.start(&f.id).unwrap();
        a.write_stdin(b"ping\n").unwrap();
        assert_eq!(a.read_event().unwrap(), Some(AttachEvent::Stdout(b"ping\n".to_vec())), "{rt}");
        a.close_stdin().unwrap();
        match a.read_event().unwrap() {
            Some(AttachEvent::Exit(st)) => assert_eq!(st.code, 0, "{rt}"),
            other => panic!("{rt}: expected exit, got {other:?}"),
        }
        assert_eq!(f.log_lines(), vec![(LogStream::Stdout, "ping\n".to_string())]);
        f.assert_shim_gone(&h);
    }
}

#[test]
fn tty_with_resize() {
    for rt in RUNTIMES {
        let mut f = Fixture::new(rt);
        f.make_bundle(&["sh"], true, true);
        // attach: true connects before the process exists (the spawn_attached path).
        let req = CreateRequest { terminal: true, open_stdin: true, attach: true, ..f.request() };
        let s = f.rt.create(&req).unwrap_or_else(|e| panic!("{rt} create: {e}"));
        f.shims.push(s.handle.shim_pid);
        let (h, mut a) = (s.handle, s.attach.expect("attach stream"));
        a.resize(30, 100).unwrap();
        f.rt.start(&f.id).unwrap();
        a.write_stdin(b"stty size; exit 7\n").unwrap();
        let mut out = Vec::new();
        let code = loop {
            match a.read_event().unwrap() {
                Some(AttachEvent::Stdout(d)) => out.extend(d),
                Some(AttachEvent::Stderr(_)) => panic!("a pty has no separate stderr"),
                Some(AttachEvent::Exit(st)) => break st.code,
                None => panic!("{rt}: closed without exit"),
            }
        };
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("30 100"), "{rt}: {text:?}");
        assert_eq!(code, 7, "{rt}");
        f.assert_shim_gone(&h);
    }
}

#[test]
fn log_rotation_with_tiny_max_size() {
    for rt in RUNTIMES {
        let mut f = Fixture::new(rt);
        f.make_bundle(&["sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); done"], false, true);
        let req = CreateRequest {
            log: Some(ShimLogConfig { path: f.log_path(), max_size: 1000, max_file: 3, format: Default::default() }),
            ..f.request()
        };
        let h = f.create(&req);
        f.rt.start(&f.id).unwrap();
        assert_eq!(h.wait_exit(WAIT).unwrap().unwrap().code, 0);
        let p1 = PathBuf::from(format!("{}.1", f.log_path().display()));
        let p2 = PathBuf::from(format!("{}.2", f.log_path().display()));
        let p3 = PathBuf::from(format!("{}.3", f.log_path().display()));
        assert!(p1.exists() && p2.exists() && !p3.exists(), "{rt}");
        for p in [f.log_path(), p1, p2] {
            assert!(fs::metadata(&p).unwrap().len() <= 1000, "{}", p.display());
        }
        let lines = f.log_lines();
        assert_eq!(lines.last().unwrap().1, "line199\n", "{rt}");
        let nums: BTreeSet<usize> = lines.iter().map(|(_, l)| l.trim()[4..].parse().unwrap()).collect();
        assert_eq!(nums.len(), lines.len());
        assert!(nums.len() < 200 && nums.len() > 20, "{rt}: {} lines kept", nums.len());
        let tail: Vec<String> = {
            let mut v = Vec::new();
            read_logs(&f.log_path(), &LogOptions { tail: Some(2), ..Default::default() }, &mut |l| {
                v.push(l.log);
                true
            })
            .unwrap();
            v
        };
        assert_eq!(tail, vec!["line198\n", "line199\n"]);
    }
}

#[test]
fn create_errors_carry_the_runtime_message() {
    for rt in RUNTIMES {
        let f = Fixture::new(rt);
        f.make_bundle(&["/no/such/binary"], false, true);
        let err = f.rt.create(&f.request());
        let e = err.err().unwrap_or_else(|| panic!("{rt}: create of a missing binary must fail"));
        assert!(e.to_string().starts_with(&format!("{} create failed: ", f.rt.binary().display())), "{rt}: {e}");
        assert!(e.to_string().len() > 30, "{rt}: message too short: {e}");
        // A missing bundle is NotFound and spawns nothing.
        let req = CreateRequest { bundle: f.dir.path().join("nothing"), ..f.request() };
        assert_eq!(f.rt.create(&req).unwrap_err().kind(), ErrorKind::NotFound);
    }
}

/// Helper run in a child process by `container_survives_engine_sigkill`.
#[test]
fn zz_child_spawner() {
    let Some(dir) = std::env::var_os("ISULA_RT_CHILD") else {
        return;
    };
    let dir = PathBuf::from(dir);
    let rt = std::env::var("ISULA_RT_RUNTIME").unwrap();
    let id = std::env::var("ISULA_RT_ID").unwrap();
    let runtime = OciRuntime::new(&rt, &rt, vec![], &dir.join("rtroot"), &shim_path()).unwrap();
    let req = CreateRequest {
        id: id.clone(),
        bundle: dir.join("bundle"),
        state_dir: dir.join("state"),
        log: Some(ShimLogConfig {
            path: dir.join("ctr.log"),
            max_size: 1 << 20,
            max_file: 2,
            format: Default::default(),
        }),
        terminal: false,
        open_stdin: false,
        attach: false,
        start: false,
    };
    let s = runtime.create(&req).unwrap();
    runtime.start(&id).unwrap();
    fs::write(dir.join("spawned"), s.handle.shim_pid.to_string()).unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

#[test]
fn container_survives_engine_sigkill() {
    for rt in RUNTIMES {
        let mut f = Fixture::new(rt);
        f.make_bundle(&["sh", "-c", "echo started; sleep 1000"], false, true);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "runtime_shim::zz_child_spawner", "--nocapture", "--test-threads=1"])
            .env("ISULA_RT_CHILD", f.dir.path())
            .env("ISULA_RT_RUNTIME", rt)
            .env("ISULA_RT_ID", &f.id)
            .env("ISULA_SHIM", shim_path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let marker = f.dir.path().join("spawned");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !marker.exists() {
            if let Some(st) = child.try_wait().unwrap() {
                panic!("{rt}: child engine died early: {st}");
            }
            assert!(Instant::now() < deadline, "{rt}: child engine did not spawn a container");
            std::thread::sleep(Duration::from_millis(20));
        }
        let shim_pid: i32 = fs::read_to_string(&marker).unwrap().parse().unwrap();
        f.shims.push(shim_pid);
        // SIGKILL the "engine".
        child.kill().unwrap();
        child.wait().unwrap();
        // A fresh handle from the state dir only.
        let h = ShimHandle::load(&f.state_dir()).unwrap();
        assert_eq!(h.shim_pid, shim_pid);
        holds_for(Duration::from_millis(200), &format!("{rt}: shim alive after its engine died"), || h.is_alive());
        assert_eq!(h.read_exit().unwrap(), None);
        let s = f.rt.state(&f.id).unwrap();
        assert_eq!((s.status, s.pid), (RuntimeStatus::Running, h.pid), "{rt}");
        f.rt.kill(&f.id, 9, false).unwrap();
        let st = h.wait_exit(WAIT).unwrap().unwrap();
        assert_eq!((st.code, st.signal), (137, Some(9)), "{rt}");
        assert_eq!(f.log_lines(), vec![(LogStream::Stdout, "started\n".to_string())], "{rt}");
        f.assert_shim_gone(&h);
    }
}

fn pss_kib(pid: i32) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    let field = |name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    field("Pss:")
}

/// Ad-hoc figures (not asserted): shim PSS per container and create+start+exit latency
/// of `true` through the shim vs bare `<runtime> run`. Run with
/// `cargo test -p isula-tests --test containers runtime_shim::measure -- --ignored --nocapture`
/// (set ISULA_SHIM to a release build to measure that one).
#[test]
#[ignore]
fn measure_shim_pss_and_latency() {
    for rt in RUNTIMES {
        let mut f = Fixture::new(rt);
        let h = f.run(&["sleep", "100"]);
        std::thread::sleep(Duration::from_millis(300));
        let text = fs::read_to_string(format!("/proc/{}/smaps_rollup", h.shim_pid)).unwrap();
        let get = |n: &str| {
            text.lines().find(|l| l.starts_with(n)).map(|l| l.split_whitespace().nth(1).unwrap().to_string()).unwrap()
        };
        eprintln!(
            "{rt}: shim {} Rss {} kB, Pss {} kB, Private_Clean {} kB, Private_Dirty {} kB",
            shim_path().display(),
            get("Rss:"),
            pss_kib(h.shim_pid),
            get("Private_Clean:"),
            get("Private_Dirty:")
        );
        f.rt.kill(&f.id, 9, true).unwrap();
        h.wait_exit(WAIT).unwrap();
        drop(f);

        let n = 10;
        let mut through = Duration::ZERO;
        let mut phases = [Duration::ZERO; 4];
        for _ in 0..n {
            let mut f = Fixture::new(rt);
            f.make_bundle(&["true"], false, true);
            let t = Instant::now();
            let h = f.create(&f.request());
            phases[0] += t.elapsed();
            let t1 = Instant::now();
            f.rt.start(&f.id).unwrap();
            phases[1] += t1.elapsed();
            let t2 = Instant::now();
            h.wait_exit(WAIT).unwrap().unwrap();
            phases[2] += t2.elapsed();
            let t3 = Instant::now();
            f.rt.delete(&f.id, false).unwrap();
            phases[3] += t3.elapsed();
            through += t.elapsed();
        }
        let mut bare = Duration::ZERO;
        for _ in 0..n {
            let f = Fixture::new(rt);
            f.make_bundle(&["true"], false, true);
            let t = Instant::now();
            let st = Command::new(rt)
                .args(["--root"])
                .arg(f.dir.path().join("rtroot"))
                .args(["run", "--bundle"])
                .arg(f.bundle())
                .arg(&f.id)
                .stdin(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(st.success());
            bare += t.elapsed();
        }
        eprintln!(
            "{rt}: create+start+wait+delete of `true` via shim: {:?} avg; bare `{rt} run` (incl. its delete): {:?} avg",
            through / n,
            bare / n
        );
        eprintln!(
            "{rt}: phases avg: spawn+create {:?}, start {:?}, wait exit {:?}, delete {:?}",
            phases[0] / n,
            phases[1] / n,
            phases[2] / n,
            phases[3] / n
        );
    }
}

#[test]
fn oom_kill_is_reported() {
    for rt in RUNTIMES {
        let mut f = Fixture::new(rt);
        let limit = 16u64 << 20;
        f.make_bundle_res(
            &["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
            false,
            true,
            serde_json::json!({"memory": {"limit": limit, "swap": limit}}),
        );
        let h = f.create(&f.request());
        f.rt.start(&f.id).unwrap();
        let st = h.wait_exit(WAIT).unwrap().unwrap();
        assert_eq!((st.code, st.oom_killed), (137, true), "{rt}: {st:?}");
        f.assert_shim_gone(&h);
        // A normal exit is not an OOM.
        let mut g = Fixture::new(rt);
        let h = g.run(&["true"]);
        assert!(!h.wait_exit(WAIT).unwrap().unwrap().oom_killed);
    }
}

#[test]
fn follow_logs_until_the_container_exits() {
    for rt in RUNTIMES {
        let mut f = Fixture::new(rt);
        let h = f.run(&["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done"]);
        let state_dir = f.state_dir();
        let mut got = Vec::new();
        let opts = LogOptions { follow: true, ..Default::default() };
        let running = || isula_core::unstable::runtime::read_exit(&state_dir).unwrap().is_none();
        follow_logs(&f.log_path(), &opts, &running, &mut |l| {
            got.push(l.log);
            true
        })
        .unwrap();
        assert_eq!(got, vec!["1\n", "2\n", "3\n"], "{rt}");
        assert_eq!(h.wait_exit(WAIT).unwrap().unwrap().code, 0);
    }
}
