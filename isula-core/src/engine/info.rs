//! `docker info`: engine-wide counters, configuration and host facts.

use std::collections::BTreeSet;

use isula_types::info::Info;

use super::Engine;
use crate::container::ListOptions;
use crate::error::Result;
use crate::host;

impl Engine {
    /// Engine-wide information: container and image counts, the configuration that shapes
    /// containers (driver, runtimes, registries, directories) and host facts.
    pub fn info(&self) -> Result<Info> {
        let images = self.list_images(&super::ListImagesOptions::default())?;
        let containers = self.list(&ListOptions { all: true, ..Default::default() })?;
        let count = |st: &str| containers.iter().filter(|c| c.state == st).count() as u64;
        let (running, paused) = (count("running"), count("paused"));
        let total = containers.len() as u64;
        let c = self.config();
        let runtimes: BTreeSet<&String> = c.runtimes.keys().chain(std::iter::once(&c.default_runtime)).collect();
        Ok(Info {
            id: String::new(),
            containers: total,
            containers_running: running,
            containers_paused: paused,
            containers_stopped: total - running - paused,
            images: images.len() as u64,
            driver: c.storage_driver.clone(),
            docker_root_dir: c.graph.display().to_string(),
            state_dir: c.state.display().to_string(),
            logging_driver: c.container_log.driver.clone(),
            cgroup_version: host::cgroup_version().to_string(),
            cgroup_driver: c.cgroup_driver().unwrap_or(crate::CgroupDriver::Cgroupfs).as_str().to_string(),
            default_runtime: c.default_runtime.clone(),
            runtimes: runtimes.into_iter().cloned().collect(),
            registry_mirrors: c.registry_mirrors.clone(),
            insecure_registries: c.insecure_registries.clone(),
            kernel_version: host::kernel_release(),
            operating_system: host::os_name(),
            os_type: std::env::consts::OS.into(),
            architecture: std::env::consts::ARCH.into(),
            ncpu: host::cpus(),
            mem_total: host::mem_total(),
            name: host::hostname(),
            server_version: env!("CARGO_PKG_VERSION").into(),
            warnings: self.warnings(),
        })
    }

    /// What `info` warns about: image records that are unreadable and kept aside.
    fn warnings(&self) -> Vec<String> {
        self.inner
            .images
            .broken()
            .iter()
            .map(|id| {
                format!(
                    "image {id}: its record {} is unreadable; its data is kept and layer garbage collection is off until it is fixed or removed",
                    self.inner.images.record_path(id).display()
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Engine, EngineConfig};

    #[test]
    fn info_of_an_empty_engine() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = EngineConfig::with_dirs(dir.path().join("root"), dir.path().join("state"));
        cfg.registry_mirrors = vec!["https://mirror.example".into()];
        let e = Engine::open(cfg.clone()).unwrap();
        let i = e.info().unwrap();
        assert_eq!((i.containers, i.containers_running, i.containers_stopped, i.images), (0, 0, 0, 0));
        assert_eq!(i.docker_root_dir, cfg.graph.display().to_string());
        assert_eq!(i.state_dir, cfg.state.display().to_string());
        assert_eq!(i.registry_mirrors, cfg.registry_mirrors);
        assert!(i.runtimes.contains(&cfg.default_runtime), "{:?}", i.runtimes);
        assert_eq!(i.mem_total, crate::host::mem_total());
        assert!(i.ncpu >= 1 && !i.kernel_version.is_empty());
        assert_eq!(i.server_version, env!("CARGO_PKG_VERSION"));
    }
}
