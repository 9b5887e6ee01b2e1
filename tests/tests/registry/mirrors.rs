//! Registry mirrors from containerd-style `hosts.toml` files: images of a registry host that
//! does not resolve (`*.test.invalid`) pulled through Debian's docker-registry on 127.0.0.1,
//! keeping their original reference; down and empty mirrors skipped; `_default`; capabilities;
//! malformed files refused with nothing pulled.

use crate::registry_support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use isula_core::{Engine, ErrorKind};
use isula_tests::env::TestRoot;
use isula_tests::images;
use isula_tests::registry::{self, Registry, RegistryMode};
use registry_support::*;

/// Write `<dir>/<host>/hosts.toml`.
fn hosts_toml(dir: &Path, host: &str, text: &str) {
    let d = dir.join(host);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("hosts.toml"), text).unwrap();
}

/// A 127.0.0.1 port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The registry, or `None` (skipped) without docker-registry or skopeo.
fn start_registry() -> Option<Registry> {
    let mode = RegistryMode::Http;
    if !registry::available(&mode) || !isula_tests::env::require("skopeo") {
        return None;
    }
    Some(Registry::start(mode))
}

fn tags(e: &Engine, reference: &str) -> Vec<String> {
    e.images().inspect(reference).unwrap().repo_tags
}

#[test]
fn pull_through_a_mirror_keeps_the_original_reference() {
    let Some(reg) = start_registry() else { return };
    let img = images::busybox();
    reg.push(&img, "library/busybox:1.0");
    let root = TestRoot::new();
    let certs = root.path().join("root/certs.d");
    // A down mirror first (a closed port), then one without the repository (404), then the
    // registry on 127.0.0.1; the server itself does not resolve.
    let empty = FakeRegistry::start(|req| {
        if req.path == "/v2/" {
            respond(200, &[], "{}")
        } else {
            respond(404, &[], r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}"#)
        }
    });
    let text = format!(
        "server = \"https://mirror.test.invalid\"\n\n\
         [host.\"http://127.0.0.1:{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n\n\
         [host.\"http://{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n\n\
         [host.\"http://{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
        closed_port(),
        empty.addr,
        reg.addr()
    );
    hosts_toml(&certs, "mirror.test.invalid", &text);
    let e = engine(&root, &[]);
    let name = "mirror.test.invalid/library/busybox:1.0";
    let got = pull(&e, name).unwrap();
    assert_eq!(got.id, img.id());
    assert_eq!(got.reference, name);
    assert_eq!(got.digest.to_string(), img.manifest.digest);
    assert_eq!(tags(&e, name), vec![name.to_string()]);
    let inspect = e.images().inspect(name).unwrap();
    assert_eq!(inspect.repo_digests, vec![format!("mirror.test.invalid/library/busybox@{}", img.manifest.digest)]);
    // The empty mirror was asked (and answered 404) before the registry served the image.
    assert!(empty.requests().iter().any(|r| r.path == "/v2/library/busybox/manifests/1.0"));
    // A second pull finds every blob in the store.
    assert_eq!(pull(&e, name).unwrap().id, img.id());
    // A tag no mirror has: NotFound (the unreachable server after them does not hide it).
    let before = store_state(&e);
    let err = pull(&e, "mirror.test.invalid/library/busybox:nope").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(store_state(&e), before);
}

#[test]
fn default_hosts_file_in_the_registry_config_dir() {
    let Some(reg) = start_registry() else { return };
    let img = images::busybox();
    reg.push(&img, "tools/box:2");
    let root = TestRoot::new();
    let cfg = root.config();
    hosts_toml(&cfg.registry_config_dir, "_default", &format!("[host.\"http://{}\"]\n", reg.addr()));
    let e = Engine::open(cfg).unwrap();
    for name in ["any.test.invalid/tools/box:2", "other.test.invalid:5000/tools/box:2"] {
        let got = pull(&e, name).unwrap();
        assert_eq!(got.id, img.id(), "{name}");
        assert!(tags(&e, name).contains(&name.to_string()), "{name}");
    }
    // A host's own file wins over _default: this one sends it to a closed port only.
    hosts_toml(
        &root.config().registry_config_dir,
        "own.test.invalid",
        &format!("server = \"http://127.0.0.1:{}\"\n", closed_port()),
    );
    let err = pull(&e, "own.test.invalid/tools/box:2").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(e.images().inspect("own.test.invalid/tools/box:2").is_err());
}

#[test]
fn capabilities_decide_what_each_host_is_used_for() {
    let Some(reg) = start_registry() else { return };
    let img = images::busybox();
    reg.push(&img, "library/busybox:1.0");
    let root = TestRoot::new();
    let certs = root.path().join("root/certs.d");
    // Only `pull` everywhere: a tag cannot be resolved, a digest can be pulled.
    hosts_toml(
        &certs,
        "caps.test.invalid",
        &format!(
            "server = \"https://caps.test.invalid\"\ncapabilities = [\"pull\"]\n\n\
             [host.\"http://{}\"]\n  capabilities = [\"pull\"]\n",
            reg.addr()
        ),
    );
    let e = engine(&root, &[]);
    let before = store_state(&e);
    let err = pull(&e, "caps.test.invalid/library/busybox:1.0").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("resolve"), "{err}");
    assert_eq!(store_state(&e), before);
    let by_digest = format!("caps.test.invalid/library/busybox@{}", img.manifest.digest);
    let got = pull(&e, &by_digest).unwrap();
    assert_eq!(got.id, img.id());
    assert_eq!(e.images().inspect(&by_digest).unwrap().id, img.id());
}

#[test]
fn malformed_hosts_file_is_refused_and_nothing_is_pulled() {
    let Some(reg) = start_registry() else { return };
    let img = images::busybox();
    reg.push(&img, "library/busybox:1.0");
    let root = TestRoot::new();
    let certs = root.path().join("root/certs.d");
    let e = engine(&root, &[]);
    let before = store_state(&e);
    for (i, text) in [
        format!("[host.\"http://{}\"\n", reg.addr()),
        format!("[host.\"http://{}\"]\ncapabilities = [\"pull\", \"fetch\"]\n", reg.addr()),
        format!("[host.\"http://{}\"]\nskip_verify = \"no\"\n", reg.addr()),
    ]
    .iter()
    .enumerate()
    {
        let host = format!("bad{i}.test.invalid");
        hosts_toml(&certs, &host, text);
        let err = pull(&e, &format!("{host}/library/busybox:1.0")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{text}: {err}");
        let file = certs.join(&host).join("hosts.toml");
        assert!(err.to_string().contains(&file.display().to_string()), "{err}");
        assert_eq!(store_state(&e), before, "{text}");
    }
}

#[test]
fn tls_mirror_with_the_hosts_file_ca_or_skip_verify() {
    let mode = RegistryMode::Tls;
    if !registry::available(&mode) || !isula_tests::env::require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    let img = images::busybox();
    reg.push(&img, "library/busybox:1.0");
    let root = TestRoot::new();
    let cfg = root.config();
    let dir = cfg.registry_config_dir.clone();
    // `ca` relative to the file's directory.
    hosts_toml(&dir, "ca.test.invalid", &format!("[host.\"https://{}\"]\n  ca = \"mirror-ca.pem\"\n", reg.addr()));
    std::fs::copy(reg.ca_cert_pem().unwrap(), dir.join("ca.test.invalid/mirror-ca.pem")).unwrap();
    hosts_toml(&dir, "skip.test.invalid", &format!("[host.\"https://{}\"]\n  skip_verify = true\n", reg.addr()));
    hosts_toml(&dir, "plain.test.invalid", &format!("[host.\"https://{}\"]\n", reg.addr()));
    let e = Engine::open(cfg).unwrap();
    for name in ["ca.test.invalid/library/busybox:1.0", "skip.test.invalid/library/busybox:1.0"] {
        assert_eq!(pull(&e, name).unwrap().id, img.id(), "{name}");
        assert!(tags(&e, name).contains(&name.to_string()), "{name}");
    }
    // Neither: the mirror's certificate is refused, then the server does not resolve.
    let err = pull(&e, "plain.test.invalid/library/busybox:1.0").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(e.images().inspect("plain.test.invalid/library/busybox:1.0").is_err());
}

#[test]
fn blobs_come_from_pull_only_hosts_first_and_fall_back() {
    let img = images::busybox();
    let content = Content::image(&img, "1.0");
    // A pull-only cache that has no blob (404): asked for blobs only, never to resolve a tag.
    let cache = FakeRegistry::start(|req| {
        if req.path == "/v2/" {
            return respond(200, &[], "{}");
        }
        respond(404, &[], r#"{"errors":[{"code":"BLOB_UNKNOWN"}]}"#)
    });
    let full = FakeRegistry::start(move |req| content.serve(req));
    let root = TestRoot::new();
    hosts_toml(
        &root.path().join("root/certs.d"),
        "cache.test.invalid",
        &format!(
            "[host.\"http://{}\"]\n  capabilities = [\"pull\"]\n[host.\"http://{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
            cache.addr, full.addr
        ),
    );
    let e = engine(&root, &[]);
    let got = pull(&e, "cache.test.invalid/library/busybox:1.0").unwrap();
    assert_eq!(got.id, img.id());
    let asked = cache.requests();
    assert!(asked.iter().any(|r| r.path.starts_with("/v2/library/busybox/blobs/")), "{asked:?}");
    assert!(!asked.iter().any(|r| r.path.contains("/manifests/1.0")), "{asked:?}");
    assert!(full.requests().iter().any(|r| r.path.starts_with("/v2/library/busybox/blobs/")));
}

#[test]
fn override_path_takes_the_url_path_as_the_api_root() {
    let img = images::busybox();
    let content = Content::image(&img, "3.9");
    let srv = FakeRegistry::start(move |req| match req.path.strip_prefix("/proxy/k8s") {
        Some(rest) => {
            let mut r = req.clone();
            r.path = format!("/v2{rest}");
            content.serve(&r)
        }
        None => respond(404, &[], ""),
    });
    let root = TestRoot::new();
    hosts_toml(
        &root.path().join("root/certs.d"),
        "registry.test.invalid",
        &format!("[host.\"http://{}/proxy/k8s\"]\n  override_path = true\n", srv.addr),
    );
    let e = engine(&root, &[]);
    let got = pull(&e, "registry.test.invalid/pause:3.9").unwrap();
    assert_eq!(got.id, img.id());
    assert!(srv.requests().iter().any(|r| r.path == "/proxy/k8s/pause/manifests/3.9"));
}

#[test]
fn bearer_mirror_gets_its_own_saved_credentials() {
    let img = images::busybox();
    let content = Content::image(&img, "v1");
    let addr_cell: Arc<Mutex<String>> = Arc::default();
    let addr2 = addr_cell.clone();
    let srv = FakeRegistry::start(move |req| {
        if req.path == "/token" {
            // Only the mirror's own user (alice:s3cret) gets a token.
            if req.header("authorization") != Some("Basic YWxpY2U6czNjcmV0") {
                return respond(401, &[], "{}");
            }
            return respond(200, &[("Content-Type", "application/json")], r#"{"token":"tok","expires_in":300}"#);
        }
        if req.header("authorization") != Some("Bearer tok") {
            let ch = format!(r#"Bearer realm="http://{}/token",service="mirror""#, addr2.lock().unwrap());
            return respond(401, &[("WWW-Authenticate", &ch)], r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#);
        }
        content.serve(req)
    });
    *addr_cell.lock().unwrap() = srv.addr.clone();
    let root = TestRoot::new();
    hosts_toml(
        &root.path().join("root/certs.d"),
        "auth.test.invalid",
        &format!("[host.\"http://{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n", srv.addr),
    );
    let e = engine(&root, &[]);
    let store = isula_core::unstable::CredentialStore::new(&root.path().join("root"));
    // The registry's credentials are not the mirror's: refused, nothing stored.
    store.set("auth.test.invalid", &isula_core::Credentials { username: "bob".into(), password: "x".into() }).unwrap();
    let before = store_state(&e);
    assert!(pull(&e, "auth.test.invalid/auth/busybox:v1").is_err());
    assert_eq!(store_state(&e), before);
    assert!(!srv.requests().iter().any(|r| r.header("authorization") == Some("Basic Ym9iOng=")));
    // Saved for the mirror's host: the token flow succeeds.
    store.set(&srv.addr, &isula_core::Credentials { username: "alice".into(), password: "s3cret".into() }).unwrap();
    let got = pull(&e, "auth.test.invalid/auth/busybox:v1").unwrap();
    assert_eq!(got.id, img.id());
    let blobs: Vec<_> = srv.requests().into_iter().filter(|r| r.path.contains("/blobs/")).collect();
    assert!(!blobs.is_empty() && blobs.iter().all(|r| r.header("authorization") == Some("Bearer tok")));
}

#[test]
fn push_goes_to_hosts_with_push_else_the_server() {
    let img = images::busybox();
    let (up, down) = (Writable::default(), Writable::default());
    let (u, d) = (up.clone(), down.clone());
    let upstream = FakeRegistry::start(move |req| u.serve(req));
    let pull_only = FakeRegistry::start(move |req| d.serve(req));
    let root = TestRoot::new();
    let certs = root.path().join("root/certs.d");
    hosts_toml(
        &certs,
        "push.test.invalid",
        &format!(
            "server = \"http://{}\"\n[host.\"http://{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
            upstream.addr, pull_only.addr
        ),
    );
    let e = engine(&root, &[]);
    let archive = images::oci_archive(&img, Some("x"));
    let name = "push.test.invalid/team/box:1";
    e.images().load(&mut &archive[..], &isula_core::LoadOptions { tag: Some(name.into()) }).unwrap();
    let pushed = e.images().push(name, &mut |_| {}).unwrap();
    assert_eq!(pushed.digest.to_string(), img.manifest.digest);
    assert!(upstream.requests().iter().any(|r| r.method == "PUT" && r.path == "/v2/team/box/manifests/1"));
    assert!(pull_only.requests().is_empty(), "the pull-only mirror is not pushed to");
    // A mirror with `push` gets the push.
    hosts_toml(&certs, "push.test.invalid", &format!("[host.\"http://{}\"]\n", pull_only.addr));
    e.images().push(name, &mut |_| {}).unwrap();
    assert!(pull_only.requests().iter().any(|r| r.method == "PUT" && r.path == "/v2/team/box/manifests/1"));
}
