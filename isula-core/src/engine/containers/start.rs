//! Container start and run (create and start in one call).

use crate::container::options::CreateOptions;
use crate::container::state::Status;
use crate::container::store::{Container, ContainerRecord};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::sys;
use crate::time::now;

impl Engine {
    // ------------------------------------------------------------------ start / run

    /// [`Containers::start`]: see there.
    pub(crate) fn start(&self, id: &str) -> Result<()> {
        let c = self.container(id)?;
        let res = {
            let _op = c.lock_op();
            self.start_locked(&c, false)
        };
        if res.is_err() {
            let rec = c.record();
            let failed = !rec.state.error.is_empty() && matches!(rec.state.status, Status::Created | Status::Exited);
            if failed && rec.host_config.auto_remove {
                self.auto_remove(&rec.id);
            }
        }
        res
    }

    pub(crate) fn start_locked(&self, c: &Container, by_policy: bool) -> Result<()> {
        let rec = c.record();
        let id = &rec.id;
        match rec.state.status {
            Status::Running => return Ok(()),
            Status::Paused => {
                return Err(Error::precondition(format!("cannot start a paused container {id}, try unpause instead")))
            }
            Status::Removing | Status::Dead => {
                return Err(Error::precondition(format!("cannot start container {id}: it is being removed")))
            }
            _ => {}
        }
        self.pod_check_start(&rec)?;
        let rt = self.runtime(&rec.runtime)?;
        let alive_created = rec.state.status == Status::Created
            && rec.state.shim_pid > 0
            && crate::runtime::is_shim_alive(rec.state.shim_pid, rec.state.shim_start_time);
        if !alive_created {
            if let Err(e) = rt.delete(id, true) {
                log::debug!("delete old runtime state of {id}: {e}");
            }
            // (An infra container without an image runs from the shared pause rootfs.)
            if !rec.image.is_empty() && !sys::mount::is_mountpoint(&rec.rootfs) {
                sys::fs::ensure_dir(&rec.rootfs, 0o755)?;
                self.inner.snapshots.mount(id, &rec.rootfs)?;
            }
            if let Err(e) = self.container_network_up(id, &rec.host_config, &rec.config.hostname) {
                return Err(self.start_failed(c, e));
            }
            crate::failpoint::hit("container.start.before-runtime-create");
            let spawned = match rt.create(&self.create_request(&rec)?) {
                Ok(s) => s,
                Err(e) => return Err(self.start_failed(c, e)),
            };
            crate::failpoint::hit("container.start.after-runtime-create");
            c.update(|r| {
                r.state.status = Status::Created;
                r.state.shim_pid = spawned.handle.shim_pid;
                r.state.shim_start_time = spawned.handle.shim_start_time;
                r.state.pid = spawned.handle.pid;
            })?;
            crate::failpoint::hit("container.start.after-created-record");
        }
        // Stamped before the runtime starts the process, so that it never comes after the exit
        // time of a process that ends at once.
        let started_at = now();
        if let Err(e) = rt.start(id) {
            let _ = rt.delete(id, true);
            return Err(self.start_failed(c, e));
        }
        crate::failpoint::hit("container.start.after-runtime-start");
        c.update(|r| {
            if !by_policy {
                r.restart_count = 0;
            }
            r.state.started_at = started_at;
            r.state.manually_stopped = false;
            // The monitor may already have recorded the exit of a process that ended at once:
            // keep that exit instead of claiming the container runs.
            if r.state.status == Status::Exited {
                return;
            }
            r.state.status = Status::Running;
            r.state.exit_code = 0;
            r.state.error.clear();
            r.state.oom_killed = false;
        })?;
        crate::failpoint::hit("container.start.after-record");
        self.started(&c.record());
        Ok(())
    }

    /// After the runtime started a container (`start`, or `run` in one call): publish
    /// `start`, start health checks, and have the monitor watch the shim — last, so that
    /// an exit it sees is published after `start`.
    pub(super) fn started(&self, rec: &ContainerRecord) {
        self.emit_container("start", rec, &[]);
        if rec.state.status == Status::Running {
            self.health_start(rec);
        }
        self.watch(&rec.id, &rec.state);
    }

    /// Note a failed start in the record (exit code 127/126/128, error text) and pass the error on.
    /// As Docker, a container that never ran stays `created`; one that ran before is `exited`.
    pub(super) fn start_failed(&self, c: &Container, e: Error) -> Error {
        let code = e.start_exit_code().unwrap_or(128);
        let _ = c.update(|r| {
            if r.state.status != Status::Created || !r.state.started_at.is_zero() {
                r.state.status = Status::Exited;
                r.state.finished_at = now();
            }
            r.state.pid = 0;
            r.state.shim_pid = 0;
            r.state.exit_code = code;
            r.state.error = e.to_string();
        });
        if let Err(te) = self.network_teardown(&c.id) {
            log::warn!("network teardown of {} after a failed start: {te}", c.id);
        }
        e
    }

    /// [`Containers::run`]: see there.
    pub(crate) fn run(&self, opts: &CreateOptions) -> Result<String> {
        match self.create_container(opts, true)? {
            (id, None) => Ok(id),
            (id, Some(e)) => {
                if opts.auto_remove {
                    self.auto_remove(&id);
                }
                Err(e)
            }
        }
    }
}
