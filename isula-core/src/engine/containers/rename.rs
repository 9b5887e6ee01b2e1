//! Container rename.

use crate::container::store::check_name;
use crate::engine::Engine;
use crate::error::{Error, Result};

impl Engine {
    /// [`Containers::rename`]: see there.
    pub(crate) fn rename(&self, id: &str, new_name: &str) -> Result<()> {
        let new_name = check_name(new_name)?;
        let c = self.container(id)?;
        let _op = c.lock_op();
        let rec = c.record();
        if rec.name == new_name {
            return Err(Error::invalid(format!(
                "Renaming a container with the same name as its current name: {new_name}"
            )));
        }
        self.inner.containers.reserve_name(&new_name, &rec.id)?;
        if let Err(e) = c.update(|r| r.name = new_name.clone()) {
            self.inner.containers.release_name(&new_name, &rec.id);
            return Err(e);
        }
        self.inner.containers.release_name(&rec.name, &rec.id);
        self.emit_container("rename", &c.record(), &[("oldName", format!("/{}", rec.name))]);
        Ok(())
    }
}
