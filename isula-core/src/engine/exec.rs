//! `exec`: run an extra process in a running container, each under its own shim.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oci_spec::runtime::Spec;

use super::{Engine, EngineShared};
use crate::container::spec::user::resolve_user;
use crate::container::state::Status;
use crate::container::store::new_id;
use crate::container::types::{ExecOptions, ExecOutput};
use crate::error::{Error, Result};
use crate::runtime::{AttachEvent, AttachStream, ExecRequest, ShimHandle};

/// A started exec process. With `detach = false` it carries an attach stream connected
/// before the process started (so no output is missed); read it with
/// [`take_stream`](Self::take_stream) or let [`collect`](Self::collect) gather everything.
#[derive(Debug)]
pub struct Exec {
    /// The exec id (64 hex digits).
    pub id: String,
    /// The container's id.
    pub container_id: String,
    handle: ShimHandle,
    stream: Option<AttachStream>,
    engine: Arc<EngineShared>,
    attrs: BTreeMap<String, String>,
    died: AtomicBool,
}

impl Exec {
    /// Host pid of the exec process.
    pub fn pid(&self) -> i32 {
        self.handle.pid
    }

    /// The attach stream (stdout/stderr frames, stdin when `attach_stdin`), once.
    pub fn take_stream(&mut self) -> Option<AttachStream> {
        self.stream.take()
    }

    /// Block until the process exits; its exit code (128 + signal when killed).
    /// Publishes `exec_die` (once).
    pub fn wait(&self) -> Result<i32> {
        let st = self
            .handle
            .wait_exit(None)?
            .ok_or_else(|| Error::internal(format!("exec {} did not report an exit", self.id)))?;
        self.died(st.code);
        Ok(st.code)
    }

    /// Like [`wait`](Self::wait) but gives up after `timeout` (`Ok(None)`).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<i32>> {
        let st = self.handle.wait_exit(Some(timeout))?;
        if let Some(s) = &st {
            self.died(s.code);
        }
        Ok(st.map(|s| s.code))
    }

    /// Send `signal` to the exec process. `SIGKILL` kills every process it started too
    /// (the whole tree is stopped, then killed), so a killed exec leaves nothing behind;
    /// its exit (137) then reaches [`wait`](Self::wait) and the attach stream as usual.
    /// `Ok` when the process has already exited.
    pub fn kill(&self, signal: i32) -> Result<()> {
        let sig = nix::sys::signal::Signal::try_from(signal)
            .map_err(|_| Error::invalid(format!("invalid signal {signal}")))?;
        // The exec process is the shim's child (the shim is its subreaper) until the shim
        // reaps it and writes exit.json: checking both keeps a reused pid safe.
        if self.handle.read_exit()?.is_some()
            || !self.handle.is_alive()
            || crate::sys::process::parent_pid(self.handle.pid) != Some(self.handle.shim_pid)
        {
            return Ok(());
        }
        if sig == nix::sys::signal::Signal::SIGKILL {
            crate::sys::process::kill_tree(self.handle.pid);
        } else {
            match nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.handle.pid), sig) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn died(&self, code: i32) {
        if !self.died.swap(true, Ordering::SeqCst) {
            let mut a = self.attrs.clone();
            a.insert("exitCode".into(), code.to_string());
            a.insert("execID".into(), self.id.clone());
            self.engine.events.emit("container", "exec_die", &self.container_id, a);
        }
    }

    /// Read all output until the process exits (needs the attach stream: not detached and
    /// not taken) and return it with the exit code.
    pub fn collect(mut self) -> Result<ExecOutput> {
        let mut s = self
            .stream
            .take()
            .ok_or_else(|| Error::precondition(format!("exec {} has no attach stream (detached?)", self.id)))?;
        let mut out = ExecOutput::default();
        loop {
            match s.read_event()? {
                Some(AttachEvent::Stdout(b)) => out.stdout.extend(b),
                Some(AttachEvent::Stderr(b)) => out.stderr.extend(b),
                Some(AttachEvent::Exit(st)) => {
                    out.exit_code = st.code;
                    self.died(st.code);
                    return Ok(out);
                }
                None => {
                    out.exit_code = self.wait()?;
                    return Ok(out);
                }
            }
        }
    }
}

impl Drop for Exec {
    /// Once the exit has been collected (and `exec_die` published) nobody can ask this exec
    /// anything again: remove its shim state directory (shim config, process spec, state,
    /// exit status, logs), so that execs, such as kubelet's probes every few seconds, do not
    /// pile up directories under the container's shim dir. A running or detached exec keeps
    /// its directory (its shim still uses it); the container's removal takes it then.
    fn drop(&mut self) {
        if self.died.load(Ordering::SeqCst) {
            self.stream = None;
            if let Err(e) = std::fs::remove_dir_all(&self.handle.state_dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    log::warn!("exec {}: cannot remove {}: {e}", self.id, self.handle.state_dir.display());
                }
            }
        }
    }
}

fn env_key(e: &str) -> &str {
    e.split('=').next().unwrap_or(e)
}

impl Engine {
    /// [`Containers::exec`]: see there.
    pub(crate) fn exec(&self, id: &str, opts: &ExecOptions) -> Result<Exec> {
        if opts.cmd.is_empty() {
            return Err(Error::invalid("No exec command specified"));
        }
        let c = self.container(id)?;
        let rec = c.record();
        match rec.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(Error::precondition(format!(
                    "Container {} is paused, unpause the container before exec",
                    rec.id
                )))
            }
            _ => {
                return Err(Error::precondition(format!("Container {} is not running", rec.id))
                    .with_reason(crate::Reason::NotRunning))
            }
        }
        let spec: Spec = crate::sys::read_json(&c.dir.join("config.json"))?;
        let mut p = spec.process().clone().ok_or_else(|| Error::internal("container spec has no process"))?;
        p.set_args(Some(opts.cmd.clone()));
        p.set_terminal(Some(opts.tty));
        let size = opts.console_size.filter(|_| opts.tty).filter(|[h, w]| *h > 0 && *w > 0);
        p.set_console_size(size.and_then(|[h, w]| {
            oci_spec::runtime::BoxBuilder::default().height(u64::from(h)).width(u64::from(w)).build().ok()
        }));
        let mut env = p.env().clone().unwrap_or_default();
        for e in &opts.env {
            match env.iter_mut().find(|x| env_key(x) == env_key(e)) {
                Some(x) => *x = e.clone(),
                None => env.push(e.clone()),
            }
        }
        p.set_env(Some(env));
        if let Some(w) = opts.working_dir.as_ref().filter(|w| !w.is_empty()) {
            if !w.starts_with('/') {
                return Err(Error::invalid(format!("exec working directory {w:?} is not absolute")));
            }
            p.set_cwd(w.into());
        }
        if let Some(u) = opts.user.as_ref().filter(|u| !u.is_empty()) {
            let ru = resolve_user(&rec.rootfs, u, &[])?;
            let mut user = p.user().clone();
            user.set_uid(ru.uid);
            user.set_gid(ru.gid);
            user.set_additional_gids(if ru.additional_gids.is_empty() { None } else { Some(ru.additional_gids) });
            p.set_user(user);
        }
        let rt = self.runtime(&rec.runtime)?;
        let exec_id = new_id()?;
        let state_dir = self.shim_dir(&rec.id).join("exec").join(&exec_id);
        let mut attrs = rec.config.labels.clone();
        attrs.insert("name".into(), rec.name.clone());
        attrs.insert("image".into(), rec.config.image.clone());
        attrs.insert("execID".into(), exec_id.clone());
        self.inner.events.emit("container", &format!("exec_create: {}", opts.cmd.join(" ")), &rec.id, attrs.clone());
        let spawned = rt.exec(&ExecRequest {
            id: rec.id.clone(),
            process: p,
            state_dir,
            log: None,
            terminal: opts.tty,
            open_stdin: opts.attach_stdin,
            attach: !opts.detach,
        })?;
        self.inner.events.emit("container", &format!("exec_start: {}", opts.cmd.join(" ")), &rec.id, attrs.clone());
        Ok(Exec {
            id: exec_id,
            container_id: rec.id.clone(),
            handle: spawned.handle,
            stream: spawned.attach,
            engine: self.inner.clone(),
            attrs,
            died: AtomicBool::new(false),
        })
    }
}
