//! Registry mirrors from containerd-style `hosts.toml` files: images of a registry host that
//! does not resolve (`*.test.invalid`) pulled through Debian's docker-registry on 127.0.0.1,
//! keeping their original reference; down and empty mirrors skipped; `_default`; capabilities;
//! malformed files refused with nothing pulled.

use crate::registry_support;

use std::path::Path;

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
