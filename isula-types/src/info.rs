//! [`Info`]: engine-wide information, the shape of `docker info --format '{{json .}}'`.

use serde::{Deserialize, Serialize};

/// Engine-wide information (`isula info`), with Docker's PascalCase keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Info {
    /// Engine id (empty: isula has none yet).
    #[serde(rename = "ID")]
    pub id: String,
    /// All containers.
    pub containers: u64,
    /// Running containers.
    pub containers_running: u64,
    /// Paused containers.
    pub containers_paused: u64,
    /// Containers neither running nor paused.
    pub containers_stopped: u64,
    /// Images in the store.
    pub images: u64,
    /// Storage driver (`overlay2`).
    pub driver: String,
    /// The engine's root directory (`graph`).
    pub docker_root_dir: String,
    /// The engine's state directory.
    pub state_dir: String,
    /// Default log driver of containers.
    pub logging_driver: String,
    /// `"1"` or `"2"`.
    pub cgroup_version: String,
    /// Who creates container cgroups: `cgroupfs` or `systemd`.
    pub cgroup_driver: String,
    /// Runtime used when a container names none.
    pub default_runtime: String,
    /// Names of the configured OCI runtimes, sorted.
    pub runtimes: Vec<String>,
    /// Registry mirrors, in order of preference.
    pub registry_mirrors: Vec<String>,
    /// Registries reached over plain HTTP or unverified TLS.
    pub insecure_registries: Vec<String>,
    /// The host's kernel release.
    pub kernel_version: String,
    /// `PRETTY_NAME` of the host's os-release.
    pub operating_system: String,
    /// `linux`.
    #[serde(rename = "OSType")]
    pub os_type: String,
    /// CPU architecture (`x86_64`, `aarch64`).
    pub architecture: String,
    /// CPUs available.
    #[serde(rename = "NCPU")]
    pub ncpu: u64,
    /// Total memory of the host in bytes.
    pub mem_total: u64,
    /// Host name.
    pub name: String,
    /// Version of the engine.
    pub server_version: String,
    /// Problems an operator must see (Docker's `Warnings`), e.g. an image record that could
    /// not be read.
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_are_dockers() {
        let v = serde_json::to_value(Info { ncpu: 2, ..Default::default() }).unwrap();
        for k in ["ID", "ContainersRunning", "DockerRootDir", "OSType", "NCPU", "MemTotal", "ServerVersion"] {
            assert!(v.get(k).is_some(), "missing {k} in {v}");
        }
        assert_eq!(serde_json::from_value::<Info>(v).unwrap().ncpu, 2);
    }
}
