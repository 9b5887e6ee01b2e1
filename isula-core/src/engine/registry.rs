//! Registry operations of the [`Engine`](super::Engine): pull, push, login, logout.

use super::images::NewImage;
use super::Engine;
use crate::error::{Error, Result};
use crate::image::manifest::{self as image_manifest, ImageConfig};
use crate::reference::Reference;
use crate::registry::claims::BlobClaims;
use crate::registry::credentials::{normalize_server, CredentialStore, Credentials};
use crate::registry::manifest::{self, Descriptor, Manifest, Platform};
use crate::registry::pull::{fetch_image, LayerUnpacker, PullSpec};
use crate::registry::push::{push_image, PushImage, PushSpec};
use crate::registry::session::Session;
use crate::registry::{LayerProgress, RegistryOptions, Transport};
use crate::snapshot::StagedLayer;

pub(crate) use crate::registry::{PullEvent, PullOptions, PullResult, PushEvent, PushResult};

/// A pull unpacks the layers the snapshotter lacks into staging while they download;
/// the registration commits them. The layers of one pull share one image size budget.
struct SnapshotUnpacker<'e>(&'e Engine, Option<std::sync::Arc<crate::layer::ImageBudget>>);

impl LayerUnpacker for SnapshotUnpacker<'_> {
    type Staged = StagedLayer;

    fn plan(&self, config: &[u8], layers: &[Descriptor]) -> Result<Vec<bool>> {
        let cfg = ImageConfig::parse(config)?;
        let diff_ids = &cfg.rootfs.diff_ids;
        if diff_ids.len() != layers.len() {
            return Err(Error::invalid(format!(
                "image config has {} diff ids but the manifest lists {} layers",
                diff_ids.len(),
                layers.len()
            )));
        }
        let chains = image_manifest::chain_ids(diff_ids);
        Ok(chains.iter().map(|c| !self.0.inner.snapshots.has_layer(c)).collect())
    }

    fn unpack(&self, r: &mut dyn std::io::Read) -> Result<StagedLayer> {
        self.0.inner.snapshots.stage_layer(r, self.1.as_ref())
    }
}

impl Engine {
    /// Registry settings from the engine config: mirrors, insecure registries, the
    /// directories of CA certificates and `hosts.toml` files (`<graph>/certs.d`, then
    /// `registry-config-dir`).
    fn registry_transport(&self, timeout: Option<std::time::Duration>) -> Transport {
        let mut opts = RegistryOptions {
            mirrors: self.inner.config.registry_mirrors.clone(),
            insecure: self.inner.config.insecure_registries.clone(),
            certs_dirs: vec![self.inner.config.graph.join("certs.d"), self.inner.config.registry_config_dir.clone()],
            ..Default::default()
        };
        if let Some(t) = timeout {
            opts.connect_timeout = t;
            opts.read_timeout = t;
        }
        Transport::new(opts)
    }

    /// After a failed pull (its own pins dropped): remove the blobs it added unless another
    /// pull in flight claims them, another operation pins them or an image references them.
    fn forget_new_blobs(&self, claims: &BlobClaims, new_blobs: &[crate::digest::Digest]) {
        let used: std::collections::HashSet<crate::digest::Digest> =
            self.inner.images.list().iter().flat_map(|r| r.blobs().cloned().collect::<Vec<_>>()).collect();
        let gone = claims
            .delete_unshared(&self.inner.content, new_blobs, |d| used.contains(d) || self.inner.images.is_pinned(d));
        if !gone.is_empty() {
            log::debug!("failed pull: removed {} blob(s) it had added", gone.len());
        }
    }

    fn credential_store(&self) -> CredentialStore {
        CredentialStore::new(&self.inner.config.graph)
    }

    /// [`Images::pull`]: see there.
    pub(crate) fn pull(
        &self,
        reference: &str,
        opts: &PullOptions,
        progress: &mut dyn FnMut(PullEvent),
    ) -> Result<PullResult> {
        let r = Reference::parse(reference)?;
        let platform = opts.platform.as_deref().map(Platform::parse).transpose()?;
        let max = opts.max_concurrent_downloads.unwrap_or(self.inner.config.max_concurrent_downloads);
        if max == 0 {
            return Err(Error::invalid("max concurrent downloads must be at least 1"));
        }
        let transport = self.registry_transport(opts.timeout);
        let spec = PullSpec {
            registry: r.domain().to_string(),
            repository: r.path().to_string(),
            reference: match (r.digest(), r.tag()) {
                (Some(d), _) => d.to_string(),
                (None, Some(t)) => t.to_string(),
                (None, None) => "latest".to_string(),
            },
            display: r.to_string(),
            platform,
            max_concurrent: max,
            credentials: self.credential_store(),
            request_credentials: opts.credentials.clone(),
        };
        let mut claims = BlobClaims::new();
        // Pins keep image removal from collecting the blobs while the pull runs.
        let mut pins = self.inner.images.pin_blobs();
        let mut new_blobs = Vec::new();
        let fetched = fetch_image(
            &transport,
            &self.inner.content,
            &spec,
            &mut claims,
            &mut |d| pins.add(d),
            &mut new_blobs,
            progress,
            &SnapshotUnpacker(self, self.inner.snapshots.image_budget()),
        );
        let (img, staged) = match fetched {
            Ok(img) => img,
            Err(e) => {
                drop(pins);
                self.forget_new_blobs(&claims, &new_blobs);
                return Err(e);
            }
        };
        crate::failpoint::hit("image.pull.after-fetch");
        for l in &img.layers {
            progress(PullEvent::Layer { digest: l.digest.clone(), progress: LayerProgress::Extracting });
        }
        let names = if r.digest().is_none() { vec![r.clone()] } else { Vec::new() };
        let new = NewImage {
            manifest: img.manifest.clone(),
            manifest_media_type: img.manifest_media_type.clone(),
            config: img.config.digest.clone(),
            layers: img.layers.clone(),
            names,
            repo_digest: Some(format!("{}@{}", r.repository(), img.repo_digest)),
        };
        let rec = match self.register_image_staged(new, staged) {
            Ok(rec) => rec,
            Err(e) => {
                drop(pins);
                self.forget_new_blobs(&claims, &new_blobs);
                return Err(e.context(format!("pull {r}")));
            }
        };
        for l in &img.layers {
            progress(PullEvent::Layer { digest: l.digest.clone(), progress: LayerProgress::Done });
        }
        Ok(PullResult { id: rec.id.to_string(), reference: r.to_string(), digest: img.repo_digest })
    }

    /// [`Images::push`]: see there.
    pub(crate) fn push(&self, reference: &str, progress: &mut dyn FnMut(PushEvent)) -> Result<PushResult> {
        let r = Reference::parse(reference)?;
        let rec = self.resolve_image(reference)?;
        let bytes = self.inner.content.read(&rec.manifest, manifest::MAX_MANIFEST_SIZE)?;
        let what = format!("push {r}: manifest {}", rec.manifest);
        let (media_type, parsed) = manifest::parse(&bytes, Some(&rec.manifest_media_type), &what)?;
        let Manifest::Image(m) = parsed else {
            return Err(Error::invalid(format!("{what}: not an image manifest")));
        };
        let reference_part = match (r.tag(), r.digest()) {
            (Some(t), _) => t.to_string(),
            (None, Some(d)) if *d == rec.manifest => d.to_string(),
            (None, Some(d)) => {
                return Err(Error::invalid(format!(
                    "push {r}: digest {d} is not the image's manifest {}",
                    rec.manifest
                )))
            }
            (None, None) => "latest".to_string(),
        };
        let mount_from = rec.repo_digests.iter().find_map(|rd| {
            let x = Reference::parse(rd).ok()?;
            (x.domain() == r.domain() && x.path() != r.path()).then(|| x.path().to_string())
        });
        let spec = PushSpec {
            registry: r.domain().to_string(),
            repository: r.path().to_string(),
            reference: reference_part,
            display: r.to_string(),
            creds: self.credential_store().get(r.domain())?,
            mount_from,
        };
        let mut blobs = vec![m.config.clone()];
        blobs.extend(m.layers.iter().cloned());
        let img = PushImage { manifest: rec.manifest.clone(), media_type, blobs };
        let transport = self.registry_transport(None);
        let digest = push_image(&transport, &self.inner.content, &spec, &img, progress)?;
        Ok(PushResult { digest })
    }

    /// Check `user`/`password` against registry `server` (`host[:port]`, Docker Hub
    /// aliases accepted) and save them in `<root>/auth.json` (mode 0600) for later
    /// pulls and pushes. Wrong credentials are `PermissionDenied` and save nothing.
    pub fn login(&self, server: &str, user: &str, password: &str) -> Result<()> {
        let host = normalize_server(server)?;
        if user.is_empty() {
            return Err(Error::invalid(format!("login to {host}: empty user name")));
        }
        let creds = Credentials { username: user.to_string(), password: password.to_string() };
        let transport = self.registry_transport(None);
        let mut last = None;
        let endpoints = transport.endpoints(&host).map_err(|e| e.context(format!("login to {host}")))?;
        for ep in endpoints.into_iter().filter(|e| !e.mirror) {
            let res = Session::open(&transport, ep, "", Vec::new(), Some(creds.clone())).and_then(|s| s.check_access());
            match res {
                Ok(()) => {
                    self.credential_store().set(&host, &creds)?;
                    log::info!("logged in to {host} as {user}");
                    return Ok(());
                }
                Err(e) if e.kind() == crate::ErrorKind::Unavailable => last = Some(e),
                Err(e) => return Err(e.context(format!("login to {host} as {user:?}"))),
            }
        }
        Err(last.unwrap_or_else(|| Error::unavailable("no endpoint")).context(format!("login to {host}")))
    }

    /// Forget the saved credentials of `server`; `NotFound` when there are none.
    pub fn logout(&self, server: &str) -> Result<()> {
        self.credential_store().remove(server)
    }
}
