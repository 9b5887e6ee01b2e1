//! End to end: container commands of the real `isula` against a real `isulad` with runc
//! (run, exit codes, ps, logs, exec, stop/start/restart, pause, kill, rm, stdin, -it through
//! a pty, daemon restart with a running container, events, unknown containers).
//!
//! Build first: `cargo build -p isulad -p isula -p isulad-shim`.

use crate::cli_support;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::{bin, Daemon};
use isula_tests::poll::wait_until;

/// A daemon with busybox loaded; removes every container it knows on drop (before the
/// daemon stops).
struct Env {
    d: Daemon,
}

impl Env {
    fn new() -> Env {
        let d = Daemon::start();
        d.load_busybox();
        Env { d }
    }

    fn isula(&self, args: &[&str]) -> cli_support::Run {
        self.d.isula(args)
    }

    fn status(&self, id: &str) -> String {
        self.isula(&["inspect", "-f", "{{.State.Status}}", id]).ok().trim().to_string()
    }

    fn wait_status(&self, id: &str, want: &str) {
        wait_until(Duration::from_secs(20), &format!("{id} to become {want}"), || self.status(id) == want);
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.d.remove_all_containers();
    }
}

#[test]
fn run_foreground_exit_codes() {
    let env = Env::new();
    let r = env.isula(&["run", "--rm", "busybox", "echo", "hello"]);
    assert_eq!(r.ok(), "hello\n");
    assert_eq!(env.isula(&["ps", "-aq"]).ok(), "", "--rm left the container behind");
    env.isula(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]).fails(3);
    let err = env.isula(&["run", "--rm", "busybox", "no-such-command"]).fails(127).to_string();
    assert!(err.starts_with("Error response from daemon:"), "{err}");
    // stderr of the container reaches ours.
    let r = env.isula(&["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(r.ok(), "out\n");
    assert_eq!(r.stderr, "err\n");
    // A bad flag is a usage error.
    env.isula(&["run", "--memory", "lots", "busybox", "true"]).fails(125);
    env.isula(&["run", "--no-such-flag", "busybox"]).fails(125);
}

#[test]
fn detached_lifecycle() {
    let env = Env::new();
    let id = env.isula(&["run", "-d", "--name", "web", "busybox", "sh", "-c", "echo started; exec sleep 1000"]);
    let id = id.ok().trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    let short = &id[..12];

    // ps: Docker's table shape, -q, --format.
    let table = env.isula(&["ps"]).ok().to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    for col in ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"] {
        assert!(lines[0].contains(col), "{table}");
    }
    assert!(lines[1].starts_with(short), "{table}");
    assert!(lines[1].contains("busybox") && lines[1].contains("Up ") && lines[1].ends_with("web"), "{table}");
    assert_eq!(env.isula(&["ps", "-q"]).ok(), format!("{short}\n"));
    assert_eq!(env.isula(&["ps", "--format", "{{.Names}} {{.State}}"]).ok(), "web running\n");

    // logs and exec.
    wait_until(Duration::from_secs(20), "the log line of web", || env.isula(&["logs", "web"]).ok() == "started\n");
    assert_eq!(env.isula(&["logs", "--tail", "0", "web"]).ok(), "");
    let ts = env.isula(&["logs", "-t", "web"]).ok().to_string();
    assert!(ts.starts_with("20") && ts.contains("T") && ts.ends_with(" started\n"), "{ts}");
    let running = env.isula(&["info", "--format", "{{.ContainersRunning}}"]).ok().trim().to_string();
    assert_eq!(running, "1");
    assert_eq!(env.isula(&["exec", "web", "echo", "in"]).ok(), "in\n");
    env.isula(&["exec", "web", "sh", "-c", "exit 7"]).fails(7);
    env.isula(&["exec", "web", "no-such-command"]).fails(127);
    env.isula(&["exec", "web", "/etc/passwd"]).fails(126);
    assert_eq!(env.isula(&["exec", "-e", "X=42", "-w", "/tmp", "web", "sh", "-c", "echo $X; pwd"]).ok(), "42\n/tmp\n");

    // rm of a running container without -f is refused.
    let err = env.isula(&["rm", "web"]).fails(1).to_string();
    assert!(err.starts_with("Error response from daemon: You cannot remove a running container"), "{err}");

    // pause / unpause.
    assert_eq!(env.isula(&["pause", "web"]).ok(), "web\n");
    assert_eq!(env.status("web"), "paused");
    env.isula(&["unpause", "web"]).ok();
    assert_eq!(env.status("web"), "running");

    // stop, start, restart.
    assert_eq!(env.isula(&["stop", "-t", "1", "web"]).ok(), "web\n");
    assert_eq!(env.status("web"), "exited");
    let ps = env.isula(&["ps", "-a"]).ok().to_string();
    assert!(ps.contains("Exited (") && ps.contains(" ago"), "{ps}");
    assert_eq!(env.isula(&["ps", "-q"]).ok(), "");
    env.isula(&["start", "web"]).ok();
    assert_eq!(env.status("web"), "running");
    env.isula(&["restart", "-t", "1", "web"]).ok();
    assert_eq!(env.status("web"), "running");

    // kill, wait, rename, rm.
    env.isula(&["kill", "-s", "KILL", "web"]).ok();
    assert_eq!(env.isula(&["wait", "web"]).ok(), "137\n");
    env.isula(&["rename", "web", "web2"]).ok();
    assert_eq!(env.isula(&["inspect", "-f", "{{.Name}}", &id]).ok(), "/web2\n");
    assert_eq!(env.isula(&["rm", "web2"]).ok(), "web2\n");
    assert_eq!(env.isula(&["ps", "-aq"]).ok(), "");

    // rm -f of a running one.
    let id2 = env.isula(&["run", "-d", "busybox", "sleep", "1000"]).ok().trim().to_string();
    env.isula(&["rm", "-f", &id2]).ok();
    assert_eq!(env.isula(&["ps", "-aq"]).ok(), "");
}

#[test]
fn unknown_container_and_inspect_mixed() {
    let env = Env::new();
    let err = env.isula(&["stop", "nosuch"]).fails(1).to_string();
    assert_eq!(err, "Error response from daemon: No such container: nosuch\n");
    let err = env.isula(&["inspect", "--type", "container", "nosuch"]).fails(1).to_string();
    assert_eq!(err, "Error: No such container: nosuch\n");
    env.isula(&["logs", "nosuch"]).fails(1);
    let id = env.isula(&["create", "--name", "c1", "-e", "A=1", "busybox", "true"]).ok().trim().to_string();
    assert_eq!(env.status("c1"), "created");
    let out = env.isula(&["inspect", "c1", "busybox"]).ok().to_string();
    let arr: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(arr[0]["Id"], id.as_str());
    assert!(arr[1]["Id"].as_str().unwrap().starts_with("sha256:"), "{out}");
    assert!(arr[0]["Config"]["Env"].as_array().unwrap().iter().any(|e| e == "A=1"), "{out}");
}

/// Docker's layout: 4-space indentation, keys sorted; a re-rendering changes nothing.
/// (JSON strings hold no raw newline, so every line starts with its indentation.)
fn pretty4(v: &serde_json::Value) -> String {
    let two = serde_json::to_string_pretty(v).unwrap();
    let lines: Vec<String> = two
        .lines()
        .map(|l| {
            let body = l.trim_start_matches(' ');
            format!("{}{body}", " ".repeat(2 * (l.len() - body.len())))
        })
        .collect();
    lines.join("\n")
}

/// The keys of a JSON object, in order.
fn keys(v: &serde_json::Value) -> Vec<&str> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().map(String::as_str).collect()
}

#[test]
fn inspect_output_is_dockers() {
    let env = Env::new();
    let id = env
        .isula(&[
            "run",
            "-d",
            "--name",
            "hc",
            "--health-cmd",
            "echo probed",
            "--health-interval",
            "1s",
            "busybox",
            "sleep",
            "1000",
        ])
        .ok()
        .trim()
        .to_string();
    let health = || env.isula(&["inspect", "-f", "{{.State.Health.Status}}", "hc"]).ok().trim().to_string();
    wait_until(Duration::from_secs(30), "hc to become healthy", || health() == "healthy");
    let out = env.isula(&["inspect", "hc", "busybox"]).ok().to_string();
    let arr: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Byte for byte what the CLI always printed: the pretty array with sorted keys.
    assert_eq!(out, format!("{}\n", pretty4(&arr)));
    let c = &arr[0];
    assert_eq!(
        keys(c),
        [
            "Args",
            "Config",
            "Created",
            "Driver",
            "GraphDriver",
            "HostConfig",
            "Id",
            "Image",
            "LogPath",
            "Mounts",
            "Name",
            "NetworkSettings",
            "Path",
            "RestartCount",
            "Runtime",
            "State"
        ]
    );
    assert_eq!(c["Id"], id.as_str());
    assert_eq!(c["Name"], "/hc");
    assert_eq!(
        keys(&c["State"]),
        [
            "Dead",
            "Error",
            "ExitCode",
            "FinishedAt",
            "Health",
            "OOMKilled",
            "Paused",
            "Pid",
            "Restarting",
            "Running",
            "StartedAt",
            "Status"
        ]
    );
    assert_eq!(keys(&c["State"]["Health"]), ["FailingStreak", "Log", "Status"]);
    let log = &c["State"]["Health"]["Log"][0];
    assert_eq!(keys(log), ["End", "ExitCode", "Output", "Start"]);
    assert_eq!(log["Output"], "probed\n");
    assert_eq!(c["Config"]["Healthcheck"]["Test"], serde_json::json!(["CMD-SHELL", "echo probed"]));
    assert_eq!(c["GraphDriver"]["Name"], "overlay2");
    assert_eq!(keys(&c["GraphDriver"]["Data"]), ["LowerDir", "MergedDir", "UpperDir", "WorkDir"]);
    let img = &arr[1];
    assert!(img["Id"].as_str().unwrap().starts_with("sha256:"), "{out}");
    assert_eq!(keys(img)[..3], ["Architecture", "Author", "Config"]);
    // The same object through a template, and JSON of a part.
    assert_eq!(env.isula(&["inspect", "-f", "{{json .State.Health.Status}}", "hc"]).ok(), "\"healthy\"\n");
    assert_eq!(env.isula(&["inspect", "-f", "{{.Config.Tty}} {{.HostConfig.Tty}}", "hc"]).ok(), "false false\n");
}

#[test]
fn interactive_stdin_piped() {
    let env = Env::new();
    let r = env.d.isula_in(&["run", "--rm", "-i", "busybox", "cat"], Some(b"line one\nline two\n"));
    assert_eq!(r.ok(), "line one\nline two\n");
    let id = env.isula(&["run", "-d", "busybox", "sleep", "1000"]).ok().trim().to_string();
    let r = env.d.isula_in(&["exec", "-i", &id, "sh", "-c", "cat; exit 5"], Some(b"piped\n"));
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert_eq!(r.stdout, "piped\n");
}

/// Wait up to 20 s for `child` to exit, calling `meanwhile` between checks; on timeout kill
/// it and fail with `what`. Its exit status.
fn wait_exit(child: &mut std::process::Child, what: &str, mut meanwhile: impl FnMut()) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}");
        }
        meanwhile();
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Read from `fd` until `want` appears or the deadline passes.
fn read_until(master: &mut std::fs::File, want: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let mut fds = [nix::poll::PollFd::new(std::os::fd::AsFd::as_fd(master), nix::poll::PollFlags::POLLIN)];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(200u16)).unwrap_or(0) > 0 {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if String::from_utf8_lossy(&got).contains(want) {
                break;
            }
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn tty_through_a_pty() {
    let env = Env::new();
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave: OwnedFd = pty.slave;
    let mut master = std::fs::File::from(pty.master);
    let mut child = Command::new(bin("isula"))
        .args(["-H", &env.d.host(), "run", "--rm", "-it", "busybox", "sh"])
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    // Wait for the shell's prompt, then talk to it.
    let first = read_until(&mut master, "# ", 20);
    assert!(first.contains("# "), "no prompt: {first:?}");
    master.write_all(b"echo hi$((1+1)); exit 4\n").unwrap();
    let out = read_until(&mut master, "hi2", 20);
    assert!(out.contains("hi2"), "{out:?}");
    // Keep the pty drained meanwhile so the client never blocks on output.
    let st = wait_exit(&mut child, "isula run -it did not exit", || {
        let _ = read_until(&mut master, "\u{0}", 0);
    });
    assert_eq!(st.code(), Some(4));
}

#[test]
fn daemon_restart_keeps_containers_and_events_stream() {
    let mut env = Env::new();
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 1;
    let id = env.isula(&["run", "-d", "busybox", "sleep", "1000"]).ok().trim().to_string();
    env.d.restart();
    assert_eq!(env.status(&id), "running");
    env.isula(&["stop", "-t", "1", &id]).ok();
    env.wait_status(&id, "exited");
    env.isula(&["rm", &id]).ok();

    // Live events: create, start, die of a new container.
    let mut ev = Command::new(bin("isula"))
        .args(["-H", &env.d.host(), "events", "-f", "type=container"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let (seen, mut stdout) = (seen.clone(), ev.stdout.take().unwrap());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                seen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let has = |action: &str, name: &str| {
        let out = seen.lock().unwrap();
        out.lines().any(|l| l.contains(&format!(" container {action} ")) && l.contains(&format!("name={name}")))
    };
    // The stream is live once it shows a probe container created after it started.
    let mut probes = 0;
    wait_until(Duration::from_secs(20), "the events stream to go live", || {
        probes += 1;
        env.isula(&["create", "--name", &format!("probe{probes}"), "busybox", "true"]).ok();
        (1..=probes).any(|i| has("create", &format!("probe{i}")))
    });
    env.isula(&["run", "--name", "evt", "busybox", "true"]).ok();
    wait_until(Duration::from_secs(20), "create, start and die events of evt", || {
        ["create", "start", "die"].iter().all(|a| has(a, "evt"))
    });
    let _ = ev.kill();
    let _ = ev.wait();
    reader.join().unwrap();
    let out = seen.lock().unwrap().clone();
    for action in ["create", "start", "die"] {
        assert!(
            out.lines().any(|l| l.contains(&format!(" container {action} ")) && l.contains("name=evt")),
            "{action}: {out}"
        );
    }
    // History with --since/--until.
    let until = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1;
    let hist = env.isula(&["events", "--since", &since.to_string(), "--until", &until.to_string(), "-f", "event=die"]);
    assert!(hist.ok().lines().any(|l| l.contains("name=evt")), "{}", hist.stdout);
}

#[test]
fn top_stats_update_export() {
    let env = Env::new();
    let id = env.isula(&["run", "-d", "--name", "tools", "busybox", "sleep", "1000"]).ok().trim().to_string();
    let top = env.isula(&["top", "tools"]).ok().to_string();
    assert!(top.lines().next().unwrap().contains("PID"), "{top}");
    assert!(top.contains("sleep 1000"), "{top}");
    let st = env.isula(&["stats", "--no-stream", "tools"]).ok().to_string();
    let lines: Vec<&str> = st.lines().collect();
    assert!(lines[0].starts_with("CONTAINER ID") && lines[0].contains("MEM USAGE / LIMIT"), "{st}");
    assert!(lines[1].starts_with(&id[..12]) && lines[1].contains("tools"), "{st}");
    env.isula(&["update", "--memory", "64m", "tools"]).ok();
    let mem = env.isula(&["inspect", "-f", "{{.HostConfig.Resources.Memory}}", "tools"]).ok().trim().to_string();
    assert_eq!(mem, (64u64 << 20).to_string());
    let tar = env.d.root.path().join("export.tar");
    env.isula(&["export", "-o", tar.to_str().unwrap(), "tools"]).ok();
    let mut a = tar::Archive::new(std::fs::File::open(&tar).unwrap());
    let names: Vec<String> =
        a.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect();
    assert!(names.iter().any(|n| n.trim_start_matches("./") == "bin/busybox"), "{names:?}");
    env.isula(&["top", "nosuch"]).fails(1);
}

#[test]
fn cp_both_ways() {
    let env = Env::new();
    env.isula(&["run", "-d", "--name", "cpc", "busybox", "sleep", "1000"]).ok();
    let dir = env.d.root.path().join("cp");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("in.txt");
    std::fs::write(&src, "copied in\n").unwrap();
    env.isula(&["cp", src.to_str().unwrap(), "cpc:/tmp/"]).ok();
    assert_eq!(env.isula(&["exec", "cpc", "cat", "/tmp/in.txt"]).ok(), "copied in\n");
    env.isula(&["cp", src.to_str().unwrap(), "cpc:/tmp/renamed.txt"]).ok();
    assert_eq!(env.isula(&["exec", "cpc", "cat", "/tmp/renamed.txt"]).ok(), "copied in\n");
    env.isula(&["exec", "cpc", "sh", "-c", "echo from container > /tmp/out.txt"]).ok();
    let out = dir.join("out-copy.txt");
    env.isula(&["cp", "cpc:/tmp/out.txt", out.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "from container\n");
    env.isula(&["cp", "cpc:/tmp/out.txt", dir.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read_to_string(dir.join("out.txt")).unwrap(), "from container\n");
    env.isula(&["cp", "cpc:/no/such/file", dir.to_str().unwrap()]).fails(1);
}

#[test]
fn foreground_run_forwards_sigterm() {
    let env = Env::new();
    let mut child = Command::new(bin("isula"))
        .args([
            "-H",
            &env.d.host(),
            "run",
            "--name",
            "sig",
            "busybox",
            "sh",
            "-c",
            "trap 'exit 42' TERM; echo ready; while true; do sleep 0.1; done",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    stdout.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let st = wait_exit(&mut child, "isula run did not end after SIGTERM", || {});
    assert_eq!(st.code(), Some(42));
}

#[test]
fn attach_and_start_attached() {
    let env = Env::new();
    let id = env.isula(&["run", "-d", "busybox", "sh", "-c", "sleep 1; echo late; exit 5"]).ok().trim().to_string();
    let r = env.isula(&["attach", &id]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert_eq!(r.stdout, "late\n");
    let c = env.isula(&["create", "busybox", "sh", "-c", "echo attached; exit 6"]).ok().trim().to_string();
    let r = env.isula(&["start", "-a", &c]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert_eq!(r.stdout, "attached\n");
    let err = env.isula(&["attach", &c]).fails(1).to_string();
    assert!(err.contains("You cannot attach to a stopped container"), "{err}");
}

/// Child processes killed (and reaped) when dropped, so a failing test leaves none behind.
struct Children(Vec<std::process::Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Threads of process `pid` now.
fn thread_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.count()).unwrap_or(0)
}

/// More clients waiting on streams (`wait`, `logs -f`) than the daemon's blocking pool has
/// threads (64) must not stall other calls: each stream gets a thread of its own, which ends
/// when its client leaves.
#[test]
fn many_waiting_clients_do_not_stall_the_daemon() {
    const WAITERS: usize = 70;
    const FOLLOWERS: usize = 10;
    let env = Env::new();
    let id = env.isula(&["run", "-d", "busybox", "sleep", "1000"]).ok().trim().to_string();
    let before = thread_count(env.d.pid());
    let spawn = |args: &[&str]| {
        Command::new(bin("isula"))
            .arg("-H")
            .arg(env.d.host())
            .args(args)
            .env_remove("ISULAD_HOST")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn isula")
    };
    let mut waiters = Children((0..WAITERS).map(|_| spawn(&["wait", &id])).collect());
    let mut followers = Children((0..FOLLOWERS).map(|_| spawn(&["logs", "-f", &id])).collect());
    // Every stream has been taken up by the daemon once it runs a thread for each.
    wait_until(Duration::from_secs(60), "the daemon to take every stream", || {
        thread_count(env.d.pid()) >= before + WAITERS + FOLLOWERS
    });
    // Other calls are answered meanwhile (before, the 64 pool threads were all taken and
    // these hung until the waits ended).
    let mut ps = Children(vec![spawn(&["ps", "-q"])]);
    let answered = isula_tests::poll::poll(Duration::from_secs(60), || ps.0[0].try_wait().unwrap().is_some());
    assert!(answered, "`isula ps` got no answer with {WAITERS} waits and {FOLLOWERS} log followers open");
    let out = ps.0.pop().unwrap().wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id[..12]), "{out:?}");
    // Followers that leave while the container prints nothing give their threads back.
    for mut f in followers.0.drain(..) {
        f.kill().unwrap();
        f.wait().unwrap();
    }
    wait_until(Duration::from_secs(30), "the log followers' threads to end", || {
        thread_count(env.d.pid()) <= before + WAITERS + 2
    });
    env.isula(&["stop", "-t", "0", &id]).ok();
    for (i, w) in waiters.0.drain(..).enumerate() {
        let out = w.wait_with_output().unwrap();
        assert!(out.status.success(), "wait {i}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "137", "wait {i}");
    }
}

/// The `NAME=value` entries of `/proc/PID/environ`.
fn environ(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    raw.split(|&b| b == 0).filter(|v| !v.is_empty()).map(|v| String::from_utf8_lossy(v).into_owned()).collect()
}

#[test]
fn daemon_runs_without_malloc_thread_caches_and_its_children_get_the_callers_environment() {
    let env = Env::new();
    // isulad re-executed itself (same pid and name) with the tunable added to the caller's value.
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", env.d.pid())).unwrap();
    assert_eq!(comm.trim(), "isulad");
    let tunables: Vec<String> = environ(env.d.pid()).into_iter().filter(|v| v.starts_with("GLIBC_TUNABLES=")).collect();
    assert_eq!(tunables.len(), 1, "{tunables:?}");
    assert!(tunables[0].split([':', '=']).any(|t| t == "glibc.malloc.tcache_count"), "{tunables:?}");
    // A container's shim (the parent of its init) has the test's own GLIBC_TUNABLES, if any.
    let id = env.isula(&["run", "-d", "busybox", "sleep", "1000"]).ok().trim().to_string();
    let pid: u32 = env.isula(&["inspect", "-f", "{{.State.Pid}}", &id]).ok().trim().parse().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let shim: u32 = stat.rsplit_once(')').unwrap().1.split_whitespace().nth(1).unwrap().parse().unwrap();
    let shim_env = environ(shim);
    assert!(!shim_env.is_empty(), "no environment read for shim {shim}");
    let ours = std::env::var("GLIBC_TUNABLES").ok().map(|v| format!("GLIBC_TUNABLES={v}"));
    let theirs: Vec<&String> = shim_env.iter().filter(|v| v.starts_with("GLIBC_TUNABLES=")).collect();
    assert_eq!(theirs.first().map(|s| s.as_str()), ours.as_deref(), "{shim_env:?}");
    assert!(!shim_env.iter().any(|v| v.starts_with("ISULAD_CALLER_GLIBC_TUNABLES=")), "{shim_env:?}");
}
