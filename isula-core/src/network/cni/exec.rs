//! Running one CNI plugin binary: locate it in the bin dirs, pass the CNI_* environment and the
//! configuration on stdin, enforce a timeout, and turn its error JSON and stderr into an [`Error`].

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};

/// The CNI operation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CniCommand {
    /// Attach the container to the network.
    Add,
    /// Verify the attachment.
    Check,
    /// Detach (idempotent).
    Del,
    /// Report supported versions.
    Version,
}

impl CniCommand {
    /// The value of `CNI_COMMAND`.
    pub fn as_str(self) -> &'static str {
        match self {
            CniCommand::Add => "ADD",
            CniCommand::Check => "CHECK",
            CniCommand::Del => "DEL",
            CniCommand::Version => "VERSION",
        }
    }
}

/// The per-invocation parameters passed in the environment.
#[derive(Debug, Clone, Default)]
pub struct InvokeArgs {
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_NETNS` (empty when the namespace no longer exists, for DEL).
    pub netns: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_ARGS` as key/value pairs (joined as `K=V;K=V`).
    pub args: Vec<(String, String)>,
}

/// Finds and runs plugin binaries.
#[derive(Debug, Clone)]
pub struct PluginExec {
    bin_dirs: Vec<PathBuf>,
    timeout: Duration,
}

/// Default per-plugin timeout.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

impl PluginExec {
    /// An executor searching `bin_dirs` in order, killing plugins that run longer than `timeout`.
    pub fn new(bin_dirs: Vec<PathBuf>, timeout: Duration) -> Self {
        PluginExec { bin_dirs, timeout }
    }

    /// The directories searched for plugins.
    pub fn bin_dirs(&self) -> &[PathBuf] {
        &self.bin_dirs
    }

    /// The path of plugin `plugin_type`; `NotFound` naming the plugin and the directories searched.
    pub fn find(&self, plugin_type: &str) -> Result<PathBuf> {
        for d in &self.bin_dirs {
            let p = d.join(plugin_type);
            if p.is_file() {
                return Ok(p);
            }
        }
        let dirs: Vec<String> = self.bin_dirs.iter().map(|d| d.display().to_string()).collect();
        Err(Error::not_found(format!("CNI plugin {plugin_type:?} not found in {}", dirs.join(", "))))
    }

    /// Runs `plugin_type` for `cmd` with `stdin` and returns its stdout (the result JSON, possibly empty).
    /// `network` is used in error messages.
    pub fn run(
        &self,
        network: &str,
        plugin_type: &str,
        cmd: CniCommand,
        args: &InvokeArgs,
        stdin: &[u8],
    ) -> Result<Vec<u8>> {
        let path = self.find(plugin_type)?;
        let what = format!("network {network}: CNI plugin {plugin_type} {}", cmd.as_str());
        let cni_path = std::env::join_paths(&self.bin_dirs)
            .map_err(|e| Error::invalid(format!("CNI bin dirs cannot form CNI_PATH: {e}")))?;
        let cni_args: Vec<String> = args.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut command = Command::new(&path);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("CNI_") {
                command.env_remove(k);
            }
        }
        command
            .env("CNI_COMMAND", cmd.as_str())
            .env("CNI_CONTAINERID", &args.container_id)
            .env("CNI_NETNS", &args.netns)
            .env("CNI_IFNAME", &args.ifname)
            .env("CNI_ARGS", cni_args.join(";"))
            .env("CNI_PATH", cni_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| Error::io(&path, &format!("{what}: run"), e))?;
        let pid = child.id();
        let mut sin = child.stdin.take().expect("piped stdin");
        let input = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            // A plugin that exits without reading its stdin must not raise SIGPIPE in a host
            // program that keeps the default action: block it in this thread, whose pending
            // signals go away with it.
            crate::sys::process::block_sigpipe_in_this_thread();
            let _ = sin.write_all(&input);
        });
        let mut out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let out_t = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = out.read_to_end(&mut b);
            b
        });
        let err_t = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = err.take(64 * 1024).read_to_end(&mut b);
            b
        });
        let (tx, rx) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = match rx.recv_timeout(self.timeout) {
            Ok(s) => s.map_err(|e| Error::io(&path, &format!("{what}: wait for"), e))?,
            Err(_) => {
                // Not reaped yet (the waiter still blocks in wait), so the PID cannot have been reused.
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::SIGKILL);
                let _ = waiter.join();
                let _ = writer.join();
                return Err(Error::unavailable(format!(
                    "{what}: timed out after {:?} (killed pid {pid})",
                    self.timeout
                )));
            }
        };
        let _ = waiter.join();
        let _ = writer.join();
        let stdout = out_t.join().unwrap_or_default();
        let stderr = err_t.join().unwrap_or_default();
        if status.success() {
            return Ok(stdout);
        }
        Err(plugin_error(&what, &status.to_string(), &stdout, &stderr))
    }

    /// Runs VERSION and returns the plugin's `supportedVersions`.
    pub fn versions(&self, plugin_type: &str) -> Result<Vec<String>> {
        let stdin = br#"{"cniVersion":"1.0.0"}"#;
        let out = self.run("-", plugin_type, CniCommand::Version, &InvokeArgs::default(), stdin)?;
        let v: Value = serde_json::from_slice(&out)
            .map_err(|e| Error::internal(format!("CNI plugin {plugin_type} VERSION: bad output: {e}")))?;
        Ok(v["supportedVersions"]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default())
    }
}

/// Builds the error for a failed plugin from its error JSON (`code`, `msg`, `details`) and stderr.
fn plugin_error(what: &str, status: &str, stdout: &[u8], stderr: &[u8]) -> Error {
    let stderr = String::from_utf8_lossy(stderr).trim().to_string();
    let parsed: Option<Value> = serde_json::from_slice(stdout).ok();
    let mut msg = format!("{what} failed");
    let mut kind = ErrorKind::Internal;
    match parsed.as_ref().and_then(Value::as_object) {
        Some(e) => {
            let code = e.get("code").and_then(Value::as_u64).unwrap_or(0);
            kind = match code {
                1 | 2 | 4 | 6 | 7 => ErrorKind::InvalidArgument,
                11 => ErrorKind::Unavailable,
                _ => ErrorKind::Internal,
            };
            if let Some(m) = e.get("msg").and_then(Value::as_str) {
                msg.push_str(": ");
                msg.push_str(m);
            }
            if let Some(d) = e.get("details").and_then(Value::as_str).filter(|d| !d.is_empty()) {
                msg.push_str(&format!(" ({d})"));
            }
            msg.push_str(&format!(" [code {code}]"));
        }
        None => {
            let out = String::from_utf8_lossy(stdout).trim().to_string();
            msg.push_str(&format!(" ({status})"));
            if !out.is_empty() {
                msg.push_str(&format!(": {out}"));
            }
        }
    }
    if !stderr.is_empty() {
        msg.push_str(&format!("; stderr: {stderr}"));
    }
    Error::new(kind, msg)
}

/// Writes an executable script `name` into `dir` (used by tests to fake plugins).
#[doc(hidden)]
pub fn write_script(dir: &Path, name: &str, body: &str) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, body)?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec_with(script: &str, timeout: Duration) -> (tempfile::TempDir, PluginExec) {
        let d = tempfile::tempdir().unwrap();
        write_script(d.path(), "fake", script).unwrap();
        let e = PluginExec::new(vec![d.path().join("nonexistent"), d.path().to_path_buf()], timeout);
        (d, e)
    }

    #[test]
    fn env_and_stdin_reach_the_plugin() {
        let (_d, e) = exec_with(
            "#!/bin/sh\nread -r line\necho \"{\\\"cmd\\\":\\\"$CNI_COMMAND\\\",\\\"if\\\":\\\"$CNI_IFNAME\\\",\\\"args\\\":\\\"$CNI_ARGS\\\",\\\"in\\\":$line}\"\n",
            DEFAULT_TIMEOUT,
        );
        let args = InvokeArgs {
            container_id: "c1".into(),
            netns: "/x".into(),
            ifname: "eth3".into(),
            args: vec![("A".into(), "1".into()), ("B".into(), "2".into())],
        };
        let out = e.run("n", "fake", CniCommand::Add, &args, b"{\"k\":5}\n").unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["cmd"], "ADD");
        assert_eq!(v["if"], "eth3");
        assert_eq!(v["args"], "A=1;B=2");
        assert_eq!(v["in"]["k"], 5);
    }

    #[test]
    fn error_json_and_stderr_are_reported() {
        let (_d, e) = exec_with(
            "#!/bin/sh\necho 'boom on stderr' >&2\necho '{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"bad config\",\"details\":\"no bridge\"}'\nexit 1\n",
            DEFAULT_TIMEOUT,
        );
        let err = e.run("net1", "fake", CniCommand::Add, &InvokeArgs::default(), b"{}").unwrap_err();
        let s = err.to_string();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        for want in ["net1", "fake", "ADD", "bad config", "no bridge", "code 7", "boom on stderr"] {
            assert!(s.contains(want), "{want} missing in {s}");
        }
    }

    #[test]
    fn missing_plugin_names_dirs_and_timeout_kills() {
        let (d, e) = exec_with("#!/bin/sh\nexec sleep 30\n", Duration::from_millis(300));
        let err = e.find("nope").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("\"nope\"") && err.to_string().contains(&d.path().display().to_string()));
        let err = e.run("n", "fake", CniCommand::Del, &InvokeArgs::default(), b"{}").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.to_string().contains("timed out"), "{err}");
        // The plugin was killed (and reaped), not left sleeping.
        let msg = err.to_string();
        let pid: i32 =
            msg.rsplit_once("killed pid ").and_then(|(_, p)| p.trim_end_matches(')').parse().ok()).expect(&msg);
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "plugin {pid} still exists");
    }
}
