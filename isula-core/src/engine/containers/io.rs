//! Container attach, logs and the engine's event subscription.

use std::sync::mpsc::Receiver;

use crate::container::state::Status;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::events::{Event, EventFilter};
use crate::logs::{follow_logs, LogLine, LogOptions};
use crate::runtime::{AttachStream, ShimHandle};

impl Engine {
    // ------------------------------------------------------------------ attach / logs / events

    /// [`Containers::attach`]: see there.
    pub(crate) fn attach(&self, id: &str) -> Result<AttachStream> {
        let c = self.container(id)?;
        let rec = c.record();
        if !matches!(rec.state.status, Status::Running | Status::Paused | Status::Created) {
            return Err(Error::precondition(format!(
                "You cannot attach to a stopped container {}, start it first",
                rec.id
            )));
        }
        let s = if rec.state.status == Status::Created && rec.state.shim_pid == 0 {
            AttachStream::closed()? // no process: `start` will say why
        } else {
            ShimHandle::load(&self.shim_dir(&rec.id))?.attach()?
        };
        self.emit_container("attach", &rec, &[]);
        Ok(s)
    }

    /// [`Containers::logs_while`]: see there.
    pub(crate) fn logs(
        &self,
        id: &str,
        opts: &LogOptions,
        wanted: &dyn Fn() -> bool,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()> {
        let c = self.container(id)?;
        let rec = c.record();
        if rec.log_path.as_os_str().is_empty() {
            let driver = match rec.host_config.log_config.driver.as_str() {
                "" => self.inner.config.container_log.driver.as_str(),
                d => d,
            };
            return Err(Error::precondition(format!(
                "configured logging driver does not support reading (container {} logs to {driver})",
                rec.id
            )));
        }
        let keep = || wanted() && (c.status().is_active() || c.status() == Status::Restarting);
        follow_logs(&rec.log_path, opts, &keep, sink)
    }

    /// Subscribe to engine events: past events matching `filter` (when `since` is set) and a
    /// receiver of future ones. Dropping the receiver ends the subscription.
    pub fn events(&self, filter: &EventFilter) -> (Vec<Event>, Receiver<Event>) {
        self.inner.events.subscribe(filter)
    }
}
