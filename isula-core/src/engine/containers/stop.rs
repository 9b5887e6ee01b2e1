//! Container stop, kill and restart.

use std::time::Duration;

use super::*;
use crate::container::parse::parse_signal;
use crate::container::state::Status;
use crate::container::store::Container;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::runtime::ShimHandle;

impl Engine {
    // ------------------------------------------------------------------ stop / kill / restart

    /// [`Containers::stop`]: see there.
    pub(crate) fn stop(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        let c = self.container(id)?;
        let _op = c.lock_op();
        self.stop_locked(&c, timeout)
    }

    pub(super) fn stop_locked(&self, c: &Container, timeout: Option<i64>) -> Result<()> {
        let rec = c.record();
        match rec.state.status {
            Status::Restarting => {
                c.update(|r| {
                    r.state.status = Status::Exited;
                    r.state.manually_stopped = true;
                })?;
                self.emit_container("stop", &c.record(), &[]);
                return Ok(());
            }
            Status::Running | Status::Paused => {}
            _ => return Ok(()),
        }
        c.update(|r| r.state.manually_stopped = true)?;
        let rt = self.runtime(&rec.runtime)?;
        if rec.state.status == Status::Paused {
            rt.resume(&rec.id)?;
            c.update(|r| r.state.status = Status::Running)?;
        }
        let sig: i32 = rec.config.stop_signal.parse().unwrap_or(libc::SIGTERM);
        let handle = ShimHandle::load(&self.shim_dir(&rec.id))?;
        let timeout = Duration::from_secs(timeout.unwrap_or(rec.config.stop_timeout).max(0) as u64);
        self.emit_container("kill", &rec, &[("signal", sig.to_string())]);
        if let Err(e) = rt.kill(&rec.id, sig, false) {
            log::debug!("stop signal to {}: {e}", rec.id);
        }
        let mut exit = handle.wait_exit(Some(timeout)).ok().flatten();
        if exit.is_none() && handle.is_alive() {
            self.emit_container("kill", &rec, &[("signal", libc::SIGKILL.to_string())]);
            if let Err(e) = rt.kill(&rec.id, libc::SIGKILL, true) {
                log::debug!("SIGKILL to {}: {e}", rec.id);
            }
            exit = handle.wait_exit(Some(KILL_WAIT)).ok().flatten();
            if exit.is_none() && handle.is_alive() {
                return Err(Error::unavailable(format!("container {} did not exit after SIGKILL", rec.id)));
            }
        }
        self.mark_exited(c, rec.state.shim_pid, exit);
        self.emit_container("stop", &c.record(), &[]);
        Ok(())
    }

    /// [`Containers::kill`]: see there.
    pub(crate) fn kill(&self, id: &str, signal: &str) -> Result<()> {
        let sig = if signal.is_empty() { libc::SIGKILL } else { parse_signal(signal)? };
        let c = self.container(id)?;
        if c.status() == Status::Restarting {
            let _op = c.lock_op();
            let cancelled = c.update(|r| {
                let restarting = r.state.status == Status::Restarting;
                if restarting {
                    r.state.status = Status::Exited;
                    r.state.manually_stopped = true;
                }
                restarting
            })?;
            if cancelled {
                self.emit_container("kill", &c.record(), &[("signal", sig.to_string())]);
                return Ok(());
            }
        }
        let rec = c.record();
        if !rec.state.status.can_kill() {
            return Err(Error::precondition(format!("Container {} is not running", rec.id))
                .with_reason(crate::Reason::NotRunning));
        }
        let rt = self.runtime(&rec.runtime)?;
        // Only a signal meant to end the container (SIGKILL or its stop signal) is a manual
        // stop; a reload signal such as HUP or USR1 leaves the restart policy in force (the
        // behaviour Docker adopted for `always`, extended here to `unless-stopped`).
        let ends = sig == libc::SIGKILL || parse_signal(&rec.config.stop_signal).is_ok_and(|s| s == sig);
        if ends {
            c.update(|r| r.state.manually_stopped = true)?;
        }
        if let Err(e) = rt.kill(&rec.id, sig, false) {
            // The process ended between our check and the signal (as Docker: not an error,
            // the manual stop is recorded).
            let gone = !crate::runtime::is_shim_alive(rec.state.shim_pid, rec.state.shim_start_time)
                || e.reason() == Some(crate::Reason::NotRunning);
            if !gone {
                return Err(e);
            }
            log::debug!("kill {}: the process already exited: {e}", rec.id);
        }
        self.emit_container("kill", &rec, &[("signal", sig.to_string())]);
        Ok(())
    }

    /// [`Containers::restart`]: see there.
    pub(crate) fn restart(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        let c = self.container(id)?;
        let _op = c.lock_op();
        self.stop_locked(&c, timeout)?;
        self.start_locked(&c, false)?;
        self.emit_container("restart", &c.record(), &[]);
        Ok(())
    }
}
