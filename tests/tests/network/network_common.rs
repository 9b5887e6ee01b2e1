//! Shared support for the network end-to-end tests: a private `NetworkStore` with unique bridge
//! names and a random 10.x pool clear of the host's routes, network namespaces, and a Drop guard
//! that detaches, removes namespaces, networks and bridges even when the test fails.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use isula_core::unstable::network::host_routes;
use isula_core::unstable::network::write_script;
use isula_core::unstable::network::{netns, NetworkStore, NetworkStoreConfig};
use isula_core::Ipv4Net;
use isula_core::NetworkFilters;
use isula_tests::env::{require, require_root, TestRoot};

pub(crate) use isula_tests::env::rand_hex;

/// True when the prerequisites are present (root, plugins, nsenter, busybox, iptables-save).
pub(crate) fn prerequisites() -> bool {
    require_root()
        && require("nsenter")
        && require("ip")
        && require("iptables-save")
        && require("/bin/busybox")
        && (Path::new("/usr/lib/cni/bridge").exists()
            || isula_tests::env::skip_or_fail("CNI plugins missing in /usr/lib/cni"))
}

/// A private network store and everything a test made with it.
pub(crate) struct NetEnv {
    /// Unique tag of this test (in container ids and bridge names).
    pub tag: String,
    /// The pool auto subnets come from (a /21 of 10.x clear of host routes).
    pub pool: Ipv4Net,
    /// Admin CNI conf dir of the store.
    pub conf_dir: PathBuf,
    /// Extra plugin dir (searched first) for fake plugins.
    pub fake_bin: PathBuf,
    /// The store (re-opened by `restart`).
    pub store: Option<NetworkStore>,
    namespaces: Vec<(String, PathBuf)>,
    children: Vec<Child>,
    links: Vec<String>,
    // Last: removed after everything else.
    pub root: TestRoot,
}

impl NetEnv {
    /// A new store under a fresh TestRoot.
    pub(crate) fn new() -> NetEnv {
        let root = TestRoot::new();
        let tag = rand_hex(3);
        let routes = host_routes();
        let pool = loop {
            let b = u8::from_str_radix(&rand_hex(1), 16).unwrap();
            let c = u8::from_str_radix(&rand_hex(1), 16).unwrap() & 0xf8;
            let x = 100 + b % 150;
            let pool = Ipv4Net::new(std::net::Ipv4Addr::new(10, x, c, 0), 21).unwrap();
            if !routes.iter().any(|r| r.dest.overlaps(&pool)) {
                break pool;
            }
        };
        let conf_dir = root.path().join("cni-conf");
        let fake_bin = root.path().join("fake-bin");
        std::fs::create_dir_all(&conf_dir).unwrap();
        std::fs::create_dir_all(&fake_bin).unwrap();
        let mut env = NetEnv {
            tag,
            pool,
            conf_dir,
            fake_bin,
            store: None,
            namespaces: Vec::new(),
            children: Vec::new(),
            links: Vec::new(),
            root,
        };
        env.restart();
        env
    }

    /// The store configuration (same dirs every time).
    pub(crate) fn store_config(&self) -> NetworkStoreConfig {
        let mut cfg = isula_core::unstable::network::network_store_config(&self.root.config());
        cfg.conf_dir = Some(self.conf_dir.clone());
        cfg.bin_dirs = vec![self.fake_bin.clone(), PathBuf::from("/usr/lib/cni")];
        cfg.default_bridge = format!("isd{}", self.tag);
        cfg.subnet_pool = self.pool;
        cfg.subnet_len = 24;
        cfg.plugin_timeout = Duration::from_secs(30);
        cfg
    }

    /// Drops the store and opens a new one on the same directories (an engine "restart").
    pub(crate) fn restart(&mut self) {
        self.store = None;
        self.store = Some(NetworkStore::open(self.store_config()).unwrap());
    }

    /// The store.
    pub(crate) fn store(&self) -> &NetworkStore {
        self.store.as_ref().unwrap()
    }

    /// The `i`th /24 from the end of the pool (for explicit subnets; auto allocation starts at the front).
    pub(crate) fn spare_subnet(&self, i: usize) -> Ipv4Net {
        let all: Vec<Ipv4Net> = self.pool.subnets(24).collect();
        all[all.len() - 1 - i]
    }

    /// A unique container id.
    pub(crate) fn cid(&self, n: &str) -> String {
        format!("c{}{n}", self.tag)
    }

    /// A unique network name.
    pub(crate) fn net(&self, n: &str) -> String {
        format!("n{}{n}", self.tag)
    }

    /// A new netns for container `cid`, cleaned up on drop.
    pub(crate) fn netns(&mut self, cid: &str) -> PathBuf {
        let p = self.root.path().join("state/netns").join(cid);
        netns::create(&p).unwrap();
        self.namespaces.push((cid.to_string(), p.clone()));
        p
    }

    /// Registers a namespace made by the test itself, for cleanup on drop.
    pub(crate) fn track_netns(&mut self, cid: &str, path: &Path) {
        self.namespaces.push((cid.to_string(), path.to_path_buf()));
    }

    /// Writes a fake plugin script into the fake bin dir.
    pub(crate) fn fake_plugin(&self, name: &str, body: &str) {
        write_script(&self.fake_bin, name, body).unwrap();
    }

    /// A network device to delete on drop (bridges of admin-defined networks).
    pub(crate) fn own_link(&mut self, name: &str) {
        self.links.push(name.to_string());
    }

    /// Keeps a child process to kill on drop.
    pub(crate) fn keep_child(&mut self, c: Child) {
        self.children.push(c);
    }

    /// Runs `args` inside netns `ns` (via nsenter) and returns (success, stdout+stderr).
    pub(crate) fn in_ns(ns: &Path, args: &[&str]) -> (bool, String) {
        let out = Command::new("nsenter").arg(format!("--net={}", ns.display())).args(args).output().unwrap();
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        s.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), s)
    }

    /// Pings `ip` once from inside `ns`.
    pub(crate) fn ping(ns: &Path, ip: &str) -> bool {
        Self::in_ns(ns, &["/bin/busybox", "ping", "-c", "1", "-W", "2", ip]).0
    }
}

impl Drop for NetEnv {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if self.store.is_none() {
            self.store = NetworkStore::open(self.store_config()).ok();
        }
        if let Some(store) = &self.store {
            for (cid, ns) in &self.namespaces {
                if let Err(e) = store.detach_all(cid, ns) {
                    eprintln!("cleanup: detach {cid}: {e}");
                }
            }
            if let Ok(nets) = store.list(&NetworkFilters::default()) {
                for n in nets.into_iter().filter(|n| n.managed) {
                    if let Err(e) = store.remove(&n.name) {
                        eprintln!("cleanup: remove network {}: {e}", n.name);
                        if let Some(b) = n.bridge {
                            let _ = Command::new("ip").args(["link", "del", &b]).status();
                        }
                    }
                }
            }
        }
        for l in &self.links {
            if link_exists(l) {
                let _ = Command::new("ip").args(["link", "del", l]).status();
            }
        }
        for (_, ns) in &self.namespaces {
            if let Err(e) = netns::remove(ns) {
                eprintln!("cleanup: remove netns {}: {e}", ns.display());
            }
        }
    }
}

/// `iptables-save` lines mentioning `needle`.
pub(crate) fn iptables_lines(needle: &str) -> Vec<String> {
    let out = Command::new("iptables-save").output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains(needle)).map(str::to_string).collect()
}

/// Interfaces enslaved to bridge `br` (empty when the bridge does not exist).
pub(crate) fn bridge_ports(br: &str) -> Vec<String> {
    std::fs::read_dir(format!("/sys/class/net/{br}/brif"))
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// True when the network device exists.
pub(crate) fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Starts busybox httpd on port 80 inside `ns`, serving `dir`.
pub(crate) fn start_httpd(ns: &Path, dir: &Path) -> Child {
    Command::new("nsenter")
        .arg(format!("--net={}", ns.display()))
        .args(["/bin/busybox", "httpd", "-f", "-p", "80", "-h"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// HTTP GET `path` from `addr`, retrying for a few seconds; returns the whole response.
pub(crate) fn http_get(addr: &str, path: &str) -> Result<String, String> {
    let mut last = String::new();
    for _ in 0..50 {
        match std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
                let mut out = String::new();
                match s.read_to_string(&mut out) {
                    Ok(_) if !out.is_empty() => return Ok(out),
                    Ok(_) => last = "empty response".into(),
                    Err(e) => last = e.to_string(),
                }
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("GET http://{addr}{path}: {last}"))
}
