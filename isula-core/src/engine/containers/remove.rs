//! Container remove.

use super::*;
use crate::container::state::Status;
use crate::container::types::RemoveOptions;
use crate::digest::Digest;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::runtime::ShimHandle;

impl Engine {
    // ------------------------------------------------------------------ remove

    /// [`Containers::remove`]: see there.
    pub(crate) fn remove(&self, id: &str, opts: &RemoveOptions) -> Result<()> {
        let c = self.container(id)?;
        let _op = c.lock_op();
        let rec = c.record();
        let st = rec.state.status;
        if !st.can_remove() && !opts.force {
            return Err(Error::precondition(format!(
                "You cannot remove a {st} container {}. Stop the container before attempting removal or force remove",
                rec.id
            )));
        }
        if st.is_active() || st == Status::Created {
            let rt = self.runtime(&rec.runtime)?;
            if st == Status::Paused {
                let _ = rt.resume(&rec.id);
            }
            if let Err(e) = rt.kill(&rec.id, libc::SIGKILL, true) {
                log::debug!("kill {} for removal: {e}", rec.id);
            }
            let exit = ShimHandle::load(&self.shim_dir(&rec.id))
                .ok()
                .and_then(|h| h.wait_exit(Some(KILL_WAIT)).ok().flatten());
            self.mark_exited(&c, rec.state.shim_pid, exit);
            crate::failpoint::hit("container.remove.after-kill");
        }
        c.update(|r| r.state.status = Status::Removing)?;
        crate::failpoint::hit("container.remove.after-mark-removing");
        let vols: &[String] = if opts.volumes { &rec.anonymous_volumes } else { &[] };
        if let Err(e) = self.destroy_files(&rec.id, &rec.runtime, vols) {
            let _ = c.update(|r| r.state.status = Status::Dead);
            return Err(e.context(format!("remove container {}", rec.id)));
        }
        self.inner.containers.remove(&rec.id);
        c.update(|_| ()).ok();
        self.health_forget(&rec.id);
        self.emit_container("destroy", &rec, &[]);
        self.emit_volumes("destroy", vols);
        // Layers outlive their image only while a container uses them (image removed with
        // force): prune only then, not on every removal (pruning reads every snapshot).
        let image_gone = match Digest::parse(&rec.image) {
            Ok(d) => self.inner.images.get(&d).is_none(),
            // A pod's infra container from the pause rootfs has no image and no layers.
            Err(_) => !rec.image.is_empty(),
        };
        if image_gone {
            if let Err(e) = self.prune_image_layers() {
                log::warn!("pruning layers after removing {}: {e}", rec.id);
            }
        }
        Ok(())
    }
}
