//! Real tests: generated specs run with runc and crun as root (busybox rootfs in a temp dir).
//!
//! Each run has its own bundle, runtime state root and cgroup parent; a guard deletes the
//! container and removes the cgroups even when an assertion fails.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::container::options::Ulimit;

const RUNTIMES: &[&str] = &["runc", "crun"];

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// True when the prerequisites are there; in CI a missing one is a failure, never a skip.
fn prerequisites() -> bool {
    let mut missing = Vec::new();
    if !nix::unistd::Uid::effective().is_root() {
        missing.push("root".to_string());
    }
    if !Path::new("/bin/busybox").exists() {
        missing.push("/bin/busybox".to_string());
    }
    for rt in RUNTIMES {
        if !which(rt) {
            missing.push(rt.to_string());
        }
    }
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("missing prerequisites: {missing:?}");
    }
    eprintln!("skipping runtime test, missing: {missing:?}");
    false
}

fn which(name: &str) -> bool {
    std::env::var("PATH").unwrap_or_default().split(':').any(|d| Path::new(d).join(name).exists())
}

/// Output of one container run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Deletes the container and its cgroups on drop (then the temp dir goes).
struct Guard {
    runtime: &'static str,
    id: String,
    parent: String,
    dir: tempfile::TempDir,
}

impl Guard {
    fn state(&self) -> std::path::PathBuf {
        self.dir.path().join("state")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new(self.runtime)
            .arg("--root")
            .arg(self.state())
            .args(["delete", "-f", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let rel = self.parent.trim_start_matches('/');
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in rd.flatten() {
                let base = h.path().join(rel);
                let _ = std::fs::remove_dir(base.join(&self.id));
                let _ = std::fs::remove_dir(&base);
            }
        }
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(rel).join(&self.id));
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(rel));
    }
}

fn make_rootfs(rootfs: &Path) {
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for name in String::from_utf8_lossy(&list.stdout).lines() {
        if name != "busybox" && !name.is_empty() {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(name)).unwrap();
        }
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n")
        .unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\napp:x:1000:\n").unwrap();
}

/// Builds the spec for `o` and runs it with `runtime run`, returning exit code and output.
fn run(runtime: &'static str, o: &CreateOptions) -> Run {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let id = format!("isula-spec-{}-{n}-{runtime}", std::process::id());
    let guard =
        Guard { runtime, parent: format!("/isula-spec-test-{id}"), id: id.clone(), dir: tempfile::tempdir().unwrap() };
    let dir = guard.dir.path();
    let (rootfs, ctr, vols) = (dir.join("rootfs"), dir.join("ctr"), dir.join("volumes"));
    make_rootfs(&rootfs);
    std::fs::create_dir_all(&ctr).unwrap();
    let host = HostInfo::detect(&guard.parent);
    let input = SpecInput {
        id: &id,
        options: o,
        image: None,
        rootfs: &rootfs,
        container_dir: &ctr,
        etc_files: true,
        volumes_root: &vols,
        host: &host,
        namespaces: &NoContainers,
    };
    let spec = build_spec(&input).unwrap();
    prepare_container(&input, &spec).unwrap();
    write_bundle_config(dir, &spec).unwrap();
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = Command::new(runtime)
        .arg("--root")
        .arg(guard.state())
        .args(["run", "--bundle"])
        .arg(dir)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{runtime} run {id} timed out");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    }
}

fn sh(script: &str) -> CreateOptions {
    CreateOptions {
        image: "busybox".into(),
        cmd: Some(vec!["/bin/sh".into(), "-c".into(), script.into()]),
        ..Default::default()
    }
}

fn check(runtime: &str, r: &Run, expected_code: i32, needles: &[&str]) {
    if std::env::var_os("SPEC_TEST_DEBUG").is_some() {
        eprintln!("{runtime}: code={} stdout={:?} stderr={:?}", r.code, r.stdout, r.stderr);
    }
    assert_eq!(r.code, expected_code, "{runtime}: exit code; stdout={:?} stderr={:?}", r.stdout, r.stderr);
    for n in needles {
        assert!(r.stdout.contains(n), "{runtime}: {n:?} not in stdout {:?} (stderr {:?})", r.stdout, r.stderr);
    }
}

#[test]
fn runtime_user_and_exit_code() {
    if !prerequisites() {
        return;
    }
    for rt in RUNTIMES {
        let o = CreateOptions { user: Some("app".into()), ..sh("id; exit 3") };
        let r = run(rt, &o);
        check(rt, &r, 3, &["uid=1000(app) gid=1000(app)"]);
        let r = run(rt, &sh("id -u"));
        check(rt, &r, 0, &["0\n"]);
    }
}

#[test]
fn runtime_capabilities() {
    if !prerequisites() {
        return;
    }
    for rt in RUNTIMES {
        let r = run(rt, &sh("grep CapEff /proc/self/status"));
        check(rt, &r, 0, &["00000000a80425fb"]);
        let o = CreateOptions { cap_drop: vec!["ALL".into()], ..sh("grep CapEff /proc/self/status") };
        check(rt, &run(rt, &o), 0, &["0000000000000000"]);
        let o =
            CreateOptions { cap_drop: vec!["chown".into()], ..sh("chown 1000 /tmp && echo chowned || echo denied") };
        check(rt, &run(rt, &o), 0, &["denied"]);
    }
}

#[test]
fn runtime_readonly_rootfs_tmpfs_and_binds() {
    if !prerequisites() {
        return;
    }
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("hello"), "hello from host\n").unwrap();
    for rt in RUNTIMES {
        let mut o = sh("touch /x 2>/dev/null && echo root-rw || echo root-ro; \
             touch /scratch/y && echo tmpfs-ok; grep ' /scratch ' /proc/mounts; \
             cat /mnt/rw/hello; touch /mnt/rw/new-$0 && echo bind-rw; \
             touch /mnt/ro/x 2>/dev/null && echo bind-ro-broken || echo bind-ro-refused");
        o.cmd.as_mut().unwrap().push(rt.to_string());
        o.read_only = true;
        o.tmpfs.insert("/scratch".into(), "size=1m".into());
        o.binds = vec![format!("{}:/mnt/rw", host.path().display()), format!("{}:/mnt/ro:ro", host.path().display())];
        let r = run(rt, &o);
        check(rt, &r, 0, &["root-ro", "tmpfs-ok", "/scratch tmpfs", "hello from host", "bind-rw", "bind-ro-refused"]);
        assert!(host.path().join(format!("new-{rt}")).exists(), "{rt}: write through the bind mount");
    }
}

#[test]
fn runtime_memory_hostname_env_workdir_ulimit() {
    if !prerequisites() {
        return;
    }
    let mem_file = if crate::host::cgroup_v2() {
        "/sys/fs/cgroup/memory.max"
    } else {
        "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    };
    for rt in RUNTIMES {
        let mut o = sh(&format!(
            "cat {mem_file}; hostname; cat /etc/hostname; echo FOO=$FOO; pwd; ulimit -n; grep -c localhost /etc/hosts; \
             echo domain=$(cat /proc/sys/kernel/domainname); grep -c nameserver /etc/resolv.conf; echo HOME=$HOME; echo oom=$(cat /proc/self/oom_score_adj)"
        ));
        o.resources.memory = Some(64 << 20);
        o.resources.oom_score_adj = Some(100);
        o.hostname = Some("spec-box".into());
        o.domainname = Some("example.org".into());
        o.dns = vec!["192.0.2.53".into()];
        o.env = vec!["FOO=bar".into()];
        o.working_dir = Some("/work/dir".into());
        o.ulimits = vec![Ulimit { name: "nofile".into(), soft: 100, hard: 200 }];
        let r = run(rt, &o);
        check(
            rt,
            &r,
            0,
            &[
                "67108864\n",
                "spec-box\nspec-box\n",
                "FOO=bar\n",
                "/work/dir\n",
                "100\n",
                "domain=example.org\n",
                "HOME=/root\n",
                "oom=100\n",
            ],
        );
    }
}

#[test]
fn runtime_seccomp() {
    if !prerequisites() {
        return;
    }
    let script =
        "grep Seccomp: /proc/self/status; unshare -U true 2>/dev/null && echo unshare-ok || echo unshare-blocked";
    for rt in RUNTIMES {
        let r = run(rt, &sh(script));
        check(rt, &r, 0, &["Seccomp:\t2", "unshare-blocked"]);
        let o = CreateOptions { security_opt: vec!["seccomp=unconfined".into()], ..sh(script) };
        check(rt, &run(rt, &o), 0, &["Seccomp:\t0", "unshare-ok"]);
    }
}

#[test]
fn runtime_privileged_and_devices() {
    if !prerequisites() {
        return;
    }
    let all = crate::container::caps::cap_mask(&crate::container::caps::host_caps());
    for rt in RUNTIMES {
        let o = CreateOptions {
            privileged: true,
            ..sh("grep CapEff /proc/self/status; grep -c . /proc/self/status >/dev/null; \
                  test -c /dev/zero && echo has-zero; mkdir -p /tmp/m && mount -t tmpfs none /tmp/m && echo mount-ok")
        };
        check(rt, &run(rt, &o), 0, &[&format!("{all:016x}"), "has-zero", "mount-ok"]);
        let mut o = sh("echo data > /dev/mynull && echo write-ok; test -e /dev/zero2 || echo no-extra-device");
        o.devices = vec![crate::container::options::DeviceMapping {
            path_on_host: "/dev/null".into(),
            path_in_container: "/dev/mynull".into(),
            cgroup_permissions: "rwm".into(),
        }];
        check(rt, &run(rt, &o), 0, &["write-ok", "no-extra-device"]);
        let mut o =
            sh("test -c /dev/rokmsg && echo present; (echo x > /dev/rokmsg) 2>/dev/null && echo write-allowed || echo write-denied");
        o.devices = vec![crate::container::options::DeviceMapping {
            path_on_host: "/dev/kmsg".into(),
            path_in_container: "/dev/rokmsg".into(),
            cgroup_permissions: "r".into(),
        }];
        // /dev/kmsg (1:11) is not in the default allow-list, so "r" is all the cgroup grants.
        check(rt, &run(rt, &o), 0, &["present", "write-denied"]);
    }
}
