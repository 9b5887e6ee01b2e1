//! Reopen a container's CRI log file (after kubelet rotated it).

use crate::container::state::Status;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::runtime::ShimHandle;

impl Engine {
    /// [`Containers::reopen_log`](crate::Containers::reopen_log): see there.
    pub(crate) fn reopen_log(&self, id: &str) -> Result<()> {
        let c = self.container(id)?;
        let rec = c.record();
        if rec.host_config.log_config.driver != "cri" {
            let driver = if rec.host_config.log_config.driver.is_empty() {
                self.inner.config.container_log.driver.as_str()
            } else {
                rec.host_config.log_config.driver.as_str()
            };
            return Err(Error::precondition(format!(
                "container {} uses log driver {driver:?}; only a \"cri\" log can be reopened",
                rec.id
            )));
        }
        if !matches!(rec.state.status, Status::Running | Status::Paused) {
            return Err(Error::precondition(format!("Container {} is not running", rec.id))
                .with_reason(crate::Reason::NotRunning));
        }
        let handle = ShimHandle::load(&self.shim_dir(&rec.id))?;
        if !handle.is_alive() {
            return Err(Error::precondition(format!("Container {} is not running", rec.id))
                .with_reason(crate::Reason::NotRunning));
        }
        // The directory may have gone with the old file (kubelet keeps it; be lenient).
        if let Some(parent) = rec.log_path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create log directory", e))?;
        }
        handle.reopen_log()
    }
}
