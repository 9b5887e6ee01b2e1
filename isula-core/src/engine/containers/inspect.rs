//! Container inspect and the read-only record.

use std::collections::BTreeMap;

use crate::container::state::Status;
use crate::container::store::ContainerRecord;
use crate::container::types::{ContainerInspect, InspectGraphDriver, InspectState};
use crate::engine::Engine;
use crate::error::Result;

impl Engine {
    /// [`Containers::inspect`]: see there.
    pub(crate) fn inspect_container(&self, id: &str) -> Result<ContainerInspect> {
        let r = self.container(id)?.record();
        let s = &r.state;
        let mut data = BTreeMap::new();
        if let Ok(opts) = self.inner.snapshots.mount_options(&r.id) {
            let base = self.inner.snapshots.dir();
            for kv in opts.split(',') {
                if let Some((k, v)) = kv.split_once('=') {
                    let abs = |p: &str| base.join(p).to_string_lossy().into_owned();
                    match k {
                        "lowerdir" => {
                            let l: Vec<String> = v.split(':').map(abs).collect();
                            data.insert("LowerDir".to_string(), l.join(":"));
                        }
                        "upperdir" => {
                            data.insert("UpperDir".to_string(), abs(v));
                        }
                        "workdir" => {
                            data.insert("WorkDir".to_string(), abs(v));
                        }
                        _ => {}
                    }
                }
            }
            data.insert("MergedDir".to_string(), r.rootfs.to_string_lossy().into_owned());
        }
        Ok(ContainerInspect {
            id: r.id.clone(),
            created: r.created,
            path: r.path.clone(),
            args: r.args.clone(),
            state: InspectState {
                status: s.status.as_str().into(),
                running: s.status.is_active(),
                paused: s.status == Status::Paused,
                restarting: s.status == Status::Restarting,
                oom_killed: s.oom_killed,
                dead: s.status == Status::Dead,
                pid: if s.status.is_active() { s.pid } else { 0 },
                exit_code: s.exit_code,
                error: s.error.clone(),
                started_at: s.started_at,
                finished_at: s.finished_at,
                health: self.container_health(&r.id).ok().flatten(),
            },
            image: r.image.clone(),
            name: format!("/{}", r.name),
            restart_count: r.restart_count,
            driver: "overlay2".into(),
            runtime: r.runtime.clone(),
            log_path: r.log_path.to_string_lossy().into_owned(),
            config: r.config.clone(),
            host_config: r.host_config.clone(),
            mounts: r.mounts.clone(),
            graph_driver: InspectGraphDriver { name: "overlay2".into(), data },
            network_settings: self.container_network_settings(&r.id),
        })
    }

    /// [`Containers::record`]: see there.
    pub(crate) fn container_record(&self, id: &str) -> Result<ContainerRecord> {
        Ok(self.container(id)?.record())
    }
}
