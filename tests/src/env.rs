//! Per-test engine roots and prerequisite checks.

use std::path::{Path, PathBuf};

use isula_core::unstable::mount::{mounts_under, unmount};
use isula_core::EngineConfig;

/// A private temporary directory for one test's engine: `<tmp>/root` (graph) and
/// `<tmp>/state` (state). Dropping it unmounts everything below it (deepest first) and removes it.
pub struct TestRoot {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Default for TestRoot {
    fn default() -> Self {
        Self::new()
    }
}

impl TestRoot {
    /// A fresh directory under /var/tmp (on-disk, so overlayfs works there), with empty
    /// `root/` and `state/` subdirectories.
    pub fn new() -> Self {
        let base = if Path::new("/var/tmp").is_dir() { "/var/tmp" } else { "/tmp" };
        let dir = tempfile::Builder::new()
            .prefix("isula-test-")
            .tempdir_in(base)
            .unwrap_or_else(|e| panic!("create a temp dir in {base}: {e}"));
        let path = dir.path().to_path_buf();
        for sub in ["root", "state"] {
            std::fs::create_dir(path.join(sub)).unwrap_or_else(|e| panic!("create {sub}: {e}"));
        }
        TestRoot { dir: Some(dir), path }
    }

    /// The temporary directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Engine config with `graph = <tmp>/root` and `state = <tmp>/state`, and no default bridge
    /// network (`bridge: none`: containers without a network option get only `lo`, so tests
    /// never share a host bridge); other keys default.
    pub fn config(&self) -> EngineConfig {
        let mut c = EngineConfig::with_dirs(self.path.join("root"), self.path.join("state"));
        c.bridge = isula_core::BRIDGE_NONE.into();
        // Registry hosts files and CAs from the test's own directory, never /etc/isulad.
        c.registry_config_dir = self.path.join("registry-config");
        // CNI network configs from the test's own directory, never the host's /etc/cni/net.d
        // (podman, for one, ships a conflist there).
        c.cni_conf_dir = self.path.join("cni-conf");
        c
    }

    /// Unmount every mount point at or below the directory, deepest first (lazy detach).
    /// Returns how many were found. Called by `Drop`; tests may call it to assert "no mounts left".
    pub fn unmount_all(&self) -> usize {
        let mounts = mounts_under(&self.path);
        for m in &mounts {
            if let Err(e) = unmount(m, true) {
                eprintln!("isula-tests: cannot unmount {}: {e}", m.display());
            }
        }
        mounts.len()
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        // Repeat: unmounting a mount can reveal one stacked below it on the same path.
        for _ in 0..4 {
            if self.unmount_all() == 0 {
                break;
            }
        }
        if let Some(dir) = self.dir.take() {
            if let Err(e) = dir.close() {
                eprintln!("isula-tests: cannot remove {}: {e}", self.path.display());
            }
        }
    }
}

/// A TCP port on 127.0.0.1 that is free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().unwrap().port()
}

/// A binary of the workspace for tests: `$env_var` if set, else built with
/// `cargo build -p package` (a no-op when fresh) and found as `target/debug/<package>` relative
/// to the test executable (`target/debug/deps/<test>`).
pub fn workspace_binary(env_var: &str, package: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let target_debug = exe.parent().and_then(Path::parent).expect("target dir of the test").to_path_buf();
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace dir");
    let st = std::process::Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", package])
        .current_dir(ws)
        .status()
        .unwrap_or_else(|e| panic!("run cargo build -p {package}: {e}"));
    assert!(st.success(), "cargo build -p {package} failed");
    let p = target_debug.join(package);
    assert!(p.is_file(), "{} missing", p.display());
    p
}

/// `n` random bytes as hex (names of bridges, networks, pods unique to a test).
pub fn rand_hex(n: usize) -> String {
    use std::io::Read;
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom").unwrap().read_exact(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// True when running in CI (`CI` is `true` or `1`).
pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"))
}

/// Full path of `cmd` when it is an executable on `PATH` (or an executable path itself).
pub fn which(cmd: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false);
    if cmd.contains('/') {
        let p = PathBuf::from(cmd);
        return is_exec(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into());
    std::env::split_paths(&path).map(|d| d.join(cmd)).find(|p| is_exec(p))
}

/// Is the binary `cmd` on `PATH`? When missing: in CI (`CI=true`) this panics with a clear
/// message; otherwise it prints a skip note and returns false (the test should return early).
pub fn require(cmd: &str) -> bool {
    if which(cmd).is_some() {
        return true;
    }
    skip_or_fail(&format!("required program `{cmd}` is not on PATH"))
}

/// Is the test running as root? Same CI/skip behaviour as [`require`].
pub fn require_root() -> bool {
    if nix_is_root() {
        return true;
    }
    skip_or_fail("this test needs root")
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

/// A missing prerequisite: panics in CI, otherwise prints a skip note and returns false.
pub fn skip_or_fail(why: &str) -> bool {
    if in_ci() {
        panic!("missing test prerequisite (CI=true, so this fails instead of skipping): {why}");
    }
    eprintln!("SKIPPED: missing test prerequisite: {why}");
    false
}

/// Run `cmd` to completion; panic with its command line, status and stderr when it fails.
/// Returns stdout as text.
pub fn run_ok(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_root_layout_and_config() {
        let t = TestRoot::new();
        let c = t.config();
        assert_eq!(c.graph, t.path().join("root"));
        assert_eq!(c.state, t.path().join("state"));
        assert!(!c.default_bridge_enabled());
        assert!(c.graph.is_dir() && c.state.is_dir());
        let other = TestRoot::new();
        assert_ne!(other.path(), t.path());
        let p = t.path().to_path_buf();
        drop(t);
        assert!(!p.exists());
    }

    #[test]
    fn drop_unmounts_nested_mounts() {
        if !require_root() {
            return;
        }
        let t = TestRoot::new();
        let src = t.path().join("src");
        let a = t.path().join("root/a");
        std::fs::create_dir_all(src.join("inner")).unwrap();
        std::fs::create_dir_all(&a).unwrap();
        std::fs::write(src.join("f"), b"x").unwrap();
        isula_core::unstable::mount::bind(&src, &a, false).unwrap();
        isula_core::unstable::mount::bind(&src, &a.join("inner"), false).unwrap();
        // stacked twice on the same path
        isula_core::unstable::mount::bind(&src, &a, false).unwrap();
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let count = info
            .lines()
            .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(t.path().to_str().unwrap())))
            .count();
        assert_eq!(count, 3, "{info}");
        let p = t.path().to_path_buf();
        drop(t);
        assert!(mounts_under(&p).is_empty(), "mounts left: {:?}", mounts_under(&p));
        assert!(!p.exists());
    }

    #[test]
    fn require_finds_programs() {
        assert!(which("sh").is_some());
        assert!(require("sh"));
        assert!(which("/bin/sh").is_some());
        let missing = "isula-tests-no-such-program";
        assert!(which(missing).is_none());
        let r = std::panic::catch_unwind(|| require(missing));
        if in_ci() {
            assert!(r.is_err(), "a missing prerequisite must fail in CI");
        } else {
            assert!(!r.unwrap());
        }
    }

    #[test]
    fn run_ok_reports_failures() {
        assert_eq!(run_ok(std::process::Command::new("sh").args(["-c", "echo hi"])), "hi\n");
        let r =
            std::panic::catch_unwind(|| run_ok(std::process::Command::new("sh").args(["-c", "echo bad >&2; exit 3"])));
        let msg = *r.unwrap_err().downcast::<String>().unwrap();
        assert!(msg.contains("bad") && msg.contains('3'), "{msg}");
    }
}
