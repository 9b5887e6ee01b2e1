//! ListImages, ImageStatus, PullImage (credentials from the request), RemoveImage and
//! ImageFsInfo.

use base64::Engine as _;
use k8s_cri::v1 as cri;
use tonic::Code;

use super::support::{prerequisites, Cri};
use isula_tests::registry::{self, Registry, RegistryMode};

fn spec(image: &str) -> Option<cri::ImageSpec> {
    Some(cri::ImageSpec { image: image.into(), ..Default::default() })
}

#[test]
fn list_status_remove_and_fs_info() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let list = c.call(c.is().list_images(cri::ListImagesRequest { filter: None })).unwrap().images;
    assert_eq!(list.len(), 1, "{list:?}");
    let img = &list[0];
    assert!(img.id.starts_with("sha256:"), "{img:?}");
    assert_eq!(img.repo_tags, vec!["docker.io/library/busybox:latest"]);
    assert!(img.size > 0);

    // By short name, qualified name and id: the same image.
    for name in ["busybox", "docker.io/library/busybox:latest", img.id.as_str()] {
        let s = c.call(c.is().image_status(cri::ImageStatusRequest { image: spec(name), verbose: false })).unwrap();
        assert_eq!(s.image.as_ref().map(|i| i.id.as_str()), Some(img.id.as_str()), "{name}");
    }
    let s = c.call(c.is().image_status(cri::ImageStatusRequest { image: spec("busybox"), verbose: true })).unwrap();
    let info: serde_json::Value = serde_json::from_str(&s.info["info"]).unwrap();
    assert_eq!(info["Id"], img.id);
    let filtered = cri::ListImagesRequest { filter: Some(cri::ImageFilter { image: spec("busybox:latest") }) };
    assert_eq!(c.call(c.is().list_images(filtered)).unwrap().images.len(), 1);

    // A missing image: an empty status, not an error; removing it succeeds.
    let s = c.call(c.is().image_status(cri::ImageStatusRequest { image: spec("nosuch:1"), verbose: false })).unwrap();
    assert!(s.image.is_none());
    c.call(c.is().remove_image(cri::RemoveImageRequest { image: spec("nosuch:1") })).unwrap();
    let e = c.call(c.is().image_status(cri::ImageStatusRequest { image: None, verbose: false })).unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    let fs = c.call(c.is().image_fs_info(cri::ImageFsInfoRequest {})).unwrap();
    let u = &fs.image_filesystems[0];
    assert!(u.fs_id.as_ref().unwrap().mountpoint.ends_with("/snapshots"), "{u:?}");
    assert!(u.used_bytes.as_ref().unwrap().value > 0);
    assert!(u.inodes_used.as_ref().unwrap().value > 1);

    // Remove by name: gone; again: still a success.
    c.call(c.is().remove_image(cri::RemoveImageRequest { image: spec("busybox") })).unwrap();
    assert!(c.call(c.is().list_images(cri::ListImagesRequest { filter: None })).unwrap().images.is_empty());
    c.call(c.is().remove_image(cri::RemoveImageRequest { image: spec("busybox") })).unwrap();
}

#[test]
fn pull_with_credentials_from_the_request() {
    let mode = RegistryMode::BasicAuthHttp { user: "alice".into(), password: "s3cret".into() };
    if !prerequisites() || !registry::available(&mode) || !isula_tests::env::require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    let img = isula_tests::images::busybox();
    let name = reg.push(&img, "private/busybox:1");
    let net = super::support::CniNet::new();
    net.write();
    let c = Cri::start_on(net, vec!["--insecure-registry".into(), reg.addr()]);
    let pull = |auth: Option<cri::AuthConfig>| {
        c.call(c.is().pull_image(cri::PullImageRequest { image: spec(&name), auth, sandbox_config: None }))
    };
    // Without credentials the registry refuses; nothing is added.
    let e = pull(None).unwrap_err();
    assert_ne!(e.code(), Code::Ok);
    let wrong = cri::AuthConfig { username: "alice".into(), password: "nope".into(), ..Default::default() };
    pull(Some(wrong)).unwrap_err();
    let s = c.call(c.is().image_status(cri::ImageStatusRequest { image: spec(&name), verbose: false })).unwrap();
    assert!(s.image.is_none());

    let ok = cri::AuthConfig {
        username: "alice".into(),
        password: "s3cret".into(),
        server_address: reg.addr(),
        ..Default::default()
    };
    let r = pull(Some(ok)).unwrap();
    assert_eq!(r.image_ref, img.id());
    let s = c.call(c.is().image_status(cri::ImageStatusRequest { image: spec(&name), verbose: false })).unwrap();
    let i = s.image.unwrap();
    assert_eq!(i.id, img.id());
    // The same image was loaded as busybox:latest: one image, both names.
    assert!(i.repo_tags.contains(&name), "{i:?}");
    assert_eq!(i.repo_digests.len(), 1);
    assert!(i.repo_digests[0].starts_with(&format!("{}/private/busybox@sha256:", reg.addr())), "{i:?}");
    // No credentials were saved: the daemon forgot them after the pull.
    c.call(c.is().remove_image(cri::RemoveImageRequest { image: spec(&name) })).unwrap();
    pull(None).unwrap_err();
    // The base64 `auth` form.
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    pull(Some(cri::AuthConfig { auth, ..Default::default() })).unwrap();
}
