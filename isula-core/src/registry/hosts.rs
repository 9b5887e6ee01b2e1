//! Registry host files in containerd's `hosts.toml` format: per registry host, the
//! mirrors to try (`[host."URL"]` tables, in file order) and the upstream `server`
//! (tried last), each with its capabilities and TLS settings.
//!
//! The file for registry `R` (as written in references: `docker.io`, `registry.k8s.io`,
//! `127.0.0.1:5000`) is the first of `<dir>/R/hosts.toml` over the configured
//! directories, else the first `<dir>/_default/hosts.toml`. Keys read:
//!
//! ```toml
//! server = "https://registry.k8s.io"     # the upstream; default https://R
//!                                        # (https://registry-1.docker.io for docker.io)
//! capabilities = ["pull", "resolve", "push"]  # of the server; default all three
//!
//! [host."http://127.0.0.1:5001"]         # a mirror; plain http allowed
//!   capabilities = ["pull", "resolve"]   # default all three
//!   skip_verify = false                  # do not verify the TLS certificate
//!   ca = "ca.pem"                        # or a list; PEM; relative to the file's directory
//!   override_path = false                # true: the URL's path is the API root (no /v2 added)
//! ```
//!
//! containerd's other keys (`header`, `client`, `dial_timeout`) are ignored with a warning.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The name of the file read in each host directory.
pub(crate) const HOSTS_FILE: &str = "hosts.toml";
/// The host directory used for registries without their own.
pub(crate) const DEFAULT_DIR: &str = "_default";

/// What a host may be used for (containerd's host capabilities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Caps(u8);

impl Caps {
    /// Fetch blobs and manifests by digest.
    pub(crate) const PULL: Caps = Caps(1);
    /// Resolve a tag to a manifest digest.
    pub(crate) const RESOLVE: Caps = Caps(2);
    /// Push blobs and manifests.
    pub(crate) const PUSH: Caps = Caps(4);
    /// Everything: the default of a host that names no capabilities.
    pub(crate) const ALL: Caps = Caps(7);

    /// True when every capability of `other` is in `self`.
    pub(crate) fn has(self, other: Caps) -> bool {
        self.0 & other.0 == other.0
    }

    fn parse(names: &[String], what: &str) -> Result<Caps> {
        let mut c = 0;
        for n in names {
            c |= match n.as_str() {
                "pull" => Caps::PULL.0,
                "resolve" => Caps::RESOLVE.0,
                "push" => Caps::PUSH.0,
                other => {
                    return Err(Error::invalid(format!(
                        "{what}: unknown capability {other:?} (expected pull, resolve or push)"
                    )))
                }
            };
        }
        Ok(Caps(c))
    }
}

impl std::ops::BitOr for Caps {
    type Output = Caps;
    fn bitor(self, rhs: Caps) -> Caps {
        Caps(self.0 | rhs.0)
    }
}

/// One host of a hosts file, in the order it is tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostConfig {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub host: String,
    /// The API root path (`/v2`, or the URL's path with `override_path`), no trailing slash.
    pub path: String,
    /// What the host is used for.
    pub caps: Caps,
    /// Accept any TLS certificate.
    pub skip_verify: bool,
    /// PEM CA files trusted for this host (absolute paths).
    pub ca: Vec<PathBuf>,
    /// True for a `[host]` entry, false for the server.
    pub mirror: bool,
}

/// A hosts file found for a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostsFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its hosts: the mirrors in file order, then the server.
    pub hosts: Vec<HostConfig>,
}

/// The per-host keys as written (shared by the top level, which describes the server).
#[derive(Debug, Default, Deserialize)]
struct RawHost {
    capabilities: Option<Vec<String>>,
    skip_verify: Option<bool>,
    ca: Option<OneOrMany>,
    override_path: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

const HOST_KEYS: &[&str] = &["capabilities", "skip_verify", "ca", "override_path"];
const IGNORED_KEYS: &[&str] = &["header", "client", "dial_timeout"];

/// Find and parse the hosts file of `registry` in `dirs` (searched in order, then their
/// `_default`). `None` when there is none; a malformed file is `InvalidArgument` naming it.
pub(crate) fn find(dirs: &[PathBuf], registry: &str) -> Result<Option<HostsFile>> {
    if registry.is_empty() || registry.contains('/') || registry == "." || registry == ".." {
        return Ok(None);
    }
    for name in [registry, DEFAULT_DIR] {
        for dir in dirs {
            let path = dir.join(name).join(HOSTS_FILE);
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => continue,
                Err(e) => return Err(Error::io(&path, "read registry hosts file", e)),
            };
            let base = path.parent().unwrap_or(dir);
            let hosts = parse(&text, base, registry)
                .map_err(|e| e.context(format!("registry hosts file {}", path.display())))?;
            log::debug!("registry {registry}: hosts from {}", path.display());
            return Ok(Some(HostsFile { path, hosts }));
        }
    }
    Ok(None)
}

/// Parse hosts file `text` for `registry`; relative `ca` paths are taken from `base`.
/// The result lists the `[host]` mirrors in file order, then the server.
pub(crate) fn parse(text: &str, base: &Path, registry: &str) -> Result<Vec<HostConfig>> {
    let table: toml::Table = toml::from_str(text).map_err(|e| Error::invalid(format!("invalid TOML: {e}")))?;
    let mut server: Option<String> = None;
    let mut top = toml::Table::new();
    let mut mirrors = Vec::new();
    for (key, value) in table {
        match key.as_str() {
            "server" => match value {
                toml::Value::String(s) => server = Some(s),
                other => {
                    return Err(Error::invalid(format!(
                        "key \"server\": expected a URL string, found {}",
                        other.type_str()
                    )))
                }
            },
            "host" => {
                let toml::Value::Table(hosts) = value else {
                    return Err(Error::invalid(format!(
                        "key \"host\": expected tables [host.\"URL\"], found {}",
                        value.type_str()
                    )));
                };
                for (url, v) in hosts {
                    let what = format!("[host.{url:?}]");
                    let toml::Value::Table(t) = v else {
                        return Err(Error::invalid(format!("{what}: expected a table, found {}", v.type_str())));
                    };
                    let raw = raw_host(t, &what)?;
                    if url.trim().is_empty() {
                        return Err(Error::invalid(format!("{what}: empty host URL")));
                    }
                    mirrors.push(host_config(&url, &raw, base, true, &what)?);
                }
            }
            k if HOST_KEYS.contains(&k) => {
                top.insert(key, value);
            }
            k if IGNORED_KEYS.contains(&k) => log::warn!("registry hosts file: key {k:?} is not supported, ignored"),
            k => log::warn!("registry hosts file: unknown key {k:?} ignored"),
        }
    }
    let raw = raw_host(top, "server")?;
    let server_url = match server.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => s.to_string(),
        _ if registry == super::transport::DOCKER_HUB => super::transport::DOCKER_HUB_API.to_string(),
        _ => format!("https://{registry}"),
    };
    let mut hosts = mirrors;
    hosts.push(host_config(&server_url, &raw, base, false, "server")?);
    Ok(hosts)
}

/// The known keys of one host table, type-checked; unknown ones are warned about.
fn raw_host(mut t: toml::Table, what: &str) -> Result<RawHost> {
    let keys: Vec<String> = t.keys().cloned().collect();
    for k in keys {
        if !HOST_KEYS.contains(&k.as_str()) {
            if !IGNORED_KEYS.contains(&k.as_str()) {
                log::warn!("registry hosts file: {what}: unknown key {k:?} ignored");
            } else {
                log::warn!("registry hosts file: {what}: key {k:?} is not supported, ignored");
            }
            t.remove(&k);
        }
    }
    if let Some(v) = t.get("ca") {
        let ok = v.is_str() || v.as_array().is_some_and(|a| a.iter().all(|x| x.is_str()));
        if !ok {
            return Err(Error::invalid(format!("{what}: key \"ca\": expected a path or a list of paths")));
        }
    }
    toml::Value::Table(t).try_into::<RawHost>().map_err(|e| Error::invalid(format!("{what}: {}", e.message().trim())))
}

/// A host from its URL (`scheme://host[:port][/path]`, https when the scheme is left out)
/// and its keys.
fn host_config(url: &str, raw: &RawHost, base: &Path, mirror: bool, what: &str) -> Result<HostConfig> {
    let url = url.trim();
    let full = if url.starts_with("http://") || url.starts_with("https://") {
        url.to_string()
    } else if url.contains("://") {
        return Err(Error::invalid(format!("{what}: {url:?}: only http and https URLs are supported")));
    } else {
        format!("https://{url}")
    };
    let (scheme, rest) = full.split_once("://").unwrap_or(("https", full.as_str()));
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if host.is_empty() || host.contains(['?', '#', '@', ' ']) {
        return Err(Error::invalid(format!("{what}: {url:?} is not a valid host URL")));
    }
    if path.contains(['?', '#']) {
        return Err(Error::invalid(format!("{what}: {url:?}: queries and fragments are not supported")));
    }
    let cleaned: Vec<&str> = path.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    if cleaned.contains(&"..") {
        return Err(Error::invalid(format!("{what}: {url:?}: \"..\" in the path")));
    }
    let mut path = if cleaned.is_empty() { String::new() } else { format!("/{}", cleaned.join("/")) };
    let override_path = raw.override_path.unwrap_or(false);
    if !override_path && !path.ends_with("/v2") {
        path.push_str("/v2");
    }
    let caps = match &raw.capabilities {
        Some(names) => Caps::parse(names, what)?,
        None => Caps::ALL,
    };
    let ca = match &raw.ca {
        None => Vec::new(),
        Some(OneOrMany::One(p)) => vec![p.clone()],
        Some(OneOrMany::Many(v)) => v.clone(),
    };
    let ca = ca
        .into_iter()
        .map(|p| {
            if p.trim().is_empty() {
                return Err(Error::invalid(format!("{what}: key \"ca\": empty path")));
            }
            let p = PathBuf::from(p);
            Ok(if p.is_absolute() { p } else { base.join(p) })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(HostConfig {
        scheme: scheme.to_string(),
        host: host.to_string(),
        path,
        caps,
        skip_verify: raw.skip_verify.unwrap_or(false),
        ca,
        mirror,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn p(text: &str, registry: &str) -> Result<Vec<HostConfig>> {
        parse(text, Path::new("/certs.d/x"), registry)
    }

    fn urls(hosts: &[HostConfig]) -> Vec<String> {
        hosts.iter().map(|h| format!("{}://{}{}", h.scheme, h.host, h.path)).collect()
    }

    #[test]
    fn mirrors_in_file_order_then_the_server() {
        let hosts = p(
            r#"
server = "https://registry.k8s.io"

[host."http://127.0.0.1:5001"]
  capabilities = ["pull", "resolve"]

[host."https://b.example:8443/cache"]
  skip_verify = true
  ca = "b.pem"

[host."a.example"]
  capabilities = ["pull"]
  ca = ["/etc/a1.pem", "a2.pem"]
"#,
            "registry.k8s.io",
        )
        .unwrap();
        assert_eq!(
            urls(&hosts),
            vec![
                "http://127.0.0.1:5001/v2",
                "https://b.example:8443/cache/v2",
                "https://a.example/v2",
                "https://registry.k8s.io/v2"
            ]
        );
        assert_eq!(hosts[0].caps, Caps::PULL | Caps::RESOLVE);
        assert!(hosts[0].mirror && !hosts[3].mirror);
        assert_eq!(hosts[1].caps, Caps::ALL);
        assert!(hosts[1].skip_verify && !hosts[0].skip_verify);
        assert_eq!(hosts[1].ca, vec![PathBuf::from("/certs.d/x/b.pem")]);
        assert_eq!(hosts[2].caps, Caps::PULL);
        assert!(!hosts[2].caps.has(Caps::RESOLVE) && hosts[2].caps.has(Caps::PULL));
        assert_eq!(hosts[2].ca, vec![PathBuf::from("/etc/a1.pem"), PathBuf::from("/certs.d/x/a2.pem")]);
        assert_eq!(hosts[3].caps, Caps::ALL);
    }

    #[test]
    fn default_server_and_top_level_keys() {
        let hosts = p("", "127.0.0.1:5000").unwrap();
        assert_eq!(urls(&hosts), vec!["https://127.0.0.1:5000/v2"]);
        let hosts = p("capabilities = [\"pull\", \"resolve\"]\nskip_verify = true\n", "docker.io").unwrap();
        assert_eq!(urls(&hosts), vec!["https://registry-1.docker.io/v2"]);
        assert_eq!(hosts[0].caps, Caps::PULL | Caps::RESOLVE);
        assert!(hosts[0].skip_verify);
        let hosts = p("server = \"http://10.0.0.1:5000\"\n", "r.example").unwrap();
        assert_eq!(urls(&hosts), vec!["http://10.0.0.1:5000/v2"]);
    }

    #[test]
    fn paths_and_override_path() {
        let hosts = p(
            r#"
[host."https://m.example/v2/"]
[host."https://o.example/api/v2/proxy"]
  override_path = true
[host."https://p.example/x//y/"]
"#,
            "r.example",
        )
        .unwrap();
        assert_eq!(
            urls(&hosts),
            vec![
                "https://m.example/v2",
                "https://o.example/api/v2/proxy",
                "https://p.example/x/y/v2",
                "https://r.example/v2"
            ]
        );
    }

    #[test]
    fn unknown_and_unsupported_keys_are_ignored() {
        let hosts = p(
            r#"
dial_timeout = "3s"
[host."https://m.example"]
  header = { x-a = "b" }
  whatever = 1
"#,
            "r.example",
        )
        .unwrap();
        assert_eq!(hosts.len(), 2);
    }

    #[test]
    fn malformed_files_are_invalid_argument() {
        for (text, needle) in [
            ("server = ", "invalid TOML"),
            ("server = 5", "server"),
            ("host = 1", "host"),
            ("[host.\"https://m\"]\ncapabilities = [\"pull\", \"fly\"]", "fly"),
            ("[host.\"https://m\"]\ncapabilities = \"pull\"", "[host.\"https://m\"]"),
            ("[host.\"https://m\"]\nskip_verify = \"yes\"", "[host.\"https://m\"]"),
            ("[host.\"https://m\"]\nca = 3", "ca"),
            ("[host.\"ftp://m\"]", "only http and https"),
            ("[host.\"https://\"]", "not a valid host URL"),
            ("[host.\"https://m/../x\"]", ".."),
            ("server = \"https://m?x=1\"", "not a valid host URL"),
        ] {
            let e = p(text, "r.example").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{text}: {e}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn find_prefers_the_host_dir_over_default_and_names_bad_files() {
        let d1 = tempfile::tempdir().unwrap();
        let d2 = tempfile::tempdir().unwrap();
        let dirs = vec![d1.path().to_path_buf(), d2.path().to_path_buf()];
        assert_eq!(find(&dirs, "r.example").unwrap(), None);
        std::fs::create_dir_all(d2.path().join("_default")).unwrap();
        std::fs::write(d2.path().join("_default/hosts.toml"), "[host.\"http://127.0.0.1:1\"]\n").unwrap();
        let f = find(&dirs, "r.example").unwrap().unwrap();
        assert_eq!(f.path, d2.path().join("_default/hosts.toml"));
        assert_eq!(urls(&f.hosts), vec!["http://127.0.0.1:1/v2", "https://r.example/v2"]);
        std::fs::create_dir_all(d2.path().join("r.example:5000")).unwrap();
        std::fs::write(d2.path().join("r.example:5000/hosts.toml"), "server = \"http://r.example:5000\"\n").unwrap();
        let f = find(&dirs, "r.example:5000").unwrap().unwrap();
        assert_eq!(urls(&f.hosts), vec!["http://r.example:5000/v2"]);
        std::fs::create_dir_all(d1.path().join("r.example:5000")).unwrap();
        std::fs::write(d1.path().join("r.example:5000/hosts.toml"), "server = [").unwrap();
        let e = find(&dirs, "r.example:5000").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains(&d1.path().join("r.example:5000/hosts.toml").display().to_string()), "{e}");
        assert_eq!(find(&dirs, "../x").unwrap(), None);
    }
}
