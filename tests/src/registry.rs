//! A real registry (Debian's `docker-registry`, distribution 2.x) on 127.0.0.1 for one test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::env::{free_port, require, run_ok};
use crate::images::{write_oci_layout_dir, write_oci_layout_dir_index, BuiltImage, BuiltIndex};

/// Name of the registry binary (Debian package docker-registry).
pub const REGISTRY_BIN: &str = "docker-registry";

/// How the registry is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryMode {
    /// Plain http, no auth (an "insecure registry").
    Http,
    /// https with a certificate for IP 127.0.0.1 signed by a CA made for this registry.
    Tls,
    /// https as [`RegistryMode::Tls`] plus htpasswd basic auth with one user.
    BasicAuth {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// Plain http plus htpasswd basic auth (distribution 2.8 allows it; for insecure-registry tests).
    BasicAuthHttp {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
}

impl RegistryMode {
    /// Basic-auth mode over TLS with `user` / `password`.
    pub fn basic_auth(user: &str, password: &str) -> Self {
        RegistryMode::BasicAuth { user: user.into(), password: password.into() }
    }

    fn tls(&self) -> bool {
        matches!(self, RegistryMode::Tls | RegistryMode::BasicAuth { .. })
    }

    fn creds(&self) -> Option<(&str, &str)> {
        match self {
            RegistryMode::BasicAuth { user, password } | RegistryMode::BasicAuthHttp { user, password } => {
                Some((user, password))
            }
            _ => None,
        }
    }
}

/// A running registry; dropping it kills the process (by its PID) and removes its directory.
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    addr: String,
    mode: RegistryMode,
    ca: Option<PathBuf>,
}

/// True when `docker-registry` and (for TLS modes) `openssl` and (for auth) `perl` are installed;
/// same CI/skip behaviour as [`crate::env::require`].
pub fn available(mode: &RegistryMode) -> bool {
    require(REGISTRY_BIN) && (!mode.tls() || require("openssl")) && (mode.creds().is_none() || require("perl"))
}

impl Registry {
    /// Start a registry on a free 127.0.0.1 port with storage in a fresh temp dir (delete
    /// enabled) and wait until it answers. Panics with the registry's log when it cannot start.
    pub fn start(mode: RegistryMode) -> Registry {
        let mut dir = tempfile::Builder::new().prefix("isula-registry-").tempdir().expect("registry temp dir");
        let d = dir.path().to_path_buf();
        let d = d.as_path();
        let ca = mode.tls().then(|| make_certs(d));
        if let Some((user, password)) = mode.creds() {
            std::fs::write(d.join("htpasswd"), format!("{user}:{}\n", bcrypt_hash(password))).expect("htpasswd");
        }
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            std::fs::write(d.join("config.yml"), config_yml(d, &addr, &mode)).expect("write config.yml");
            let log = std::fs::File::create(d.join("registry.log")).expect("registry log");
            let child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(d.join("config.yml"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {REGISTRY_BIN} (install docker-registry): {e}"));
            let mut reg = Registry { child, dir, addr, mode: mode.clone(), ca: ca.clone() };
            if reg.wait_ready(Duration::from_secs(15)) {
                return reg;
            }
            last_log = std::fs::read_to_string(reg.dir.path().join("registry.log")).unwrap_or_default();
            dir = reg.into_dir();
            if !last_log.contains("address already in use") {
                break;
            }
        }
        panic!("docker-registry did not start; its log:\n{last_log}");
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.mode.tls() { "https" } else { "http" }, self.addr)
    }

    /// The mode it was started with.
    pub fn mode(&self) -> &RegistryMode {
        &self.mode
    }

    /// PEM file of the CA that signed the server certificate (TLS modes only).
    pub fn ca_cert_pem(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    /// A directory holding only `ca.crt` (the form containers/image `--cert-dir` and
    /// `/etc/docker/certs.d/<host>/` expect); TLS modes only.
    pub fn cert_dir(&self) -> Option<&Path> {
        self.ca.as_deref().and_then(Path::parent)
    }

    /// `(user, password)` in the basic-auth modes.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.mode.creds()
    }

    /// Storage and config directory of this registry.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// PID of the registry process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// skopeo flags to reach this registry: `--tls-verify=false` or `--cert-dir=…`, and `--creds=…`;
    /// with `p` = `src` or `dest` (for `skopeo copy`) they become `--src-…` / `--dest-…`;
    /// `p` = `""` gives the plain form `skopeo inspect` takes.
    pub fn skopeo_flags(&self, p: &str) -> Vec<String> {
        let p = if p.is_empty() { String::new() } else { format!("{p}-") };
        let mut v = match self.cert_dir() {
            Some(c) => vec![format!("--{p}cert-dir={}", c.display())],
            None => vec![format!("--{p}tls-verify=false")],
        };
        if let Some((u, pw)) = self.credentials() {
            v.push(format!("--{p}creds={u}:{pw}"));
        }
        v
    }

    /// Push `img` as `<addr>/<name>` (e.g. `busybox:latest`) with `skopeo copy --preserve-digests`,
    /// so the registry serves exactly the image's manifest and blobs. Returns the full reference.
    pub fn push(&self, img: &BuiltImage, name: &str) -> String {
        let layout = tempfile::tempdir().expect("temp layout");
        write_oci_layout_dir(img, Some("x"), layout.path());
        let dest = format!("{}/{name}", self.addr);
        run_ok(
            Command::new("skopeo")
                .args(["copy", "--quiet", "--preserve-digests"])
                .args(self.skopeo_flags("dest"))
                .arg(format!("oci:{}:x", layout.path().display()))
                .arg(format!("docker://{dest}")),
        );
        dest
    }

    /// Push every image of `idx` and the index itself as `<addr>/<name>`
    /// (`skopeo copy --all --preserve-digests`). Returns the full reference.
    pub fn push_index(&self, idx: &BuiltIndex, name: &str) -> String {
        let layout = tempfile::tempdir().expect("temp layout");
        write_oci_layout_dir_index(idx, Some("x"), layout.path());
        let dest = format!("{}/{name}", self.addr);
        run_ok(
            Command::new("skopeo")
                .args(["copy", "--quiet", "--all", "--preserve-digests"])
                .args(self.skopeo_flags("dest"))
                .arg(format!("oci:{}:x", layout.path().display()))
                .arg(format!("docker://{dest}")),
        );
        dest
    }

    /// Push `img` converted to a Docker schema 2 manifest
    /// (`application/vnd.docker.distribution.manifest.v2+json`, docker layer and config media
    /// types; gzip or uncompressed layers only) as `<addr>/<name>`.
    /// Returns the digest of the manifest the registry now serves.
    pub fn push_docker_v2s2(&self, img: &BuiltImage, name: &str) -> String {
        let layout = tempfile::tempdir().expect("temp layout");
        write_oci_layout_dir(img, Some("x"), layout.path());
        let digest_file = layout.path().join("digest");
        run_ok(
            Command::new("skopeo")
                .args(["copy", "--quiet", "--format", "v2s2"])
                .arg(format!("--digestfile={}", digest_file.display()))
                .args(self.skopeo_flags("dest"))
                .arg(format!("oci:{}:x", layout.path().display()))
                .arg(format!("docker://{}/{name}", self.addr)),
        );
        std::fs::read_to_string(&digest_file).expect("skopeo digest file").trim().to_string()
    }

    fn wait_ready(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        let sa: SocketAddr = self.addr.parse().unwrap();
        while start.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut s) = TcpStream::connect_timeout(&sa, Duration::from_millis(200)) {
                if self.mode.tls() {
                    // Listening; the TLS server is set up before the socket is opened.
                    return true;
                }
                if http_status(&mut s, &self.addr).is_some_and(|c| c == 200 || c == 401) {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    fn into_dir(mut self) -> tempfile::TempDir {
        self.stop();
        let placeholder = tempfile::tempdir().expect("temp dir");
        let dir = std::mem::replace(&mut self.dir, placeholder);
        drop(self);
        dir
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Status code of `GET /v2/` over a plain connection.
fn http_status(s: &mut TcpStream, host: &str) -> Option<u16> {
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET /v2/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let line = std::str::from_utf8(&buf[..n]).ok()?;
    line.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

fn config_yml(d: &Path, addr: &str, mode: &RegistryMode) -> String {
    let mut c = format!(
        "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  cache:\n    blobdescriptor: inmemory\nhttp:\n  addr: {addr}\n  secret: isula-tests-{}\n",
        d.join("data").display(),
        std::process::id()
    );
    if mode.tls() {
        c += &format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            d.join("server.crt").display(),
            d.join("server.key").display()
        );
    }
    if mode.creds().is_some() {
        c += &format!("auth:\n  htpasswd:\n    realm: isula-tests\n    path: {}\n", d.join("htpasswd").display());
    }
    c
}

/// Make `certs/ca.crt` (+ `ca.key`) and `server.crt`/`server.key` (SAN IP:127.0.0.1, DNS:localhost)
/// with the openssl CLI (EC P-256). Returns the path of `certs/ca.crt`.
fn make_certs(d: &Path) -> PathBuf {
    let certs = d.join("certs");
    std::fs::create_dir(&certs).expect("certs dir");
    let ca_crt = certs.join("ca.crt");
    let ca_key = d.join("ca.key");
    let ossl = || {
        let mut c = Command::new("openssl");
        c.current_dir(d);
        c
    };
    run_ok(ossl().args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]).args(
        [
            "-keyout".as_ref(),
            ca_key.as_os_str(),
            "-out".as_ref(),
            ca_crt.as_os_str(),
            "-days".as_ref(),
            "7".as_ref(),
            "-subj".as_ref(),
            "/CN=isula-tests CA".as_ref(),
            "-addext".as_ref(),
            "basicConstraints=critical,CA:TRUE".as_ref(),
            "-addext".as_ref(),
            "keyUsage=critical,keyCertSign,cRLSign".as_ref(),
        ],
    ));
    run_ok(ossl().args([
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]));
    std::fs::write(
        d.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("server.ext");
    run_ok(
        ossl()
            .args(["x509", "-req", "-in", "server.csr", "-days", "7", "-extfile", "server.ext", "-out", "server.crt"])
            .args([
                "-CA".as_ref(),
                ca_crt.as_os_str(),
                "-CAkey".as_ref(),
                ca_key.as_os_str(),
                "-CAcreateserial".as_ref(),
            ]),
    );
    ca_crt
}

/// bcrypt (`$2b$`, cost 5) hash of `password` for htpasswd, made by perl's `crypt` (libxcrypt).
pub fn bcrypt_hash(password: &str) -> String {
    const ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut seed = [0u8; 22];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut seed)).expect("read /dev/urandom");
    let mut salt: String = seed.iter().map(|b| ALPHABET[(*b as usize) % 64] as char).collect();
    // The last salt character only carries 2 bits: keep it canonical.
    salt.pop();
    salt.push(['.', 'O', 'e', 'u'][(seed[21] % 4) as usize]);
    let out = run_ok(Command::new("perl").args([
        "-e",
        "print crypt($ARGV[0], $ARGV[1])",
        password,
        &format!("$2b$05${salt}"),
    ]));
    assert!(out.starts_with("$2b$05$") && out.len() == 60, "perl crypt() does not support bcrypt here: {out:?}");
    out
}

#[cfg(test)]
mod tests;
