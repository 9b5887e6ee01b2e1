//! Managed networks and container attachments.
//!
//! Layout under the store directory (`<root>/networks`):
//! `conf/<name>.conflist` (the CNI configuration of each managed network),
//! `meta/<name>.json` (id, subnet, bridge, labels, …), `attachments/<network>/<container>.json`
//! (one record per attached container, written before ADD so a crash leaves a trace) and
//! `ipam/` (host-local's allocation data). Results are cached under the state directory.
//! Networks defined by the administrator in the CNI conf dir are usable but read-only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::cni::{self, config::valid_network_name, Cni, NetworkConfigList, RuntimeConf};
use super::ports::{self, PortMapping};
use super::subnet::{self, Ipv4Net};
use super::types::*;
use crate::error::{Error, Result};
use crate::sys;

/// Where the store keeps its files and how it allocates.
#[derive(Debug, Clone)]
pub struct NetworkStoreConfig {
    /// Store directory (`<root>/networks`).
    pub dir: PathBuf,
    /// Result cache directory (`<state>/cni`).
    pub cache_dir: PathBuf,
    /// The administrator's CNI configuration directory (read-only networks), if any.
    pub conf_dir: Option<PathBuf>,
    /// Plugin directories, searched in order.
    pub bin_dirs: Vec<PathBuf>,
    /// Name of the default network, created on first use.
    pub default_network: String,
    /// Bridge device of the default network; `none` disables the default network.
    pub default_bridge: String,
    /// Gateway and subnet of the default network (from `bip`); allocated from the pool when `None`.
    pub default_address: Option<(Ipv4Addr, Ipv4Net)>,
    /// Pool automatic subnets are taken from.
    pub subnet_pool: Ipv4Net,
    /// Prefix length of automatic subnets.
    pub subnet_len: u8,
    /// Per-plugin timeout.
    pub plugin_timeout: Duration,
}

/// Name of the default network.
pub(crate) const DEFAULT_NETWORK: &str = "bridge";
/// Bridge device of the default network.
pub(crate) const DEFAULT_BRIDGE: &str = "isula0";
/// The `default_bridge` value (daemon.json `bridge`) that disables the default network.
pub const BRIDGE_NONE: &str = "none";
/// Pool automatic subnets are taken from by default (10.89.0.0/16).
pub(crate) const DEFAULT_SUBNET_POOL: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 89, 0, 0), 16);
/// Prefix length of automatic subnets by default.
pub(crate) const DEFAULT_SUBNET_LEN: u8 = 24;

impl NetworkStoreConfig {
    /// True unless the default network is disabled (`default_bridge` is `none`).
    pub fn default_enabled(&self) -> bool {
        self.default_bridge != BRIDGE_NONE
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct NetworkMeta {
    id: String,
    name: String,
    driver: String,
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
    bridge: String,
    internal: bool,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    created: u64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct AttachmentRecord {
    container_id: String,
    network: String,
    ifname: String,
    netns: PathBuf,
    request: NetworkAttachRequest,
    /// Port mappings with host ports resolved (promised to this container).
    ports: Vec<PortMapping>,
    #[serde(default)]
    result: Option<AttachResult>,
}

/// The managed networks of one engine plus the container attachments.
#[derive(Debug)]
pub struct NetworkStore {
    cfg: NetworkStoreConfig,
    cni: Cni,
    lock: Mutex<()>,
}

fn random_hex(bytes: usize) -> Result<String> {
    use std::io::Read;
    let mut b = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| Error::io("/dev/urandom", "read", e))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

fn valid_container_id(id: &str) -> Result<()> {
    if valid_network_name(id) {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid container id {id:?}")))
    }
}

impl NetworkStore {
    /// Opens (creating) the store directories.
    pub fn open(cfg: NetworkStoreConfig) -> Result<Self> {
        for sub in ["conf", "meta", "attachments", "ipam"] {
            sys::fs::ensure_dir(&cfg.dir.join(sub), 0o700)?;
        }
        let exec = cni::PluginExec::new(cfg.bin_dirs.clone(), cfg.plugin_timeout);
        let cni = Cni::new(exec, cni::ResultCache::new(cfg.cache_dir.clone()));
        Ok(NetworkStore { cfg, cni, lock: Mutex::new(()) })
    }

    /// The store's configuration.
    pub fn config(&self) -> &NetworkStoreConfig {
        &self.cfg
    }

    /// The CNI runtime the store uses.
    pub fn cni(&self) -> &Cni {
        &self.cni
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn conf_path(&self, name: &str) -> PathBuf {
        self.cfg.dir.join("conf").join(format!("{name}.conflist"))
    }

    fn meta_path(&self, name: &str) -> PathBuf {
        self.cfg.dir.join("meta").join(format!("{name}.json"))
    }

    fn attach_dir(&self, network: &str) -> PathBuf {
        self.cfg.dir.join("attachments").join(network)
    }

    fn record_path(&self, network: &str, container_id: &str) -> PathBuf {
        self.attach_dir(network).join(format!("{container_id}.json"))
    }

    fn managed_metas(&self) -> Result<Vec<NetworkMeta>> {
        let dir = self.cfg.dir.join("meta");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, "read", e))? {
            let e = e.map_err(|e| Error::io(&dir, "read", e))?;
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with('.') || !n.ends_with(".json") {
                continue;
            }
            out.push(sys::read_json::<NetworkMeta>(&e.path())?);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn admin_lists(&self) -> Result<Vec<NetworkConfigList>> {
        match &self.cfg.conf_dir {
            Some(d) => cni::config::load_dir(d),
            None => Ok(Vec::new()),
        }
    }

    fn records(&self, network: &str) -> Vec<AttachmentRecord> {
        let dir = self.attach_dir(network);
        let Ok(rd) = std::fs::read_dir(&dir) else { return Vec::new() };
        let mut v: Vec<AttachmentRecord> = rd
            .filter_map(|e| e.ok())
            .filter(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                !n.starts_with('.') && n.ends_with(".json")
            })
            .filter_map(|e| sys::read_json(&e.path()).ok())
            .collect();
        v.sort_by(|a, b| a.container_id.cmp(&b.container_id));
        v
    }

    fn all_records(&self) -> Vec<AttachmentRecord> {
        let dir = self.cfg.dir.join("attachments");
        let Ok(rd) = std::fs::read_dir(&dir) else { return Vec::new() };
        rd.filter_map(|e| e.ok()).flat_map(|e| self.records(&e.file_name().to_string_lossy())).collect()
    }

    /// Loads the configuration of network `name` (managed first, then the CNI conf dir).
    fn find_list(&self, name: &str) -> Result<(NetworkConfigList, Option<NetworkMeta>)> {
        let p = self.conf_path(name);
        if p.exists() {
            let list = NetworkConfigList::load(&p)?;
            let meta = sys::read_json(&self.meta_path(name)).ok();
            return Ok((list, meta));
        }
        if let Some(l) = self.admin_lists()?.into_iter().find(|l| l.name == name) {
            return Ok((l, None));
        }
        Err(Error::not_found(format!("network {name:?} not found")).with_reason(crate::Reason::NoSuchNetwork))
    }

    /// Like `find_list`, creating the default network on first use.
    fn resolve(&self, name: &str) -> Result<(NetworkConfigList, Option<NetworkMeta>)> {
        match self.find_list(name) {
            Err(e) if e.kind() == crate::ErrorKind::NotFound && name == self.cfg.default_network => {
                if !self.cfg.default_enabled() {
                    return Err(Error::not_found(format!(
                        "network {name:?} not found: the default bridge network is disabled (bridge \"none\")"
                    ))
                    .with_reason(crate::Reason::NoSuchNetwork));
                }
                let (gateway, subnet) = match self.cfg.default_address {
                    Some((g, s)) => (Some(g.to_string()), Some(s.to_string())),
                    None => (None, None),
                };
                let opts = NetworkCreateOptions {
                    name: name.to_string(),
                    driver: "bridge".into(),
                    subnet,
                    gateway,
                    ..Default::default()
                };
                self.create_locked(&opts, Some(self.cfg.default_bridge.clone()))?;
                self.find_list(name)
            }
            r => r,
        }
    }

    /// Creates a bridge network: a conflist with bridge (host-local IPAM), portmap and firewall.
    /// The subnet is allocated from the pool when not given, avoiding host routes and other
    /// networks; an explicit subnet overlapping another network or a host route is a `Conflict`
    /// naming it. The default network's name is reserved for the engine.
    pub fn create(&self, opts: &NetworkCreateOptions) -> Result<NetworkInfo> {
        let _g = self.guard();
        if opts.name == self.cfg.default_network {
            return Err(Error::invalid(format!("network name {:?} is reserved for the default network", opts.name)));
        }
        self.create_locked(opts, None)
    }

    /// Creates the default network if it does not exist yet and returns it.
    pub fn ensure_default(&self) -> Result<NetworkInfo> {
        let _g = self.guard();
        let name = self.cfg.default_network.clone();
        self.resolve(&name)?;
        self.info_of(&name)
    }

    fn create_locked(&self, opts: &NetworkCreateOptions, bridge: Option<String>) -> Result<NetworkInfo> {
        let name = opts.name.as_str();
        if !valid_network_name(name) {
            return Err(Error::invalid(format!(
                "invalid network name {name:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit"
            )));
        }
        let driver = if opts.driver.is_empty() { "bridge" } else { opts.driver.as_str() };
        if driver != "bridge" {
            return Err(Error::invalid(format!("network {name}: unsupported driver {driver:?} (only \"bridge\")")));
        }
        let metas = self.managed_metas()?;
        if metas.iter().any(|m| m.name == name) || self.admin_lists()?.iter().any(|l| l.name == name) {
            return Err(Error::already_exists(format!("network {name:?} already exists")));
        }
        // The default network's own bridge may already exist (made by an earlier engine or by
        // the administrator): its routes are this network's, not a collision.
        let routes: Vec<subnet::HostRoute> =
            subnet::host_routes().into_iter().filter(|r| bridge.as_deref() != Some(r.iface.as_str())).collect();
        let subnet = match &opts.subnet {
            Some(s) => {
                let net: Ipv4Net = s.parse().map_err(|e: Error| e.context(format!("network {name}")))?;
                if net.prefix() > 30 {
                    return Err(Error::invalid(format!("network {name}: subnet {net} is too small (at most /30)")));
                }
                if let Some(m) = metas.iter().find(|m| m.subnet.overlaps(&net)) {
                    return Err(Error::conflict(format!(
                        "network {name}: subnet {net} overlaps subnet {} of network {:?}",
                        m.subnet, m.name
                    )));
                }
                for l in self.admin_lists()? {
                    if let Some(other) = list_subnet(&l).filter(|o| o.overlaps(&net)) {
                        return Err(Error::conflict(format!(
                            "network {name}: subnet {net} overlaps subnet {other} of network {:?}",
                            l.name
                        )));
                    }
                }
                if let Some(r) = routes.iter().find(|r| r.dest.overlaps(&net)) {
                    return Err(Error::conflict(format!(
                        "network {name}: subnet {net} overlaps the host route {} on {}",
                        r.dest, r.iface
                    )));
                }
                net
            }
            None => {
                let mut taken: Vec<Ipv4Net> = metas.iter().map(|m| m.subnet).collect();
                taken.extend(routes.iter().map(|r| r.dest));
                taken.extend(self.admin_lists()?.iter().filter_map(list_subnet));
                subnet::allocate(&self.cfg.subnet_pool, self.cfg.subnet_len, &taken).ok_or_else(|| {
                    Error::unavailable(format!("network {name}: no free subnet left in {}", self.cfg.subnet_pool))
                })?
            }
        };
        let gateway = match &opts.gateway {
            Some(g) => {
                let ip: Ipv4Addr =
                    g.parse().map_err(|_| Error::invalid(format!("network {name}: invalid gateway {g:?}")))?;
                if !subnet.is_host_addr(ip) {
                    return Err(Error::invalid(format!(
                        "network {name}: gateway {ip} is not a host address of {subnet}"
                    )));
                }
                ip
            }
            None => subnet.nth(1).expect("subnet of at most /30 has a first host"),
        };
        let id = random_hex(32)?;
        let bridge = match bridge {
            Some(b) => b,
            None => self.pick_bridge_name(&metas, &id)?,
        };
        let meta = NetworkMeta {
            id,
            name: name.to_string(),
            driver: driver.to_string(),
            subnet,
            gateway,
            bridge,
            internal: opts.internal,
            labels: opts.labels.clone(),
            created: u64::try_from(crate::time::now().unix_secs()).unwrap_or(0),
        };
        let conflist = self.bridge_conflist(&meta);
        let conf_path = self.conf_path(name);
        sys::fs::atomic_write(&conf_path, serde_json::to_string_pretty(&conflist).expect("json").as_bytes())?;
        if let Err(e) = sys::atomic_write_json(&self.meta_path(name), &meta) {
            let _ = std::fs::remove_file(&conf_path);
            return Err(e);
        }
        self.info_of(name)
    }

    fn pick_bridge_name(&self, metas: &[NetworkMeta], id: &str) -> Result<String> {
        let mut seed = id.to_string();
        for _ in 0..16 {
            // "isula-br" + 7 hex digits = 15 characters, the kernel's limit.
            let cand = format!("isula-br{}", &seed[..7]);
            if !metas.iter().any(|m| m.bridge == cand) && !link_exists(&cand) {
                return Ok(cand);
            }
            seed = random_hex(4)?;
        }
        Err(Error::unavailable("cannot find a free bridge device name"))
    }

    fn bridge_conflist(&self, m: &NetworkMeta) -> Value {
        let mut ipam = json!({
            "type": "host-local",
            "ranges": [[{"subnet": m.subnet.to_string(), "gateway": m.gateway.to_string()}]],
            "dataDir": self.cfg.dir.join("ipam").display().to_string(),
        });
        if !m.internal {
            ipam["routes"] = json!([{"dst": "0.0.0.0/0"}]);
        }
        json!({
            "cniVersion": "1.0.0",
            "name": m.name,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": m.bridge,
                    "isGateway": !m.internal,
                    "ipMasq": !m.internal,
                    "hairpinMode": true,
                    "ipam": ipam,
                },
                {"type": "portmap", "capabilities": {"portMappings": true}},
                {"type": "firewall", "backend": "iptables"},
            ]
        })
    }

    fn info_of(&self, name: &str) -> Result<NetworkInfo> {
        let (list, meta) = self.find_list(name)?;
        Ok(self.info(&list, meta.as_ref()))
    }

    fn info(&self, list: &NetworkConfigList, meta: Option<&NetworkMeta>) -> NetworkInfo {
        let containers = self.records(&list.name).into_iter().map(|r| r.container_id).collect();
        let config_file = list.source.clone().unwrap_or_default();
        match meta {
            Some(m) => NetworkInfo {
                name: m.name.clone(),
                id: m.id.clone(),
                driver: m.driver.clone(),
                subnet: Some(m.subnet.to_string()),
                gateway: Some(m.gateway.to_string()),
                bridge: Some(m.bridge.clone()),
                internal: m.internal,
                labels: m.labels.clone(),
                created: m.created,
                managed: true,
                cni_version: list.cni_version.clone(),
                plugins: list.plugin_types(),
                config_file,
                containers,
            },
            None => {
                let first = &list.plugins[0];
                let gateway = first
                    .get("ipam")
                    .and_then(|i| i.get("ranges"))
                    .and_then(|r| r.get(0))
                    .and_then(|r| r.get(0))
                    .and_then(|r| r.get("gateway"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let id = crate::digest::Digest::of(list.to_json().to_string().as_bytes()).hex().to_string();
                NetworkInfo {
                    name: list.name.clone(),
                    id,
                    driver: list.plugin_types().remove(0),
                    subnet: list_subnet(list).map(|s| s.to_string()),
                    gateway,
                    bridge: first.get("bridge").and_then(Value::as_str).map(str::to_string),
                    internal: false,
                    labels: BTreeMap::new(),
                    created: 0,
                    managed: false,
                    cni_version: list.cni_version.clone(),
                    plugins: list.plugin_types(),
                    config_file,
                    containers,
                }
            }
        }
    }

    /// Every network (managed and from the CNI conf dir) matching `filters`, sorted by name.
    pub fn list(&self, filters: &NetworkFilters) -> Result<Vec<NetworkInfo>> {
        let mut out = Vec::new();
        for m in self.managed_metas()? {
            let list = NetworkConfigList::load(&self.conf_path(&m.name))?;
            out.push(self.info(&list, Some(&m)));
        }
        for l in self.admin_lists()? {
            if !out.iter().any(|i: &NetworkInfo| i.name == l.name) {
                out.push(self.info(&l, None));
            }
        }
        out.retain(|n| matches_filters(n, filters));
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// One network by name; `NotFound` when unknown.
    pub fn inspect(&self, name: &str) -> Result<NetworkInfo> {
        self.info_of(name)
    }

    /// Removes a managed network and its bridge device. Refused with `FailedPrecondition` while
    /// containers are attached (naming them) and for networks of the CNI conf dir.
    pub fn remove(&self, name: &str) -> Result<()> {
        let _g = self.guard();
        let (list, meta) = self.find_list(name)?;
        let Some(meta) = meta else {
            return Err(Error::precondition(format!(
                "network {name} is defined in {} and not managed by isula",
                list.source.as_deref().unwrap_or(Path::new("?")).display()
            )));
        };
        let users: Vec<String> = self.records(name).into_iter().map(|r| r.container_id).collect();
        if !users.is_empty() {
            return Err(Error::precondition(format!("network {name} is in use by container(s) {}", users.join(", "))));
        }
        std::fs::remove_file(self.meta_path(name)).map_err(|e| Error::io(self.meta_path(name), "remove", e))?;
        let _ = std::fs::remove_file(self.conf_path(name));
        let _ = std::fs::remove_dir(self.attach_dir(name));
        sys::fs::remove_dir_all_if_exists(&self.cfg.dir.join("ipam").join(name))?;
        delete_link(&meta.bridge)?;
        Ok(())
    }

    /// Attaches container `container_id` (namespace pinned at `netns`) to `networks` in order,
    /// as `eth0`, `eth1`, … (continuing after interfaces it already has). Brings `lo` up first.
    /// Host ports are checked (free now and not promised to another container) before any ADD;
    /// on any failure everything this call attached is detached again.
    /// Plugins run outside the store's lock, so different containers attach in parallel; calls
    /// for one container must not overlap (the lifecycle serialises them).
    pub fn attach(
        &self,
        container_id: &str,
        netns: &Path,
        networks: &[NetworkAttachRequest],
    ) -> Result<Vec<AttachResult>> {
        valid_container_id(container_id)?;
        let _g = self.guard();
        let all = self.all_records();
        let mut used_if: HashSet<String> =
            all.iter().filter(|r| r.container_id == container_id).map(|r| r.ifname.clone()).collect();
        let mut promised: Vec<PortMapping> = all.iter().flat_map(|r| r.ports.clone()).collect();
        let mut plans = Vec::new();
        let mut seen = HashSet::new();
        for req in networks {
            if !seen.insert(req.name.clone()) {
                return Err(Error::invalid(format!("network {} is listed twice", req.name)));
            }
            let (list, meta) = self.resolve(&req.name)?;
            if all.iter().any(|r| r.container_id == container_id && r.network == req.name) {
                return Err(Error::already_exists(format!(
                    "container {container_id} is already attached to network {}",
                    req.name
                )));
            }
            if let Some(ip) = req.ip {
                check_requested_ip(
                    &req.name,
                    ip,
                    meta.as_ref().map(|m| (m.subnet, m.gateway)).or_else(|| {
                        let s = list_subnet(&list)?;
                        Some((s, s.nth(1)?))
                    }),
                )?;
            }
            let mut ports = Vec::new();
            for pm in &req.port_mappings {
                let mut pm = pm.clone();
                if pm.container_port == 0 {
                    return Err(Error::invalid(format!("network {}: container port 0 in {pm}", req.name)));
                }
                if pm.host_port == 0 {
                    let exclude: HashSet<u16> =
                        promised.iter().filter(|p| p.protocol == pm.protocol).map(|p| p.host_port).collect();
                    pm.host_port = ports::allocate_host_port(pm.protocol, pm.host_ip, &exclude)?;
                } else {
                    if let Some(p) = promised.iter().find(|p| ports_clash(p, &pm)) {
                        let owner = all
                            .iter()
                            .find(|r| r.ports.contains(p))
                            .map(|r| format!("container {}", r.container_id))
                            .unwrap_or_else(|| "this request".into());
                        return Err(Error::conflict(format!(
                            "host port {}/{} is already published by {owner}",
                            pm.host_port, pm.protocol
                        )));
                    }
                    ports::check_port_free(&pm)?;
                }
                promised.push(pm.clone());
                ports.push(pm);
            }
            let ifname = (0..).map(|i| format!("eth{i}")).find(|n| !used_if.contains(n)).expect("unbounded");
            used_if.insert(ifname.clone());
            plans.push((req.clone(), list, ifname, ports));
        }
        if !super::netns::is_netns(netns) {
            return Err(Error::not_found(format!("network namespace {} does not exist", netns.display())));
        }
        // Write every record (with its promised host ports) before any ADD and while locked:
        // concurrent attaches see the ports as taken and `remove` sees the network in use.
        // The plugins then run without the lock, so containers attach in parallel.
        let mut records = Vec::new();
        for (req, _, ifname, ports) in &plans {
            let rec = AttachmentRecord {
                container_id: container_id.to_string(),
                network: req.name.clone(),
                ifname: ifname.clone(),
                netns: netns.to_path_buf(),
                request: req.clone(),
                ports: ports.clone(),
                result: None,
            };
            let rpath = self.record_path(&req.name, container_id);
            let written = sys::fs::ensure_dir(rpath.parent().expect("parent"), 0o700)
                .and_then(|_| sys::atomic_write_json(&rpath, &rec));
            if let Err(e) = written {
                for r in &records {
                    let _ = std::fs::remove_file(r);
                }
                return Err(e);
            }
            records.push(rpath);
        }
        drop(_g);
        let mut results = Vec::new();
        let outcome = plans.iter().try_for_each(|(req, list, ifname, ports)| -> Result<()> {
            results.push(self.attach_one(container_id, netns, req, list, ifname, ports.clone())?);
            Ok(())
        });
        if let Err(e) = outcome {
            for (i, (req, _, _, _)) in plans.iter().enumerate().rev() {
                if i < results.len() {
                    if let Err(de) = self.detach_one(container_id, netns, &req.name) {
                        log::warn!("rollback: detach {container_id} from {}: {de}", req.name);
                    }
                } else {
                    let _ = std::fs::remove_file(&records[i]);
                }
            }
            return Err(e.context(format!("attach container {container_id}")));
        }
        Ok(results)
    }

    fn attach_one(
        &self,
        container_id: &str,
        netns: &Path,
        req: &NetworkAttachRequest,
        list: &NetworkConfigList,
        ifname: &str,
        ports: Vec<PortMapping>,
    ) -> Result<AttachResult> {
        let rpath = self.record_path(&req.name, container_id);
        let mut rec: AttachmentRecord = sys::read_json(&rpath)?;
        let mut caps = Map::new();
        if !ports.is_empty() {
            let pm: Vec<Value> = ports
                .iter()
                .map(|p| {
                    let mut v = json!({"hostPort": p.host_port, "containerPort": p.container_port,
                        "protocol": p.protocol.as_str()});
                    if let Some(ip) = p.host_ip {
                        v["hostIP"] = json!(ip.to_string());
                    }
                    v
                })
                .collect();
            caps.insert("portMappings".into(), Value::Array(pm));
        }
        let mut args = Vec::new();
        if let Some(ip) = req.ip {
            args.push(("IgnoreUnknown".to_string(), "1".to_string()));
            args.push(("IP".to_string(), ip.to_string()));
        }
        let rt = RuntimeConf {
            container_id: container_id.to_string(),
            netns: netns.to_path_buf(),
            ifname: ifname.to_string(),
            args,
            capability_args: caps,
        };
        let raw = self.cni.add(list, &rt)?;
        let parsed = cni::CniResult::from_value(&raw)?;
        let ips = parsed.ips_of(ifname);
        let result = AttachResult {
            network: req.name.clone(),
            interface: ifname.to_string(),
            ips: ips.iter().map(|i| i.address.clone()).collect(),
            gateway: ips.iter().find_map(|i| i.gateway.clone()),
            mac: parsed.sandbox_interface(ifname).and_then(|(_, i)| i.mac.clone()),
            port_mappings: ports,
            aliases: req.aliases.clone(),
        };
        rec.result = Some(result.clone());
        sys::atomic_write_json(&rpath, &rec)?;
        Ok(result)
    }

    /// Detaches the container from `networks` in reverse order (CNI DEL from the cached
    /// configuration and result). Idempotent: networks it is not attached to are skipped, and a
    /// namespace that is already gone is tolerated.
    pub fn detach(&self, container_id: &str, netns: &Path, networks: &[String]) -> Result<()> {
        valid_container_id(container_id)?;
        let mut first_err = None;
        for n in networks.iter().rev() {
            if let Err(e) = self.detach_one(container_id, netns, n) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Detaches the container from every network it is attached to (last interface first),
    /// including attachments only the result cache knows about.
    pub fn detach_all(&self, container_id: &str, netns: &Path) -> Result<()> {
        valid_container_id(container_id)?;
        let mut recs: Vec<AttachmentRecord> =
            self.all_records().into_iter().filter(|r| r.container_id == container_id).collect();
        recs.sort_by_key(|r| std::cmp::Reverse(r.ifname.trim_start_matches("eth").parse::<u32>().unwrap_or(0)));
        let mut first_err = None;
        for r in recs {
            if let Err(e) = self.detach_one(container_id, netns, &r.network) {
                first_err.get_or_insert(e);
            }
        }
        for e in self.cni.cache().entries().into_iter().filter(|e| e.container_id == container_id) {
            let rt = RuntimeConf {
                container_id: container_id.to_string(),
                netns: netns.to_path_buf(),
                ifname: e.if_name.clone(),
                ..Default::default()
            };
            if let Err(err) = self.cni.del(None, &e.network_name, &rt) {
                first_err.get_or_insert(err);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn detach_one(&self, container_id: &str, netns: &Path, network: &str) -> Result<()> {
        let rpath = self.record_path(network, container_id);
        let rec: Option<AttachmentRecord> = if rpath.exists() { Some(sys::read_json(&rpath)?) } else { None };
        let mut ifnames: Vec<String> = rec.iter().map(|r| r.ifname.clone()).collect();
        for e in self.cni.cache().entries() {
            if e.container_id == container_id && e.network_name == network && !ifnames.contains(&e.if_name) {
                ifnames.push(e.if_name);
            }
        }
        let list = self.find_list(network).ok().map(|(l, _)| l);
        for ifname in ifnames {
            let rt = RuntimeConf {
                container_id: container_id.to_string(),
                netns: netns.to_path_buf(),
                ifname,
                ..Default::default()
            };
            self.cni.del(list.as_ref(), network, &rt).map_err(|e| e.context(format!("detach {container_id}")))?;
        }
        match std::fs::remove_file(&rpath) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&rpath, "remove attachment record", e)),
        }
    }

    /// Runs CNI CHECK for every attachment of the container (skipped for lists with
    /// `disableCheck`; `Unimplemented` for lists older than 0.4.0).
    pub fn check(&self, container_id: &str, netns: &Path) -> Result<()> {
        valid_container_id(container_id)?;
        for r in self.all_records().into_iter().filter(|r| r.container_id == container_id) {
            let list = match self.cni.cache().get(&r.network, container_id, &r.ifname)? {
                Some(e) => NetworkConfigList::parse(e.config.to_string().as_bytes(), "cached configuration")?,
                None => self.find_list(&r.network)?.0,
            };
            let rt = RuntimeConf {
                container_id: container_id.to_string(),
                netns: netns.to_path_buf(),
                ifname: r.ifname.clone(),
                ..Default::default()
            };
            self.cni.check(&list, &rt).map_err(|e| e.context(format!("check container {container_id}")))?;
        }
        Ok(())
    }

    /// The attachments of a container (for inspect), in interface order.
    pub fn attachments(&self, container_id: &str) -> Vec<AttachResult> {
        // One file per network at most (`attachments/<network>/<id>.json`), not every record.
        let dir = self.cfg.dir.join("attachments");
        let Ok(rd) = std::fs::read_dir(&dir) else { return Vec::new() };
        let mut v: Vec<AttachmentRecord> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                sys::read_json::<AttachmentRecord>(&self.record_path(&e.file_name().to_string_lossy(), container_id))
                    .ok()
            })
            .filter(|r| r.container_id == container_id)
            .collect();
        v.sort_by_key(|r| r.ifname.trim_start_matches("eth").parse::<u32>().unwrap_or(0));
        v.into_iter().filter_map(|r| r.result).collect()
    }

    /// [`attachments`](Self::attachments) of every container at once (one pass over the
    /// records instead of one per container): for listing many containers.
    pub fn attachments_by_container(&self) -> HashMap<String, Vec<AttachResult>> {
        let mut recs = self.all_records();
        recs.sort_by_key(|r| r.ifname.trim_start_matches("eth").parse::<u32>().unwrap_or(0));
        let mut out: HashMap<String, Vec<AttachResult>> = HashMap::new();
        for r in recs {
            if let Some(res) = r.result {
                out.entry(r.container_id).or_default().push(res);
            }
        }
        out
    }

    /// Host ports promised to attached containers.
    pub fn published_ports(&self) -> Vec<PortMapping> {
        self.all_records().into_iter().flat_map(|r| r.ports).collect()
    }
}

fn ports_clash(a: &PortMapping, b: &PortMapping) -> bool {
    a.protocol == b.protocol
        && a.host_port == b.host_port
        && (a.host_ip.is_none() || b.host_ip.is_none() || a.host_ip == b.host_ip)
}

fn check_requested_ip(network: &str, ip: IpAddr, net: Option<(Ipv4Net, Ipv4Addr)>) -> Result<()> {
    let IpAddr::V4(v4) = ip else {
        return Err(Error::invalid(format!("network {network}: IPv6 address {ip} requested, only IPv4 is supported")));
    };
    if let Some((subnet, gw)) = net {
        if !subnet.is_host_addr(v4) {
            return Err(Error::invalid(format!(
                "network {network}: requested IP {ip} is not a host address of {subnet}"
            )));
        }
        if v4 == gw {
            return Err(Error::invalid(format!("network {network}: requested IP {ip} is the gateway")));
        }
    }
    Ok(())
}

/// The IPv4 subnet of a list's first plugin's IPAM (`ranges[0][0].subnet` or `subnet`), if any.
fn list_subnet(l: &NetworkConfigList) -> Option<Ipv4Net> {
    let ipam = l.plugins.first()?.get("ipam")?;
    let s = ipam
        .get("ranges")
        .and_then(|r| r.get(0))
        .and_then(|r| r.get(0))
        .and_then(|r| r.get("subnet"))
        .or_else(|| ipam.get("subnet"))?
        .as_str()?;
    s.parse().ok()
}

fn matches_filters(n: &NetworkInfo, f: &NetworkFilters) -> bool {
    f.matches(n)
}

/// Deletes a network device with `ip link del`; a missing device is fine.
fn delete_link(name: &str) -> Result<()> {
    if !link_exists(name) {
        return Ok(());
    }
    let out =
        std::process::Command::new("ip").args(["link", "del", name]).output().map_err(|e| Error::io("ip", "run", e))?;
    if !out.status.success() && link_exists(name) {
        return Err(Error::internal(format!(
            "delete bridge {name}: ip link del failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let n = NetworkInfo {
            name: "frontend".into(),
            id: "x".into(),
            driver: "bridge".into(),
            subnet: None,
            gateway: None,
            bridge: None,
            internal: false,
            labels: BTreeMap::from([("tier".to_string(), "web".to_string())]),
            created: 0,
            managed: true,
            cni_version: "1.0.0".into(),
            plugins: vec![],
            config_file: PathBuf::new(),
            containers: vec![],
        };
        let f = |name: &[&str], label: &[&str], driver: &[&str]| NetworkFilters {
            name: name.iter().map(|s| s.to_string()).collect(),
            label: label.iter().map(|s| s.to_string()).collect(),
            driver: driver.iter().map(|s| s.to_string()).collect(),
            id: Vec::new(),
        };
        assert!(matches_filters(&n, &f(&[], &[], &[])));
        assert!(matches_filters(&n, &f(&["front"], &["tier=web"], &["bridge"])));
        assert!(matches_filters(&n, &f(&[], &["tier"], &[])));
        assert!(!matches_filters(&n, &f(&["back"], &[], &[])));
        assert!(!matches_filters(&n, &f(&[], &["tier=db"], &[])));
        assert!(!matches_filters(&n, &f(&[], &[], &["macvlan"])));
    }

    #[test]
    fn requested_ip_checks() {
        let s: Ipv4Net = "10.9.0.0/24".parse().unwrap();
        let gw = Ipv4Addr::new(10, 9, 0, 1);
        assert!(check_requested_ip("n", "10.9.0.5".parse().unwrap(), Some((s, gw))).is_ok());
        for bad in ["10.9.1.5", "10.9.0.1", "10.9.0.255", "::1"] {
            let e = check_requested_ip("n", bad.parse().unwrap(), Some((s, gw))).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn port_clash_rules() {
        let p = |ip: Option<&str>, port| PortMapping {
            host_ip: ip.map(|s| s.parse().unwrap()),
            host_port: port,
            container_port: 80,
            protocol: ports::Protocol::Tcp,
        };
        assert!(ports_clash(&p(None, 80), &p(Some("127.0.0.1"), 80)));
        assert!(!ports_clash(&p(Some("127.0.0.2"), 80), &p(Some("127.0.0.1"), 80)));
        assert!(!ports_clash(&p(None, 81), &p(None, 80)));
    }
}
