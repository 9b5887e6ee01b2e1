//! Waiting for a container to reach a condition.

use std::time::Duration;

use crate::container::state::Status;
use crate::container::store::{Container, ContainerRecord};
use crate::container::types::WaitCondition;
use crate::engine::Engine;
use crate::error::Result;
use crate::time::Timestamp;

impl Engine {
    // ------------------------------------------------------------------ wait / rename

    /// [`Containers::wait`]: see there.
    pub(crate) fn wait(&self, id: &str, condition: WaitCondition) -> Result<i32> {
        Ok(self.wait_timeout(id, condition, None)?.unwrap_or(-1))
    }

    /// [`Containers::wait_timeout`]: see there.
    pub(crate) fn wait_timeout(
        &self,
        id: &str,
        condition: WaitCondition,
        timeout: Option<Duration>,
    ) -> Result<Option<i32>> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let c = self.container(id)?;
        let active = |r: &ContainerRecord| {
            matches!(r.state.status, Status::Running | Status::Paused | Status::Restarting | Status::Removing)
        };
        let first_finish = c.record().state.finished_at;
        let r = match condition {
            WaitCondition::NotRunning => self.wait_record(&c, deadline, Duration::from_secs(1), |r| !active(r)),
            WaitCondition::NextExit => self.wait_record(&c, deadline, Duration::from_secs(1), |r| {
                !active(r) && r.state.finished_at != first_finish
            }),
            WaitCondition::Removed => self.wait_record(&c, deadline, Duration::from_millis(200), |_| false),
        };
        Ok(r.map(|r| r.state.exit_code))
    }

    /// Wait on `c`'s record until `done` holds or the container has left the store; the
    /// record then, or `None` once `deadline` has passed. Woken by every record change;
    /// removal is looked for every `slice`.
    pub(super) fn wait_record(
        &self,
        c: &Container,
        deadline: Option<std::time::Instant>,
        slice: Duration,
        done: impl Fn(&ContainerRecord) -> bool,
    ) -> Option<ContainerRecord> {
        loop {
            let left = deadline.map(|t| t.saturating_duration_since(std::time::Instant::now()));
            let r = c.wait_until(left.map_or(slice, |l| l.min(slice)), &done);
            if done(&r) || self.inner.containers.get(&c.id).is_err() {
                return Some(r);
            }
            if left.is_some_and(|l| l.is_zero()) {
                return None;
            }
        }
    }

    /// [`Containers::wait_finish_after`]: see there.
    pub(crate) fn wait_finish_after(&self, id: &str, finished_at: Timestamp, timeout: Duration) -> bool {
        let Ok(c) = self.container(id) else { return true };
        let deadline = Some(std::time::Instant::now() + timeout);
        self.wait_record(&c, deadline, Duration::from_millis(200), |r| r.state.finished_at != finished_at).is_some()
    }
}
