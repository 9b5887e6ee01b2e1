//! Push (to the endpoints with the push capability, else the registry): blobs the registry lacks (checked with HEAD, mounted from another
//! repository of the same registry when possible, else uploaded), then the manifest.

use super::blobs::{blob_exists, put_manifest, upload_blob, Uploaded};
use super::credentials::Credentials;
use super::hosts::Caps;
use super::manifest::Descriptor;
use super::session::Session;
use super::transport::Transport;
use super::{PushEvent, PushProgress};
use crate::content::ContentStore;
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};

/// Where to push.
#[derive(Debug, Clone)]
pub(crate) struct PushSpec {
    /// Registry host as in the reference.
    pub registry: String,
    /// Repository path.
    pub repository: String,
    /// Tag (or digest) to put the manifest under.
    pub reference: String,
    /// The full reference, for messages.
    pub display: String,
    /// Credentials for the registry, if saved.
    pub creds: Option<Credentials>,
    /// Another repository of the same registry known to hold the blobs (for mounts).
    pub mount_from: Option<String>,
}

/// What to push: a manifest and the blobs it references, all in the content store.
#[derive(Debug, Clone)]
pub(crate) struct PushImage {
    /// The manifest's digest.
    pub manifest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Config and layers.
    pub blobs: Vec<Descriptor>,
}

/// Push `img` from `store` to `spec`; returns the manifest digest.
pub(crate) fn push_image(
    transport: &Transport,
    store: &ContentStore,
    spec: &PushSpec,
    img: &PushImage,
    progress: &mut dyn FnMut(PushEvent),
) -> Result<Digest> {
    let mut scopes = vec![format!("repository:{}:pull,push", spec.repository)];
    if let Some(from) = &spec.mount_from {
        scopes.push(format!("repository:{from}:pull"));
    }
    // The endpoints with the push capability (a hosts file's), else the registry itself.
    let all = transport.endpoints(&spec.registry).map_err(|e| e.context(format!("push {}", spec.display)))?;
    let mut endpoints: Vec<_> = all.iter().filter(|e| e.caps.has(Caps::PUSH)).cloned().collect();
    if endpoints.is_empty() {
        endpoints = all.into_iter().filter(|e| !e.mirror).collect();
    }
    let mut session = None;
    let mut last_err = None;
    for ep in endpoints {
        match Session::open(transport, ep, &spec.repository, scopes.clone(), spec.creds.clone()) {
            Ok(s) => {
                session = Some(s);
                break;
            }
            Err(e) if e.kind() == ErrorKind::Unavailable => last_err = Some(e),
            Err(e) => return Err(e.context(format!("push {}", spec.display))),
        }
    }
    let s = match session {
        Some(s) => s,
        None => {
            return Err(last_err
                .unwrap_or_else(|| Error::unavailable("no registry endpoint"))
                .context(format!("push {}", spec.display)))
        }
    };
    let manifest_bytes = store.read(&img.manifest, super::manifest::MAX_MANIFEST_SIZE)?;
    let retries = transport.options().retries;
    for desc in &img.blobs {
        let d = desc.digest.clone();
        progress(PushEvent::Blob { digest: d.clone(), progress: PushProgress::Preparing });
        if blob_exists(&s, &d)? {
            progress(PushEvent::Blob { digest: d.clone(), progress: PushProgress::AlreadyExists });
            continue;
        }
        let mut attempt = 0;
        let mut mount = spec.mount_from.as_deref();
        loop {
            let total = desc.size;
            let mut report = |n: u64| {
                progress(PushEvent::Blob { digest: d.clone(), progress: PushProgress::Pushing { current: n, total } });
            };
            let res = upload_blob(&s, store, desc, mount, &mut report);
            match res {
                Ok(Uploaded::Mounted) => {
                    let from = mount.unwrap_or_default().to_string();
                    progress(PushEvent::Blob { digest: d.clone(), progress: PushProgress::Mounted { from } });
                    break;
                }
                Ok(Uploaded::Pushed) => {
                    progress(PushEvent::Blob { digest: d.clone(), progress: PushProgress::Pushed });
                    break;
                }
                Err(e) if attempt < retries && e.kind() == ErrorKind::Unavailable => {
                    attempt += 1;
                    mount = None;
                    log::info!("push {}: blob {d}: {e}; retrying", spec.display);
                    std::thread::sleep(transport.options().backoff.saturating_mul(1 << attempt.min(8)));
                }
                Err(e) => return Err(e.context(format!("push {}", spec.display))),
            }
        }
    }
    put_manifest(&s, &spec.reference, &img.media_type, &manifest_bytes)
        .map_err(|e| e.context(format!("push {}", spec.display)))
}
