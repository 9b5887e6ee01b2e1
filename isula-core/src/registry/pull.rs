//! Pull: resolve a reference to one platform's manifest on the first endpoint able to
//! (mirrors, then the registry), then fetch config and layers into the content store,
//! layers in parallel, each blob from the first pull-capable endpoint that has it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};

use super::blobs::{fetch_blob, fetch_manifest, FetchedManifest};
use super::claims::BlobClaims;
use super::credentials::{CredentialStore, Credentials};
use super::hosts::Caps;
use super::manifest::{self, Descriptor, Manifest, Platform};
use super::session::Session;
use super::stream::fetch_unpack;
use super::transport::{Endpoint, Transport};
use super::{LayerProgress, PullEvent};
use crate::content::ContentStore;
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};

/// Unpacks layers while they download (the engine's snapshotter; the registry client knows
/// no snapshotter).
pub(crate) trait LayerUnpacker: Sync {
    /// An unpacked layer, not yet committed.
    type Staged: Send;
    /// Given the image config (its bytes) and the manifest's layers, which layers need
    /// unpacking (those the node does not have yet).
    fn plan(&self, config: &[u8], layers: &[Descriptor]) -> Result<Vec<bool>>;
    /// Unpack one layer from `r`, the stream of its (compressed) blob.
    fn unpack(&self, r: &mut dyn std::io::Read) -> Result<Self::Staged>;
}

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
    /// Saved credentials: the registry's are sent to the registry, a mirror's own to the mirror.
    pub credentials: CredentialStore,
    /// Credentials given with this pull (the CRI's PullImage `auth`): used for the registry
    /// itself instead of the saved ones (mirrors keep their own).
    pub request_credentials: Option<Credentials>,
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

/// Sessions with the pull-capable endpoints, in order, each opened on first use and
/// shared by the download threads. An endpoint that failed to open stays failed.
struct Sessions<'t> {
    transport: &'t Transport,
    repository: String,
    scopes: Vec<String>,
    slots: Vec<Slot<'t>>,
}

struct Slot<'t> {
    endpoint: Endpoint,
    creds: Option<Credentials>,
    session: OnceLock<Option<Session<'t>>>,
}

impl<'t> Sessions<'t> {
    fn new(transport: &'t Transport, spec: &PullSpec, endpoints: Vec<Endpoint>) -> Result<Self> {
        let mut slots = Vec::new();
        for endpoint in endpoints.into_iter().filter(|e| e.caps.has(Caps::PULL)) {
            let who = if endpoint.mirror { endpoint.host().to_string() } else { spec.registry.clone() };
            let creds = match &spec.request_credentials {
                Some(c) if !endpoint.mirror => Some(c.clone()),
                _ => spec.credentials.get(&who)?,
            };
            slots.push(Slot { endpoint, creds, session: OnceLock::new() });
        }
        Ok(Sessions {
            transport,
            repository: spec.repository.clone(),
            scopes: vec![format!("repository:{}:pull", spec.repository)],
            slots,
        })
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    /// The session with endpoint `i`, opened (ping and authentication) on first use.
    fn get(&self, i: usize) -> Result<&Session<'t>> {
        let slot = &self.slots[i];
        let mut err = None;
        let s = slot.session.get_or_init(|| {
            match Session::open(
                self.transport,
                slot.endpoint.clone(),
                &self.repository,
                self.scopes.clone(),
                slot.creds.clone(),
            ) {
                Ok(s) => Some(s),
                Err(e) => {
                    err = Some(e);
                    None
                }
            }
        });
        match s {
            Some(s) => Ok(s),
            None => Err(err.unwrap_or_else(|| {
                Error::unavailable(format!("{}: unreachable earlier in this pull", slot.endpoint.api()))
            })),
        }
    }

    /// True when a failure on endpoint `i` moves on to the next one: any endpoint is left
    /// after an unreachable one, a mirror also after a 404 or a refusal.
    fn falls_back(&self, i: usize, e: &Error) -> bool {
        i + 1 < self.len()
            && (e.kind() == ErrorKind::Unavailable
                || (self.slots[i].endpoint.mirror
                    && matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied)))
    }

    /// Fetch blob `desc` from the first endpoint that serves it, unpacking it on the way.
    /// Returns the unpacked layer; `committed` is set when this call committed the blob.
    #[allow(clippy::too_many_arguments)]
    fn fetch_unpack<T>(
        &self,
        store: &ContentStore,
        desc: &Descriptor,
        retries: u32,
        cancel: &AtomicBool,
        events: &dyn Fn(LayerProgress),
        unpack: &(dyn Fn(&mut dyn std::io::Read) -> Result<T> + Sync),
        committed: &mut bool,
    ) -> Result<T>
    where
        T: Send,
    {
        let mut i = 0;
        loop {
            let r = self.get(i).and_then(|s| fetch_unpack(s, store, desc, retries, cancel, events, unpack, committed));
            match r {
                Err(e) if !*committed && !cancel.load(Ordering::Relaxed) && self.falls_back(i, &e) => {
                    log::info!("blob {}: {e}; trying the next endpoint", desc.digest);
                    i += 1;
                }
                r => return r,
            }
        }
    }

    /// Fetch blob `desc` from the first endpoint that serves it.
    fn fetch_blob(
        &self,
        store: &ContentStore,
        desc: &Descriptor,
        retries: u32,
        cancel: &AtomicBool,
        events: &dyn Fn(LayerProgress),
    ) -> Result<bool> {
        let mut i = 0;
        loop {
            let r = self.get(i).and_then(|s| fetch_blob(s, store, desc, retries, cancel, events));
            match r {
                Err(e) if !cancel.load(Ordering::Relaxed) && self.falls_back(i, &e) => {
                    log::info!("blob {}: {e}; trying the next endpoint", desc.digest);
                    i += 1;
                }
                r => return r,
            }
        }
    }
}

/// Resolve and download `spec` into `store`. The image's blobs are claimed in `claims`
/// and passed to `pin` (to protect them from garbage collection) once known; the blobs this call committed are added to `new_blobs` (also on failure,
/// so the caller can remove them with [`BlobClaims::delete_unshared`]). Partial downloads
/// stay for a later resume.
///
/// A tag is resolved on the endpoints with both the pull and resolve capabilities, a digest
/// on those with pull, in order; a failure moves on as [`Sessions::falls_back`] says.
///
/// Layers `unpacker` plans to unpack are unpacked while they download; their staged forms
/// come back beside the image, in layer order (`None` for the others).
#[allow(clippy::too_many_arguments)]
pub(crate) fn fetch_image<U: LayerUnpacker>(
    transport: &Transport,
    store: &ContentStore,
    spec: &PullSpec,
    claims: &mut BlobClaims,
    pin: &mut dyn FnMut(&Digest),
    new_blobs: &mut Vec<Digest>,
    progress: &mut dyn FnMut(PullEvent),
    unpacker: &U,
) -> Result<(FetchedImage, Vec<Option<U::Staged>>)> {
    let ctx = || format!("pull {}", spec.display);
    let endpoints = transport.endpoints(&spec.registry).map_err(|e| e.context(ctx()))?;
    let sessions = Sessions::new(transport, spec, endpoints).map_err(|e| e.context(ctx()))?;
    // Tags cannot hold a ':'; digests always do.
    let by_digest = spec.reference.contains(':');
    let need = if by_digest { Caps::PULL } else { Caps::PULL | Caps::RESOLVE };
    let candidates: Vec<usize> = (0..sessions.len()).filter(|&i| sessions.slots[i].endpoint.caps.has(need)).collect();
    let mut last_err: Option<Error> = None;
    let mut not_found: Option<Error> = None;
    for (k, &i) in candidates.iter().enumerate() {
        match sessions.get(i).and_then(|s| resolve(s, spec).map(|r| (s, r))) {
            Ok((session, (top, chosen))) => {
                progress(PullEvent::Resolved { reference: spec.display.clone(), digest: top.digest.clone() });
                if let Manifest::Image(m) = &chosen.manifest {
                    let mut all = vec![chosen.digest.clone(), m.config.digest.clone()];
                    all.extend(m.layers.iter().map(|l| l.digest.clone()));
                    claims.claim(store, &all);
                    all.iter().for_each(&mut *pin);
                }
                log::debug!("pull {}: resolved on {}", spec.display, session.endpoint().api());
                return download(transport, store, &sessions, spec, &top, chosen, new_blobs, progress, unpacker);
            }
            Err(e) => {
                let more = k + 1 < candidates.len();
                if !more || !sessions.falls_back(i, &e) {
                    // A mirror that does not have the image says more than an unreachable
                    // registry after it (an offline node's upstream).
                    let e = match not_found.take() {
                        Some(nf) if !more && e.kind() == ErrorKind::Unavailable => {
                            Error::not_found(format!("{nf}; then {e}"))
                        }
                        _ => e,
                    };
                    return Err(e.context(ctx()));
                }
                log::info!("pull {}: {e}; trying the next endpoint", spec.display);
                if e.kind() == ErrorKind::NotFound && not_found.is_none() {
                    not_found = Some(e);
                } else {
                    last_err = Some(e);
                }
            }
        }
    }
    Err(last_err
        .unwrap_or_else(|| {
            let what = if by_digest { "pull" } else { "pull and resolve" };
            Error::unavailable(format!("no endpoint of registry {} has the {what} capabilities", spec.registry))
        })
        .context(ctx()))
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
fn download<U: LayerUnpacker>(
    transport: &Transport,
    store: &ContentStore,
    s: &Sessions,
    spec: &PullSpec,
    top: &FetchedManifest,
    chosen: FetchedManifest,
    new_blobs: &mut Vec<Digest>,
    progress: &mut dyn FnMut(PullEvent),
    unpacker: &U,
) -> Result<(FetchedImage, Vec<Option<U::Staged>>)> {
    let Manifest::Image(m) = &chosen.manifest else {
        return Err(Error::internal("resolved manifest is not an image manifest"));
    };
    let retries = transport.options().retries;
    let never = AtomicBool::new(false);
    // The config first: small, and it tells the platform of single-platform images.
    if s.fetch_blob(store, &m.config, retries, &never, &|_| {})? {
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
    let need = unpacker.plan(&config, &m.layers)?;
    for l in &m.layers {
        progress(PullEvent::Layer { digest: l.digest.clone(), progress: LayerProgress::Waiting });
    }
    type Outcome<S> = (bool, Result<Option<S>>);
    let queue: Mutex<VecDeque<usize>> = Mutex::new((0..m.layers.len()).collect());
    let results: Mutex<Vec<Option<Outcome<U::Staged>>>> = Mutex::new((0..m.layers.len()).map(|_| None).collect());
    let cancel = AtomicBool::new(false);
    let workers = spec.max_concurrent.max(1).min(m.layers.len());
    std::thread::scope(|sc| {
        let (tx, rx) = mpsc::channel::<(usize, LayerProgress)>();
        for _ in 0..workers {
            let tx = tx.clone();
            let (queue, results, cancel, layers, need) = (&queue, &results, &cancel, &m.layers, &need);
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
                let mut committed = false;
                let r = if need[i] {
                    let unpack = |r: &mut dyn std::io::Read| unpacker.unpack(r);
                    s.fetch_unpack(store, &layers[i], retries, cancel, &send, &unpack, &mut committed).map(Some)
                } else {
                    s.fetch_blob(store, &layers[i], retries, cancel, &send).map(|new| {
                        committed = new;
                        None
                    })
                };
                if r.is_err() {
                    cancel.store(true, Ordering::Relaxed);
                }
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some((committed, r));
            });
        }
        drop(tx);
        for (i, p) in rx {
            progress(PullEvent::Layer { digest: m.layers[i].digest.clone(), progress: p });
        }
    });
    let mut first_err: Option<Error> = None;
    let mut staged = Vec::with_capacity(m.layers.len());
    for (i, r) in results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().enumerate() {
        if matches!(r, Some((true, _))) {
            new_blobs.push(m.layers[i].digest.clone());
        }
        match r {
            Some((_, Ok(st))) => staged.push(st),
            Some((_, Err(e))) => {
                staged.push(None);
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
                staged.push(None);
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
    let img = FetchedImage {
        manifest: chosen.digest.clone(),
        manifest_media_type: chosen.media_type.clone(),
        config: m.config.clone(),
        layers: m.layers.clone(),
        repo_digest: top.digest.clone(),
    };
    Ok((img, staged))
}
