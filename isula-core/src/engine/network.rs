//! Network operations of the [`Engine`](super::Engine): create, list, inspect and remove managed
//! networks. Attaching containers is done by the container lifecycle through [`Engine::networks`].

use std::path::PathBuf;

use super::Engine;
use crate::config::EngineConfig;
use crate::container::parse::parse_add_host;
use crate::container::spec::files;
use crate::container::CreateOptions;
use crate::error::{Error, Result};
use crate::network::settings::{attach_requests, network_settings, NetworkMode, NetworkSettings};
use crate::network::{cni, netns, AttachResult, Ipv4Net, NetworkAttachRequest, NetworkStoreConfig};
use crate::sys;

/// File in the container directory holding the container's attach requests.
const NETWORKS_FILE: &str = "networks.json";

/// The option and result types of these methods, also reachable as `isula_core::network::*`.
pub(crate) use crate::network::{Network, NetworkContainer, NetworkCreateOptions, NetworkFilters, NetworkInfo};

/// The network store configuration of an engine opened with `c`: store in `<graph>/networks`,
/// result cache in `<state>/cni`, `cni-conf-dir`, `cni-bin-dir`, `bridge` and `bip` from `c`.
/// (The engine builds it so that `network` never depends on `config`.)
pub fn network_store_config(c: &EngineConfig) -> NetworkStoreConfig {
    let (pool, pool_len) = crate::network::DEFAULT_SUBNET_POOL;
    NetworkStoreConfig {
        dir: c.graph.join("networks"),
        cache_dir: c.state.join("cni"),
        conf_dir: Some(c.cni_conf_dir.clone()),
        bin_dirs: c.cni_bin_dir.clone(),
        default_network: crate::network::DEFAULT_NETWORK.into(),
        default_bridge: c.bridge.clone(),
        default_address: c.default_bridge_address().ok().flatten(),
        subnet_pool: Ipv4Net::new(pool, pool_len).expect("valid pool"),
        subnet_len: crate::network::DEFAULT_SUBNET_LEN,
        plugin_timeout: cni::exec::DEFAULT_TIMEOUT,
    }
}

impl Engine {
    /// [`Networks::create`]: see there.
    pub(crate) fn network_create(&self, opts: &NetworkCreateOptions) -> Result<Network> {
        self.inner.networks.create(opts).map(|n| self.network_view(&n))
    }

    /// [`Networks::list`]: see there.
    pub(crate) fn network_list(&self, filters: &NetworkFilters) -> Result<Vec<Network>> {
        self.ensure_default_network()?;
        Ok(self.inner.networks.list(filters)?.iter().map(|n| self.network_view(n)).collect())
    }

    /// Docker's view of `n`: attached containers with their name, MAC and address on `n`
    /// (containers removed meanwhile are left out).
    fn network_view(&self, n: &NetworkInfo) -> Network {
        let mut containers = std::collections::BTreeMap::new();
        for id in &n.containers {
            let Ok(c) = self.containers().inspect(id) else { continue };
            let ep = c.network_settings.networks.get(&n.name);
            containers.insert(
                id.clone(),
                NetworkContainer {
                    name: c.name.trim_start_matches('/').to_string(),
                    mac_address: ep.map(|e| e.mac_address.clone()).unwrap_or_default(),
                    ipv4_address: ep.map(|e| format!("{}/{}", e.ip_address, e.ip_prefix_len)).unwrap_or_default(),
                    ..Default::default()
                },
            );
        }
        Network::from_info(n, containers)
    }

    /// Records the default network (no device yet) when it is enabled and missing, so `ls`
    /// and `inspect` show it as Docker shows `bridge`.
    fn ensure_default_network(&self) -> Result<()> {
        if self.inner.networks.config().default_enabled() {
            self.inner.networks.ensure_default()?;
        }
        Ok(())
    }

    /// [`Networks::inspect`]: see there.
    pub(crate) fn network_inspect(&self, name: &str) -> Result<Network> {
        if name == self.inner.networks.config().default_network {
            self.ensure_default_network()?;
        }
        let name = self.network_name(name)?;
        self.inner.networks.inspect(&name).map(|n| self.network_view(&n))
    }

    /// [`Networks::remove`]: see there.
    pub(crate) fn network_remove(&self, name: &str) -> Result<()> {
        let name = if name == self.inner.networks.config().default_network {
            name.to_string()
        } else {
            self.network_name(name)?
        };
        let name = name.as_str();
        if name == self.inner.networks.config().default_network {
            return Err(Error::precondition(format!(
                "network {name} is the pre-defined default network and cannot be removed"
            )));
        }
        self.inner.networks.remove(name)
    }

    /// The name of the network called `key`, or whose id starts with `key` (Docker accepts
    /// both); `NotFound` when none matches, `InvalidArgument` when a prefix matches several.
    fn network_name(&self, key: &str) -> Result<String> {
        match self.inner.networks.inspect(key) {
            Err(e) if e.kind() == crate::ErrorKind::NotFound && !key.is_empty() => {
                let all = self.inner.networks.list(&NetworkFilters::default())?;
                let hits: Vec<&NetworkInfo> = all.iter().filter(|n| n.id.starts_with(key)).collect();
                match hits.as_slice() {
                    [one] => Ok(one.name.clone()),
                    [] => {
                        Err(Error::not_found(format!("network {key} not found"))
                            .with_reason(crate::Reason::NoSuchNetwork))
                    }
                    many => Err(Error::invalid(format!(
                        "network id prefix {key} is ambiguous: it matches {}",
                        many.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")
                    ))),
                }
            }
            Err(e) => Err(e),
            Ok(_) => Ok(key.to_string()),
        }
    }

    /// Where the network namespace of container `id` is pinned: `<state>/netns/<id>`.
    pub(crate) fn netns_path(&self, id: &str) -> PathBuf {
        self.inner.config.state.join("netns").join(id)
    }

    /// Gives container `id` a network namespace (pinned at [`netns_path`](Self::netns_path),
    /// reused when it already exists) and attaches it to `requests` (`lo` only when empty).
    /// On failure nothing is left: no attachment, no namespace.
    pub(crate) fn network_setup(
        &self,
        id: &str,
        requests: &[NetworkAttachRequest],
    ) -> Result<(PathBuf, Vec<AttachResult>)> {
        let ns = self.netns_path(id);
        let created = !netns::is_netns(&ns);
        if created {
            netns::remove(&ns)?;
            netns::create(&ns)?;
        }
        match self.inner.networks.attach(id, &ns, requests) {
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
    pub(crate) fn network_teardown(&self, id: &str) -> Result<()> {
        let ns = self.netns_path(id);
        let detached = self.inner.networks.detach_all(id, &ns);
        netns::remove(&ns)?;
        detached
    }
}

impl Engine {
    /// The create options as recorded (and shown as inspect's `HostConfig`): without any
    /// network option, a container on the default network records `NetworkMode: "bridge"`, as
    /// Docker does.
    pub(crate) fn recorded_host_config(&self, opts: &CreateOptions) -> CreateOptions {
        let mut o = opts.clone();
        let unset = o.network_mode.as_deref().is_none_or(|m| m.trim().is_empty());
        if unset && o.networks.is_empty() && self.inner.networks.config().default_enabled() {
            o.network_mode = Some(self.inner.networks.config().default_network.clone());
        }
        o
    }

    /// The attach requests for a container's options (`--network`, `--ip`, `-p`, `-P`, `--expose`
    /// plus the image's `EXPOSE`), or `None` when it gets no CNI networking: host or another
    /// container's namespace. Without any network option the container joins the default
    /// bridge network (Docker's `bridge` mode), or, when that is disabled (`bridge: none`),
    /// gets no CNI networking either (the runtime makes a bare namespace).
    pub(crate) fn network_plan(
        &self,
        opts: &CreateOptions,
        image_exposed: &[String],
    ) -> Result<Option<Vec<NetworkAttachRequest>>> {
        let mode = opts.network_mode.as_deref().unwrap_or("").trim();
        let wants = !opts.networks.is_empty() || opts.ip.is_some() || !opts.publish.is_empty() || opts.publish_all;
        let default = self.inner.networks.config().default_network.clone();
        let default_on = self.inner.networks.config().default_enabled();
        let mut names: Vec<String> = Vec::new();
        if !mode.is_empty() {
            names.push(mode.to_string());
        }
        names.extend(opts.networks.iter().cloned());
        let parsed = NetworkMode::parse(&names, &default)?;
        let nets = match parsed {
            NetworkMode::Host | NetworkMode::Container(_) | NetworkMode::None if wants && opts.networks.is_empty() => {
                return Err(Error::invalid(format!("--network {mode} cannot be combined with --ip or published ports")))
            }
            NetworkMode::Host | NetworkMode::Container(_) => return Ok(None),
            // A namespace of its own with only `lo`: the runtime makes it and brings `lo` up
            // (runc and crun both do), which costs nothing next to running CNI's loopback plugin.
            NetworkMode::None => return Ok(None),
            NetworkMode::Networks(_) if opts.networks.is_empty() && mode.is_empty() && !default_on => {
                if wants {
                    return Err(Error::invalid(
                        "--ip and published ports need a network: the default bridge network is disabled \
                         (daemon option bridge \"none\"); choose one with --network",
                    ));
                }
                return Ok(None);
            }
            NetworkMode::Networks(n) => n,
        };
        let ip = match &opts.ip {
            Some(s) => Some(s.trim().parse().map_err(|_| Error::invalid(format!("invalid --ip {s:?}")))?),
            None => None,
        };
        let mut exposed: Vec<String> = image_exposed.to_vec();
        exposed.extend(opts.expose.iter().cloned());
        attach_requests(&nets, ip, &opts.publish, opts.publish_all, &exposed, &[]).map(Some)
    }

    /// Networking for a new container: saves the plan in its directory, creates and attaches
    /// its namespace and returns the namespace path for the OCI spec (`None`: no CNI networking).
    pub(crate) fn container_network_create(
        &self,
        id: &str,
        opts: &CreateOptions,
        image_exposed: &[String],
    ) -> Result<Option<PathBuf>> {
        let Some(reqs) = self.network_plan(opts, image_exposed)? else { return Ok(None) };
        sys::atomic_write_json(&self.inner.containers.dir_of(id).join(NETWORKS_FILE), &reqs)?;
        let (ns, _) = self.network_setup(id, &reqs)?;
        Ok(Some(ns))
    }

    /// Before the runtime creates the container again (start after an exit): re-creates and
    /// re-attaches the namespace when the container has CNI networking and it is gone, and
    /// rewrites `/etc/hosts` with the address.
    pub(crate) fn container_network_up(&self, id: &str, opts: &CreateOptions, hostname: &str) -> Result<()> {
        let file = self.inner.containers.dir_of(id).join(NETWORKS_FILE);
        if !file.exists() {
            return Ok(());
        }
        if !netns::is_netns(&self.netns_path(id)) || self.inner.networks.attachments(id).is_empty() {
            let reqs: Vec<NetworkAttachRequest> = sys::read_json(&file)?;
            // Clear half-states (records or cache left by a crash) before attaching again.
            self.network_teardown(id)?;
            self.network_setup(id, &reqs)?;
        }
        self.container_hosts(id, opts, hostname)
    }

    /// Rewrites the container's hosts file with its first network address (no-op without one).
    pub(crate) fn container_hosts(&self, id: &str, opts: &CreateOptions, hostname: &str) -> Result<()> {
        let res = self.inner.networks.attachments(id);
        let Some(ip) = res.first().and_then(|r| r.ip_address()) else { return Ok(()) };
        let extra: Vec<(String, String)> =
            opts.extra_hosts.iter().map(|h| parse_add_host(h)).collect::<isula_types::Result<_>>()?;
        let domain = opts.domainname.clone().unwrap_or_default();
        files::write_hosts(&self.inner.containers.dir_of(id), hostname, &domain, Some(ip), &extra, None).map(drop)
    }

    /// Docker's `NetworkSettings` of a container (empty without CNI networking).
    pub(crate) fn container_network_settings(&self, id: &str) -> NetworkSettings {
        let res = self.inner.networks.attachments(id);
        let ns = self.netns_path(id);
        let key = if res.is_empty() && !netns::is_netns(&ns) { String::new() } else { ns.display().to_string() };
        network_settings(&res, &key)
    }
}

/// Points the spec's network namespace at `path` (an engine-made, CNI-attached namespace).
pub(crate) fn set_netns_path(spec: &mut oci_spec::runtime::Spec, path: &std::path::Path) {
    use oci_spec::runtime::LinuxNamespaceType;
    if let Some(linux) = spec.linux_mut() {
        if let Some(nss) = linux.namespaces_mut() {
            for n in nss.iter_mut() {
                if n.typ() == LinuxNamespaceType::Network {
                    n.set_path(Some(path.to_path_buf()));
                }
            }
        }
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
        let subnet = info.ipam.config.first().and_then(|c| c.subnet.as_deref());
        assert!(subnet.is_some_and(|s| s.starts_with("10.")), "{info:?}");
        assert_eq!(info.scope, "local");
        let names: Vec<String> = e.network_list(&Default::default()).unwrap().into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["bridge".to_string(), name.clone()], "the default network is listed");
        let bridge = e.network_inspect("bridge").unwrap();
        assert_eq!(bridge.options.get("com.docker.network.bridge.name").map(String::as_str), Some("isula0"));
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
