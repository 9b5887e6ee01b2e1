//! Image operations of the [`Engine`](super::Engine): load, save, import, tag, list, inspect, remove,
//! and the internal registration used by pulls.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::Engine;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::archive::{self, save, MAX_JSON};
use crate::image::filter::Filters;
use crate::image::manifest::{self, Descriptor, ImageConfig, Manifest};
use crate::image::store::ImageRecord;
use crate::reference::Reference;
use crate::sys;

/// The option and result types of these methods, also reachable as `isula_core::image::*`.
pub(crate) use crate::image::types::{
    GraphDriver, ImageInspect, ImageSummary, ImportOptions, ListImagesOptions, LoadOptions, LoadedImage, ManifestRef,
    RemoveImageOptions, RemovedImage, RootFs,
};

/// An image whose blobs are all in the content store, ready to be registered.
#[derive(Debug, Clone)]
pub(crate) struct NewImage {
    /// Manifest blob.
    pub manifest: Digest,
    /// Manifest media type.
    pub manifest_media_type: String,
    /// Config blob (becomes the image id).
    pub config: Digest,
    /// Layer blobs, bottom first.
    pub layers: Vec<Descriptor>,
    /// Names to give the image (moved from other images that hold them).
    pub names: Vec<Reference>,
    /// `repo@sha256:<manifest digest>` the image was pulled by (normalised on registration).
    pub repo_digest: Option<String>,
}

/// A scratch directory removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(parent: &Path, what: &str) -> Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let p = parent.join(format!("{what}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        sys::fs::remove_dir_all_if_exists(&p)?;
        sys::fs::ensure_dir(&p, 0o700)?;
        Ok(ScratchDir(p))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Blobs a failing operation added, deleted again unless some image uses them.
#[derive(Default)]
struct NewBlobs(Vec<Digest>);

impl NewBlobs {
    fn note(&mut self, existed: bool, d: &Digest) {
        if !existed && !self.0.contains(d) {
            self.0.push(d.clone());
        }
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Engine {
    // ---------------------------------------------------------------- internal API

    /// Register an image whose manifest, config and layer blobs are already in the content
    /// store: checks the config, creates missing layers (bottom up), writes the record and
    /// moves `names` from other images. On failure the layers it created are removed and no
    /// record is written.
    pub(crate) fn register_image(&self, img: NewImage) -> Result<ImageRecord> {
        let _ops = self.inner.images.lock_ops();
        self.register_locked(img)
    }

    fn register_locked(&self, img: NewImage) -> Result<ImageRecord> {
        for d in [&img.manifest, &img.config].into_iter().chain(img.layers.iter().map(|l| &l.digest)) {
            if !self.inner.content.contains(d) {
                return Err(Error::not_found(format!("blob {d} of image {} is not in the content store", img.config)));
            }
        }
        let cfg_bytes = self.inner.content.read(&img.config, MAX_JSON)?;
        let cfg = ImageConfig::parse(&cfg_bytes).map_err(|e| e.context(format!("image {}", img.config)))?;
        let diff_ids = cfg.rootfs.diff_ids.clone();
        if diff_ids.len() != img.layers.len() {
            return Err(Error::invalid(format!(
                "image {}: config has {} diff ids but the manifest lists {} layers",
                img.config,
                diff_ids.len(),
                img.layers.len()
            )));
        }
        let chain_ids = manifest::chain_ids(&diff_ids);
        let mut created: Vec<Digest> = Vec::new();
        let mut sizes = Vec::new();
        let result = (|| -> Result<()> {
            for (i, (layer, diff_id)) in img.layers.iter().zip(&diff_ids).enumerate() {
                let chain = &chain_ids[i];
                if self.inner.snapshots.has_layer(chain) {
                    sizes.push(self.inner.snapshots.layer(chain).map(|l| l.size).unwrap_or(layer.size));
                    continue;
                }
                let parent = if i == 0 { None } else { Some(&chain_ids[i - 1]) };
                // The snapshotter undoes the compression and checks the diff id.
                let mut blob = self.inner.content.open_blob(&layer.digest)?;
                let info = self
                    .inner
                    .snapshots
                    .create_layer(parent, diff_id, &mut blob)
                    .map_err(|e| e.context(format!("layer {} of image {}", layer.digest, img.config)))?;
                created.push(info.chain_id.clone());
                sizes.push(info.size);
            }
            Ok(())
        })();
        let undo = |created: &[Digest]| {
            for c in created.iter().rev() {
                if let Err(e) = self.inner.snapshots.remove_layer(c) {
                    log::warn!("removing layer {c} after a failed registration: {e}");
                }
            }
        };
        if let Err(e) = result {
            undo(&created);
            return Err(e);
        }
        let mut names: Vec<String> = Vec::new();
        let mut repo_digests: Vec<String> = Vec::new();
        for n in &img.names {
            if n.tag().is_some() {
                names.push(n.with_tag(n.tag().unwrap_or("latest"))?.to_string());
            } else if n.digest().is_some() {
                repo_digests.push(n.to_string());
            }
        }
        repo_digests.extend(
            img.repo_digest
                .iter()
                .map(|s| Reference::parse_named(s).map(|r| r.to_string()).unwrap_or_else(|_| s.clone())),
        );
        let old = self.inner.images.get(&img.config);
        if let Some(o) = &old {
            names.extend(o.names.iter().filter(|n| !names.contains(n)).cloned().collect::<Vec<_>>());
            repo_digests
                .extend(o.repo_digests.iter().filter(|n| !repo_digests.contains(n)).cloned().collect::<Vec<_>>());
        }
        let rec = ImageRecord {
            id: img.config.clone(),
            names,
            repo_digests,
            manifest: img.manifest.clone(),
            manifest_media_type: img.manifest_media_type.clone(),
            layers: img.layers.clone(),
            diff_ids,
            chain_ids,
            created: cfg.created_unix(),
            size: sizes.iter().sum(),
            layer_sizes: sizes,
            labels: cfg.labels(),
            seq: 0,
        };
        match self.inner.images.put(rec) {
            Ok(rec) => {
                if let Some(o) = old {
                    if o.manifest != rec.manifest {
                        self.free_blobs(&[o.manifest]);
                    }
                }
                Ok(rec)
            }
            Err(e) => {
                undo(&created);
                Err(e)
            }
        }
    }

    /// Find an image by full or familiar name, `name@digest`, full id, `sha256:` id or unique id prefix.
    pub(crate) fn resolve_image(&self, name_or_id: &str) -> Result<ImageRecord> {
        self.resolve_with_name(name_or_id).map(|(r, _)| r)
    }

    /// Like [`Engine::resolve_image`], also returning the full name matched (None when matched by id).
    fn resolve_with_name(&self, s: &str) -> Result<(ImageRecord, Option<Reference>)> {
        let idx = self.inner.images.read();
        let id_part = s.strip_prefix("sha256:").unwrap_or(s);
        if id_part.len() == 64 && is_hex(id_part) {
            if let Some(r) = Digest::from_hex(id_part).ok().and_then(|d| idx.images.get(&d)) {
                return Ok((r.clone(), None));
            }
        }
        if !s.starts_with("sha256:") {
            if let Ok(r) = Reference::parse(s) {
                if let Some(d) = r.digest() {
                    let want = r.repository();
                    let hit = idx.images.values().find(|rec| {
                        rec.repo_digests.iter().any(|rd| {
                            Reference::parse(rd)
                                .map(|x| x.repository() == want && x.digest() == Some(d))
                                .unwrap_or(false)
                        }) || (&rec.manifest == d
                            && rec
                                .names
                                .iter()
                                .any(|n| Reference::parse(n).map(|x| x.repository() == want).unwrap_or(false)))
                    });
                    if let Some(rec) = hit {
                        return Ok((rec.clone(), Some(r)));
                    }
                } else if let Some(rec) = idx.by_name(&r.to_string()) {
                    return Ok((rec.clone(), Some(r)));
                }
            }
        }
        if is_hex(id_part) {
            let mut hits = idx
                .images
                .range(Digest::from_hex(&format!("{id_part:0<64}")).ok().unwrap_or_else(|| Digest::of(b""))..)
                .take_while(|(d, _)| d.hex().starts_with(id_part))
                .map(|(_, r)| r);
            if let Some(first) = hits.next() {
                if hits.next().is_some() {
                    return Err(Error::invalid(format!(
                        "image id prefix {s:?} is ambiguous: it matches several images"
                    )));
                }
                return Ok((first.clone(), None));
            }
        }
        Err(Error::not_found(format!("No such image: {s}")).with_reason(crate::Reason::NoSuchImage))
    }

    /// Delete blobs that no image references (errors are logged, not returned).
    fn free_blobs(&self, candidates: &[Digest]) {
        let used: HashSet<Digest> =
            self.inner.images.list().iter().flat_map(|r| r.blobs().cloned().collect::<Vec<_>>()).collect();
        for d in candidates {
            if !used.contains(d) && !self.inner.images.is_pinned(d) {
                if let Err(e) = self.inner.content.delete(d) {
                    if e.kind() != crate::ErrorKind::NotFound {
                        log::warn!("freeing blob {d}: {e}");
                    }
                }
            }
        }
    }

    /// Put `data` into the content store, noting whether it is new.
    fn put_blob(&self, new: &mut NewBlobs, data: &[u8], expected: Option<&Digest>) -> Result<Digest> {
        let existed = self.inner.content.contains(&Digest::of(data));
        let d = self.inner.content.put(data, expected)?;
        new.note(existed, &d);
        Ok(d)
    }

    // ---------------------------------------------------------------- load / save / import

    /// [`Images::load`]: see there.
    pub(crate) fn load(&self, reader: &mut dyn Read, opts: &LoadOptions) -> Result<Vec<LoadedImage>> {
        let tag = opts.tag.as_deref().map(Reference::parse).transpose()?;
        if let Some(t) = &tag {
            if t.digest().is_some() {
                return Err(Error::invalid(format!("cannot tag a loaded image with a digest reference {t}")));
            }
        }
        let scratch = ScratchDir::new(&self.tmp_dir()?, "load")?;
        let pending = archive::read_archive(reader, &scratch.0, &|c| self.inner.snapshots.has_layer(c))?;
        if tag.is_some() && pending.len() != 1 {
            return Err(Error::invalid(format!(
                "--tag needs an archive with exactly one image; this one has {}",
                pending.len()
            )));
        }
        let mut new = NewBlobs::default();
        let mut out = Vec::new();
        // Keep a concurrent image removal from collecting blobs this load is about to use.
        let mut pins = self.inner.images.pin_blobs();
        for p in &pending {
            pins.add(&p.config.0);
            p.layers.iter().for_each(|(d, _)| pins.add(&d.digest));
        }
        for p in pending {
            let res = (|| -> Result<ImageRecord> {
                let (id, cfg) = &p.config;
                let existed = self.inner.content.contains(id);
                self.inner.content.put(cfg, Some(id))?;
                new.note(existed, id);
                for (d, path) in &p.layers {
                    let existed = self.inner.content.contains(&d.digest);
                    if !existed {
                        let mut f = File::open(path).map_err(|e| Error::io(path, "open", e))?;
                        self.inner.content.write_from(&mut f, Some(&d.digest), Some(d.size))?;
                    }
                    new.note(existed, &d.digest);
                }
                let layers: Vec<Descriptor> = p.layers.iter().map(|(d, _)| d.clone()).collect();
                let (mbytes, mtype) = match &p.manifest {
                    Some(m) => m.clone(),
                    None => (synth_manifest(id, cfg.len() as u64, &layers)?, manifest::OCI_MANIFEST.to_string()),
                };
                let mdigest = Digest::of(&mbytes);
                pins.add(&mdigest);
                let existed = self.inner.content.contains(&mdigest);
                self.inner.content.put(&mbytes, Some(&mdigest))?;
                new.note(existed, &mdigest);
                let names = match &tag {
                    Some(t) => vec![t.clone()],
                    None => p.names.clone(),
                };
                self.register_image(NewImage {
                    manifest: mdigest,
                    manifest_media_type: mtype,
                    config: id.clone(),
                    layers,
                    names,
                    repo_digest: None,
                })
            })();
            match res {
                Ok(rec) => out.push(LoadedImage { id: rec.id.to_string(), names: rec.names.clone() }),
                Err(e) => {
                    drop(pins);
                    let _ops = self.inner.images.lock_ops();
                    self.free_blobs(&new.0);
                    return Err(e);
                }
            }
        }
        for l in &out {
            self.emit_image("load", &l.id, l.names.first().map(String::as_str).unwrap_or(""));
        }
        Ok(out)
    }

    /// [`Images::save`]: see there.
    pub(crate) fn save(&self, names: &[&str], writer: &mut dyn Write) -> Result<()> {
        if names.is_empty() {
            return Err(Error::invalid("save needs at least one image"));
        }
        let mut items: Vec<(ImageRecord, Vec<Reference>)> = Vec::new();
        for n in names {
            let (rec, name) = self.resolve_with_name(n)?;
            let name = name.filter(|r| r.tag().is_some());
            match items.iter_mut().find(|(r, _)| r.id == rec.id) {
                Some((_, ns)) => ns.extend(name.filter(|x| !ns.contains(x))),
                None => items.push((rec, name.into_iter().collect())),
            }
        }
        save::write(&self.inner.content, &items, writer)
    }

    /// [`Images::import`]: see there.
    pub(crate) fn import(&self, reader: &mut dyn Read, opts: &ImportOptions) -> Result<Digest> {
        let name = opts.reference.as_deref().map(Reference::parse).transpose()?;
        if name.as_ref().map(|n| n.digest().is_some()).unwrap_or(false) {
            return Err(Error::invalid("cannot name an imported image with a digest reference"));
        }
        let mut new = NewBlobs::default();
        let res = (|| -> Result<Digest> {
            let mut tar = manifest::auto_decompress(reader).map_err(|e| e.context("import"))?;
            let (diff_id, size) = self.inner.content.write_from(&mut tar, None, None)?;
            new.note(false, &diff_id);
            let now = crate::time::now().to_rfc3339_secs();
            let mut history = serde_json::json!({ "created": now, "created_by": "isula import" });
            if let Some(m) = &opts.message {
                history["comment"] = serde_json::Value::String(m.clone());
            }
            let cfg = serde_json::json!({
                "created": now,
                "architecture": manifest::host_arch(),
                "os": "linux",
                "config": {},
                "rootfs": { "type": "layers", "diff_ids": [diff_id.to_string()] },
                "history": [history],
            });
            let cfg = serde_json::to_vec(&cfg)?;
            let id = self.put_blob(&mut new, &cfg, None)?;
            let layers = vec![Descriptor::new(manifest::OCI_LAYER, diff_id, size)];
            let m = synth_manifest(&id, cfg.len() as u64, &layers)?;
            let mdigest = self.put_blob(&mut new, &m, None)?;
            self.register_image(NewImage {
                manifest: mdigest,
                manifest_media_type: manifest::OCI_MANIFEST.to_string(),
                config: id.clone(),
                layers,
                names: name.into_iter().collect(),
                repo_digest: None,
            })?;
            Ok(id)
        })();
        if res.is_err() {
            let _ops = self.inner.images.lock_ops();
            self.free_blobs(&new.0);
        }
        if let Ok(id) = &res {
            self.emit_image("import", &id.to_string(), opts.reference.as_deref().unwrap_or(""));
        }
        res
    }

    // ---------------------------------------------------------------- names and queries

    /// [`Images::tag`]: see there.
    pub(crate) fn tag(&self, source: &str, target: &str) -> Result<()> {
        let t = Reference::parse(target)?;
        if t.digest().is_some() {
            return Err(Error::invalid(format!("refusing to create a tag with a digest reference: {target}")));
        }
        let _ops = self.inner.images.lock_ops();
        let mut rec = self.resolve_image(source)?;
        let full = t.to_string();
        if !rec.names.contains(&full) {
            rec.names.push(full);
            let id = rec.id.to_string();
            self.inner.images.put(rec)?;
            self.emit_image("tag", &id, &t.familiar());
        }
        Ok(())
    }

    /// Publish an image event (`name` attribute when given).
    pub(crate) fn emit_image(&self, action: &str, id: &str, name: &str) {
        let mut a = BTreeMap::new();
        if !name.is_empty() {
            a.insert("name".to_string(), name.to_string());
        }
        self.inner.events.emit("image", action, id, a);
    }

    /// [`Images::list`]: see there.
    pub(crate) fn list_images(&self, opts: &ListImagesOptions) -> Result<Vec<ImageSummary>> {
        let mut f = Filters::parse(&opts.filters)?;
        if let Some(b) = f.before_ref.clone() {
            f.before = Some(self.resolve_image(&b)?.created);
        }
        if let Some(s) = f.since_ref.clone() {
            f.since = Some(self.resolve_image(&s)?.created);
        }
        let mut out: Vec<ImageSummary> = self
            .inner
            .images
            .read()
            .images
            .values()
            .filter(|r| f.matches(r))
            .map(|r| ImageSummary {
                id: r.id.to_string(),
                repo_tags: familiar_all(&r.names),
                repo_digests: familiar_all(&r.repo_digests),
                created: r.created,
                size: r.size,
                labels: r.labels.clone(),
            })
            .collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// [`Images::inspect`]: see there.
    pub(crate) fn inspect_image(&self, name_or_id: &str) -> Result<ImageInspect> {
        let rec = self.resolve_image(name_or_id)?;
        let cfg_bytes = self.inner.content.read(&rec.id, MAX_JSON)?;
        let cfg = ImageConfig::parse(&cfg_bytes)?;
        Ok(ImageInspect {
            id: rec.id.to_string(),
            repo_tags: familiar_all(&rec.names),
            repo_digests: familiar_all(&rec.repo_digests),
            created: cfg.created.clone().unwrap_or_default(),
            author: cfg.author.clone().unwrap_or_default(),
            size: rec.size,
            config: cfg.config.clone().unwrap_or(serde_json::Value::Object(Default::default())),
            architecture: cfg.architecture.clone(),
            variant: cfg.variant.clone(),
            os: cfg.os.clone(),
            root_fs: RootFs { kind: "layers".into(), layers: rec.diff_ids.iter().map(|d| d.to_string()).collect() },
            graph_driver: GraphDriver { name: "overlay2".into(), data: BTreeMap::new() },
            manifest: ManifestRef { digest: rec.manifest.to_string(), media_type: rec.manifest_media_type.clone() },
        })
    }

    /// Ids (keys) of container snapshots based on image `id`.
    fn containers_using(&self, id: &Digest) -> Result<Vec<String>> {
        let full = id.to_string();
        Ok(self
            .inner
            .snapshots
            .snapshots()?
            .into_iter()
            .filter(|s| s.image.as_deref().map(|i| i == full || i == id.hex()).unwrap_or(false))
            .map(|s| s.key)
            .collect())
    }

    /// [`Images::remove`]: see there.
    pub(crate) fn remove_image(&self, name_or_id: &str, opts: &RemoveImageOptions) -> Result<Vec<RemovedImage>> {
        let out = self.remove_image_inner(name_or_id, opts)?;
        for r in &out {
            match r {
                RemovedImage::Untagged(n) => self.emit_image("untag", name_or_id, n),
                RemovedImage::Deleted(id) => self.emit_image("delete", id, ""),
            }
        }
        Ok(out)
    }

    fn remove_image_inner(&self, name_or_id: &str, opts: &RemoveImageOptions) -> Result<Vec<RemovedImage>> {
        let _ops = self.inner.images.lock_ops();
        let (mut rec, name) = self.resolve_with_name(name_or_id)?;
        let mut out = Vec::new();
        let users = self.containers_using(&rec.id)?;
        // Removing the last name of an image a container uses needs force (Docker's wording).
        let refuse_if_used = |n: &Reference| -> Result<()> {
            if users.is_empty() || opts.force {
                return Ok(());
            }
            Err(Error::conflict(format!(
                "unable to remove repository reference {:?} (must force) - container {} is using its referenced image {}",
                n.familiar(),
                users[0],
                rec.id.short()
            )))
        };
        match name {
            Some(n) if n.digest().is_none() && rec.names.len() > 1 => {
                let full = n.to_string();
                rec.names.retain(|x| *x != full);
                self.inner.images.put(rec)?;
                return Ok(vec![RemovedImage::Untagged(n.familiar())]);
            }
            Some(n) if n.digest().is_some() && rec.names.len() + rec.repo_digests.len() > 1 => {
                // `repo@digest`: drop that digest reference only (matching by repository and digest).
                let untag = n.with_digest(n.digest().cloned().unwrap_or_else(|| rec.manifest.clone()));
                let full = untag.to_string();
                let before = rec.repo_digests.len();
                rec.repo_digests.retain(|x| *x != full);
                if rec.repo_digests.len() != before {
                    self.inner.images.put(rec)?;
                    return Ok(vec![RemovedImage::Untagged(untag.familiar())]);
                }
                // Matched by manifest digest without a stored digest reference: fall through to deletion rules.
                refuse_if_used(&n)?;
            }
            Some(n) => refuse_if_used(&n)?,
            None => {
                if rec.names.len() > 1 && !opts.force {
                    return Err(Error::conflict(format!(
                        "unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        rec.id.short()
                    )));
                }
                if !users.is_empty() && !opts.force {
                    return Err(Error::conflict(format!(
                        "unable to delete {} (must be forced) - image is being used by container {}",
                        rec.id.short(),
                        users[0]
                    )));
                }
            }
        }
        out.extend(familiar_all(&rec.names).into_iter().map(RemovedImage::Untagged));
        out.extend(familiar_all(&rec.repo_digests).into_iter().map(RemovedImage::Untagged));
        self.inner.images.delete(&rec.id)?;
        self.free_layers(&rec.chain_ids)?;
        self.free_blobs(&rec.blobs().cloned().collect::<Vec<_>>());
        out.push(RemovedImage::Deleted(rec.id.to_string()));
        Ok(out)
    }

    /// Layers that must stay: those of every image and the parent chains of container snapshots.
    fn layers_in_use(&self) -> Result<HashSet<Digest>> {
        let mut keep: HashSet<Digest> = self.inner.images.list().into_iter().flat_map(|r| r.chain_ids).collect();
        for s in self.inner.snapshots.snapshots()? {
            let mut cur = s.parent.clone();
            while let Some(c) = cur {
                if !keep.insert(c.clone()) {
                    break;
                }
                cur = self.inner.snapshots.layer(&c).ok().and_then(|l| l.parent);
            }
        }
        Ok(keep)
    }

    /// Remove the layers of `chain` (top down) that nothing uses any more.
    fn free_layers(&self, chain: &[Digest]) -> Result<()> {
        let keep = self.layers_in_use()?;
        for c in chain.iter().rev() {
            if keep.contains(c) {
                break;
            }
            if let Err(e) = self.inner.snapshots.remove_layer(c) {
                if e.kind() != crate::ErrorKind::NotFound {
                    log::warn!("removing layer {c}: {e}");
                }
            }
        }
        Ok(())
    }

    /// Start-up repair of the image store: drop records whose layers are gone, then remove
    /// layers and blobs nothing references.
    pub(super) fn repair_images(&self) -> Result<()> {
        let _ops = self.inner.images.lock_ops();
        for r in self.inner.images.list() {
            if let Some(c) = r.chain_ids.iter().find(|c| !self.inner.snapshots.has_layer(c)) {
                log::warn!("dropping image {}: its layer {c} is missing", r.id);
                self.inner.images.delete(&r.id)?;
            } else if let Some(b) = [&r.id, &r.manifest].into_iter().find(|b| !self.inner.content.contains(b)) {
                log::warn!("dropping image {}: its blob {b} is missing", r.id);
                self.inner.images.delete(&r.id)?;
            }
        }
        self.prune_layers_locked()?;
        let all = self.inner.content.list()?;
        self.free_blobs(&all);
        Ok(())
    }

    /// Remove the image layers that no image and no container snapshot uses (e.g. after the
    /// container of a force-removed image is deleted).
    pub(crate) fn prune_image_layers(&self) -> Result<()> {
        let _ops = self.inner.images.lock_ops();
        self.prune_layers_locked()
    }

    fn prune_layers_locked(&self) -> Result<()> {
        let keep = self.layers_in_use()?;
        let mut orphans: Vec<(usize, Digest)> = Vec::new();
        for l in self.inner.snapshots.layers()? {
            if !keep.contains(&l.chain_id) {
                let mut depth = 0;
                let mut cur = l.parent.clone();
                while let Some(p) = cur {
                    depth += 1;
                    cur = self.inner.snapshots.layer(&p).ok().and_then(|x| x.parent);
                    if depth > 1000 {
                        break;
                    }
                }
                orphans.push((depth, l.chain_id));
            }
        }
        // Children before parents.
        orphans.sort_by_key(|o| std::cmp::Reverse(o.0));
        for (_, c) in orphans {
            log::info!("removing unreferenced layer {c}");
            if let Err(e) = self.inner.snapshots.remove_layer(&c) {
                log::warn!("removing unreferenced layer {c}: {e}");
            }
        }
        Ok(())
    }
}

/// Familiar forms of full names (unparsable ones are kept as they are).
fn familiar_all(names: &[String]) -> Vec<String> {
    names.iter().map(|n| Reference::parse_named(n).map(|r| r.familiar()).unwrap_or_else(|_| n.clone())).collect()
}

/// An OCI manifest for an image that came without one.
fn synth_manifest(config: &Digest, config_size: u64, layers: &[Descriptor]) -> Result<Vec<u8>> {
    let m = Manifest {
        schema_version: 2,
        media_type: Some(manifest::OCI_MANIFEST.to_string()),
        config: Descriptor::new(manifest::OCI_CONFIG, config.clone(), config_size),
        layers: layers.to_vec(),
        annotations: BTreeMap::new(),
    };
    Ok(serde_json::to_vec(&m)?)
}

/// Hooks for the end-to-end tests of the image store: only with the `test-util` feature
/// (the tests crate enables it), never part of the supported API.
#[cfg(any(test, feature = "test-util"))]
impl Engine {
    /// Chain ids of every layer in the snapshotter.
    pub fn image_layers_for_test(&self) -> Result<Vec<Digest>> {
        let mut v: Vec<Digest> = self.inner.snapshots.layers()?.into_iter().map(|l| l.chain_id).collect();
        v.sort();
        Ok(v)
    }

    /// Prepare a container snapshot `key` on image `image` (as container create will).
    pub fn prepare_snapshot_for_test(&self, key: &str, image: &str) -> Result<()> {
        let rec = self.resolve_image(image)?;
        self.inner.snapshots.prepare(key, rec.chain_ids.last(), Some(&rec.id.to_string()))?;
        Ok(())
    }

    /// Mount snapshot `key` (overlay) on the existing directory `target`.
    pub fn mount_snapshot_for_test(&self, key: &str, target: &Path) -> Result<()> {
        self.inner.snapshots.mount(key, target)
    }

    /// Unmount snapshot `key` from `target`.
    pub fn unmount_snapshot_for_test(&self, key: &str, target: &Path) -> Result<()> {
        self.inner.snapshots.unmount(key, target)
    }

    /// Remove container snapshot `key`, then the image layers nothing uses any more.
    pub fn remove_snapshot_for_test(&self, key: &str) -> Result<()> {
        self.inner.snapshots.remove(key)?;
        self.prune_image_layers()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EngineConfig, ErrorKind};

    fn tar_of(name: &str, data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
        b.into_inner().unwrap()
    }

    /// Put an image's blobs into the content store the way a pull does; returns the NewImage.
    fn staged(e: &Engine, layers: &[Vec<u8>], names: &[&str], repo_digest: Option<&str>) -> NewImage {
        let mut descs = Vec::new();
        let mut diffs = Vec::new();
        for l in layers {
            let d = e.inner.content.put(l, None).unwrap();
            diffs.push(d.to_string());
            descs.push(Descriptor::new(manifest::OCI_LAYER, d, l.len() as u64));
        }
        let cfg = serde_json::to_vec(&serde_json::json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diffs}}))
        .unwrap();
        let config = e.inner.content.put(&cfg, None).unwrap();
        let m = synth_manifest(&config, cfg.len() as u64, &descs).unwrap();
        let manifest = e.inner.content.put(&m, None).unwrap();
        NewImage {
            manifest,
            manifest_media_type: manifest::OCI_MANIFEST.into(),
            config,
            layers: descs,
            names: names.iter().map(|n| Reference::parse(n).unwrap()).collect(),
            repo_digest: repo_digest.map(str::to_string),
        }
    }

    #[test]
    fn engine_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Engine>();
    }

    #[test]
    fn register_image_contract() {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::open(EngineConfig::with_dirs(dir.path().join("root"), dir.path().join("state"))).unwrap();
        let a = staged(&e, &[tar_of("a", b"a")], &["app:1"], None);
        let rec = e.register_image(a.clone()).unwrap();
        assert_eq!(rec.names, vec!["docker.io/library/app:1"]);
        assert_eq!(rec.chain_ids.len(), 1);
        // Second image takes the name; pulled by digest.
        let rd = "localhost:5000/app@sha256:".to_string() + &"ab".repeat(32);
        let b = staged(&e, &[tar_of("a", b"a"), tar_of("b", b"b")], &["app:1", "app:2"], Some(&rd));
        let rb = e.register_image(b.clone()).unwrap();
        assert!(e.inner.images.get(&rec.id).unwrap().names.is_empty(), "name moved away");
        assert_eq!(rb.repo_digests, vec![rd.clone()]);
        assert_eq!(e.resolve_image(&rd).unwrap().id, rb.id);
        assert_eq!(e.resolve_image("app:2").unwrap().id, rb.id);
        // Removing the digest reference only untags it while tags remain.
        let out = e.remove_image(&rd, &RemoveImageOptions::default()).unwrap();
        assert_eq!(out, vec![RemovedImage::Untagged(rd.clone())]);
        assert!(e.inner.images.get(&rb.id).unwrap().repo_digests.is_empty());

        // Failure: the second layer is not a tar; the first (new) layer is rolled back.
        let layers_before = e.image_layers_for_test().unwrap();
        let bad = staged(&e, &[tar_of("c", b"c"), b"definitely not a tar archive".to_vec()], &["bad:1"], None);
        assert!(e.register_image(bad.clone()).is_err());
        assert_eq!(e.image_layers_for_test().unwrap(), layers_before);
        assert!(e.inner.images.get(&bad.config).is_none());
        assert!(e.resolve_image("bad:1").is_err());
        // Config/layer count mismatch and missing blobs are refused.
        let mut short = b.clone();
        short.layers.pop();
        assert_eq!(e.register_image(short).unwrap_err().kind(), ErrorKind::InvalidArgument);
        let mut missing = a.clone();
        missing.manifest = Digest::of(b"not stored");
        assert_eq!(e.register_image(missing).unwrap_err().kind(), ErrorKind::NotFound);
    }
}
