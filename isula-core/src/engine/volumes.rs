//! Volume management (`docker volume create|ls|inspect|rm|prune`).
//!
//! Volumes live under `<root>/volumes` (see [`crate::volume`]). The engine's volume lock
//! keeps removal apart from container creation: `create` holds it shared while it makes
//! the container's volumes and records the container, `volume_remove` and `volume_prune`
//! hold it exclusively while they check that no container uses a volume and delete it.

use std::collections::{BTreeMap, HashSet};
use std::sync::{RwLockReadGuard, RwLockWriteGuard};

use crate::container::spec::mounts;
use crate::container::CreateOptions;
use crate::error::{Error, Result};
use crate::volume::{self, Volume, VolumeCreateOptions, VolumeFilters, VolumeMeta, VolumePruneReport};

use super::Engine;

impl Engine {
    /// Shared hold of the volume lock (container creation).
    pub(crate) fn volumes_shared(&self) -> RwLockReadGuard<'_, ()> {
        self.inner.volume_lock.read().unwrap_or_else(|p| p.into_inner())
    }

    fn volumes_exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.inner.volume_lock.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Names of the volumes some container (in any state) mounts.
    fn volumes_in_use(&self) -> HashSet<String> {
        let mut used = HashSet::new();
        for c in self.inner.containers.list() {
            let rec = c.record();
            used.extend(rec.mounts.iter().filter(|m| m.kind == "volume" && !m.name.is_empty()).map(|m| m.name.clone()));
        }
        used
    }

    /// Ids of the containers that mount volume `name`, sorted.
    fn volume_users(&self, name: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .inner
            .containers
            .list()
            .iter()
            .map(|c| c.record())
            .filter(|r| r.mounts.iter().any(|m| m.kind == "volume" && m.name == name))
            .map(|r| r.id)
            .collect();
        ids.sort();
        ids
    }

    fn emit_volume(&self, action: &str, v: &Volume) {
        self.emit_local_volume(action, &v.name);
    }

    fn emit_local_volume(&self, action: &str, name: &str) {
        let mut a = BTreeMap::new();
        a.insert("driver".to_string(), volume::LOCAL_DRIVER.to_string());
        self.inner.events.emit("volume", action, name, a);
    }

    /// Publish `action` (`create`, `destroy`) for volumes made or removed along with a
    /// container (`-v name:/dst`, anonymous volumes, `rm -v`).
    pub(crate) fn emit_volumes(&self, action: &str, names: &[String]) {
        for n in names {
            self.emit_local_volume(action, n);
        }
    }

    /// The volumes container `id` would mount that do not exist yet (made by its creation).
    pub(crate) fn missing_volumes(
        &self,
        opts: &CreateOptions,
        id: &str,
        image: Option<&oci_spec::image::Config>,
    ) -> Result<Vec<String>> {
        let root = self.volumes_root();
        let image_volumes: Vec<String> = image.and_then(|i| i.volumes().clone()).unwrap_or_default();
        let mut out: Vec<String> = mounts::user_mounts(opts, id, &image_volumes, &root)?
            .into_iter()
            .filter_map(|m| m.volume)
            .filter(|v| volume::load(&root, v).ok().flatten().is_none())
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// [`Volumes::create`]: see there.
    pub(crate) fn volume_create(&self, opts: &VolumeCreateOptions) -> Result<Volume> {
        volume::validate_create(opts)?;
        let name = match opts.name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => crate::container::store::new_id()?,
        };
        let root = self.volumes_root();
        let _lock = self.volumes_exclusive();
        if let Some(v) = volume::load(&root, &name)? {
            return Ok(v);
        }
        let meta = VolumeMeta {
            driver: volume::LOCAL_DRIVER.into(),
            created_at: crate::time::Timestamp::from_unix_secs(crate::time::now().unix_secs()),
            labels: opts.labels.clone(),
            options: opts.driver_opts.clone(),
        };
        volume::create(&root, &name, &meta).map_err(|e| e.context(format!("create volume {name}")))?;
        let v = volume::load(&root, &name)?.ok_or_else(|| Error::internal(format!("volume {name} vanished")))?;
        self.emit_volume("create", &v);
        Ok(v)
    }

    /// [`Volumes::list`]: see there.
    pub(crate) fn volume_list(&self, filters: &[String]) -> Result<Vec<Volume>> {
        let f = VolumeFilters::parse(filters)?;
        let root = self.volumes_root();
        let used = self.volumes_in_use();
        let mut out = Vec::new();
        for n in volume::names(&root)? {
            if let Some(v) = volume::load(&root, &n)? {
                if f.matches(&v, used.contains(&n)) {
                    out.push(v);
                }
            }
        }
        Ok(out)
    }

    /// One volume (`docker volume inspect`); `NotFound` for an unknown name.
    pub fn volume_inspect(&self, name: &str) -> Result<Volume> {
        crate::volume::validate_name(name)?;
        volume::load(&self.volumes_root(), name)?.ok_or_else(|| no_such_volume(name))
    }

    /// Remove a volume (`docker volume rm`) with its content. `NotFound` for an unknown
    /// name (ignored with `force`); `Conflict` naming the containers while any container
    /// (running or not) uses it, with or without `force`. Publishes `destroy`.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        crate::volume::validate_name(name)?;
        let root = self.volumes_root();
        let _lock = self.volumes_exclusive();
        let Some(v) = volume::load(&root, name)? else {
            return if force { Ok(()) } else { Err(no_such_volume(name)) };
        };
        let users = self.volume_users(name);
        if !users.is_empty() {
            return Err(Error::conflict(format!("remove {name}: volume is in use - [{}]", users.join(", "))));
        }
        volume::destroy(&root, name).map_err(|e| e.context(format!("remove volume {name}")))?;
        self.emit_volume("destroy", &v);
        Ok(())
    }

    /// [`Volumes::prune`]: see there.
    pub(crate) fn volume_prune(&self, filters: &[String]) -> Result<VolumePruneReport> {
        let mut f = VolumeFilters::parse(filters)?;
        if f.dangling == Some(false) {
            return Err(Error::invalid("volume prune removes only unused volumes: filter dangling=false is invalid"));
        }
        f.dangling = Some(true);
        let root = self.volumes_root();
        let _lock = self.volumes_exclusive();
        let used = self.volumes_in_use();
        let mut report = VolumePruneReport::default();
        for n in volume::names(&root)? {
            let Some(v) = volume::load(&root, &n)? else { continue };
            if !f.matches(&v, used.contains(&n)) {
                continue;
            }
            let size = volume::disk_usage(std::path::Path::new(&v.mountpoint));
            volume::destroy(&root, &n).map_err(|e| e.context(format!("prune volume {n}")))?;
            self.emit_volume("destroy", &v);
            report.volumes_deleted.push(n);
            report.space_reclaimed += size;
        }
        Ok(report)
    }
}

/// Docker's message for an unknown volume.
fn no_such_volume(name: &str) -> Error {
    Error::not_found(format!("no such volume: {name}")).with_reason(crate::Reason::NoSuchVolume)
}
