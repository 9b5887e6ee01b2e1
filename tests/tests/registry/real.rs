//! Push and pull against Debian's docker-registry on 127.0.0.1 in its three modes
//! (plain http, TLS with a CA made by the test, htpasswd Basic auth over TLS),
//! cross-checked with skopeo.

use crate::registry_support;

use std::process::Command;

use isula_core::{Engine, ErrorKind};
use isula_core::{LoadOptions, PushEvent, PushProgress};
use isula_tests::env::{run_ok, TestRoot};
use isula_tests::images::{self, BuiltImage};
use isula_tests::registry::{self, Registry, RegistryMode};
use registry_support::*;

/// Load `img` into `e` under `name`.
fn load_as(e: &Engine, img: &BuiltImage, name: &str) {
    let archive = images::oci_archive(img, Some("x"));
    let loaded = e.images().load(&mut &archive[..], &LoadOptions { tag: Some(name.to_string()) }).unwrap();
    assert_eq!(loaded[0].id, img.id());
}

/// `skopeo inspect` of `reference` on `reg`: the manifest digest the registry serves.
fn skopeo_digest(reg: &Registry, reference: &str) -> String {
    let out =
        run_ok(Command::new("skopeo").arg("inspect").args(reg.skopeo_flags("")).arg(format!("docker://{reference}")));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["Digest"].as_str().unwrap().to_string()
}

/// Put the registry's CA where the engine looks: `<graph>/certs.d/<host:port>/ca.crt`.
fn trust_ca(root: &TestRoot, reg: &Registry) {
    let dir = root.path().join("root/certs.d").join(reg.addr());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(reg.ca_cert_pem().unwrap(), dir.join("ca.crt")).unwrap();
}

fn push_events(e: &Engine, name: &str) -> (isula_core::Result<isula_core::PushResult>, Vec<PushEvent>) {
    let mut ev = Vec::new();
    let r = e.images().push(name, &mut |x| ev.push(x));
    (r, ev)
}

fn count(ev: &[PushEvent], f: impl Fn(&PushProgress) -> bool) -> usize {
    ev.iter().filter(|PushEvent::Blob { progress, .. }| f(progress)).count()
}

/// Push busybox from one root, check with skopeo, pull into a fresh root, compare.
fn round_trip(reg: &Registry, src: &Engine, dst: &Engine) {
    let img = images::busybox();
    let name = format!("{}/isula/busybox:1.0", reg.addr());
    load_as(src, &img, &name);
    let (pushed, ev) = push_events(src, &name);
    let pushed = pushed.unwrap();
    assert_eq!(pushed.digest.to_string(), img.manifest.digest, "manifest pushed byte for byte");
    assert_eq!(count(&ev, |p| *p == PushProgress::Pushed), 2, "config and layer uploaded: {ev:?}");
    assert_eq!(skopeo_digest(reg, &name), pushed.digest.to_string());
    // Pushing again sends nothing.
    let (again, ev) = push_events(src, &name);
    assert_eq!(again.unwrap().digest, pushed.digest);
    assert_eq!(count(&ev, |p| *p == PushProgress::AlreadyExists), 2, "{ev:?}");
    // Pull into a fresh root.
    let got = pull(dst, &name).unwrap();
    assert_eq!(got.id, img.id());
    assert_eq!(got.digest, pushed.digest);
    let inspect = dst.images().inspect(&name).unwrap();
    assert_eq!(inspect.id, img.id());
    // Cross-repository mount: the pulled image carries a repo digest of isula/busybox,
    // so pushing it to another repository of the same registry mounts every blob.
    let other = format!("{}/other/busybox:2", reg.addr());
    dst.images().tag(&name, &other).unwrap();
    let (r, ev) = push_events(dst, &other);
    assert_eq!(r.unwrap().digest, pushed.digest);
    assert_eq!(count(&ev, |p| matches!(p, PushProgress::Mounted { from } if from == "isula/busybox")), 2, "{ev:?}");
    assert_eq!(skopeo_digest(reg, &other), pushed.digest.to_string());
}

#[test]
fn plain_http_registry_round_trip() {
    let mode = RegistryMode::Http;
    if !registry::available(&mode) || !isula_tests::env::require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    let (a, b) = (TestRoot::new(), TestRoot::new());
    let src = engine(&a, &[&reg.addr()]);
    let dst = engine(&b, &[&reg.addr()]);
    round_trip(&reg, &src, &dst);
}

#[test]
fn tls_registry_with_ca_in_certs_d() {
    let mode = RegistryMode::Tls;
    if !registry::available(&mode) || !isula_tests::env::require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    let (a, b) = (TestRoot::new(), TestRoot::new());
    // Unknown CA: refused with a TLS error naming the registry; nothing stored.
    let src = engine(&a, &[]);
    let img = images::busybox();
    let name = format!("{}/isula/busybox:1.0", reg.addr());
    load_as(&src, &img, &name);
    let err = src.images().push(&name, &mut |_| {}).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains(&reg.addr()), "{err}");
    drop(src);
    // With the CA in <graph>/certs.d/<host:port>/ca.crt.
    trust_ca(&a, &reg);
    trust_ca(&b, &reg);
    let src = engine(&a, &[]);
    let dst = engine(&b, &[]);
    round_trip(&reg, &src, &dst);
    // Listed as insecure: https without verification works without the CA.
    let c = TestRoot::new();
    let e = engine(&c, &[&reg.addr()]);
    assert_eq!(pull(&e, &name).unwrap().id, img.id());
}

#[test]
fn basic_auth_registry_login_push_pull_logout() {
    let mode = RegistryMode::basic_auth("isula", "pa55-word");
    if !registry::available(&mode) || !isula_tests::env::require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    let (a, b) = (TestRoot::new(), TestRoot::new());
    trust_ca(&a, &reg);
    trust_ca(&b, &reg);
    let src = engine(&a, &[]);
    let dst = engine(&b, &[]);
    let img = images::busybox();
    let name = format!("{}/isula/busybox:1.0", reg.addr());
    load_as(&src, &img, &name);
    let auth_json = a.path().join("root/auth.json");
    // Not logged in: PermissionDenied with a hint.
    let err = src.images().push(&name, &mut |_| {}).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("login"), "{err}");
    // Wrong password: PermissionDenied, nothing saved, password not echoed.
    let err = src.login(&reg.addr(), "isula", "wrong-pass").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(!err.to_string().contains("wrong-pass"), "{err}");
    assert!(!auth_json.exists());
    // Right password: saved with mode 0600.
    src.login(&reg.addr(), "isula", "pa55-word").unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&auth_json).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!std::fs::read_to_string(&auth_json).unwrap().contains("pa55-word"));
    dst.login(&format!("https://{}", reg.addr()), "isula", "pa55-word").unwrap();
    round_trip(&reg, &src, &dst);
    // Logout forgets the credentials.
    dst.logout(&reg.addr()).unwrap();
    assert_eq!(dst.logout(&reg.addr()).unwrap_err().kind(), ErrorKind::NotFound);
    let fresh = TestRoot::new();
    trust_ca(&fresh, &reg);
    let e = engine(&fresh, &[]);
    let err = pull(&e, &name).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(e.content().list().unwrap().is_empty());
}

#[test]
fn images_pushed_by_skopeo_are_pulled() {
    let mode = RegistryMode::Http;
    if !registry::available(&mode) || !isula_tests::env::require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    let root = TestRoot::new();
    let e = engine(&root, &[&reg.addr()]);
    // OCI manifest, zstd layer.
    let img = images::busybox_with(images::Compression::Zstd);
    let r = reg.push(&img, "sk/oci:1");
    let got = pull(&e, &r).unwrap();
    assert_eq!(got.id, img.id());
    assert_eq!(got.digest.to_string(), img.manifest.digest);
    // Docker schema 2 manifest.
    let img2 = images::busybox();
    let d = reg.push_docker_v2s2(&img2, "sk/docker:1");
    let got = pull(&e, &format!("{}/sk/docker:1", reg.addr())).unwrap();
    assert_eq!(got.digest.to_string(), d);
    assert_eq!(got.id, img2.id());
    // Multi-platform index: the host's image by default.
    let host = images::host_arch();
    let other = if host == "arm64" { "amd64" } else { "arm64" };
    let idx = images::multi_platform(&[(other, None), (host, None)]);
    let r = reg.push_index(&idx, "sk/multi:1");
    let got = pull(&e, &r).unwrap();
    assert_eq!(got.id, idx.images[1].id());
    assert_eq!(got.digest.to_string(), idx.index.digest);
    // Our push of an image pulled from an index re-pushes its platform manifest.
    let mine = format!("{}/mine/multi:1", reg.addr());
    e.images().tag(&r, &mine).unwrap();
    let pushed = e.images().push(&mine, &mut |_| {}).unwrap();
    assert_eq!(pushed.digest.to_string(), idx.images[1].manifest.digest);
    assert_eq!(skopeo_digest(&reg, &mine), pushed.digest.to_string());
}

#[test]
fn large_blob_goes_up_in_chunks_and_resumes_down_from_the_real_registry() {
    let mode = RegistryMode::Http;
    if !registry::available(&mode) || !isula_tests::env::require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    // One layer over the 32 MiB chunked-upload threshold.
    let img = images::sized(40 << 20, 1);
    assert!(img.layers[0].data.len() > 32 << 20);
    let (a, b) = (TestRoot::new(), TestRoot::new());
    let src = engine(&a, &[&reg.addr()]);
    let name = format!("{}/big/img:1", reg.addr());
    load_as(&src, &img, &name);
    let (pushed, ev) = push_events(&src, &name);
    assert_eq!(pushed.unwrap().digest.to_string(), img.manifest.digest);
    let steps = count(&ev, |p| matches!(p, PushProgress::Pushing { .. }));
    assert!(steps >= 3, "chunked upload reports each chunk: {ev:?}");
    assert_eq!(skopeo_digest(&reg, &name), img.manifest.digest);
    // Leave half of the layer as a partial ingest (an in-test registry cuts it), then
    // resume from the real registry, which must answer the Range request with 206.
    let layer = img.layers[0].digest.clone();
    let content = Content::image(&img, "1");
    let half = img.layers[0].data.len() / 2;
    let l2 = layer.clone();
    let cutter = FakeRegistry::start(move |req| {
        if req.path.ends_with(&l2) && req.method == "GET" {
            return Action::Cut(200, vec![], content.blobs[&l2].clone(), half);
        }
        content.serve(req)
    });
    let dst = engine(&b, &[&reg.addr(), &cutter.addr]);
    let err = pull(&dst, &format!("{}/big/img:1", cutter.addr)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    let hex = layer.trim_start_matches("sha256:").to_string();
    assert!(dst.content().partial_ingests().unwrap().contains(&(hex, half as u64)));
    let mut downloaded = Vec::new();
    let got = dst
        .images()
        .pull(&name, &Default::default(), &mut |ev| {
            if let isula_core::PullEvent::Layer {
                progress: isula_core::LayerProgress::Downloading { current, .. },
                ..
            } = ev
            {
                downloaded.push(current);
            }
        })
        .unwrap();
    assert_eq!(got.id, img.id());
    assert!(downloaded.iter().all(|c| *c > half as u64), "resumed past the half: {downloaded:?}");
    assert!(dst.content().partial_ingests().unwrap().is_empty());
}
