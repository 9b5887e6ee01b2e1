//! End to end: the flags of `isula run` through the real `isula` and `isulad` with runc,
//! each checked by its effect inside the container (mounts, devices, limits, capabilities,
//! namespaces, DNS files, user, env) or in `inspect`, not only accepted.
//!
//! Build first: `cargo build -p isulad -p isula -p isulad-shim`.

use crate::cli_support;

use std::time::Duration;

use cli_support::Daemon;
use isula_tests::images;
use serde_json::Value;

/// A daemon with busybox loaded; removes every container it knows on drop (before the
/// daemon stops).
struct Env {
    d: Daemon,
}

impl Env {
    fn new() -> Env {
        Self::with_flags(Vec::new())
    }

    fn with_flags(flags: Vec<String>) -> Env {
        let d = Daemon::start_with(flags);
        d.load_busybox();
        Env { d }
    }

    fn isula(&self, args: &[&str]) -> cli_support::Run {
        self.d.isula(args)
    }

    /// `isula run --rm --network none FLAGS busybox sh -c SCRIPT`: its stdout (must succeed).
    fn sh(&self, flags: &[&str], script: &str) -> String {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "sh", "-c", script]);
        self.isula(&args).ok().to_string()
    }

    /// A detached `sleep` container with `flags`; its id.
    fn daemon_box(&self, flags: &[&str]) -> String {
        let mut args = vec!["run", "-d", "--network", "none"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "sleep", "1000"]);
        self.isula(&args).ok().trim().to_string()
    }

    fn exec(&self, id: &str, script: &str) -> String {
        self.isula(&["exec", id, "sh", "-c", script]).ok().to_string()
    }

    fn inspect(&self, id: &str) -> Value {
        let out = self.isula(&["inspect", id]).ok().to_string();
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("inspect is not JSON ({e}): {out}"));
        v[0].clone()
    }

    /// Poll `inspect` until `done` holds (20 s at most); the last inspect.
    fn until(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let reached = isula_tests::poll::poll(Duration::from_secs(30), || {
            last = self.inspect(id);
            done(&last)
        });
        assert!(reached, "{id} never reached {what}: {}", last["State"]);
        last
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.d.remove_all_containers();
    }
}

/// The line of /proc/self/mountinfo (as printed by the container) whose mount point is `dst`.
fn mount_line<'a>(mountinfo: &'a str, dst: &str) -> &'a str {
    mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(dst))
        .unwrap_or_else(|| panic!("no mount at {dst} in:\n{mountinfo}"))
}

/// The value of `field:` in a /proc/PID/status text.
fn status_field<'a>(status: &'a str, field: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {field} in:\n{status}"))
        .trim()
}

#[test]
fn mounts_tmpfs_devices_ulimits_sysctls() {
    let env = Env::new();
    let host = env.d.root.path().join("bind-src");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("f"), "from host\n").unwrap();
    let src = host.to_str().unwrap();

    // Bind, read-only: the host file is visible, writes refused.
    let bind = format!("type=bind,source={src},target=/b,readonly");
    let out = env.sh(
        &["--mount", &bind],
        "cat /b/f; if touch /b/new 2>/dev/null; then echo writable; else echo refused; fi; cat /proc/self/mountinfo",
    );
    assert!(out.starts_with("from host\nrefused\n"), "{out}");
    let line = mount_line(&out, "/b");
    assert!(line.split(' ').nth(5).unwrap_or("").split(',').any(|o| o == "ro"), "{line}");
    assert!(!host.join("new").exists());

    // Propagation: with the source a shared mount (under the test root, which unmounts it),
    // a mount made on the host later reaches an rslave bind, not a default (rprivate) one.
    use nix::mount::{mount, MsFlags};
    std::fs::create_dir_all(host.join("sub")).unwrap();
    mount(Some(&host), &host, None::<&str>, MsFlags::MS_BIND, None::<&str>).unwrap();
    mount(None::<&str>, &host, None::<&str>, MsFlags::MS_SHARED, None::<&str>).unwrap();
    let slave = env.daemon_box(&["--mount", &format!("type=bind,source={src},target=/b,bind-propagation=rslave")]);
    let private = env.daemon_box(&["--mount", &format!("type=bind,source={src},target=/b")]);
    let sub = host.join("sub");
    mount(Some("tmpfs"), &sub, Some("tmpfs"), MsFlags::empty(), Some("size=1m")).unwrap();
    let seen = env.exec(&slave, "cat /proc/self/mountinfo");
    assert!(mount_line(&seen, "/b").contains(" master:"), "{seen}");
    assert!(mount_line(&seen, "/b/sub").contains(" - tmpfs "), "{seen}");
    let unseen = env.exec(&private, "cat /proc/self/mountinfo");
    assert!(!unseen.lines().any(|l| l.split(' ').nth(4) == Some("/b/sub")), "{unseen}");
    nix::mount::umount(&sub).unwrap();

    // Read-write bind: the container's write reaches the host.
    env.sh(&["--mount", &format!("type=bind,src={src},dst=/b")], "echo hi > /b/w");
    assert_eq!(std::fs::read_to_string(host.join("w")).unwrap(), "hi\n");

    // Named volume: what one container writes, the next one reads; ro refuses writes.
    env.sh(&["--mount", "type=volume,source=flagsvol,target=/v"], "echo kept > /v/data");
    let out = env.sh(
        &["--mount", "type=volume,source=flagsvol,target=/v,readonly"],
        "cat /v/data; if touch /v/x 2>/dev/null; then echo writable; else echo refused; fi",
    );
    assert_eq!(out, "kept\nrefused\n");

    // tmpfs through --mount and --tmpfs, with their sizes.
    let out = env.sh(
        &["--mount", "type=tmpfs,target=/t,tmpfs-size=2m", "--tmpfs", "/x:size=1m"],
        "echo a > /t/a && echo b > /x/b && cat /proc/self/mountinfo",
    );
    let t = mount_line(&out, "/t");
    assert!(t.contains(" - tmpfs ") && t.contains("size=2048k"), "{t}");
    let x = mount_line(&out, "/x");
    assert!(x.contains(" - tmpfs ") && x.contains("size=1024k"), "{x}");

    // A host device under another name: a character device that swallows writes.
    let out = env.sh(
        &["--device", "/dev/null:/dev/mynull"],
        "test -c /dev/mynull && echo dropped > /dev/mynull && echo ok; stat -c '%t,%T' /dev/mynull",
    );
    assert_eq!(out, "ok\n1,3\n");

    // nofile soft and hard limits.
    assert_eq!(env.sh(&["--ulimit", "nofile=512:1024"], "ulimit -n; ulimit -Hn"), "512\n1024\n");

    // A namespaced sysctl in the container's own network namespace; the host's is untouched.
    let host_fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    assert_eq!(env.sh(&["--sysctl", "net.ipv4.ip_forward=1"], "cat /proc/sys/net/ipv4/ip_forward"), "1\n");
    assert_eq!(std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(), host_fwd);
}

/// A cgroup file of the container: the v1 path, else the v2 one.
fn cg(v1: &str, v2: &str) -> String {
    format!("cat /sys/fs/cgroup/{v1} 2>/dev/null || cat /sys/fs/cgroup/{v2}")
}

#[test]
fn resource_limits_reach_cgroups_and_inspect() {
    let env = Env::new();
    let id = env.daemon_box(&[
        "--cpus",
        "0.5",
        "-m",
        "64m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "50",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
    ]);
    let r = &env.inspect(&id)["HostConfig"]["Resources"];
    assert_eq!(r["Cpus"], 0.5, "{r}");
    assert_eq!(r["Memory"], 64 << 20, "{r}");
    assert_eq!(r["MemorySwap"], 128 << 20, "{r}");
    assert_eq!(r["PidsLimit"], 50, "{r}");
    assert_eq!(r["CpuShares"], 512, "{r}");
    assert_eq!(r["CpusetCpus"], "0", "{r}");

    let mem = env.exec(&id, &cg("memory/memory.limit_in_bytes", "memory.max"));
    assert_eq!(mem.trim(), (64u64 << 20).to_string());
    let pids = env.exec(&id, &cg("pids/pids.max", "pids.max"));
    assert_eq!(pids.trim(), "50");
    let cpuset = env.exec(&id, &cg("cpuset/cpuset.cpus", "cpuset.cpus"));
    assert_eq!(cpuset.trim(), "0");
    let quota = env.exec(&id, &cg("cpu/cpu.cfs_quota_us", "cpu.max"));
    let period = env.exec(&id, &cg("cpu/cpu.cfs_period_us", "cpu.max"));
    let quota: Vec<&str> = quota.split_whitespace().collect();
    let period: Vec<&str> = period.split_whitespace().collect();
    // v1: quota 50000 and period 100000 in two files; v2: "50000 100000" in one.
    assert_eq!(quota[0], "50000", "{quota:?}");
    assert_eq!(period.last().copied(), Some("100000"), "{period:?}");
    if std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
        let swap = env.exec(&id, "cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
        assert_eq!(swap.trim(), (128u64 << 20).to_string());
    }
    if std::path::Path::new("/sys/fs/cgroup/cpu/cpu.shares").exists() {
        assert_eq!(env.exec(&id, "cat /sys/fs/cgroup/cpu/cpu.shares").trim(), "512");
    }
    // The pids limit bites: of 60 background sleeps, the cgroup holds at most 50 tasks.
    // (a subshell forks until refused; the count uses shell builtins only, as the shell
    // itself cannot fork at the limit; the update below makes room again)
    let script = "(i=0; while [ $i -lt 60 ]; do sleep 300 & i=$((i+1)); done) 2>/dev/null; \
                  set -- /proc/[0-9]*; echo $#";
    let n = env.isula(&["exec", &id, "sh", "-c", script]).stdout;
    let n: u32 = n.trim().parse().unwrap_or_else(|_| panic!("no count: {n:?}"));
    assert!((40..=50).contains(&n), "{n} processes under --pids-limit 50");

    // update goes through the same flags.
    env.isula(&["update", "-m", "96m", "--memory-swap", "192m", "--pids-limit", "70", &id]).ok();
    let r = &env.inspect(&id)["HostConfig"]["Resources"];
    assert_eq!(r["Memory"], 96 << 20, "{r}");
    assert_eq!(r["PidsLimit"], 70, "{r}");
    let mem = env.exec(&id, &cg("memory/memory.limit_in_bytes", "memory.max"));
    assert_eq!(mem.trim(), (96u64 << 20).to_string());
    // Bad values are usage errors and change nothing.
    let e = env.isula(&["update", "--cpus", "many", &id]).fails(125).to_string();
    assert!(e.contains("--cpus") && e.contains("\"many\""), "{e}");
    let e = env.isula(&["run", "--rm", "-m", "lots", "busybox", "true"]).fails(125).to_string();
    assert!(e.contains("\"lots\""), "{e}");
    let e = env.isula(&["run", "--rm", "--ulimit", "bogus=1", "busybox", "true"]).fails(125).to_string();
    assert!(e.contains("--ulimit") && e.contains("bogus=1"), "{e}");
    assert_eq!(env.inspect(&id)["HostConfig"]["Resources"]["Memory"], 96 << 20);
}

#[test]
fn restart_policy_and_health() {
    let env = Env::new();
    // on-failure:2: two restarts, then the container stays exited with its code.
    let id = env
        .isula(&["run", "-d", "--network", "none", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3"])
        .ok()
        .trim()
        .to_string();
    let v = env.until(&id, "exited after 2 restarts", |v| v["RestartCount"] == 2 && v["State"]["Status"] == "exited");
    assert_eq!(v["State"]["ExitCode"], 3);
    assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "on-failure", "{}", v["HostConfig"]);
    assert_eq!(v["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 2);

    // Health: healthy while /tmp/ok exists, unhealthy once it is gone (1 retry).
    let id = env
        .isula(&[
            "run",
            "-d",
            "--network",
            "none",
            "--health-cmd",
            "test -f /tmp/ok",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
            "busybox",
            "sh",
            "-c",
            "touch /tmp/ok; exec sleep 1000",
        ])
        .ok()
        .trim()
        .to_string();
    let h = |v: &Value| v["State"]["Health"]["Status"].as_str().unwrap_or("").to_string();
    env.until(&id, "healthy", |v| h(v) == "healthy");
    env.exec(&id, "rm /tmp/ok");
    let v = env.until(&id, "unhealthy", |v| h(v) == "unhealthy");
    assert!(v["State"]["Health"]["FailingStreak"].as_i64().unwrap_or(0) >= 1, "{}", v["State"]["Health"]);
}

#[test]
fn capabilities_privileges_and_read_only() {
    let env = Env::new();
    let eff = |flags: &[&str]| {
        let s = env.sh(flags, "cat /proc/1/status");
        (u64::from_str_radix(status_field(&s, "CapEff"), 16).unwrap(), status_field(&s, "NoNewPrivs").to_string())
    };
    const CHOWN: u64 = 1 << 0;
    const NET_ADMIN: u64 = 1 << 12;
    const SYS_ADMIN: u64 = 1 << 21;
    let (default, nnp) = eff(&[]);
    assert_ne!(default & CHOWN, 0, "{default:x}");
    assert_eq!(default & (NET_ADMIN | SYS_ADMIN), 0, "{default:x}");
    assert_eq!(nnp, "0");
    let (c, _) = eff(&["--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN"]);
    assert_eq!(c, (default | NET_ADMIN) & !CHOWN, "{c:x}");
    let (c, _) = eff(&["--cap-drop", "ALL", "--cap-add", "cap_net_admin"]);
    assert_eq!(c, NET_ADMIN, "{c:x}");
    // Privileged: every capability the daemon has.
    let ours = std::fs::read_to_string("/proc/self/status").unwrap();
    let ours = u64::from_str_radix(status_field(&ours, "CapEff"), 16).unwrap();
    let (c, _) = eff(&["--privileged"]);
    assert_eq!(c, ours, "{c:x} vs {ours:x}");
    let (_, nnp) = eff(&["--security-opt", "no-new-privileges"]);
    assert_eq!(nnp, "1");

    // Read-only root: writes to / fail, a tmpfs mounted on top still works.
    let out = env.sh(
        &["--read-only", "--tmpfs", "/run"],
        "if touch /x 2>/dev/null; then echo writable; else echo refused; fi; touch /run/ok && echo run-ok",
    );
    assert_eq!(out, "refused\nrun-ok\n");
    assert_eq!(env.sh(&[], "touch /x && echo writable"), "writable\n");
}

/// The namespace link `/proc/self/ns/<ns>` of the test process.
fn host_ns(ns: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap().to_string_lossy().into_owned()
}

#[test]
fn namespaces_hostname_dns_and_hosts() {
    let env = Env::new();
    let ns = "for n in pid ipc uts; do readlink /proc/self/ns/$n; done";
    let private = env.sh(&[], ns);
    let own: Vec<&str> = private.lines().collect();
    assert_eq!(own.len(), 3, "{private}");
    assert_ne!(own[0], host_ns("pid"));
    assert_ne!(own[1], host_ns("ipc"));
    assert_ne!(own[2], host_ns("uts"));
    let shared = env.sh(&["--pid", "host", "--ipc", "host", "--uts", "host"], ns);
    assert_eq!(shared, format!("{}\n{}\n{}\n", host_ns("pid"), host_ns("ipc"), host_ns("uts")));
    // With the host's pid namespace the test process is visible.
    let me = std::process::id();
    assert_eq!(env.sh(&["--pid", "host"], &format!("test -d /proc/{me} && echo seen")), "seen\n");
    // --uts host: the host's name; -h: our own.
    let host_name = nix::unistd::gethostname().unwrap().to_string_lossy().into_owned();
    assert_eq!(env.sh(&["--uts", "host"], "hostname"), format!("{host_name}\n"));
    assert_eq!(env.sh(&["--hostname", "box1"], "hostname"), "box1\n");
    // --ipc shareable gets a private namespace too.
    let shareable = env.sh(&["--ipc", "shareable"], "readlink /proc/self/ns/ipc");
    assert_ne!(shareable.trim(), host_ns("ipc"));

    // DNS files: --dns needs a network of its own or the host's (none refuses it, clearly).
    let e = env
        .isula(&["run", "--rm", "--network", "none", "--dns", "10.0.0.53", "busybox", "true"])
        .fails(125)
        .to_string();
    assert!(e.contains("--dns"), "{e}");
    let r = env.isula(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--dns",
        "10.0.0.53",
        "--dns-search",
        "example.test",
        "--add-host",
        "db.local:10.1.2.3",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf; echo ---; cat /etc/hosts",
    ]);
    let out = r.ok();
    let (resolv, hosts) = out.split_once("---\n").unwrap();
    assert!(resolv.lines().any(|l| l.trim() == "nameserver 10.0.0.53"), "{resolv}");
    assert!(resolv.lines().any(|l| l.trim() == "search example.test"), "{resolv}");
    assert!(hosts.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["10.1.2.3", "db.local"]), "{hosts}");
}

#[test]
fn user_workdir_entrypoint_env_labels() {
    let env = Env::new();
    assert_eq!(env.sh(&["-u", "1000:1000"], "id -u; id -g"), "1000\n1000\n");
    assert_eq!(env.sh(&["-w", "/srv/app"], "pwd"), "/srv/app\n");
    // --entrypoint replaces the image's; the command becomes its arguments.
    let r = env.isula(&["run", "--rm", "--network", "none", "--entrypoint", "echo", "busybox", "from", "entry"]);
    assert_eq!(r.ok(), "from entry\n");

    let file = env.d.root.path().join("vars.env");
    std::fs::write(&file, "# a comment\nA=1\n\nB=two words\nPASSED\n").unwrap();
    let out = env.isula(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--env-file",
        file.to_str().unwrap(),
        "-e",
        "A=override",
        "busybox",
        "sh",
        "-c",
        "echo \"$A|$B|${PASSED-unset}\"",
    ]);
    assert_eq!(out.ok(), "override|two words|unset\n");
    let e = env.isula(&["run", "--rm", "--env-file", "/no/such/file", "busybox", "true"]).fails(125).to_string();
    assert_eq!(e, "open /no/such/file: no such file or directory\n");

    let id = env.daemon_box(&["-l", "tier=web", "--label", "flag"]);
    let v = env.inspect(&id);
    assert_eq!(v["Config"]["Labels"]["tier"], "web", "{}", v["Config"]);
    assert_eq!(v["Config"]["Labels"]["flag"], "", "{}", v["Config"]);
    let r = env.isula(&["ps", "-q", "--filter", "label=tier=web"]);
    assert_eq!(r.ok().trim(), &id[..12]);
}

#[test]
fn pull_policies() {
    let env = Env::new();
    // never: a missing image is an error, nothing is pulled or created.
    let e = env.isula(&["run", "--rm", "--pull", "never", "nosuch/image:1"]).fails(125).to_string();
    assert_eq!(e, "Error response from daemon: No such image: nosuch/image:1\n");
    // Docker names the image with its default tag.
    let e = env.isula(&["create", "--pull", "never", "nosuch"]).fails(125).to_string();
    assert_eq!(e, "Error response from daemon: No such image: nosuch:latest\n");
    assert_eq!(env.isula(&["ps", "-aq"]).ok(), "");
    // never and missing with the image present: it runs without a pull.
    for p in ["never", "missing"] {
        let r = env.isula(&["run", "--rm", "--network", "none", "--pull", p, "busybox", "echo", "ran"]);
        assert_eq!(r.ok(), "ran\n");
        assert!(!r.stderr.contains("Unable to find image"), "{}", r.stderr);
    }
    env.isula(&["run", "--rm", "--pull", "sometimes", "busybox", "true"]).fails(125);
}

#[test]
fn pull_always_and_missing_from_a_registry() {
    use isula_tests::registry::{self, Registry, RegistryMode};
    let mode = RegistryMode::Http;
    if !registry::available(&mode) || !isula_tests::env::require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    let name = reg.push(&images::busybox(), "library/busybox:flags");
    let env = Env::with_flags(vec!["--insecure-registry".into(), reg.addr()]);
    // missing: not here, so "Unable to find image" and a pull, then it runs.
    let r = env.isula(&["run", "--rm", "--network", "none", "--pull", "missing", &name, "echo", "ran"]);
    assert!(r.ok().ends_with("ran\n"), "{}", r.stdout);
    assert!(r.stderr.contains(&format!("Unable to find image '{name}' locally")), "{}", r.stderr);
    // always: pulls again though the image is present.
    let r = env.isula(&["run", "--rm", "--network", "none", "--pull", "always", &name, "echo", "ran"]);
    assert!(r.ok().contains("Pulling from library/busybox"), "{}", r.stdout);
    assert!(r.stdout.ends_with("ran\n"), "{}", r.stdout);
    // always with an unknown tag: the pull fails and no container is left.
    let missing = format!("{}/library/busybox:nope", reg.addr());
    let r = env.isula(&["run", "--rm", "--pull", "always", &missing, "true"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert_eq!(env.isula(&["ps", "-aq"]).ok(), "");
}
