//! Network operations of the [`Engine`](super::Engine): create, list, inspect and remove managed
//! networks. Attaching containers is done by the container lifecycle through [`Engine::networks`].

use std::path::PathBuf;

use super::Engine;
use crate::error::Result;
use crate::network::{netns, AttachResult, NetworkAttachRequest, NetworkStore};

/// The option and result types of these methods, also reachable as `isula_core::network::*`.
pub use crate::network::{NetworkCreateOptions, NetworkFilters, NetworkInfo};

impl Engine {
    /// Creates a bridge network (`network create`); see [`NetworkStore::create`].
    pub fn network_create(&self, opts: &NetworkCreateOptions) -> Result<NetworkInfo> {
        self.networks.create(opts)
    }

    /// Lists managed networks and those of `cni-conf-dir` matching `filters` (`network ls`).
    pub fn network_list(&self, filters: &NetworkFilters) -> Result<Vec<NetworkInfo>> {
        self.networks.list(filters)
    }

    /// One network by name (`network inspect`); `NotFound` when unknown.
    pub fn network_inspect(&self, name: &str) -> Result<NetworkInfo> {
        self.networks.inspect(name)
    }

    /// Removes a managed network (`network rm`); `FailedPrecondition` while containers use it.
    /// The default network cannot be removed.
    pub fn network_remove(&self, name: &str) -> Result<()> {
        if name == self.networks.config().default_network {
            return Err(crate::Error::precondition(format!(
                "network {name} is the pre-defined default network and cannot be removed"
            )));
        }
        self.networks.remove(name)
    }

    /// The network store (attachments, default network) for the container lifecycle.
    pub fn networks(&self) -> &NetworkStore {
        &self.networks
    }

    /// Where the network namespace of container `id` is pinned: `<state>/netns/<id>`.
    pub fn netns_path(&self, id: &str) -> PathBuf {
        self.config.state.join("netns").join(id)
    }

    /// Gives container `id` a network namespace (pinned at [`netns_path`](Self::netns_path),
    /// reused when it already exists) and attaches it to `requests` (`lo` only when empty).
    /// On failure nothing is left: no attachment, no namespace.
    pub fn network_setup(&self, id: &str, requests: &[NetworkAttachRequest]) -> Result<(PathBuf, Vec<AttachResult>)> {
        let ns = self.netns_path(id);
        let created = !netns::is_netns(&ns);
        if created {
            netns::remove(&ns)?;
            netns::create(&ns)?;
        }
        match self.networks.attach(id, &ns, requests) {
            Ok(r) => Ok((ns, r)),
            Err(e) => {
                if created {
                    if let Err(re) = netns::remove(&ns) {
                        log::warn!("remove netns of {id} after failed attach: {re}");
                    }
                }
                Err(e)
            }
        }
    }

    /// Detaches container `id` from all its networks and removes its namespace. Idempotent.
    pub fn network_teardown(&self, id: &str) -> Result<()> {
        let ns = self.netns_path(id);
        let detached = self.networks.detach_all(id, &ns);
        netns::remove(&ns)?;
        detached
    }
}

#[cfg(test)]
mod tests {
    use crate::network::NetworkCreateOptions;
    use crate::{Engine, EngineConfig, ErrorKind};

    #[test]
    fn create_list_inspect_remove() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = EngineConfig::with_dirs(dir.path().join("root"), dir.path().join("state"));
        cfg.cni_conf_dir = dir.path().join("conf");
        let e = Engine::open(cfg.clone()).unwrap();
        let name = format!("t{}", std::process::id());
        let info = e.network_create(&NetworkCreateOptions { name: name.clone(), ..Default::default() }).unwrap();
        assert!(info.subnet.as_deref().is_some_and(|s| s.starts_with("10.")), "{info:?}");
        assert_eq!(e.network_list(&Default::default()).unwrap().len(), 1);
        drop(e);
        let e = Engine::open(cfg).unwrap();
        assert_eq!(e.network_inspect(&name).unwrap(), info, "persists across open");
        e.network_remove(&name).unwrap();
        assert_eq!(e.network_inspect(&name).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(e.network_remove(&name).unwrap_err().kind(), ErrorKind::NotFound);
        assert!(e.netns_path("abc").ends_with("netns/abc"));
        assert_eq!(e.network_remove("bridge").unwrap_err().kind(), ErrorKind::FailedPrecondition);
    }

    #[test]
    fn setup_without_networks_gives_lo_only_and_teardown_is_idempotent() {
        if !nix::unistd::geteuid().is_root() || !std::path::Path::new("/usr/lib/cni/loopback").exists() {
            eprintln!("skipped: needs root and the CNI loopback plugin");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = EngineConfig::with_dirs(dir.path().join("root"), dir.path().join("state"));
        cfg.cni_conf_dir = dir.path().join("conf");
        let e = Engine::open(cfg).unwrap();
        let (ns, res) = e.network_setup("c0", &[]).unwrap();
        assert!(res.is_empty() && crate::network::netns::is_netns(&ns));
        e.network_teardown("c0").unwrap();
        assert!(!ns.exists());
        e.network_teardown("c0").unwrap();
        // unknown network: nothing left
        let req = crate::network::NetworkAttachRequest { name: "nope".into(), ..Default::default() };
        assert_eq!(e.network_setup("c1", &[req]).unwrap_err().kind(), ErrorKind::NotFound);
        assert!(!e.netns_path("c1").exists());
    }
}
