//! `EngineConfig`: the daemon.json schema (kebab-case keys as iSulad and Docker use).
//!
//! Precedence is defaults < file < flags: [`EngineConfig::from_json`] fills a default
//! config from a file's keys, and callers (the daemon) override fields from flags.
//! Unknown keys are warned about and kept in [`EngineConfig::warnings`]; a key with
//! the wrong type is an `InvalidArgument` error that names the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One configured OCI runtime (`runtimes` in daemon.json).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct RuntimeConfig {
    /// Path or name (looked up in `PATH`) of the runtime binary.
    pub path: String,
    /// Extra arguments passed before every runtime command.
    #[serde(rename = "runtimeArgs", alias = "runtime-args")]
    pub runtime_args: Vec<String>,
}

/// Container log settings (`container-log` in daemon.json, as iSulad).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerLogConfig {
    /// Log driver: `json-file`, `syslog` or `none`.
    pub driver: String,
    /// Driver options (`max-size`, default 1MB; `max-file`, default 7).
    pub opts: BTreeMap<String, String>,
}

impl Default for ContainerLogConfig {
    fn default() -> Self {
        ContainerLogConfig { driver: "json-file".into(), opts: BTreeMap::new() }
    }
}

/// Engine configuration; the field names serialise to daemon.json keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct EngineConfig {
    /// Root directory for persistent data (images, containers, layers).
    pub graph: PathBuf,
    /// Directory for runtime state (sockets, shim state); normally on tmpfs.
    pub state: PathBuf,
    /// Log level: error, warn, info, debug, trace.
    pub log_level: String,
    /// Daemon log file; stderr when unset.
    pub log_file: Option<PathBuf>,
    /// Addresses the daemon listens on (`unix:///run/isulad.sock`, `tcp://…`).
    pub hosts: Vec<String>,
    /// Daemon pid file.
    pub pidfile: Option<PathBuf>,
    /// Group owning the daemon socket.
    pub group: String,
    /// Storage driver; only `overlay2` is supported.
    pub storage_driver: String,
    /// Storage driver options (`KEY=VALUE`): `overlay2.max-layer-size` and
    /// `overlay2.max-image-size` limit the uncompressed size of each layer and of all the
    /// layers one pull, load or import unpacks; `overlay2.override_kernel_check` is accepted.
    pub storage_opts: Vec<String>,
    /// Registry mirrors tried in order for docker.io.
    pub registry_mirrors: Vec<String>,
    /// Registries reached over plain http or unverified TLS.
    pub insecure_registries: Vec<String>,
    /// Directory of per-registry settings searched after `<graph>/certs.d`: containerd-style
    /// `<host>/hosts.toml` mirror files (and `_default/hosts.toml`) and `<host>/*.crt` CA
    /// certificates. Default `/etc/isulad/certs.d`.
    pub registry_config_dir: PathBuf,
    /// Parallel layer downloads per pull.
    pub max_concurrent_downloads: usize,
    /// Runtime used when a container names none.
    pub default_runtime: String,
    /// Runtimes by name.
    pub runtimes: BTreeMap<String, RuntimeConfig>,
    /// Path of the `isulad-shim` binary; looked up beside the current executable and in `PATH` when unset.
    pub shim_path: Option<PathBuf>,
    /// CNI network configuration directory.
    pub cni_conf_dir: PathBuf,
    /// CNI plugin directories.
    pub cni_bin_dir: Vec<PathBuf>,
    /// Bridge device of the default network (Docker's `bridge`, `-b`): containers created
    /// without a network option join the network named `bridge` on this device, created on
    /// first use. `none` disables it (such containers then get only `lo`).
    pub bridge: String,
    /// Address and prefix of the default bridge (Docker's `bip`, e.g. `10.200.0.1/24`): the
    /// gateway and subnet of the default network when it is created; allocated when unset.
    pub bip: Option<String>,
    /// Container log driver settings.
    pub container_log: ContainerLogConfig,
    /// Cgroup parent for containers: a cgroupfs path (default `/isulad`), or with the systemd
    /// driver a slice name (containers without one go to `system.slice`).
    pub cgroup_parent: String,
    /// Who creates container cgroups: `cgroupfs` (the runtime writes the hierarchy; the
    /// default, also when empty) or `systemd` (the runtime asks systemd for an
    /// `isula-<id>.scope` unit in a slice). See [`EngineConfig::cgroup_driver`].
    pub cgroup_driver: String,
    /// iSulad's spelling of `cgroup-driver: systemd` (`"systemd-cgroup": true`).
    pub systemd_cgroup: bool,
    /// Network plugin of pod sandboxes (iSulad's `network-plugin`): `cni` sets pods up with the
    /// first network config in `cni-conf-dir`; empty gives pods a loopback-only namespace.
    pub network_plugin: String,
    /// Image run as the infra process of pods (iSulad's `pod-sandbox-image`, pulled on first
    /// use); unset: the engine's own pause program (`isula-pause`) from a read-only rootfs.
    pub pod_sandbox_image: Option<String>,
    /// Path of the `isula-pause` binary; looked up beside the current executable and in `PATH`
    /// when unset.
    pub pause_path: Option<PathBuf>,
    /// How long a pull's partial download is kept for resuming (Go duration, default `24h`);
    /// older ones, and every partial load or import, are removed when the engine opens.
    pub ingest_max_age: String,
    /// Address the CRI streaming server (exec, attach, port-forward URLs) listens on.
    pub stream_server_address: String,
    /// A streaming connection with no traffic either way this long is closed (Go duration,
    /// default `4h`, as containerd's `stream_idle_timeout`).
    pub stream_idle_timeout: String,
    /// Port of the CRI streaming server; 0 picks a free port.
    pub stream_server_port: u16,
    /// PEM certificate of the streaming server; with `stream-server-tls-key` it serves https.
    pub stream_server_tls_cert: Option<PathBuf>,
    /// PEM private key of the streaming server's certificate.
    pub stream_server_tls_key: Option<PathBuf>,
    /// Warnings found while parsing (unknown keys); not part of the file format.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            graph: PathBuf::from("/var/lib/isulad"),
            state: PathBuf::from("/run/isulad"),
            log_level: "info".into(),
            log_file: None,
            hosts: vec!["unix:///run/isulad.sock".into()],
            pidfile: None,
            group: "isula".into(),
            storage_driver: "overlay2".into(),
            storage_opts: Vec::new(),
            registry_mirrors: Vec::new(),
            insecure_registries: Vec::new(),
            registry_config_dir: PathBuf::from("/etc/isulad/certs.d"),
            max_concurrent_downloads: 3,
            default_runtime: "runc".into(),
            runtimes: BTreeMap::new(),
            shim_path: None,
            cni_conf_dir: PathBuf::from("/etc/cni/net.d"),
            cni_bin_dir: vec![PathBuf::from("/opt/cni/bin"), PathBuf::from("/usr/lib/cni")],
            bridge: crate::network::DEFAULT_BRIDGE.into(),
            bip: None,
            container_log: ContainerLogConfig::default(),
            cgroup_parent: "/isulad".into(),
            cgroup_driver: String::new(),
            systemd_cgroup: false,
            network_plugin: String::new(),
            pod_sandbox_image: None,
            pause_path: None,
            ingest_max_age: "24h".into(),
            stream_server_address: "127.0.0.1".into(),
            stream_idle_timeout: "4h".into(),
            stream_server_port: 10350,
            stream_server_tls_cert: None,
            stream_server_tls_key: None,
            warnings: Vec::new(),
        }
    }
}

/// The Go duration `value` of daemon config key `key`; it must be positive.
fn positive_duration(key: &str, value: &str) -> Result<std::time::Duration> {
    let bad = |why: &str| Error::invalid(format!("daemon config key \"{key}\": {value:?} {why}"));
    let ns =
        isula_types::container::parse::parse_duration(value).map_err(|_| bad("is not a duration (e.g. 24h, 90m)"))?;
    if ns <= 0 {
        return Err(bad("must be positive"));
    }
    Ok(std::time::Duration::from_nanos(ns as u64))
}

impl EngineConfig {
    /// [`ingest_max_age`](Self::ingest_max_age) as a duration.
    pub fn ingest_max_age(&self) -> Result<std::time::Duration> {
        positive_duration("ingest-max-age", &self.ingest_max_age)
    }

    /// [`stream_idle_timeout`](Self::stream_idle_timeout) as a duration.
    pub fn stream_idle_timeout(&self) -> Result<std::time::Duration> {
        positive_duration("stream-idle-timeout", &self.stream_idle_timeout)
    }

    /// The layer and image size limits of [`storage_opts`](Self::storage_opts).
    pub(crate) fn storage_limits(&self) -> Result<crate::layer::StorageLimits> {
        crate::layer::StorageLimits::parse(&self.storage_opts)
    }

    /// A default config rooted at `graph` and `state` (handy for tests and embedding).
    pub fn with_dirs(graph: impl Into<PathBuf>, state: impl Into<PathBuf>) -> Self {
        EngineConfig { graph: graph.into(), state: state.into(), ..Default::default() }
    }

    /// Parse daemon.json text over the defaults.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::invalid(format!("daemon config is not valid JSON: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(Error::invalid("daemon config must be a JSON object"));
        };
        let known = known_keys();
        let mut warnings = Vec::new();
        let mut accepted = serde_json::Map::new();
        for (key, val) in map {
            if !known.contains(&key) {
                let w = format!("unknown key {key:?} in daemon config ignored");
                log::warn!("{w}");
                warnings.push(w);
                continue;
            }
            // Deserialise each key on its own so a type error names it.
            let one = serde_json::Value::Object([(key.clone(), val.clone())].into_iter().collect());
            if let Err(e) = serde_json::from_value::<EngineConfig>(one) {
                return Err(Error::invalid(format!("daemon config key {key:?}: {e}")));
            }
            accepted.insert(key, val);
        }
        let mut cfg: EngineConfig = serde_json::from_value(serde_json::Value::Object(accepted))
            .map_err(|e| Error::invalid(format!("daemon config: {e}")))?;
        cfg.warnings = warnings;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Read and parse a daemon.json file; errors name the file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read config", e))?;
        Self::from_json(&text).map_err(|e| e.context(format!("config file {}", path.display())))
    }

    /// Check values that types alone cannot.
    pub fn validate(&self) -> Result<()> {
        if !matches!(self.container_log.driver.as_str(), "json-file" | "syslog" | "none" | "") {
            return Err(Error::invalid(format!(
                "daemon config key \"container-log\": driver {:?} is not supported (json-file, syslog or none)",
                self.container_log.driver
            )));
        }
        let log = crate::container::options::LogConfig {
            driver: self.container_log.driver.clone(),
            config: self.container_log.opts.clone(),
        };
        crate::container::validate::check_log_config(&log)
            .map_err(|e| e.context("daemon config key \"container-log\""))?;
        if !self.graph.is_absolute() {
            return Err(Error::invalid(format!(
                "daemon config key \"graph\": {} is not an absolute path",
                self.graph.display()
            )));
        }
        if !self.state.is_absolute() {
            return Err(Error::invalid(format!(
                "daemon config key \"state\": {} is not an absolute path",
                self.state.display()
            )));
        }
        if self.storage_driver != "overlay2" && self.storage_driver != "overlay" {
            return Err(Error::invalid(format!(
                "daemon config key \"storage-driver\": unsupported driver {:?} (only overlay2)",
                self.storage_driver
            )));
        }
        self.storage_limits()?;
        if !self.registry_config_dir.is_absolute() {
            return Err(Error::invalid(format!(
                "daemon config key \"registry-config-dir\": {} is not an absolute path",
                self.registry_config_dir.display()
            )));
        }
        self.ingest_max_age()?;
        self.stream_idle_timeout()?;
        if self.max_concurrent_downloads == 0 {
            return Err(Error::invalid("daemon config key \"max-concurrent-downloads\": must be at least 1"));
        }
        if !matches!(
            self.log_level.to_ascii_lowercase().as_str(),
            "error" | "warn" | "warning" | "info" | "debug" | "trace" | "fatal"
        ) {
            return Err(Error::invalid(format!("daemon config key \"log-level\": unknown level {:?}", self.log_level)));
        }
        self.cgroup_driver()?;
        if self.bridge != BRIDGE_NONE && !valid_link_name(&self.bridge) {
            return Err(Error::invalid(format!(
                "daemon config key \"bridge\": {:?} is not a valid interface name (1-15 characters, no '/', ':' or spaces) nor \"none\"",
                self.bridge
            )));
        }
        if let Some(b) = &self.bip {
            self.default_bridge_address().map_err(|e| e.context(format!("daemon config key \"bip\" ({b:?})")))?;
        }
        Ok(())
    }

    /// True when containers without a network option join the default bridge network
    /// (`bridge` is not `none`).
    pub fn default_bridge_enabled(&self) -> bool {
        self.bridge != BRIDGE_NONE
    }

    /// The default bridge's gateway and subnet from `bip` (`None` when unset: allocated).
    pub fn default_bridge_address(&self) -> Result<Option<(std::net::Ipv4Addr, crate::network::Ipv4Net)>> {
        let Some(b) = &self.bip else { return Ok(None) };
        let (a, p) =
            b.trim().split_once('/').ok_or_else(|| Error::invalid("expected ADDRESS/PREFIX, e.g. 10.200.0.1/24"))?;
        let ip: std::net::Ipv4Addr = a.parse().map_err(|_| Error::invalid(format!("{a:?} is not an IPv4 address")))?;
        let prefix: u8 = p.parse().map_err(|_| Error::invalid(format!("bad prefix length {p:?}")))?;
        if !(8..=30).contains(&prefix) {
            return Err(Error::invalid(format!("prefix length /{prefix} out of range (8 to 30)")));
        }
        let net = crate::network::Ipv4Net::new(ip, prefix)?;
        if !net.is_host_addr(ip) {
            return Err(Error::invalid(format!("{ip} is not a host address of {net}")));
        }
        Ok(Some((ip, net)))
    }

    /// The cgroup driver in use: `cgroup-driver`, with `systemd-cgroup: true` meaning
    /// `systemd`. An unknown driver, or `systemd-cgroup` with `cgroup-driver: cgroupfs`, is an
    /// InvalidArgument error.
    pub fn cgroup_driver(&self) -> Result<CgroupDriver> {
        let named = match self.cgroup_driver.as_str() {
            "" => None,
            "cgroupfs" => Some(CgroupDriver::Cgroupfs),
            "systemd" => Some(CgroupDriver::Systemd),
            other => {
                return Err(Error::invalid(format!(
                    "daemon config key \"cgroup-driver\": unknown driver {other:?} (cgroupfs or systemd)"
                )))
            }
        };
        match (named, self.systemd_cgroup) {
            (Some(CgroupDriver::Cgroupfs), true) => Err(Error::invalid(
                "conflicting daemon config: \"systemd-cgroup\": true and \"cgroup-driver\": \"cgroupfs\"",
            )),
            (_, true) => Ok(CgroupDriver::Systemd),
            (d, false) => Ok(d.unwrap_or(CgroupDriver::Cgroupfs)),
        }
    }

    /// The binary and arguments for runtime `name` (a configured one, or a bare name like `runc`).
    pub fn runtime(&self, name: &str) -> RuntimeConfig {
        self.runtimes
            .get(name)
            .cloned()
            .unwrap_or_else(|| RuntimeConfig { path: name.to_string(), runtime_args: Vec::new() })
    }
}

/// Who creates the cgroups of containers (`cgroup-driver` in daemon.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupDriver {
    /// The runtime creates cgroup directories itself (`/isulad/<id>`).
    Cgroupfs,
    /// The runtime asks systemd for a transient scope unit (`system.slice/isula-<id>.scope`).
    Systemd,
}

impl CgroupDriver {
    /// The name used in daemon.json, flags and CRI (`cgroupfs`, `systemd`).
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupDriver::Cgroupfs => "cgroupfs",
            CgroupDriver::Systemd => "systemd",
        }
    }
}

/// The `bridge` value that disables the default network.
pub use crate::network::BRIDGE_NONE;

/// A usable network device name: 1 to 15 bytes, no `/`, `:`, whitespace, not `.` or `..`.
fn valid_link_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 15
        && n != "."
        && n != ".."
        && !n.chars().any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
}

fn known_keys() -> Vec<String> {
    match serde_json::to_value(EngineConfig::default()) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn parses_kebab_keys_and_warns_unknown() {
        let cfg = EngineConfig::from_json(
            r#"{"graph": "/tmp/g", "state": "/tmp/s", "registry-mirrors": ["https://m.example"],
                "insecure-registries": ["127.0.0.1:5000"], "default-runtime": "crun",
                "runtimes": {"kata": {"path": "/usr/bin/kata-runtime", "runtimeArgs": ["--debug"]}},
                "bogus-key": 1}"#,
        )
        .unwrap();
        assert_eq!(cfg.graph, PathBuf::from("/tmp/g"));
        assert_eq!(cfg.default_runtime, "crun");
        assert_eq!(cfg.runtime("kata").runtime_args, vec!["--debug"]);
        assert_eq!(cfg.runtime("runc").path, "runc");
        assert_eq!(cfg.max_concurrent_downloads, 3);
        assert_eq!(cfg.warnings.len(), 1);
        assert!(cfg.warnings[0].contains("bogus-key"));
    }

    #[test]
    fn default_bridge_key() {
        let cfg = EngineConfig::default();
        assert_eq!(cfg.bridge, "isula0");
        assert!(cfg.default_bridge_enabled());
        assert_eq!(cfg.default_bridge_address().unwrap(), None);
        let cfg = EngineConfig::from_json(r#"{"bridge": "none"}"#).unwrap();
        assert!(!cfg.default_bridge_enabled());
        let cfg = EngineConfig::from_json(r#"{"bridge": "br-test", "bip": "10.200.3.1/24"}"#).unwrap();
        assert_eq!(cfg.bridge, "br-test");
        let (gw, net) = cfg.default_bridge_address().unwrap().unwrap();
        assert_eq!((gw.to_string(), net.to_string()), ("10.200.3.1".into(), "10.200.3.0/24".into()));
    }

    #[test]
    fn registry_config_dir_key() {
        assert_eq!(EngineConfig::default().registry_config_dir, PathBuf::from("/etc/isulad/certs.d"));
        let cfg = EngineConfig::from_json(r#"{"registry-config-dir": "/srv/certs.d"}"#).unwrap();
        assert_eq!(cfg.registry_config_dir, PathBuf::from("/srv/certs.d"));
        assert!(cfg.warnings.is_empty());
        let err = EngineConfig::from_json(r#"{"registry-config-dir": "certs.d"}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("registry-config-dir"), "{err}");
    }

    #[test]
    fn cgroup_driver_keys() {
        assert_eq!(EngineConfig::default().cgroup_driver().unwrap(), CgroupDriver::Cgroupfs);
        let cfg = EngineConfig::from_json(r#"{"cgroup-driver": "systemd"}"#).unwrap();
        assert_eq!(cfg.cgroup_driver().unwrap(), CgroupDriver::Systemd);
        let cfg = EngineConfig::from_json(r#"{"systemd-cgroup": true}"#).unwrap();
        assert_eq!((cfg.cgroup_driver().unwrap(), cfg.warnings.len()), (CgroupDriver::Systemd, 0));
        let cfg = EngineConfig::from_json(r#"{"cgroup-driver": "cgroupfs"}"#).unwrap();
        assert_eq!(cfg.cgroup_driver().unwrap(), CgroupDriver::Cgroupfs);
        for bad in [r#"{"cgroup-driver": "cgroupv2"}"#, r#"{"cgroup-driver": "cgroupfs", "systemd-cgroup": true}"#] {
            let err = EngineConfig::from_json(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad}");
            assert!(err.to_string().contains("cgroup-driver"), "{err}");
        }
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = EngineConfig::from_json(r#"{"registry-mirrors": "not-a-list"}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("registry-mirrors"), "{err}");
        let err = EngineConfig::from_json(r#"{"graph": "relative"}"#).unwrap_err();
        assert!(err.to_string().contains("graph"), "{err}");
        assert!(EngineConfig::from_json("[1]").is_err());
        for bad in [r#"{"bridge": "a/b"}"#, r#"{"bridge": "waytoolongbridgename"}"#, r#"{"bridge": ""}"#] {
            let err = EngineConfig::from_json(bad).unwrap_err();
            assert!(err.to_string().contains("\"bridge\""), "{err}");
        }
        for bad in
            [r#"{"bip": "10.1.0.0/24"}"#, r#"{"bip": "10.1.0.1"}"#, r#"{"bip": "10.1.0.1/31"}"#, r#"{"bip": "x/24"}"#]
        {
            let err = EngineConfig::from_json(bad).unwrap_err();
            assert!(err.to_string().contains("\"bip\""), "{err}");
        }
        assert!(EngineConfig::from_json("{").is_err());
    }
}
