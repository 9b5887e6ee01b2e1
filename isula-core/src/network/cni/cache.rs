//! The on-disk result cache: one JSON file per (network, container, interface) holding the
//! configuration used for ADD, the arguments and the result, so DEL and CHECK get the same
//! configuration and `prevResult` even after the engine restarts.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::sys;

/// One cached attachment.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CacheEntry {
    /// Format marker.
    pub kind: String,
    /// Container id.
    pub container_id: String,
    /// Network name.
    pub network_name: String,
    /// Interface name in the container.
    pub if_name: String,
    /// The configuration list used for ADD (conflist JSON).
    pub config: Value,
    /// CNI_ARGS pairs.
    #[serde(default)]
    pub cni_args: Vec<(String, String)>,
    /// Capability arguments (runtimeConfig sources).
    #[serde(default)]
    pub capability_args: Map<String, Value>,
    /// The final result of ADD (absent while ADD is in progress).
    #[serde(default)]
    pub result: Option<Value>,
}

/// Format marker of [`CacheEntry`].
pub(crate) const CACHE_KIND: &str = "cniCacheV1";

/// The cache directory (`<dir>/results/<network>-<container>-<ifname>`).
#[derive(Debug, Clone)]
pub struct ResultCache {
    dir: PathBuf,
}

impl ResultCache {
    /// A cache rooted at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ResultCache { dir: dir.into() }
    }

    /// The file for one attachment.
    pub fn path(&self, network: &str, container_id: &str, ifname: &str) -> PathBuf {
        self.dir.join("results").join(format!("{network}-{container_id}-{ifname}"))
    }

    /// Writes an entry atomically.
    pub fn put(&self, entry: &CacheEntry) -> Result<()> {
        let p = self.path(&entry.network_name, &entry.container_id, &entry.if_name);
        sys::fs::ensure_dir(p.parent().expect("cache path has a parent"), 0o700)?;
        sys::atomic_write_json(&p, entry)
    }

    /// Reads an entry; `Ok(None)` when absent.
    pub fn get(&self, network: &str, container_id: &str, ifname: &str) -> Result<Option<CacheEntry>> {
        let p = self.path(network, container_id, ifname);
        if !p.exists() {
            return Ok(None);
        }
        sys::read_json(&p).map(Some)
    }

    /// Removes an entry; a missing one is not an error.
    pub fn remove(&self, network: &str, container_id: &str, ifname: &str) -> Result<()> {
        let p = self.path(network, container_id, ifname);
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&p, "remove CNI cache entry", e)),
        }
    }

    /// Every cached entry (unreadable files are skipped).
    pub fn entries(&self) -> Vec<CacheEntry> {
        let dir = self.dir.join("results");
        let Ok(rd) = std::fs::read_dir(&dir) else { return Vec::new() };
        rd.filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| sys::read_json::<CacheEntry>(&e.path()).ok())
            .collect()
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_remove() {
        let d = tempfile::tempdir().unwrap();
        let c = ResultCache::new(d.path());
        let e = CacheEntry {
            kind: CACHE_KIND.into(),
            container_id: "c1".into(),
            network_name: "n".into(),
            if_name: "eth0".into(),
            config: serde_json::json!({"name": "n"}),
            cni_args: vec![],
            capability_args: Map::new(),
            result: Some(serde_json::json!({"cniVersion": "1.0.0"})),
        };
        c.put(&e).unwrap();
        assert_eq!(c.get("n", "c1", "eth0").unwrap().unwrap(), e);
        assert_eq!(c.entries().len(), 1);
        c.remove("n", "c1", "eth0").unwrap();
        c.remove("n", "c1", "eth0").unwrap();
        assert!(c.get("n", "c1", "eth0").unwrap().is_none());
    }
}
