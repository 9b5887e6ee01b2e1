//! Container pause and unpause (freezer).

use crate::container::state::Status;
use crate::engine::Engine;
use crate::error::{Error, Result};

impl Engine {
    // ------------------------------------------------------------------ pause

    /// [`Containers::pause`]: see there.
    pub(crate) fn pause(&self, id: &str) -> Result<()> {
        let c = self.container(id)?;
        let _op = c.lock_op();
        let rec = c.record();
        if !rec.state.status.can_pause() {
            return Err(match rec.state.status {
                Status::Paused => Error::precondition(format!("Container {} is already paused", rec.id)),
                _ => Error::precondition(format!("Container {} is not running", rec.id))
                    .with_reason(crate::Reason::NotRunning),
            });
        }
        self.runtime(&rec.runtime)?.pause(&rec.id)?;
        c.update(|r| r.state.status = Status::Paused)?;
        self.health_stop(&rec.id);
        self.emit_container("pause", &rec, &[]);
        Ok(())
    }

    /// [`Containers::unpause`]: see there.
    pub(crate) fn unpause(&self, id: &str) -> Result<()> {
        let c = self.container(id)?;
        let _op = c.lock_op();
        let rec = c.record();
        if !rec.state.status.can_unpause() {
            return Err(Error::precondition(format!("Container {} is not paused", rec.id)));
        }
        self.runtime(&rec.runtime)?.resume(&rec.id)?;
        c.update(|r| r.state.status = Status::Running)?;
        self.health_resume(&rec);
        self.emit_container("unpause", &rec, &[]);
        Ok(())
    }
}
