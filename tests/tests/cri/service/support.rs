//! A real isulad with `--network-plugin cni` on a private root, socket and CNI network
//! (a bridge and subnet of its own, host-local IPAM state in the test's directory, portmap),
//! and a generated CRI v1 client over the daemon's unix socket.

#![allow(dead_code)]

pub(crate) use isula_tests::env::free_port;
#[path = "../../cli/cli_support.rs"]
mod cli_support;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) use cli_support::Daemon;
use isula_api::addr::Addr;
use isula_core::unstable::network::host_routes;
use isula_core::Ipv4Net;
use isula_tests::env::{require, require_root, skip_or_fail, TestRoot};
use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::Channel;

pub(crate) use isula_tests::env::rand_hex;

/// Root, runc, the CNI plugins, `ip` and busybox: what these tests need.
pub(crate) fn prerequisites() -> bool {
    require_root()
        && require("runc")
        && require("ip")
        && require("/bin/busybox")
        && (Path::new("/usr/lib/cni/bridge").exists() || skip_or_fail("CNI plugins missing in /usr/lib/cni"))
}

/// A CNI network for one test: conflist in its own conf dir, bridge `cri<tag>`, a /24 of
/// 10.x clear of the host's routes. The bridge is deleted on drop.
pub(crate) struct CniNet {
    /// The bridge device.
    pub bridge: String,
    /// The subnet.
    pub subnet: Ipv4Net,
    /// The CNI conf dir (holds the conflist once written).
    pub conf_dir: PathBuf,
    /// Holds the conf dir and the IPAM state.
    pub dir: TestRoot,
}

impl CniNet {
    /// A network (its config is written by [`write`](Self::write), so a test can see the
    /// daemon without one first).
    pub(crate) fn new() -> CniNet {
        let dir = TestRoot::new();
        let tag = rand_hex(3);
        let routes = host_routes();
        let subnet = loop {
            let h = rand_hex(2);
            let b = u8::from_str_radix(&h[..2], 16).unwrap();
            let c = u8::from_str_radix(&h[2..], 16).unwrap();
            let net = Ipv4Net::new(std::net::Ipv4Addr::new(10, 100 + b % 150, c, 0), 24).unwrap();
            if !routes.iter().any(|r| r.dest.overlaps(&net)) {
                break net;
            }
        };
        let conf_dir = dir.path().join("net.d");
        std::fs::create_dir_all(&conf_dir).unwrap();
        CniNet { bridge: format!("cri{tag}"), subnet, conf_dir, dir }
    }

    /// Write the conflist (bridge + host-local + portmap).
    pub(crate) fn write(&self) {
        let conf = serde_json::json!({
            "cniVersion": "1.0.0",
            "name": format!("net-{}", self.bridge),
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.bridge,
                    "isGateway": true,
                    "ipMasq": false,
                    "hairpinMode": true,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": self.subnet.to_string()}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": self.dir.path().join("ipam"),
                    }
                },
                {"type": "portmap", "capabilities": {"portMappings": true}}
            ]
        });
        std::fs::write(self.conf_dir.join("10-test.conflist"), conf.to_string()).unwrap();
    }

    /// The daemon flags that use this network.
    pub(crate) fn flags(&self) -> Vec<String> {
        vec![
            "--network-plugin".into(),
            "cni".into(),
            "--cni-conf-dir".into(),
            self.conf_dir.display().to_string(),
            "--cni-bin-dir".into(),
            "/usr/lib/cni".into(),
        ]
    }

    /// Whether the bridge device exists.
    pub(crate) fn bridge_exists(&self) -> bool {
        Path::new("/sys/class/net").join(&self.bridge).exists()
    }
}

impl Drop for CniNet {
    fn drop(&mut self) {
        if self.bridge_exists() {
            let _ = std::process::Command::new("ip").args(["link", "del", &self.bridge]).status();
        }
    }
}

/// A daemon, its network and a CRI client. Drop order: client, daemon (its root), network.
pub(crate) struct Cri {
    rt: tokio::runtime::Runtime,
    rs: RuntimeServiceClient<Channel>,
    is: ImageServiceClient<Channel>,
    /// The daemon.
    pub daemon: Daemon,
    /// Its CNI network.
    pub net: CniNet,
}

impl Cri {
    /// A daemon with a written CNI config, busybox loaded as `busybox:latest`.
    pub(crate) fn start() -> Cri {
        let net = CniNet::new();
        net.write();
        Self::start_on(net, Vec::new())
    }

    /// A daemon on `net` (config written or not) with extra flags.
    pub(crate) fn start_on(net: CniNet, extra: Vec<String>) -> Cri {
        let mut flags = net.flags();
        flags.extend(extra);
        let daemon = Daemon::start_with(flags);
        daemon.load_busybox();
        // A worker thread drives the client's connection between calls (it must answer the
        // daemon's HTTP/2 pings, e.g. during a graceful shutdown).
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let (rs, is) = rt.block_on(async {
            let ch = isula_api::client::connect(&Addr::Unix(daemon.sock.clone()), None).await.expect("connect");
            (RuntimeServiceClient::new(ch.clone()), ImageServiceClient::new(ch))
        });
        Cri { rt, rs, is, daemon, net }
    }

    /// Reconnect after a daemon restart.
    pub(crate) fn reconnect(&mut self) {
        let sock = self.daemon.sock.clone();
        let (rs, is) = self.rt.block_on(async {
            let ch = isula_api::client::connect(&Addr::Unix(sock), None).await.expect("connect");
            (RuntimeServiceClient::new(ch.clone()), ImageServiceClient::new(ch))
        });
        self.rs = rs;
        self.is = is;
    }

    /// A RuntimeService client.
    pub(crate) fn rs(&self) -> RuntimeServiceClient<Channel> {
        self.rs.clone()
    }

    /// An ImageService client.
    pub(crate) fn is(&self) -> ImageServiceClient<Channel> {
        self.is.clone()
    }

    /// Run a call to completion; the reply message or the status.
    pub(crate) fn call<T>(
        &self,
        f: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, tonic::Status> {
        self.rt.block_on(f).map(tonic::Response::into_inner)
    }

    /// The runtime, for streams.
    pub(crate) fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.rt
    }

    /// Run a pod; its id.
    pub(crate) fn run_pod(&self, config: &cri::PodSandboxConfig) -> String {
        let req = cri::RunPodSandboxRequest { config: Some(config.clone()), runtime_handler: String::new() };
        match self.call(self.rs().run_pod_sandbox(req)) {
            Ok(r) => r.pod_sandbox_id,
            Err(e) => panic!("RunPodSandbox: {e:?}\n{}", self.daemon.log_text()),
        }
    }

    /// Create a container in a pod; its id.
    pub(crate) fn create(&self, pod: &str, config: &cri::ContainerConfig, sandbox: &cri::PodSandboxConfig) -> String {
        let req = cri::CreateContainerRequest {
            pod_sandbox_id: pod.into(),
            config: Some(config.clone()),
            sandbox_config: Some(sandbox.clone()),
        };
        match self.call(self.rs().create_container(req)) {
            Ok(r) => r.container_id,
            Err(e) => panic!("CreateContainer: {e:?}\n{}", self.daemon.log_text()),
        }
    }

    /// Start a container.
    pub(crate) fn start_container(&self, id: &str) {
        if let Err(e) = self.call(self.rs().start_container(cri::StartContainerRequest { container_id: id.into() })) {
            panic!("StartContainer: {e:?}\n{}", self.daemon.log_text());
        }
    }

    /// The status of a container.
    pub(crate) fn container_status(&self, id: &str) -> cri::ContainerStatus {
        let req = cri::ContainerStatusRequest { container_id: id.into(), verbose: false };
        self.call(self.rs().container_status(req)).expect("ContainerStatus").status.expect("status")
    }

    /// The status of a pod.
    pub(crate) fn pod_status(&self, id: &str) -> cri::PodSandboxStatus {
        let req = cri::PodSandboxStatusRequest { pod_sandbox_id: id.into(), verbose: false };
        self.call(self.rs().pod_sandbox_status(req)).expect("PodSandboxStatus").status.expect("status")
    }

    /// ExecSync.
    pub(crate) fn exec(&self, id: &str, cmd: &[&str], timeout: i64) -> Result<cri::ExecSyncResponse, tonic::Status> {
        let req =
            cri::ExecSyncRequest { container_id: id.into(), cmd: cmd.iter().map(|s| s.to_string()).collect(), timeout };
        self.call(self.rs().exec_sync(req))
    }

    /// ExecSync that must exit 0; its stdout.
    pub(crate) fn exec_ok(&self, id: &str, cmd: &[&str]) -> String {
        let r = self.exec(id, cmd, 30).unwrap_or_else(|e| panic!("ExecSync {cmd:?}: {e:?}"));
        assert_eq!(r.exit_code, 0, "{cmd:?}: {}", String::from_utf8_lossy(&r.stderr));
        String::from_utf8_lossy(&r.stdout).into_owned()
    }

    /// Stop and remove a pod (test clean-up; its containers go with it).
    pub(crate) fn remove_pod(&self, id: &str) {
        self.call(self.rs().stop_pod_sandbox(cri::StopPodSandboxRequest { pod_sandbox_id: id.into() }))
            .expect("StopPodSandbox");
        self.call(self.rs().remove_pod_sandbox(cri::RemovePodSandboxRequest { pod_sandbox_id: id.into() }))
            .expect("RemovePodSandbox");
    }

    /// Remove every pod (clean-up).
    pub(crate) fn remove_all_pods(&self) {
        if let Ok(l) = self.call(self.rs().list_pod_sandbox(cri::ListPodSandboxRequest { filter: None })) {
            for p in l.items {
                let _ =
                    self.call(self.rs().stop_pod_sandbox(cri::StopPodSandboxRequest { pod_sandbox_id: p.id.clone() }));
                let _ = self.call(self.rs().remove_pod_sandbox(cri::RemovePodSandboxRequest { pod_sandbox_id: p.id }));
            }
        }
    }
}

impl Drop for Cri {
    fn drop(&mut self) {
        self.remove_all_pods();
        self.daemon.remove_all_containers();
    }
}

/// A pod sandbox config named `name` (uid and namespace unique to the test), logs under `logs`.
pub(crate) fn pod_config(name: &str, logs: &Path) -> cri::PodSandboxConfig {
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: name.into(),
            uid: format!("uid-{}", rand_hex(4)),
            namespace: "test".into(),
            attempt: 0,
        }),
        hostname: name.into(),
        log_directory: logs.display().to_string(),
        labels: HashMap::from([("app".into(), name.into())]),
        annotations: HashMap::from([("note".into(), "kept as given".into())]),
        linux: Some(cri::LinuxPodSandboxConfig::default()),
        ..Default::default()
    }
}

/// A busybox container config named `name` running `cmd`.
pub(crate) fn container_config(name: &str, cmd: &[&str]) -> cri::ContainerConfig {
    cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata { name: name.into(), attempt: 0 }),
        image: Some(cri::ImageSpec { image: "busybox:latest".into(), ..Default::default() }),
        command: cmd.iter().map(|s| s.to_string()).collect(),
        labels: HashMap::from([("c".into(), name.into())]),
        annotations: HashMap::from([("a".into(), format!("{name}-annotation"))]),
        log_path: format!("{name}/0.log"),
        linux: Some(cri::LinuxContainerConfig::default()),
        ..Default::default()
    }
}

/// Poll `f` every 50 ms for up to `timeout` until it gives `Some`.
pub(crate) fn wait_for<T>(timeout: Duration, what: &str, f: impl FnMut() -> Option<T>) -> T {
    isula_tests::poll::wait_for(timeout, what, f)
}

/// A TCP hostPort `host_port` forwarded to the pod's port 80.
pub(crate) fn http_port(host_port: u16) -> cri::PortMapping {
    cri::PortMapping {
        protocol: cri::Protocol::Tcp as i32,
        container_port: 80,
        host_port: host_port.into(),
        host_ip: String::new(),
    }
}

/// `GET /` on `addr` (HTTP/1.0); the whole response, or `None` when nothing answers.
pub(crate) fn http_get(addr: &str) -> Option<String> {
    use std::io::Write;
    let sa: std::net::SocketAddr = addr.parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&sa, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    (!out.is_empty()).then_some(out)
}

/// A container serving `body` over HTTP on port 80 (busybox httpd).
pub(crate) fn web_container(name: &str, body: &str) -> cri::ContainerConfig {
    let script = format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www");
    container_config(name, &["sh", "-c", &script])
}

/// The network interfaces enslaved to `bridge` (the pods' veths).
pub(crate) fn bridge_ports(bridge: &str) -> Vec<String> {
    std::fs::read_dir(Path::new("/sys/class/net").join(bridge).join("brif"))
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// The pod's verbose info (`pid`, `netnsPath`, …).
pub(crate) fn pod_info(c: &Cri, id: &str) -> serde_json::Value {
    let req = cri::PodSandboxStatusRequest { pod_sandbox_id: id.into(), verbose: true };
    let r = c.call(c.rs().pod_sandbox_status(req)).expect("PodSandboxStatus");
    serde_json::from_str(&r.info["info"]).expect("info JSON")
}

/// Assert that nothing of a removed pod remains: its infra process, its netns, veths on
/// the test's bridge, mounts under the daemon's root other than the image layers'.
pub(crate) fn assert_pod_gone(c: &Cri, info: &serde_json::Value) {
    let pid = info["pid"].as_i64().unwrap_or(0);
    if pid > 0 {
        wait_for(Duration::from_secs(10), "infra process gone", || {
            (!Path::new(&format!("/proc/{pid}")).exists()).then_some(())
        });
    }
    if let Some(ns) = info["netnsPath"].as_str().filter(|s| !s.is_empty()) {
        assert!(!Path::new(ns).exists(), "netns {ns} left behind");
    }
    assert_eq!(bridge_ports(&c.net.bridge), Vec::<String>::new(), "veths left on {}", c.net.bridge);
    let mounts = isula_core::unstable::mount::mounts_under(c.daemon.root.path());
    assert!(mounts.is_empty(), "mounts left: {mounts:?}");
}
