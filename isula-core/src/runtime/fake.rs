//! An in-process [`Runtime`] for lifecycle tests: no OCI runtime binary, no `isulad-shim`.
//!
//! It records every call ([`FakeCall`]) and keeps a small state machine per container
//! (created → running ⇄ paused → stopped). The engine watches shims through their state
//! dirs and pidfds, so each container gets a stand-in process (`sleep`, started without
//! privileges) whose pid is both the "shim" and the "init" pid in `state.json`; when the
//! simulated process ends, the fake writes `exit.json` first and then kills and reaps the
//! stand-in, as a real shim records the exit and then exits. Only with the `test-util`
//! feature (or in this crate's tests).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use super::proto::{ShimState, EXIT_FILE, STATE_FILE};
use super::{CreateRequest, ExecRequest, ExitStatus, Runtime, RuntimeState, RuntimeStatus, ShimHandle, Spawned};
use crate::error::{Error, Result};

/// One call the engine made on the runtime, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeCall {
    /// `create` (with `start`: create and start in one call).
    Create {
        /// Container id.
        id: String,
        /// Whether the request also started the process.
        start: bool,
    },
    /// `start`.
    Start(String),
    /// `kill`.
    Kill {
        /// Container id.
        id: String,
        /// Signal number.
        signal: i32,
        /// To every process of the container.
        all: bool,
    },
    /// `delete`.
    Delete {
        /// Container id.
        id: String,
        /// Kill a running container first.
        force: bool,
    },
    /// `pause`.
    Pause(String),
    /// `resume`.
    Resume(String),
    /// `exec` (always refused by the fake).
    Exec(String),
    /// `update`.
    Update(String),
}

/// A simulated container.
#[derive(Debug)]
struct FakeContainer {
    status: RuntimeStatus,
    bundle: PathBuf,
    state_dir: PathBuf,
    /// The stand-in process (shim and init); `None` once the simulated process ended.
    stand_in: Option<Child>,
}

#[derive(Debug, Default)]
struct Inner {
    calls: Vec<FakeCall>,
    containers: HashMap<String, FakeContainer>,
    ignored: BTreeSet<i32>,
    fail_start: Option<String>,
}

/// The fake runtime; share it as `Arc<FakeRuntime>` between the engine
/// ([`Engine::open_with_runtime`](crate::Engine::open_with_runtime)) and the test.
#[derive(Debug)]
pub struct FakeRuntime {
    name: String,
    inner: Mutex<Inner>,
}

impl FakeRuntime {
    /// A fake runtime called `name`.
    pub fn new(name: &str) -> FakeRuntime {
        FakeRuntime { name: name.to_string(), inner: Mutex::new(Inner::default()) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.lock().calls.clone()
    }

    /// The calls so far that concern container `id`.
    pub fn calls_for(&self, id: &str) -> Vec<FakeCall> {
        self.calls().into_iter().filter(|c| c.id() == id).collect()
    }

    /// Simulated processes ignore `signal` from now on (as a process without a SIGTERM handler
    /// in a pid namespace does): a `kill` with it is recorded and nothing happens.
    pub fn ignore_signal(&self, signal: i32) {
        self.lock().ignored.insert(signal);
    }

    /// The next `start` (or create-and-start) fails with an `Internal` error carrying `message`.
    pub fn fail_next_start(&self, message: &str) {
        self.lock().fail_start = Some(message.to_string());
    }

    /// The simulated process of `id` exits on its own with `code`. `NotFound` for an unknown
    /// container, `FailedPrecondition` when it does not run.
    pub fn exit(&self, id: &str, code: i32) -> Result<()> {
        let mut inner = self.lock();
        let c = inner.containers.get_mut(id).ok_or_else(|| Error::not_found(format!("fake: no container {id}")))?;
        if !matches!(c.status, RuntimeStatus::Running | RuntimeStatus::Paused) {
            return Err(Error::precondition(format!("fake: container {id} is not running")));
        }
        end(c, code, None)
    }

    /// The pid of the stand-in process of `id` (0 once the simulated process ended).
    pub fn pid(&self, id: &str) -> i32 {
        self.lock().containers.get(id).and_then(|c| c.stand_in.as_ref()).map(|p| p.id() as i32).unwrap_or(0)
    }
}

impl FakeCall {
    /// The container the call concerns.
    pub fn id(&self) -> &str {
        match self {
            FakeCall::Create { id, .. } | FakeCall::Kill { id, .. } | FakeCall::Delete { id, .. } => id,
            FakeCall::Start(id)
            | FakeCall::Pause(id)
            | FakeCall::Resume(id)
            | FakeCall::Exec(id)
            | FakeCall::Update(id) => id,
        }
    }
}

/// End the simulated process: record the exit (`exit.json`) first, then end the stand-in.
fn end(c: &mut FakeContainer, code: i32, signal: Option<i32>) -> Result<()> {
    let st = ExitStatus { code, signal, finished_at: crate::time::now().to_rfc3339_fixed(), oom_killed: false };
    crate::sys::fs::atomic_write_json(&c.state_dir.join(EXIT_FILE), &st)?;
    c.status = RuntimeStatus::Stopped;
    if let Some(mut p) = c.stand_in.take() {
        let _ = p.kill();
        let _ = p.wait();
    }
    Ok(())
}

/// Start a stand-in process and write the shim's `state.json` for it.
fn spawn_stand_in(state_dir: &Path) -> Result<(Child, ShimHandle)> {
    crate::sys::fs::ensure_dir(state_dir, 0o700)?;
    let child = Command::new("sleep")
        .arg("3600")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::io(Path::new("sleep"), "spawn the fake runtime's stand-in", e))?;
    let pid = child.id() as i32;
    let start_time = crate::sys::process::proc_stat(pid).map(|(_, t)| t).unwrap_or(0);
    let state = ShimState { shim_pid: pid, shim_start_time: start_time, pid };
    crate::sys::fs::atomic_write_json(&state_dir.join(STATE_FILE), &state)?;
    let handle = ShimHandle { state_dir: state_dir.to_path_buf(), shim_pid: pid, shim_start_time: start_time, pid };
    Ok((child, handle))
}

impl Runtime for FakeRuntime {
    fn name(&self) -> &str {
        &self.name
    }

    fn create(&self, req: &CreateRequest) -> Result<Spawned> {
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Create { id: req.id.clone(), start: req.start });
        if inner.containers.contains_key(&req.id) {
            return Err(Error::already_exists(format!("fake: container {} exists", req.id)));
        }
        if req.start {
            if let Some(msg) = inner.fail_start.take() {
                return Err(Error::internal(msg));
            }
        }
        let (child, handle) = spawn_stand_in(&req.state_dir)?;
        let status = if req.start { RuntimeStatus::Running } else { RuntimeStatus::Created };
        inner.containers.insert(
            req.id.clone(),
            FakeContainer {
                status,
                bundle: req.bundle.clone(),
                state_dir: req.state_dir.clone(),
                stand_in: Some(child),
            },
        );
        Ok(Spawned { handle, attach: None })
    }

    fn start(&self, id: &str) -> Result<()> {
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Start(id.to_string()));
        let fail = inner.fail_start.take();
        let c = inner.containers.get_mut(id).ok_or_else(|| Error::not_found(format!("fake: no container {id}")))?;
        if c.status != RuntimeStatus::Created {
            return Err(Error::precondition(format!("fake: container {id} is not created ({:?})", c.status)));
        }
        if let Some(msg) = fail {
            return Err(Error::internal(msg));
        }
        c.status = RuntimeStatus::Running;
        Ok(())
    }

    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Kill { id: id.to_string(), signal, all });
        let ignored = inner.ignored.contains(&signal);
        let c = inner.containers.get_mut(id).ok_or_else(|| Error::not_found(format!("fake: no container {id}")))?;
        match c.status {
            RuntimeStatus::Running | RuntimeStatus::Created => {}
            // A frozen process only takes SIGKILL (the others stay pending).
            RuntimeStatus::Paused if signal == libc::SIGKILL => {}
            RuntimeStatus::Paused => return Ok(()),
            _ => return Err(Error::precondition(format!("fake: container {id} is not running"))),
        }
        if signal == 0 || (ignored && signal != libc::SIGKILL) {
            return Ok(());
        }
        end(c, 128 + signal, Some(signal))
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Delete { id: id.to_string(), force });
        let Some(c) = inner.containers.get_mut(id) else {
            return Err(Error::not_found(format!("fake: no container {id}")));
        };
        if matches!(c.status, RuntimeStatus::Running | RuntimeStatus::Paused) {
            if !force {
                return Err(Error::precondition(format!("fake: cannot delete running container {id}")));
            }
            end(c, 128 + libc::SIGKILL, Some(libc::SIGKILL))?;
        } else if let Some(mut p) = c.stand_in.take() {
            // A created, never started process.
            let _ = p.kill();
            let _ = p.wait();
        }
        inner.containers.remove(id);
        Ok(())
    }

    fn state(&self, id: &str) -> Result<RuntimeState> {
        let inner = self.lock();
        let c = inner.containers.get(id).ok_or_else(|| Error::not_found(format!("fake: no container {id}")))?;
        let pid = c.stand_in.as_ref().map(|p| p.id() as i32).unwrap_or(0);
        Ok(RuntimeState { status: c.status.clone(), pid, bundle: c.bundle.clone() })
    }

    fn pause(&self, id: &str) -> Result<()> {
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Pause(id.to_string()));
        let c = inner.containers.get_mut(id).ok_or_else(|| Error::not_found(format!("fake: no container {id}")))?;
        if c.status != RuntimeStatus::Running {
            return Err(Error::precondition(format!("fake: container {id} is not running")));
        }
        c.status = RuntimeStatus::Paused;
        Ok(())
    }

    fn resume(&self, id: &str) -> Result<()> {
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Resume(id.to_string()));
        let c = inner.containers.get_mut(id).ok_or_else(|| Error::not_found(format!("fake: no container {id}")))?;
        if c.status != RuntimeStatus::Paused {
            return Err(Error::precondition(format!("fake: container {id} is not paused")));
        }
        c.status = RuntimeStatus::Running;
        Ok(())
    }

    fn exec(&self, req: &ExecRequest) -> Result<Spawned> {
        self.lock().calls.push(FakeCall::Exec(req.id.clone()));
        Err(Error::unimplemented("fake runtime: exec is not simulated"))
    }

    fn update(&self, id: &str, _resources: &serde_json::Value) -> Result<()> {
        self.lock().calls.push(FakeCall::Update(id.to_string()));
        Ok(())
    }

    fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let pid = self.pid(id);
        Ok(if pid > 0 { vec![pid] } else { Vec::new() })
    }
}

impl Drop for FakeRuntime {
    fn drop(&mut self) {
        for c in self.lock().containers.values_mut() {
            if let Some(mut p) = c.stand_in.take() {
                let _ = p.kill();
                let _ = p.wait();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(dir: &Path, id: &str, start: bool) -> CreateRequest {
        CreateRequest {
            id: id.into(),
            bundle: dir.join("bundle"),
            state_dir: dir.join("shims").join(id),
            log: None,
            terminal: false,
            open_stdin: false,
            attach: false,
            start,
        }
    }

    #[test]
    fn state_machine_and_exit_records() {
        let dir = tempfile::tempdir().unwrap();
        let rt = FakeRuntime::new("fake");
        let s = rt.create(&req(dir.path(), "a", false)).unwrap();
        assert!(s.handle.is_alive());
        assert_eq!(ShimHandle::load(&dir.path().join("shims/a")).unwrap().shim_pid, s.handle.shim_pid);
        assert_eq!(rt.state("a").unwrap().status, RuntimeStatus::Created);
        assert_eq!(rt.pause("a").unwrap_err().kind(), crate::ErrorKind::FailedPrecondition);
        rt.start("a").unwrap();
        assert_eq!(rt.start("a").unwrap_err().kind(), crate::ErrorKind::FailedPrecondition);
        rt.pause("a").unwrap();
        assert_eq!(rt.state("a").unwrap().status, RuntimeStatus::Paused);
        rt.resume("a").unwrap();
        assert_eq!(rt.delete("a", false).unwrap_err().kind(), crate::ErrorKind::FailedPrecondition);
        rt.ignore_signal(libc::SIGTERM);
        rt.kill("a", libc::SIGTERM, false).unwrap();
        assert_eq!(rt.state("a").unwrap().status, RuntimeStatus::Running, "SIGTERM ignored");
        rt.exit("a", 3).unwrap();
        let st = s.handle.wait_exit(None).unwrap().unwrap();
        assert_eq!((st.code, st.signal), (3, None));
        assert!(!s.handle.is_alive());
        assert_eq!(rt.kill("a", libc::SIGKILL, false).unwrap_err().kind(), crate::ErrorKind::FailedPrecondition);
        rt.delete("a", false).unwrap();
        assert_eq!(rt.state("a").unwrap_err().kind(), crate::ErrorKind::NotFound);
        assert_eq!(
            rt.calls_for("a"),
            [
                FakeCall::Create { id: "a".into(), start: false },
                FakeCall::Pause("a".into()),
                FakeCall::Start("a".into()),
                FakeCall::Start("a".into()),
                FakeCall::Pause("a".into()),
                FakeCall::Resume("a".into()),
                FakeCall::Delete { id: "a".into(), force: false },
                FakeCall::Kill { id: "a".into(), signal: libc::SIGTERM, all: false },
                FakeCall::Kill { id: "a".into(), signal: libc::SIGKILL, all: false },
                FakeCall::Delete { id: "a".into(), force: false },
            ]
        );
    }

    #[test]
    fn a_signal_ends_the_process_with_128_plus_signal() {
        let dir = tempfile::tempdir().unwrap();
        let rt = FakeRuntime::new("fake");
        let s = rt.create(&req(dir.path(), "b", true)).unwrap();
        assert_eq!(rt.state("b").unwrap().status, RuntimeStatus::Running);
        rt.kill("b", libc::SIGTERM, false).unwrap();
        let st = s.handle.wait_exit(None).unwrap().unwrap();
        assert_eq!((st.code, st.signal), (143, Some(libc::SIGTERM)));
        assert_eq!(rt.state("b").unwrap().status, RuntimeStatus::Stopped);
        rt.fail_next_start("no such binary");
        assert_eq!(rt.create(&req(dir.path(), "c", true)).unwrap_err().kind(), crate::ErrorKind::Internal);
    }
}
