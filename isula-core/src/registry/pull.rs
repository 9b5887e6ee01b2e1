//! Pull: resolve a reference to one platform's manifest (trying mirrors and
//! endpoints in order), then fetch config and layers into the content store,
//! layers in parallel.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

use super::blobs::{fetch_blob, fetch_manifest, FetchedManifest};
use super::claims::BlobClaims;
use super::credentials::Credentials;
use super::manifest::{self, Descriptor, Manifest, Platform};
use super::session::Session;
use super::transport::Transport;
use super::{LayerProgress, PullEvent};
use crate::content::ContentStore;
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};

/// What to pull.
#[derive(Debug, Clone)]
pub(crate) struct PullSpec {
    /// Registry host as in the reference (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// Repository path (`library/busybox`).
    pub repository: String,
    /// Tag or `sha256:` digest.
    pub reference: String,
    /// The full reference, for messages.
    pub display: String,
    /// The platform wanted; `None` means the host's, without checking single-platform images.
    pub platform: Option<Platform>,
    /// Parallel layer downloads.
    pub max_concurrent: usize,
    /// Credentials for the registry, if saved.
    pub creds: Option<Credentials>,
}

/// An image whose blobs are all in the content store.
#[derive(Debug, Clone)]
pub(crate) struct FetchedImage {
    /// The platform manifest's digest.
    pub manifest: Digest,
    /// Its media type.
    pub manifest_media_type: String,
    /// The config descriptor.
    pub config: Descriptor,
    /// The layer descriptors, base first.
    pub layers: Vec<Descriptor>,
    /// The digest the reference resolved to (index or manifest): the repo digest.
    pub repo_digest: Digest,
}

/// Resolve and download `spec` into `store`. The image's blobs are claimed in `claims`
/// and passed to `pin` (to protect them from garbage collection) once known; the blobs this call committed are added to `new_blobs` (also on failure,
/// so the caller can remove them with [`BlobClaims::delete_unshared`]). Partial downloads
/// stay for a later resume.
pub(crate) fn fetch_image(
    transport: &Transport,
    store: &ContentStore,
    spec: &PullSpec,
    claims: &mut BlobClaims,
    pin: &mut dyn FnMut(&Digest),
    new_blobs: &mut Vec<Digest>,
    progress: &mut dyn FnMut(PullEvent),
) -> Result<FetchedImage> {
    let scopes = vec![format!("repository:{}:pull", spec.repository)];
    let mut last_err: Option<Error> = None;
    let endpoints = transport.endpoints(&spec.registry);
    let n = endpoints.len();
    for (i, ep) in endpoints.into_iter().enumerate() {
        let is_mirror = ep.mirror;
        let attempt = Session::open(transport, ep, &spec.repository, scopes.clone(), spec.creds.clone())
            .and_then(|s| resolve(&s, spec).map(|r| (s, r)));
        match attempt {
            Ok((session, (top, chosen))) => {
                progress(PullEvent::Resolved { reference: spec.display.clone(), digest: top.digest.clone() });
                if let Manifest::Image(m) = &chosen.manifest {
                    let mut all = vec![chosen.digest.clone(), m.config.digest.clone()];
                    all.extend(m.layers.iter().map(|l| l.digest.clone()));
                    claims.claim(store, &all);
                    all.iter().for_each(&mut *pin);
                }
                return download(transport, store, &session, spec, &top, chosen, new_blobs, progress);
            }
            Err(e) => {
                let next = i + 1 < n
                    && (e.kind() == ErrorKind::Unavailable
                        || (is_mirror && matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied)));
                if !next {
                    return Err(e.context(format!("pull {}", spec.display)));
                }
                log::info!("pull {}: {e}; trying the next endpoint", spec.display);
                last_err = Some(e);
            }
        }
    }
    Err(last_err
        .unwrap_or_else(|| Error::unavailable("no registry endpoint"))
        .context(format!("pull {}", spec.display)))
}

/// The top-level document and the chosen platform manifest.
fn resolve(s: &Session, spec: &PullSpec) -> Result<(FetchedManifest, FetchedManifest)> {
    let top = fetch_manifest(s, &spec.reference)?;
    let chosen = match &top.manifest {
        Manifest::Image(_) => top.clone(),
        Manifest::Index(index) => {
            let want = spec.platform.clone().unwrap_or_else(Platform::host);
            let what = format!("{} ({})", spec.display, top.media_type);
            let desc = manifest::select(index, &want, &what)?;
            let m = fetch_manifest(s, &desc.digest.to_string())?;
            if !matches!(m.manifest, Manifest::Image(_)) {
                return Err(Error::invalid(format!("{what}: entry {} is not an image manifest", desc.digest)));
            }
            m
        }
    };
    Ok((top, chosen))
}

#[allow(clippy::too_many_arguments)]
fn download(
    transport: &Transport,
    store: &ContentStore,
    s: &Session,
    spec: &PullSpec,
    top: &FetchedManifest,
    chosen: FetchedManifest,
    new_blobs: &mut Vec<Digest>,
    progress: &mut dyn FnMut(PullEvent),
) -> Result<FetchedImage> {
    let Manifest::Image(m) = &chosen.manifest else {
        return Err(Error::internal("resolved manifest is not an image manifest"));
    };
    let retries = transport.options().retries;
    let never = AtomicBool::new(false);
    // The config first: small, and it tells the platform of single-platform images.
    if fetch_blob(s, store, &m.config, retries, &never, &|_| {})? {
        new_blobs.push(m.config.digest.clone());
    }
    let config = store.read(&m.config.digest, 64 << 20)?;
    let cfg: serde_json::Value = serde_json::from_slice(&config).map_err(|e| {
        Error::invalid(format!("{}: image config {} is not valid JSON: {e}", spec.display, m.config.digest))
    })?;
    if let (Some(want), Manifest::Image(_)) = (&spec.platform, &top.manifest) {
        let have = Platform {
            os: cfg.get("os").and_then(|v| v.as_str()).unwrap_or("").into(),
            architecture: cfg.get("architecture").and_then(|v| v.as_str()).unwrap_or("").into(),
            variant: cfg.get("variant").and_then(|v| v.as_str()).unwrap_or("").into(),
        };
        if !want.matches(&have) {
            return Err(Error::not_found(format!(
                "{}: image is for platform {have}, not the requested {want}",
                spec.display
            )));
        }
    }
    for l in &m.layers {
        progress(PullEvent::Layer { digest: l.digest.clone(), progress: LayerProgress::Waiting });
    }
    let queue: Mutex<VecDeque<usize>> = Mutex::new((0..m.layers.len()).collect());
    let results: Mutex<Vec<Option<Result<bool>>>> = Mutex::new((0..m.layers.len()).map(|_| None).collect());
    let cancel = AtomicBool::new(false);
    let workers = spec.max_concurrent.max(1).min(m.layers.len());
    std::thread::scope(|sc| {
        let (tx, rx) = mpsc::channel::<(usize, LayerProgress)>();
        for _ in 0..workers {
            let tx = tx.clone();
            let (queue, results, cancel, layers) = (&queue, &results, &cancel, &m.layers);
            sc.spawn(move || loop {
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
                let Some(i) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else {
                    break;
                };
                let send = |p: LayerProgress| {
                    let _ = tx.send((i, p));
                };
                let r = fetch_blob(s, store, &layers[i], retries, cancel, &send);
                if r.is_err() {
                    cancel.store(true, Ordering::Relaxed);
                }
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
            });
        }
        drop(tx);
        for (i, p) in rx {
            progress(PullEvent::Layer { digest: m.layers[i].digest.clone(), progress: p });
        }
    });
    let mut first_err: Option<Error> = None;
    for (i, r) in results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().enumerate() {
        match r {
            Some(Ok(true)) => new_blobs.push(m.layers[i].digest.clone()),
            Some(Ok(false)) => {}
            Some(Err(e)) => {
                // Prefer the root cause over the "cancelled" errors it triggered.
                let replace = match &first_err {
                    None => true,
                    Some(f) => f.reason() == Some(crate::Reason::Cancelled),
                };
                if replace {
                    first_err = Some(e);
                }
            }
            None => {
                first_err.get_or_insert_with(|| {
                    Error::unavailable(format!("{}: download cancelled", spec.display))
                        .with_reason(crate::Reason::Cancelled)
                });
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e.context(format!("pull {}", spec.display)));
    }
    if !store.contains(&chosen.digest) {
        store.put(&chosen.bytes, Some(&chosen.digest))?;
        new_blobs.push(chosen.digest.clone());
    }
    Ok(FetchedImage {
        manifest: chosen.digest.clone(),
        manifest_media_type: chosen.media_type.clone(),
        config: m.config.clone(),
        layers: m.layers.clone(),
        repo_digest: top.digest.clone(),
    })
}
