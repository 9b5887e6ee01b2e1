//! The CRI ImageService: ListImages, ImageStatus, PullImage, RemoveImage, ImageFsInfo.
//!
//! Image names come back fully qualified (`docker.io/library/busybox:latest`), as kubelet
//! compares them; an image's id is its config digest, and its `image_ref` (what
//! ContainerStatus shows) its first repo digest when it has one, else the id.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;
use isula_core::{Credentials, Engine, ErrorKind, ImageInspect, PullOptions, Reference, RemoveImageOptions};
use k8s_cri::v1 as cri;
use tonic::Status;

use super::meta::now_nanos;
use super::Shared;
use crate::blocking::blocking;

/// `name` fully qualified (`busybox:latest` → `docker.io/library/busybox:latest`); as given
/// when it does not parse.
pub(crate) fn qualified(name: &str) -> String {
    Reference::parse(name).map(|r| r.to_string()).unwrap_or_else(|_| name.to_string())
}

/// The `image_ref` of an image: its first repo digest (qualified) when it has one, else its id.
pub(crate) fn image_ref(i: &ImageInspect) -> String {
    i.repo_digests.first().map(|d| qualified(d)).unwrap_or_else(|| i.id.clone())
}

/// The uid or user name of an image's `User` (`uid[:gid]` or `name[:group]`).
fn image_user(i: &ImageInspect) -> (Option<cri::Int64Value>, String) {
    let user = i.config.get("User").and_then(|u| u.as_str()).unwrap_or("");
    let name = user.split(':').next().unwrap_or("");
    if name.is_empty() {
        return (None, String::new());
    }
    match name.parse::<i64>() {
        Ok(uid) => (Some(cri::Int64Value { value: uid }), String::new()),
        Err(_) => (None, name.to_string()),
    }
}

/// The CRI view of an image; the pod sandbox image (`sandbox`, when configured) is pinned,
/// so kubelet's image garbage collection leaves it alone.
pub(crate) fn cri_image(i: &ImageInspect, sandbox: Option<&str>) -> cri::Image {
    let (uid, username) = image_user(i);
    let pinned = sandbox.is_some_and(|s| i.repo_tags.iter().any(|t| qualified(t) == qualified(s)));
    cri::Image {
        id: i.id.clone(),
        repo_tags: i.repo_tags.iter().map(|t| qualified(t)).collect(),
        repo_digests: i.repo_digests.iter().map(|d| qualified(d)).collect(),
        size: i.size,
        uid,
        username,
        spec: Some(cri::ImageSpec { image: i.id.clone(), ..Default::default() }),
        pinned,
    }
}

/// Inspect `name`; `None` when there is no such image.
pub(crate) fn find(engine: &Engine, name: &str) -> isula_core::Result<Option<ImageInspect>> {
    match engine.images().inspect(name) {
        Ok(i) => Ok(Some(i)),
        Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::InvalidArgument => Ok(None),
        Err(e) => Err(e),
    }
}

fn spec_image(spec: Option<&cri::ImageSpec>) -> String {
    spec.map(|s| s.image.clone()).unwrap_or_default()
}

/// ListImages, optionally only the image a filter names.
pub(crate) async fn list(shared: &Shared, r: cri::ListImagesRequest) -> Result<cri::ListImagesResponse, Status> {
    let want = spec_image(r.filter.as_ref().and_then(|f| f.image.as_ref()));
    let engine = shared.engine.clone();
    let sandbox = shared.config.pod_sandbox_image.clone();
    let images = blocking(move || {
        let sandbox = sandbox.as_deref();
        if !want.is_empty() {
            return Ok(find(&engine, &want)?.iter().map(|i| cri_image(i, sandbox)).collect());
        }
        let mut out = Vec::new();
        for s in engine.images().list(&Default::default())? {
            // Removed meanwhile: skip it.
            if let Some(i) = find(&engine, &s.id)? {
                out.push(cri_image(&i, sandbox));
            }
        }
        Ok(out)
    })
    .await?;
    Ok(cri::ListImagesResponse { images })
}

/// ImageStatus: the image, or an empty response when there is none; with `verbose` the
/// image's inspect JSON in `info["info"]`.
pub(crate) async fn status(shared: &Shared, r: cri::ImageStatusRequest) -> Result<cri::ImageStatusResponse, Status> {
    let name = spec_image(r.image.as_ref());
    if name.is_empty() {
        return Err(Status::invalid_argument("ImageStatus needs an image"));
    }
    let engine = shared.engine.clone();
    let Some(i) = blocking(move || find(&engine, &name)).await? else {
        return Ok(cri::ImageStatusResponse::default());
    };
    let mut info = HashMap::new();
    if r.verbose {
        info.insert("info".to_string(), serde_json::to_string(&i).unwrap_or_default());
    }
    let sandbox = shared.config.pod_sandbox_image.as_deref();
    Ok(cri::ImageStatusResponse { image: Some(cri_image(&i, sandbox)), info })
}

/// The credentials of a PullImage `auth`: username and password, or the base64 `auth`
/// (`user:password`). Tokens are not supported.
fn credentials(auth: Option<&cri::AuthConfig>) -> Result<Option<Credentials>, Status> {
    let Some(a) = auth else { return Ok(None) };
    if !a.username.is_empty() || !a.password.is_empty() {
        return Ok(Some(Credentials { username: a.username.clone(), password: a.password.clone() }));
    }
    if !a.auth.is_empty() {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(a.auth.trim())
            .map_err(|e| Status::invalid_argument(format!("auth is not valid base64: {e}")))?;
        let text = String::from_utf8(raw).map_err(|_| Status::invalid_argument("auth is not UTF-8"))?;
        let (u, p) =
            text.split_once(':').ok_or_else(|| Status::invalid_argument("auth must encode \"username:password\""))?;
        return Ok(Some(Credentials { username: u.to_string(), password: p.to_string() }));
    }
    if !a.identity_token.is_empty() || !a.registry_token.is_empty() {
        return Err(Status::unimplemented("registry identity and registry tokens are not supported"));
    }
    Ok(None)
}

/// PullImage with the request's credentials; returns the image id as the image ref (what
/// CreateContainer then names).
pub(crate) async fn pull(shared: &Shared, r: cri::PullImageRequest) -> Result<cri::PullImageResponse, Status> {
    let name = spec_image(r.image.as_ref());
    if name.is_empty() {
        return Err(Status::invalid_argument("PullImage needs an image"));
    }
    let opts = PullOptions { credentials: credentials(r.auth.as_ref())?, ..Default::default() };
    let engine = shared.engine.clone();
    log::info!("CRI: pull {name}");
    let res = blocking(move || engine.images().pull(&name, &opts, &mut |_| {})).await;
    crate::memory::release_free_heap();
    Ok(cri::PullImageResponse { image_ref: res?.id })
}

/// RemoveImage: every name of the image and the image; an unknown image is a success.
pub(crate) async fn remove(shared: &Shared, r: cri::RemoveImageRequest) -> Result<(), Status> {
    let name = spec_image(r.image.as_ref());
    if name.is_empty() {
        return Err(Status::invalid_argument("RemoveImage needs an image"));
    }
    let engine = shared.engine.clone();
    blocking(move || {
        let Some(i) = find(&engine, &name)? else { return Ok(()) };
        match engine.images().remove(&i.id, &RemoveImageOptions { force: true, no_prune: false }) {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        }
    })
    .await
}

/// Bytes (allocated blocks) and inodes used under `dir`, not crossing into other filesystems.
pub(crate) fn disk_usage(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let Ok(top) = std::fs::symlink_metadata(dir) else { return (0, 0) };
    let dev = top.dev();
    let (mut bytes, mut inodes) = (top.blocks() * 512, 1u64);
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = std::collections::HashSet::new();
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.dev() != dev || (m.nlink() > 1 && !m.is_dir() && !seen.insert(m.ino())) {
                continue;
            }
            bytes += m.blocks() * 512;
            inodes += 1;
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    (bytes, inodes)
}

/// ImageFsInfo: usage of the layer store (`<graph>/snapshots`), which holds image layers and
/// the containers' writable layers.
pub(crate) async fn fs_info(shared: &Shared) -> Result<cri::ImageFsInfoResponse, Status> {
    let dir = shared.config.graph.join("snapshots");
    let d = dir.clone();
    let (bytes, inodes) = tokio::task::spawn_blocking(move || disk_usage(&d))
        .await
        .map_err(|e| Status::internal(format!("image fs usage: {e}")))?;
    let usage = cri::FilesystemUsage {
        timestamp: now_nanos(),
        fs_id: Some(cri::FilesystemIdentifier { mountpoint: dir.to_string_lossy().into_owned() }),
        used_bytes: Some(cri::UInt64Value { value: bytes }),
        inodes_used: Some(cri::UInt64Value { value: inodes }),
    };
    Ok(cri::ImageFsInfoResponse { image_filesystems: vec![usage.clone()], container_filesystems: vec![usage] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_users_and_credentials() {
        assert_eq!(qualified("busybox:latest"), "docker.io/library/busybox:latest");
        assert_eq!(qualified("127.0.0.1:5000/a/b:1"), "127.0.0.1:5000/a/b:1");
        let a = cri::AuthConfig { username: "u".into(), password: "p".into(), ..Default::default() };
        assert_eq!(credentials(Some(&a)).unwrap().unwrap().username, "u");
        let a = cri::AuthConfig { auth: "dXNlcjpwYXNzOndvcmQ=".into(), ..Default::default() };
        let c = credentials(Some(&a)).unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("user", "pass:word"));
        let a = cri::AuthConfig { auth: "!!".into(), ..Default::default() };
        assert_eq!(credentials(Some(&a)).unwrap_err().code(), tonic::Code::InvalidArgument);
        assert!(credentials(None).unwrap().is_none());
        let i: ImageInspect = serde_json::from_value(serde_json::json!({
            "Id": "sha256:ab", "RepoTags": ["pause:3.9"], "RepoDigests": [], "Created": "", "Author": "",
            "Size": 1, "Config": {"User": "65535:65535"}, "Architecture": "amd64", "Os": "linux",
            "RootFS": {"Type": "layers", "Layers": []}, "GraphDriver": {"Name": "overlay2", "Data": {}},
            "Manifest": {"Digest": "sha256:cd", "MediaType": "x"}
        }))
        .unwrap();
        let c = cri_image(&i, Some("docker.io/library/pause:3.9"));
        assert!(c.pinned);
        assert_eq!(c.uid, Some(cri::Int64Value { value: 65535 }));
        assert_eq!(c.repo_tags, vec!["docker.io/library/pause:3.9"]);
        assert_eq!(image_ref(&i), "sha256:ab");
        assert!(!cri_image(&i, None).pinned);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), vec![1u8; 10000]).unwrap();
        let (bytes, inodes) = disk_usage(dir.path());
        assert!(bytes >= 10000, "{bytes}");
        assert_eq!(inodes, 2);
    }
}
