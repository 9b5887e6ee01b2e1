//! Shared helpers of the CLI end-to-end tests: a real `isulad` on a private root and socket,
//! driven through the real `isula` binary.
//!
//! The binaries come from `$ISULA_BIN_DIR`, or the target directory of the test build when
//! they are up to date there (`cargo build -p isulad -p isula` first makes that the fast
//! path), or are built into `target/cli-tests` on first use.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use isula_tests::env::TestRoot;

/// The workspace root (parent of this crate).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

/// Newest modification time of the sources binary `bin` is built from.
fn newest_source(bin: &str) -> std::time::SystemTime {
    fn walk(dir: &Path, newest: &mut std::time::SystemTime) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, newest);
            } else if let Ok(m) = e.metadata().and_then(|m| m.modified()) {
                *newest = (*newest).max(m);
            }
        }
    }
    let ws = workspace();
    let mut newest = std::time::UNIX_EPOCH;
    let dirs: &[&str] = match bin {
        "isulad" => &["isula-core/src", "bins/isulad/src", "bins/isula-api"],
        _ => &["bins/isula/src", "bins/isula-api"],
    };
    for d in dirs {
        walk(&ws.join(d), &mut newest);
    }
    newest
}

/// Directory holding up-to-date `isulad` and `isula` binaries (and `isulad-shim`, `isula-pause`): `$ISULA_BIN_DIR`, else the
/// target directory of this test build when its binaries are newer than the sources, else
/// a private target directory (`target/cli-tests`) where they are built now (a separate
/// directory, because the running `cargo test` holds the lock of its own).
pub(crate) fn bin_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(d) = std::env::var_os("ISULA_BIN_DIR") {
            return PathBuf::from(d);
        }
        // target/<profile>/deps/<test-exe>
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target dir").to_path_buf();
        let fresh = |dir: &Path| {
            // The daemon runs containers through the isulad-shim beside it, and pods' infra
            // processes from the isula-pause beside it.
            dir.join("isulad-shim").is_file()
                && dir.join("isula-pause").is_file()
                && ["isulad", "isula"].iter().all(|b| {
                    let newest = newest_source(b);
                    std::fs::metadata(dir.join(b)).and_then(|m| m.modified()).is_ok_and(|t| t >= newest)
                })
        };
        if fresh(&profile_dir) {
            return profile_dir;
        }
        let target = profile_dir.parent().expect("target").join("cli-tests");
        eprintln!("building isulad and isula into {} (target/debug has none or stale ones)", target.display());
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "-p", "isulad", "-p", "isula", "-p", "isulad-shim", "-p", "isula-pause", "--target-dir"])
            .arg(&target)
            .current_dir(workspace())
            .status()
            .expect("run cargo build");
        assert!(st.success(), "cargo build -p isulad -p isula -p isulad-shim -p isula-pause failed");
        target.join("debug")
    })
    .clone()
}

/// Path of binary `name`.
pub(crate) fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

/// A running daemon on its own root, state dir and socket; stopped (SIGTERM, then wait) on drop.
pub(crate) struct Daemon {
    child: Option<Child>,
    /// The socket path.
    pub sock: PathBuf,
    /// Extra daemon flags used at (re)start.
    pub flags: Vec<String>,
    /// Where the daemon's stderr goes.
    pub log: PathBuf,
    /// The private root (dropped after the daemon is stopped).
    pub root: TestRoot,
}

impl Daemon {
    /// Start a daemon on a fresh root.
    pub(crate) fn start() -> Daemon {
        Self::start_with(Vec::new())
    }

    /// Start a daemon on a fresh root with extra flags.
    pub(crate) fn start_with(flags: Vec<String>) -> Daemon {
        let root = TestRoot::new();
        let sock = root.path().join("isulad.sock");
        let log = root.path().join("isulad.log");
        let mut d = Daemon { child: None, sock, flags, log, root };
        d.spawn();
        d
    }

    /// `unix://<sock>`.
    pub(crate) fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// The isulad command line for this root (without spawning it).
    pub(crate) fn command(&self) -> Command {
        let mut c = Command::new(bin("isulad"));
        c.arg("-g")
            .arg(self.root.path().join("root"))
            .arg("-S")
            .arg(self.root.path().join("state"))
            .arg("-H")
            .arg(self.host())
            .arg("--config-file")
            .arg(self.config_file())
            .arg("-p")
            .arg(self.root.path().join("isulad.pid"));
        // No default bridge network unless the test asks for one: tests never share a host bridge.
        if !self.flags.iter().any(|f| f == "-b" || f == "--bridge" || f.starts_with("--bridge=")) {
            c.args(["--bridge", "none"]);
        }
        // Registry hosts files and CAs from the test's root, never /etc/isulad.
        if !self.flags.iter().any(|f| f.starts_with("--registry-config-dir")) {
            c.arg("--registry-config-dir").arg(self.registry_config_dir());
        }
        // CNI configs from the test's root, never the host's /etc/cni/net.d.
        if !self.flags.iter().any(|f| f.starts_with("--cni-conf-dir")) {
            c.arg("--cni-conf-dir").arg(self.root.path().join("cni-conf"));
        }
        // The CRI streaming server on a port of its own: daemons of parallel tests never clash.
        if !self.flags.iter().any(|f| f.starts_with("--stream-server-port")) {
            c.args(["--stream-server-port", "0"]);
        }
        c.args(&self.flags);
        c
    }

    /// The daemon's `--registry-config-dir` (unless a test passes its own): `<root>/registry-config`.
    pub(crate) fn registry_config_dir(&self) -> PathBuf {
        self.root.path().join("registry-config")
    }

    /// The (empty unless a test writes it) daemon.json of this root.
    pub(crate) fn config_file(&self) -> PathBuf {
        let p = self.root.path().join("daemon.json");
        if !p.exists() {
            std::fs::write(&p, "{}").expect("write daemon.json");
        }
        p
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("daemon log");
        let child =
            self.command().stdin(Stdio::null()).stdout(Stdio::null()).stderr(log).spawn().expect("spawn isulad");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::os::unix::net::UnixStream::connect(&self.sock).is_ok() {
                return;
            }
            if let Some(st) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                panic!("isulad exited early ({st}):\n{}", self.log_text());
            }
            assert!(Instant::now() < deadline, "isulad did not listen within 60s:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's log so far.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The daemon's pid.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon running").id()
    }

    /// SIGTERM the daemon and wait for it (SIGKILL after 30 s); returns its exit status.
    pub(crate) fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop and start again on the same root.
    pub(crate) fn restart(&mut self) {
        let st = self.stop().expect("daemon was running");
        assert!(st.success(), "isulad exit status {st} on SIGTERM:\n{}", self.log_text());
        self.spawn();
    }

    /// Run `isula ARGS` against this daemon.
    pub(crate) fn isula(&self, args: &[&str]) -> Run {
        self.isula_in(args, None)
    }

    /// Run `isula ARGS` with `input` on stdin.
    pub(crate) fn isula_in(&self, args: &[&str], input: Option<&[u8]>) -> Run {
        isula(&self.host(), args, input)
    }

    /// Run `isula ARGS` in the working directory `dir`.
    pub(crate) fn isula_at(&self, dir: &Path, args: &[&str]) -> Run {
        isula_cwd(&self.host(), args, None, Some(dir))
    }
}

impl Daemon {
    /// Load the test busybox image as `busybox:latest` (docker-archive through `isula load`).
    pub(crate) fn load_busybox(&self) {
        let tar = self.root.path().join("busybox.tar");
        let archive = isula_tests::images::docker_archive(
            &[(&isula_tests::images::busybox(), &["busybox:latest"])],
            isula_tests::images::DockerLayout::Legacy,
        );
        std::fs::write(&tar, archive).unwrap();
        self.isula(&["load", "-i", tar.to_str().unwrap()]).ok();
    }

    /// Force-remove every container of this daemon (test clean-up).
    pub(crate) fn remove_all_containers(&self) {
        let ids = self.isula(&["ps", "-aq", "--no-trunc"]);
        for id in ids.stdout.lines().filter(|l| !l.is_empty()) {
            self.isula(&["rm", "-f", id]);
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The outcome of one `isula` run.
pub(crate) struct Run {
    /// The command line, for messages.
    pub cmd: String,
    /// Exit status code (-1 for a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Raw standard output.
    pub raw: Vec<u8>,
}

impl Run {
    /// Assert success and return stdout.
    pub(crate) fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "{} failed:\nstdout: {}\nstderr: {}", self.cmd, self.stdout, self.stderr);
        &self.stdout
    }

    /// Assert exit status `code` and return stderr.
    pub(crate) fn fails(&self, code: i32) -> &str {
        assert_eq!(
            self.code, code,
            "{}: want status {code}\nstdout: {}\nstderr: {}",
            self.cmd, self.stdout, self.stderr
        );
        &self.stderr
    }
}

/// Run `isula ARGS` with `-H host`, optional stdin.
pub(crate) fn isula(host: &str, args: &[&str], input: Option<&[u8]>) -> Run {
    isula_cwd(host, args, input, None)
}

/// [`isula`] in the working directory `cwd` (the test's own when `None`).
fn isula_cwd(host: &str, args: &[&str], input: Option<&[u8]>, cwd: Option<&Path>) -> Run {
    let mut c = Command::new(bin("isula"));
    c.arg("-H").arg(host).args(args).env_remove("ISULAD_HOST");
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    c.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn isula");
    let writer = input.map(|data| {
        let mut stdin = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        })
    });
    let out: Output = child.wait_with_output().expect("wait isula");
    if let Some(w) = writer {
        let _ = w.join();
    }
    Run {
        cmd: format!("isula {}", args.join(" ")),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        raw: out.stdout,
    }
}
