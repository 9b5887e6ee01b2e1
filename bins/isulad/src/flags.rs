//! Command-line flags (named as iSulad's) and their merge over daemon.json.
//!
//! Precedence: defaults < config file < flags. The default config file may be absent;
//! one named with `--config-file` must exist.

use std::path::{Path, PathBuf};

use clap::Parser;
use isula_core::{EngineConfig, Error, Result};

/// Default daemon.json location.
pub(crate) const DEFAULT_CONFIG: &str = "/etc/isulad/daemon.json";

/// isulad: the isula container engine daemon.
#[derive(Debug, Parser)]
#[command(name = "isulad", version, about = "isulad: the isula container engine daemon")]
pub(crate) struct Flags {
    /// Daemon configuration file (JSON).
    #[arg(long = "config-file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Address to listen on (unix:///PATH or tcp://HOST:PORT); repeatable.
    #[arg(short = 'H', long = "host", value_name = "ADDR")]
    pub host: Vec<String>,
    /// Root directory of persistent data.
    #[arg(short = 'g', long = "graph", value_name = "DIR")]
    pub graph: Option<PathBuf>,
    /// Directory of runtime state.
    #[arg(short = 'S', long = "state", value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Log level: fatal, error, warn, info, debug, trace.
    #[arg(short = 'l', long = "log-level", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Write the daemon log to this file instead of stderr.
    #[arg(long = "log-file", value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Pid file of the daemon.
    #[arg(short = 'p', long = "pidfile", value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    /// Group owning the unix sockets (used when it exists).
    #[arg(short = 'G', long = "group", value_name = "GROUP")]
    pub group: Option<String>,
    /// Registry mirror for docker.io; repeatable.
    #[arg(long = "registry-mirrors", value_name = "URL")]
    pub registry_mirrors: Vec<String>,
    /// Registry reached over http or unverified TLS; repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,
    /// Directory of `<host>/hosts.toml` registry mirror files and `<host>/*.crt` CAs,
    /// searched after `<graph>/certs.d` (default /etc/isulad/certs.d).
    #[arg(long = "registry-config-dir", value_name = "DIR")]
    pub registry_config_dir: Option<PathBuf>,
    /// Storage driver option (`overlay2.max-layer-size=SIZE`, `overlay2.max-image-size=SIZE`);
    /// repeatable; replaces daemon.json's `storage-opts`.
    #[arg(long = "storage-opt", value_name = "KEY=VALUE")]
    pub storage_opt: Vec<String>,
    /// Runtime used when a container names none.
    #[arg(long = "default-runtime", value_name = "NAME")]
    pub default_runtime: Option<String>,
    /// CNI plugin directory; repeatable or comma separated.
    #[arg(long = "cni-bin-dir", value_name = "DIR", value_delimiter = ',')]
    pub cni_bin_dir: Vec<PathBuf>,
    /// CNI network configuration directory.
    #[arg(long = "cni-conf-dir", value_name = "DIR")]
    pub cni_conf_dir: Option<PathBuf>,
    /// Network plugin of pod sandboxes: `cni` (the first config of --cni-conf-dir), or empty
    /// for loopback-only pods.
    #[arg(long = "network-plugin", value_name = "PLUGIN")]
    pub network_plugin: Option<String>,
    /// Image run as the infra process of pod sandboxes (default: the built-in isula-pause).
    #[arg(long = "pod-sandbox-image", value_name = "IMAGE")]
    pub pod_sandbox_image: Option<String>,
    /// Address the CRI streaming server (exec, attach, port-forward) listens on (default 127.0.0.1).
    #[arg(long = "stream-server-address", value_name = "ADDR")]
    pub stream_server_address: Option<String>,
    /// Close a streaming connection idle this long (Go duration, default 4h).
    #[arg(long = "stream-idle-timeout", value_name = "DURATION")]
    pub stream_idle_timeout: Option<String>,
    /// Port of the CRI streaming server (default 10350; 0 picks a free port).
    #[arg(long = "stream-server-port", value_name = "PORT")]
    pub stream_server_port: Option<u16>,
    /// PEM certificate of the streaming server (with --stream-server-tls-key: https).
    #[arg(long = "stream-server-tls-cert", value_name = "FILE")]
    pub stream_server_tls_cert: Option<PathBuf>,
    /// PEM private key of the streaming server.
    #[arg(long = "stream-server-tls-key", value_name = "FILE")]
    pub stream_server_tls_key: Option<PathBuf>,
    /// Who creates container cgroups: cgroupfs (default) or systemd (transient
    /// isula-<id>.scope units; needs a host booted with systemd).
    #[arg(long = "cgroup-driver", value_name = "DRIVER")]
    pub cgroup_driver: Option<String>,
    /// Bridge device of the default network ("none": containers without --network get only lo).
    #[arg(short = 'b', long = "bridge", value_name = "DEVICE")]
    pub bridge: Option<String>,
    /// Address and prefix of the default bridge (e.g. 10.200.0.1/24); allocated when unset.
    #[arg(long = "bip", value_name = "CIDR")]
    pub bip: Option<String>,
    /// Allow tcp:// hosts without TLS (anyone who reaches the port controls the engine).
    #[arg(long = "insecure-tcp")]
    pub insecure_tcp: bool,
    /// Serve tcp:// hosts with TLS and require client certificates signed by --tlscacert.
    #[arg(long = "tlsverify")]
    pub tlsverify: bool,
    /// CA certificate that signs client certificates.
    #[arg(long = "tlscacert", value_name = "FILE", default_value = "/etc/isulad/ca.pem")]
    pub tlscacert: PathBuf,
    /// Server certificate.
    #[arg(long = "tlscert", value_name = "FILE", default_value = "/etc/isulad/server-cert.pem")]
    pub tlscert: PathBuf,
    /// Server private key.
    #[arg(long = "tlskey", value_name = "FILE", default_value = "/etc/isulad/server-key.pem")]
    pub tlskey: PathBuf,
}

impl Flags {
    /// The effective configuration: the config file (if any) with the flags applied over it.
    pub(crate) fn config(&self) -> Result<EngineConfig> {
        let mut cfg = match &self.config_file {
            Some(p) => EngineConfig::from_file(p)?,
            None if Path::new(DEFAULT_CONFIG).exists() => EngineConfig::from_file(Path::new(DEFAULT_CONFIG))?,
            None => EngineConfig::default(),
        };
        self.apply(&mut cfg);
        cfg.validate()?;
        if !matches!(cfg.network_plugin.as_str(), "" | "cni") {
            return Err(Error::invalid(format!(
                "network plugin {:?} is not supported (\"cni\", or empty for loopback-only pods)",
                cfg.network_plugin
            )));
        }
        if cfg.stream_server_tls_cert.is_some() != cfg.stream_server_tls_key.is_some() {
            return Err(Error::invalid("stream-server-tls-cert and stream-server-tls-key go together"));
        }
        if cfg.hosts.is_empty() {
            return Err(Error::invalid("no address to listen on (daemon config key \"hosts\" is empty)"));
        }
        Ok(cfg)
    }

    /// Override config fields with the flags that were given.
    pub(crate) fn apply(&self, cfg: &mut EngineConfig) {
        if !self.host.is_empty() {
            cfg.hosts = self.host.clone();
        }
        if let Some(v) = &self.graph {
            cfg.graph = v.clone();
        }
        if let Some(v) = &self.state {
            cfg.state = v.clone();
        }
        if let Some(v) = &self.log_level {
            cfg.log_level = v.clone();
        }
        if let Some(v) = &self.log_file {
            cfg.log_file = Some(v.clone());
        }
        if let Some(v) = &self.pidfile {
            cfg.pidfile = Some(v.clone());
        }
        if let Some(v) = &self.group {
            cfg.group = v.clone();
        }
        if !self.registry_mirrors.is_empty() {
            cfg.registry_mirrors = self.registry_mirrors.clone();
        }
        if !self.insecure_registry.is_empty() {
            cfg.insecure_registries = self.insecure_registry.clone();
        }
        if let Some(v) = &self.registry_config_dir {
            cfg.registry_config_dir = v.clone();
        }
        if !self.storage_opt.is_empty() {
            cfg.storage_opts = self.storage_opt.clone();
        }
        if let Some(v) = &self.default_runtime {
            cfg.default_runtime = v.clone();
        }
        if !self.cni_bin_dir.is_empty() {
            cfg.cni_bin_dir = self.cni_bin_dir.clone();
        }
        if let Some(v) = &self.cni_conf_dir {
            cfg.cni_conf_dir = v.clone();
        }
        if let Some(v) = &self.network_plugin {
            cfg.network_plugin = v.clone();
        }
        if let Some(v) = &self.pod_sandbox_image {
            cfg.pod_sandbox_image = (!v.is_empty()).then(|| v.clone());
        }
        if let Some(v) = &self.stream_server_address {
            cfg.stream_server_address = v.clone();
        }
        if let Some(v) = &self.stream_idle_timeout {
            cfg.stream_idle_timeout = v.clone();
        }
        if let Some(v) = self.stream_server_port {
            cfg.stream_server_port = v;
        }
        if let Some(v) = &self.stream_server_tls_cert {
            cfg.stream_server_tls_cert = Some(v.clone());
        }
        if let Some(v) = &self.stream_server_tls_key {
            cfg.stream_server_tls_key = Some(v.clone());
        }
        if let Some(v) = &self.cgroup_driver {
            // The flag names the driver outright: the file's systemd-cgroup alias yields to it.
            cfg.cgroup_driver = v.clone();
            cfg.systemd_cgroup = false;
        }
        if let Some(v) = &self.bridge {
            cfg.bridge = v.clone();
        }
        if let Some(v) = &self.bip {
            cfg.bip = Some(v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("daemon.json");
        std::fs::write(
            &f,
            r#"{"graph": "/file/graph", "state": "/file/state", "default-runtime": "crun",
                "registry-mirrors": ["https://m"], "log-level": "debug"}"#,
        )
        .unwrap();
        let flags = Flags::parse_from([
            "isulad",
            "--config-file",
            f.to_str().unwrap(),
            "-g",
            "/flag/graph",
            "-H",
            "unix:///a.sock",
            "-H",
            "unix:///b.sock",
            "--cni-bin-dir",
            "/x,/y",
            "--network-plugin",
            "cni",
            "--cni-conf-dir",
            "/cni/conf",
            "--pod-sandbox-image",
            "pause:3.9",
        ]);
        let cfg = flags.config().unwrap();
        assert_eq!(cfg.graph, PathBuf::from("/flag/graph"));
        assert_eq!(cfg.state, PathBuf::from("/file/state"));
        assert_eq!(cfg.default_runtime, "crun");
        assert_eq!(cfg.log_level, "debug");
        assert_eq!(cfg.hosts, vec!["unix:///a.sock", "unix:///b.sock"]);
        assert_eq!(cfg.cni_bin_dir, vec![PathBuf::from("/x"), PathBuf::from("/y")]);
        assert_eq!(cfg.network_plugin, "cni");
        assert_eq!(cfg.cni_conf_dir, PathBuf::from("/cni/conf"));
        assert_eq!(cfg.pod_sandbox_image.as_deref(), Some("pause:3.9"));
        assert_eq!(cfg.bridge, "isula0", "default bridge device");
        let cfg = Flags::parse_from(["isulad", "--config-file", f.to_str().unwrap(), "-b", "none"]).config().unwrap();
        assert!(!cfg.default_bridge_enabled());
        let flags = Flags::parse_from(["isulad", "--config-file", f.to_str().unwrap(), "--bip", "10.0.0.0/24"]);
        assert!(flags.config().unwrap_err().to_string().contains("bip"));
    }

    #[test]
    fn cgroup_driver_flag_overrides_the_alias() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("daemon.json");
        std::fs::write(&f, r#"{"systemd-cgroup": true}"#).unwrap();
        let parse = |extra: &[&str]| {
            let mut args = vec!["isulad", "--config-file", f.to_str().unwrap()];
            args.extend_from_slice(extra);
            Flags::parse_from(args).config()
        };
        assert_eq!(parse(&[]).unwrap().cgroup_driver().unwrap(), isula_core::CgroupDriver::Systemd);
        let cfg = parse(&["--cgroup-driver", "cgroupfs"]).unwrap();
        assert_eq!(cfg.cgroup_driver().unwrap(), isula_core::CgroupDriver::Cgroupfs);
        let err = parse(&["--cgroup-driver", "cgroupv9"]).unwrap_err();
        assert!(err.to_string().contains("cgroup-driver"), "{err}");
    }

    #[test]
    fn bad_file_names_the_key_and_missing_file_fails() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("daemon.json");
        std::fs::write(&f, r#"{"registry-mirrors": 5}"#).unwrap();
        let err = Flags::parse_from(["isulad", "--config-file", f.to_str().unwrap()]).config().unwrap_err();
        assert!(err.to_string().contains("registry-mirrors"), "{err}");
        let missing = dir.path().join("nope.json");
        let err = Flags::parse_from(["isulad", "--config-file", missing.to_str().unwrap()]).config().unwrap_err();
        assert!(err.to_string().contains("nope.json"), "{err}");
        std::fs::write(&f, r#"{"graph": "/g"}"#).unwrap();
        let flags = Flags::parse_from(["isulad", "--config-file", f.to_str().unwrap(), "-l", "loud"]);
        assert!(flags.config().unwrap_err().to_string().contains("log-level"));
        let flags = Flags::parse_from(["isulad", "--config-file", f.to_str().unwrap(), "--network-plugin", "kubenet"]);
        assert!(flags.config().unwrap_err().to_string().contains("kubenet"));
    }
}
