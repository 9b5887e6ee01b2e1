//! [`OciRuntime`]: drives any OCI runtime CLI (runc, crun; kata-runtime and youki take
//! the same commands) for the engine-side calls, and spawns `isulad-shim` for create
//! and exec. Errors carry the runtime's own message (`--log-format json` on stderr).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use oci_spec::runtime::Spec;

use super::proto::{RuntimeCommand, ShimConfig, ShimExec};
use super::seccomp_cache::{ProfileKey, SeccompCache};
use super::shim::{find_in_path, ShimSpawner};
use super::{CreateRequest, ExecRequest, Runtime, RuntimeState, RuntimeStatus, Spawned};
use crate::error::{Error, Reason, Result};

/// An OCI runtime binary with its global arguments and state root.
#[derive(Debug, Clone)]
pub struct OciRuntime {
    name: String,
    binary: PathBuf,
    args: Vec<String>,
    root: PathBuf,
    spawner: ShimSpawner,
    seccomp: Arc<SeccompCache>,
}

impl OciRuntime {
    /// A runtime called `name`, binary `binary` (a path, or a name looked up in `PATH`),
    /// extra global `args`, state root `root` (`--root`, created if missing) and
    /// the shim binary `shim`. A missing binary is `NotFound` naming it.
    pub fn new(name: &str, binary: &str, args: Vec<String>, root: &Path, shim: &Path) -> Result<OciRuntime> {
        let bin = find_in_path(binary)
            .ok_or_else(|| Error::not_found(format!("OCI runtime {name}: binary {binary:?} not found")))?;
        if !shim.is_file() {
            return Err(Error::not_found(format!("shim binary {} not found", shim.display())));
        }
        crate::sys::fs::ensure_dir(root, 0o700)?;
        Ok(OciRuntime {
            name: name.to_string(),
            seccomp: Arc::new(SeccompCache::new(&bin)),
            binary: bin,
            args,
            root: root.to_path_buf(),
            spawner: ShimSpawner::new(shim),
        })
    }

    /// The resolved runtime binary.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The runtime's state root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn command(&self) -> RuntimeCommand {
        RuntimeCommand { binary: self.binary.clone(), args: self.args.clone(), root: self.root.clone() }
    }

    /// Run `<binary> <args> --root R --log-format json <sub…>`; the stdout on success,
    /// else an error `"<name> <verb> <id> failed: <runtime message>"`.
    fn run<S: AsRef<OsStr>>(&self, verb: &str, id: &str, sub: &[S]) -> Result<Vec<u8>> {
        let out = Command::new(&self.binary)
            .args(&self.args)
            .arg("--root")
            .arg(&self.root)
            .arg("--log-format")
            .arg("json")
            .args(sub)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io(&self.binary, "run", e))?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        let msg = runtime_message(&out.stderr);
        let msg = if msg.is_empty() { format!("exited with {}", out.status) } else { msg };
        Err(classify(format!("{} {verb} {id} failed: {msg}", self.name)))
    }
}

/// The error text of a runtime's stderr: `msg` of JSON log lines at error level, else the raw text.
pub(crate) fn runtime_message(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let mut msgs: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v.is_object() => {
                let level = v.get("level").and_then(|l| l.as_str()).unwrap_or("error");
                if matches!(level, "error" | "fatal" | "panic") {
                    if let Some(m) = v.get("msg").and_then(|m| m.as_str()) {
                        msgs.push(m.to_string());
                    }
                }
            }
            _ => msgs.push(line.to_string()),
        }
    }
    msgs.dedup();
    msgs.join("; ")
}

/// Map a runtime's failure text to a kind (and [`Reason::NotRunning`] when the process is
/// gone): the one place above the shim where the runtime's wording is read.
fn classify(msg: String) -> Error {
    let m = msg.to_ascii_lowercase();
    if m.contains("does not exist") || m.contains("no such file or directory") || m.contains("not found") {
        Error::not_found(msg)
    } else if m.contains("not running") || m.contains("no such process") {
        Error::precondition(msg).with_reason(Reason::NotRunning)
    } else if m.contains("not paused")
        || m.contains("is paused")
        || m.contains("is stopped")
        || m.contains("cannot")
        || m.contains("already")
    {
        Error::precondition(msg)
    } else {
        Error::internal(msg)
    }
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.starts_with('-') || id.contains('/') {
        return Err(Error::invalid(format!("invalid container id {id:?}")));
    }
    Ok(())
}

impl Runtime for OciRuntime {
    /// Before a create: adds the filter this runtime compiled earlier for `spec`'s seccomp
    /// profile, if any (see [`SeccompCache::prepare`]). On a miss, the key to pass to
    /// [`remember_seccomp`](Self::remember_seccomp) after the create.
    fn prepare_seccomp(&self, spec: &mut Spec) -> Option<ProfileKey> {
        self.seccomp.prepare(spec)
    }

    /// After a create: keep the filter this runtime compiled for container `id`, if it left one.
    fn remember_seccomp(&self, key: &ProfileKey, id: &str) {
        self.seccomp.remember(key, &self.root.join(id))
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn create(&self, req: &CreateRequest) -> Result<Spawned> {
        check_id(&req.id)?;
        let cfg = ShimConfig {
            id: req.id.clone(),
            bundle: req.bundle.clone(),
            runtime: self.command(),
            state_dir: req.state_dir.clone(),
            log: req.log.clone(),
            terminal: req.terminal,
            open_stdin: req.open_stdin,
            wait_attach: req.attach,
            attach_stdin: false,
            exec: None,
            start: req.start,
        };
        let res = if req.attach {
            self.spawner.spawn_attached(&cfg).map(|(handle, attach)| Spawned { handle, attach: Some(attach) })
        } else {
            self.spawner.spawn(&cfg).map(|handle| Spawned { handle, attach: None })
        };
        if res.is_err() && req.state_dir.join(super::proto::PID_FILE).exists() {
            // The runtime created the container in this attempt (the shim removes a
            // stale pid file first) but the shim failed after: do not leave it behind.
            let _ = self.delete(&req.id, true);
        }
        res
    }

    fn start(&self, id: &str) -> Result<()> {
        check_id(id)?;
        self.run("start", id, &["start", id]).map(drop)
    }

    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        check_id(id)?;
        if !(1..=64).contains(&signal) {
            return Err(Error::invalid(format!("invalid signal {signal}")));
        }
        let sig = signal.to_string();
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.extend([id, sig.as_str()]);
        self.run("kill", id, &args).map(drop)
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        check_id(id)?;
        let mut args = vec!["delete"];
        if force {
            args.push("--force");
        }
        args.push(id);
        self.run("delete", id, &args).map(drop)
    }

    fn state(&self, id: &str) -> Result<RuntimeState> {
        check_id(id)?;
        let out = self.run("state", id, &["state", id])?;
        let v: serde_json::Value = serde_json::from_slice(&out)
            .map_err(|e| Error::internal(format!("{} state {id}: bad JSON: {e}", self.name)))?;
        Ok(RuntimeState {
            status: RuntimeStatus::parse(v.get("status").and_then(|s| s.as_str()).unwrap_or("")),
            pid: v.get("pid").and_then(|p| p.as_i64()).unwrap_or(0) as i32,
            bundle: PathBuf::from(v.get("bundle").and_then(|b| b.as_str()).unwrap_or("")),
        })
    }

    fn pause(&self, id: &str) -> Result<()> {
        check_id(id)?;
        self.run("pause", id, &["pause", id])?;
        // Some runtimes (crun on cgroup v1) return while the freezer is still FREEZING.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            if self.state(id)?.status == RuntimeStatus::Paused {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(Error::internal(format!(
                    "{} pause {id}: the container did not freeze within 5s",
                    self.name
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    fn resume(&self, id: &str) -> Result<()> {
        check_id(id)?;
        self.run("resume", id, &["resume", id]).map(drop)
    }

    fn exec(&self, req: &ExecRequest) -> Result<Spawned> {
        check_id(&req.id)?;
        if req.process.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err(Error::invalid(format!("exec in {}: no command given", req.id)));
        }
        if req.process.terminal().unwrap_or(false) != req.terminal {
            return Err(Error::invalid(format!("exec in {}: process.terminal does not match the request", req.id)));
        }
        crate::sys::fs::ensure_dir(&req.state_dir, 0o700)?;
        let process = req.state_dir.join("process.json");
        crate::sys::fs::replace_file_json(&process, &req.process)?;
        let cfg = ShimConfig {
            id: req.id.clone(),
            bundle: PathBuf::new(),
            runtime: self.command(),
            state_dir: req.state_dir.clone(),
            log: req.log.clone(),
            terminal: req.terminal,
            open_stdin: req.open_stdin,
            wait_attach: req.attach,
            attach_stdin: false,
            exec: Some(ShimExec { process }),
            start: false,
        };
        if req.attach {
            let (handle, attach) = self.spawner.spawn_attached(&cfg)?;
            Ok(Spawned { handle, attach: Some(attach) })
        } else {
            Ok(Spawned { handle: self.spawner.spawn(&cfg)?, attach: None })
        }
    }

    fn update(&self, id: &str, resources: &serde_json::Value) -> Result<()> {
        check_id(id)?;
        if !resources.is_object() {
            return Err(Error::invalid(format!("update {id}: resources must be a JSON object")));
        }
        let file = crate::sys::fs::temp_sibling(&self.root.join(format!("update-{id}.json")));
        crate::sys::fs::replace_file_json(&file, resources)?;
        let res = self.run(
            "update",
            id,
            &[OsStr::new("update"), OsStr::new("--resources"), file.as_os_str(), OsStr::new(id)],
        );
        let _ = std::fs::remove_file(&file);
        res.map(drop)
    }

    fn pids(&self, id: &str) -> Result<Vec<i32>> {
        check_id(id)?;
        let out = self.run("ps", id, &["ps", "--format", "json", id])?;
        serde_json::from_slice::<Option<Vec<i32>>>(&out)
            .map(|v| v.unwrap_or_default())
            .map_err(|e| Error::internal(format!("{} ps {id}: bad JSON: {e}", self.name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn runtime_messages_are_extracted() {
        let runc = br#"{"level":"error","msg":"container does not exist","time":"2026-11-26T03:27:03Z"}"#;
        assert_eq!(runtime_message(runc), "container does not exist");
        assert_eq!(runtime_message(b"plain failure\n"), "plain failure");
        assert_eq!(classify("runc kill x failed: container does not exist".into()).kind(), ErrorKind::NotFound);
        assert_eq!(classify("runc kill x failed: container not running".into()).kind(), ErrorKind::FailedPrecondition);
        assert_eq!(classify("runc kill x failed: container not running".into()).reason(), Some(Reason::NotRunning));
        assert_eq!(classify("crun kill x failed: kill: No such process".into()).reason(), Some(Reason::NotRunning));
        assert_eq!(classify("runc pause x failed: container is paused".into()).reason(), None);
    }

    #[test]
    fn missing_binary_is_not_found_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = OciRuntime::new("nope", "no-such-runtime-xyz", vec![], dir.path(), Path::new("/bin/true")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("no-such-runtime-xyz"), "{e}");
    }
}
