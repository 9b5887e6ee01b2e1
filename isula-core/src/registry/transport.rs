//! HTTP transport to registries: endpoints (mirrors from `hosts.toml` files or the
//! docker.io mirror list, insecure registries, per-registry CA certificates), one `ureq`
//! agent per endpoint, timeouts, retries with backoff for
//! transient failures, and the mapping of HTTP failures to [`ErrorKind`](crate::ErrorKind)s.

use std::collections::HashMap;
use std::io::Read;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use ureq::http::Response;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::{Agent, Body};

use super::hosts::{self, Caps, HostConfig};
use crate::error::{Error, Result};

/// Docker Hub's canonical name in references.
pub(crate) const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's registry API is served.
pub(crate) const DOCKER_HUB_API: &str = "https://registry-1.docker.io";

/// How the engine reaches registries.
#[derive(Debug, Clone)]
pub(crate) struct RegistryOptions {
    /// Mirrors tried in order before Docker Hub for `docker.io` images (URLs or host[:port]).
    pub mirrors: Vec<String>,
    /// Hosts (`host`, `host:port` or an IPv4 CIDR) reached with unverified TLS, then plain http.
    pub insecure: Vec<String>,
    /// Directories holding `<host[:port]>/*.crt` CA certificates and `<host[:port]>/hosts.toml`
    /// (or `_default/hosts.toml`) host files, searched in order.
    pub certs_dirs: Vec<PathBuf>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout for each read (response headers or body data).
    pub read_timeout: Duration,
    /// Retries after a transient failure (connection error, 429, 5xx).
    pub retries: u32,
    /// First backoff delay; doubled on each retry.
    pub backoff: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            mirrors: Vec::new(),
            insecure: Vec::new(),
            certs_dirs: vec![PathBuf::from("/etc/isulad/certs.d")],
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
            retries: 3,
            backoff: Duration::from_millis(250),
        }
    }
}

/// One way of reaching a registry: a base URL and whether TLS is verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Endpoint {
    /// The registry host as written in references (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// `scheme://host[:port]` without a trailing slash.
    pub base: String,
    /// The API root path (`/v2`, or a hosts file's `override_path` path), no trailing slash.
    pub path: String,
    /// What the endpoint is used for (pull, resolve, push).
    pub caps: Caps,
    /// PEM CA files to trust instead of the public roots and `certs.d` (from a hosts file).
    pub ca: Vec<PathBuf>,
    /// Verify the server certificate (false only for insecure registries).
    pub verify_tls: bool,
    /// True for a configured mirror.
    pub mirror: bool,
    /// True when a fallback endpoint follows (https before http for an insecure
    /// registry): a connection failure moves on at once instead of retrying.
    pub has_fallback: bool,
}

impl Endpoint {
    /// The host[:port] part of the base URL.
    pub(crate) fn host(&self) -> &str {
        self.base.split_once("://").map(|(_, h)| h).unwrap_or(&self.base)
    }

    /// `<base><path>`: the API root URL (`https://host/v2`).
    pub(crate) fn api(&self) -> String {
        format!("{}{}", self.base, self.path)
    }
}

/// What an agent is shared by: base URL, TLS verification and the hosts file's CA files.
type AgentKey = (String, bool, Vec<PathBuf>);

/// Endpoints, agents and retry policy shared by all registry sessions of an engine.
#[derive(Debug)]
pub(crate) struct Transport {
    opts: RegistryOptions,
    agents: Mutex<HashMap<AgentKey, Agent>>,
}

impl Transport {
    /// A transport with `opts`.
    pub(crate) fn new(opts: RegistryOptions) -> Self {
        Transport { opts, agents: Mutex::new(HashMap::new()) }
    }

    /// The options in use.
    pub(crate) fn options(&self) -> &RegistryOptions {
        &self.opts
    }

    /// True when `host` (host[:port]) is listed as insecure.
    pub(crate) fn is_insecure(&self, host: &str) -> bool {
        let bare = strip_port(host);
        self.opts.insecure.iter().any(|entry| {
            let e = entry.trim().trim_start_matches("http://").trim_start_matches("https://").trim_end_matches('/');
            if e == host || (!e.contains(':') && e == bare) {
                return true;
            }
            cidr_contains(e, bare)
        })
    }

    /// The endpoints to try, in order, for `registry`: from its `hosts.toml` when one is
    /// found in the certs directories (the mirrors in file order, then the server), else the
    /// docker.io mirror list and the registry itself. Every endpoint but the last has a
    /// fallback, so an unreachable one is skipped without retries. A malformed hosts file is
    /// `InvalidArgument`.
    pub(crate) fn endpoints(&self, registry: &str) -> Result<Vec<Endpoint>> {
        let mut out = match hosts::find(&self.opts.certs_dirs, registry)? {
            Some(file) => {
                let mut out = Vec::new();
                for h in &file.hosts {
                    self.push_host(&mut out, registry, h);
                }
                out
            }
            None => self.legacy_endpoints(registry),
        };
        let n = out.len();
        for e in out.iter_mut().take(n.saturating_sub(1)) {
            e.has_fallback = true;
        }
        Ok(out)
    }

    /// One hosts file entry: plain http as written; https verified unless `skip_verify`, or
    /// unverified then http for a host in the insecure list.
    fn push_host(&self, out: &mut Vec<Endpoint>, registry: &str, h: &HostConfig) {
        let mut e = ep(registry, &h.scheme, &h.host, !h.skip_verify, h.mirror);
        e.path = h.path.clone();
        e.caps = h.caps;
        e.ca = h.ca.clone();
        if h.scheme == "https" && self.is_insecure(&h.host) {
            e.verify_tls = false;
            let mut http = e.clone();
            http.base = format!("http://{}", h.host);
            out.push(e);
            out.push(http);
        } else {
            if h.scheme == "http" {
                e.verify_tls = false;
            }
            out.push(e);
        }
    }

    /// Endpoints without a hosts file: the docker.io mirrors (pull and resolve) and the
    /// registry (https, or unverified https then http when insecure).
    fn legacy_endpoints(&self, registry: &str) -> Vec<Endpoint> {
        let mut out = Vec::new();
        let mut push = |registry: &str, host: &str, mirror: bool, scheme: Option<&str>| {
            let insecure = self.is_insecure(host);
            let caps = if mirror { Caps::PULL | Caps::RESOLVE } else { Caps::ALL };
            match scheme {
                Some("http") => out.push(Endpoint { caps, ..ep(registry, "http", host, false, mirror) }),
                _ => {
                    out.push(Endpoint { caps, ..ep(registry, "https", host, !insecure, mirror) });
                    if insecure {
                        out.push(Endpoint { caps, ..ep(registry, "http", host, false, mirror) });
                    }
                }
            }
        };
        if registry == DOCKER_HUB {
            for m in &self.opts.mirrors {
                let (scheme, rest) = match m.split_once("://") {
                    Some((s, r)) => (Some(s), r),
                    None => (None, m.as_str()),
                };
                let host = rest.trim_end_matches('/').split('/').next().unwrap_or(rest);
                if !host.is_empty() {
                    push(registry, host, true, scheme);
                }
            }
            out.push(Endpoint { base: DOCKER_HUB_API.into(), ..ep(registry, "https", "", true, false) });
        } else {
            push(registry, registry, false, None);
        }
        out
    }

    /// The HTTP agent for `endpoint` (created once, then shared).
    pub(crate) fn agent(&self, endpoint: &Endpoint) -> Result<Agent> {
        let key = (endpoint.base.clone(), endpoint.verify_tls, endpoint.ca.clone());
        let mut agents = self.agents.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = agents.get(&key) {
            return Ok(a.clone());
        }
        let mut tls = TlsConfig::builder();
        if !endpoint.verify_tls {
            tls = tls.disable_verification(true);
        } else if !endpoint.ca.is_empty() {
            let mut certs = Vec::new();
            for f in &endpoint.ca {
                certs.extend(read_pem_certs(f)?);
            }
            if certs.is_empty() {
                return Err(Error::invalid(format!(
                    "{}: the hosts file's ca {:?} holds no certificate",
                    endpoint.base, endpoint.ca
                )));
            }
            tls = tls.root_certs(RootCerts::new_with_certs(&certs));
        } else if let Some(certs) = self.load_cas(endpoint.host())? {
            tls = tls.root_certs(RootCerts::new_with_certs(&certs));
        }
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(self.opts.connect_timeout))
            .timeout_per_read(Some(self.opts.read_timeout))
            .timeout_recv_response(Some(self.opts.read_timeout))
            .max_redirects(5)
            .user_agent(concat!("isula/", env!("CARGO_PKG_VERSION")))
            .accept_encoding("identity")
            .tls_config(tls.build())
            .build()
            .into();
        agents.insert(key, agent.clone());
        Ok(agent)
    }

    /// CA certificates from `<certs dir>/<host>/*.crt`, if any directory has them.
    fn load_cas(&self, host: &str) -> Result<Option<Vec<Certificate<'static>>>> {
        for dir in &self.opts.certs_dirs {
            let d = dir.join(host);
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            let mut certs = Vec::new();
            let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            for f in files.iter().filter(|f| f.extension().is_some_and(|x| x == "crt")) {
                certs.extend(read_pem_certs(f)?);
            }
            if !certs.is_empty() {
                log::debug!("registry {host}: using {} CA certificate(s) from {}", certs.len(), d.display());
                return Ok(Some(certs));
            }
        }
        Ok(None)
    }

    /// Run `send` with retries: transport errors, 429 (honouring `Retry-After`) and
    /// 5xx are retried with exponential backoff. `what` names the request in errors.
    pub(crate) fn with_retry(
        &self,
        what: &str,
        send: impl FnMut() -> std::result::Result<Response<Body>, ureq::Error>,
    ) -> Result<Response<Body>> {
        self.with_retries(what, self.opts.retries, send)
    }

    /// [`Transport::with_retry`] with an explicit number of retries.
    pub(crate) fn with_retries(
        &self,
        what: &str,
        retries: u32,
        mut send: impl FnMut() -> std::result::Result<Response<Body>, ureq::Error>,
    ) -> Result<Response<Body>> {
        let mut attempt = 0;
        loop {
            let last = attempt >= retries;
            let delay = self.opts.backoff.saturating_mul(1 << attempt.min(10));
            match send() {
                Ok(resp) => {
                    let code = resp.status().as_u16();
                    if last || !(code == 429 || (500..600).contains(&code) && code != 501) {
                        return Ok(resp);
                    }
                    let wait = retry_after(&resp).unwrap_or(delay).min(Duration::from_secs(60));
                    log::debug!("{what}: HTTP {code}, retrying in {wait:?}");
                    std::thread::sleep(wait);
                }
                Err(e) => {
                    if last || !is_transient(&e) {
                        return Err(transport_error(what, e));
                    }
                    log::debug!("{what}: {e}, retrying in {delay:?}");
                    std::thread::sleep(delay);
                }
            }
            attempt += 1;
        }
    }
}

fn ep(registry: &str, scheme: &str, host: &str, verify: bool, mirror: bool) -> Endpoint {
    Endpoint {
        registry: registry.into(),
        base: format!("{scheme}://{host}"),
        path: "/v2".into(),
        caps: Caps::ALL,
        ca: Vec::new(),
        verify_tls: verify,
        mirror,
        has_fallback: false,
    }
}

/// The certificates of PEM file `f`.
fn read_pem_certs(f: &std::path::Path) -> Result<Vec<Certificate<'static>>> {
    let pem = std::fs::read(f).map_err(|e| Error::io(f, "read CA certificate", e))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(Error::invalid(format!("CA certificate {}: {e}", f.display()))),
        }
    }
    Ok(certs)
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

fn cidr_contains(cidr: &str, host: &str) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(bits), Ok(ip)) = (net.parse::<Ipv4Addr>(), bits.parse::<u32>(), host.parse::<Ipv4Addr>()) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
    u32::from(net) & mask == u32::from(ip) & mask
}

fn retry_after(resp: &Response<Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// True for failures worth retrying: connection and I/O errors, timeouts.
pub(crate) fn is_transient(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => is_transient_io(io),
        ureq::Error::ConnectionFailed | ureq::Error::Timeout(_) => true,
        _ => false,
    }
}

/// True for I/O failures worth retrying (resets, refusals, early EOF, timeouts);
/// TLS failures (`InvalidData`) are not.
pub(crate) fn is_transient_io(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionReset
            | K::ConnectionAborted
            | K::ConnectionRefused
            | K::BrokenPipe
            | K::UnexpectedEof
            | K::TimedOut
            | K::Interrupted
            | K::NotConnected
            | K::WouldBlock
    )
}

/// A transport failure as an `Unavailable` error naming the request.
pub(crate) fn transport_error(what: &str, e: ureq::Error) -> Error {
    let msg = match &e {
        ureq::Error::Timeout(t) => format!("{what}: timed out ({t})"),
        ureq::Error::Tls(m) => format!("{what}: TLS failure: {m}"),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            format!("{what}: TLS or protocol failure: {io} (for a private CA, put it in certs.d/<host:port>/ca.crt)")
        }
        _ => format!("{what}: {e}"),
    };
    Error::unavailable(msg).with_source(e)
}

/// An error for an unexpected HTTP status, including the registry's error codes.
pub(crate) fn status_error(what: &str, resp: Response<Body>) -> Error {
    let code = resp.status().as_u16();
    let reason = resp.status().canonical_reason().unwrap_or("");
    let mut body = String::new();
    let _ = resp.into_body().into_reader().take(64 * 1024).read_to_string(&mut body);
    let detail = registry_errors(&body);
    let msg = if detail.is_empty() {
        format!("{what}: HTTP {code} {reason}")
    } else {
        format!("{what}: HTTP {code} {reason}: {detail}")
    };
    match code {
        401 | 403 => Error::permission(msg),
        404 => Error::not_found(msg),
        408 | 429 | 500..=599 => Error::unavailable(msg),
        _ => Error::invalid(msg),
    }
}

/// `CODE: message` pairs from a distribution error body.
fn registry_errors(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return String::new();
    };
    let Some(errs) = v.get("errors").and_then(|e| e.as_array()) else {
        return String::new();
    };
    errs.iter()
        .map(|e| {
            let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
            let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
            format!("{code} {msg}").trim().to_string()
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Percent-encode a query component.
pub(crate) fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(mirrors: &[&str], insecure: &[&str]) -> Transport {
        Transport::new(RegistryOptions {
            mirrors: mirrors.iter().map(|s| s.to_string()).collect(),
            insecure: insecure.iter().map(|s| s.to_string()).collect(),
            certs_dirs: Vec::new(),
            ..Default::default()
        })
    }

    #[test]
    fn endpoints_follow_mirrors_and_insecure_lists() {
        let tr = t(&["https://m1.example/", "http://127.0.0.1:6000"], &["10.0.0.0/8", "reg.local"]);
        let hub: Vec<_> = tr.endpoints("docker.io").unwrap().into_iter().map(|e| (e.base, e.verify_tls)).collect();
        assert_eq!(
            hub,
            vec![
                ("https://m1.example".to_string(), true),
                ("http://127.0.0.1:6000".to_string(), false),
                (DOCKER_HUB_API.to_string(), true)
            ]
        );
        let ins: Vec<_> = tr.endpoints("10.1.2.3:5000").unwrap().into_iter().map(|e| (e.base, e.verify_tls)).collect();
        assert_eq!(ins, vec![("https://10.1.2.3:5000".into(), false), ("http://10.1.2.3:5000".into(), false)]);
        let fb: Vec<_> = tr.endpoints("10.1.2.3:5000").unwrap().into_iter().map(|e| e.has_fallback).collect();
        assert_eq!(fb, vec![true, false]);
        assert!(tr.is_insecure("reg.local:443"));
        let sec: Vec<_> = tr.endpoints("11.1.2.3:5000").unwrap().into_iter().map(|e| (e.base, e.verify_tls)).collect();
        assert_eq!(sec, vec![("https://11.1.2.3:5000".into(), true)]);
    }

    #[test]
    fn hosts_file_endpoints_keep_order_caps_and_fallbacks() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("r.example");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(
            host.join("hosts.toml"),
            "server = \"https://reg.local\"\ncapabilities = [\"pull\", \"resolve\"]\n\
             [host.\"http://127.0.0.1:6000\"]\ncapabilities = [\"pull\"]\n\
             [host.\"https://m.example/api\"]\noverride_path = true\nskip_verify = true\nca = \"m.pem\"\n",
        )
        .unwrap();
        let mut tr = t(&["https://hub-mirror.example"], &["reg.local"]);
        tr.opts.certs_dirs = vec![dir.path().to_path_buf()];
        let eps = tr.endpoints("r.example").unwrap();
        let got: Vec<_> = eps.iter().map(|e| (e.api(), e.verify_tls, e.mirror, e.has_fallback)).collect();
        assert_eq!(
            got,
            vec![
                ("http://127.0.0.1:6000/v2".to_string(), false, true, true),
                ("https://m.example/api".to_string(), false, true, true),
                // The insecure server: unverified https, then http.
                ("https://reg.local/v2".to_string(), false, false, true),
                ("http://reg.local/v2".to_string(), false, false, false),
            ]
        );
        assert_eq!(eps[0].caps, Caps::PULL);
        assert_eq!(eps[1].caps, Caps::ALL);
        assert_eq!(eps[1].ca, vec![host.join("m.pem")]);
        assert_eq!(eps[2].caps, Caps::PULL | Caps::RESOLVE);
        // No file for docker.io here: the mirror list applies (mirrors pull and resolve only).
        let hub = tr.endpoints("docker.io").unwrap();
        assert_eq!(hub.iter().map(|e| e.caps).collect::<Vec<_>>(), vec![Caps::PULL | Caps::RESOLVE, Caps::ALL]);
        std::fs::write(host.join("hosts.toml"), "server = 1").unwrap();
        assert_eq!(tr.endpoints("r.example").unwrap_err().kind(), crate::ErrorKind::InvalidArgument);
    }

    #[test]
    fn registry_error_bodies_are_summarised() {
        let s = registry_errors(r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#);
        assert_eq!(s, "MANIFEST_UNKNOWN manifest unknown");
        assert_eq!(pct("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
    }
}
