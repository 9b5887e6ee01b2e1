//! The persisted record of one pod (`<graph>/pods/<id>/pod.json`).

use std::path::Path;

use isula_types::pod::PodConfig;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::sys;
use crate::time::Timestamp;

/// File name of the record in the pod's directory.
pub(crate) const RECORD_FILE: &str = "pod.json";

/// What the engine keeps about a pod. Its readiness is not stored: a pod is ready while it
/// was not stopped and its infra container runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct PodRecord {
    /// Pod id (64 hex digits; also the id of its infra container).
    pub id: String,
    /// The config it was run with.
    pub config: PodConfig,
    /// Creation time.
    pub created: Timestamp,
    /// Effective hostname (the config's, else the pod name cut to 63 characters; the host's
    /// with host networking).
    pub hostname: String,
    /// Pinned network namespace (empty with host networking).
    pub netns_path: String,
    /// Name of the CNI network the pod is attached to (empty: loopback only or host).
    pub network: String,
    /// Primary IP address.
    pub ip: String,
    /// Further addresses.
    pub additional_ips: Vec<String>,
    /// Cgroup parent of the pod's containers.
    pub cgroup_parent: String,
    /// The engine made the cgroup parent (and removes it with the pod).
    pub cgroup_owned: bool,
    /// OCI runtime of the pod's containers.
    pub runtime: String,
    /// Stopped by the user (never ready again).
    pub stopped: bool,
}

impl PodRecord {
    /// Writes the record into `dir` atomically and durably.
    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        sys::atomic_write_json(&dir.join(RECORD_FILE), self)
    }

    /// Reads the record of `dir`.
    pub(crate) fn load(dir: &Path) -> Result<PodRecord> {
        sys::read_json(&dir.join(RECORD_FILE))
    }

    /// The key that must be unique among pods: name, namespace, uid and attempt.
    pub(crate) fn metadata_key(c: &PodConfig) -> String {
        format!("{}\u{0}{}\u{0}{}\u{0}{}", c.name, c.namespace, c.uid, c.attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_and_load() {
        let d = tempfile::tempdir().unwrap();
        let r = PodRecord {
            id: "a".repeat(64),
            config: PodConfig { name: "p".into(), attempt: 2, ..Default::default() },
            ip: "10.1.2.3".into(),
            ..Default::default()
        };
        r.save(d.path()).unwrap();
        assert_eq!(PodRecord::load(d.path()).unwrap(), r);
        let k = PodRecord::metadata_key(&r.config);
        assert_ne!(k, PodRecord::metadata_key(&PodConfig { name: "p".into(), ..Default::default() }));
    }
}
