//! Registration of an image whose blobs are in the content store (pulls, load, import).

use super::NewImage;
use crate::digest::Digest;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::image::archive::MAX_JSON;
use crate::image::manifest::{self, ImageConfig};
use crate::image::store::ImageRecord;
use crate::reference::Reference;
use crate::snapshot::StagedLayer;

impl Engine {
    /// Register an image whose manifest, config and layer blobs are already in the content
    /// store: checks the config, creates missing layers (bottom up), writes the record and
    /// moves `names` from other images. On failure the layers it created are removed and no
    /// record is written.
    pub(crate) fn register_image(&self, img: NewImage) -> Result<ImageRecord> {
        self.register_image_staged(img, Vec::new())
    }

    /// [`register_image`](Self::register_image) with some layers already unpacked (a pull
    /// unpacks them while they download): `staged[i]`, when present, is layer `i`.
    pub(crate) fn register_image_staged(&self, img: NewImage, staged: Vec<Option<StagedLayer>>) -> Result<ImageRecord> {
        let _ops = self.inner.images.lock_ops();
        self.register_staged_locked(img, staged)
    }

    /// [`register_image`](Self::register_image) with the image store's operation lock held.
    pub(super) fn register_locked(&self, img: NewImage) -> Result<ImageRecord> {
        self.register_staged_locked(img, Vec::new())
    }

    fn register_staged_locked(&self, img: NewImage, mut staged: Vec<Option<StagedLayer>>) -> Result<ImageRecord> {
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
        staged.resize_with(img.layers.len(), || None);
        // Unpack the missing layers that are not staged yet, several at once.
        let missing: Vec<usize> = (0..img.layers.len())
            .filter(|&i| staged[i].is_none() && !self.inner.snapshots.has_layer(&chain_ids[i]))
            .collect();
        for (i, r) in self.stage_layers(&img, &missing) {
            staged[i] = Some(r?);
        }
        crate::failpoint::hit("image.register.after-stage");
        let mut created: Vec<Digest> = Vec::new();
        let mut sizes = Vec::new();
        let result = (|| -> Result<()> {
            for (i, (layer, diff_id)) in img.layers.iter().zip(&diff_ids).enumerate() {
                let chain = &chain_ids[i];
                let parent = if i == 0 { None } else { Some(&chain_ids[i - 1]) };
                let Some(st) = staged[i].take() else {
                    let info = self.inner.snapshots.layer(chain);
                    sizes.push(info.map(|l| l.size).unwrap_or(layer.size));
                    continue;
                };
                let existed = self.inner.snapshots.has_layer(chain);
                let info = self
                    .inner
                    .snapshots
                    .commit_staged(parent, diff_id, st)
                    .map_err(|e| e.context(format!("layer {} of image {}", layer.digest, img.config)))?;
                if !existed {
                    created.push(info.chain_id.clone());
                }
                crate::failpoint::hit("image.register.after-layer-commit");
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
        // One flush for everything the image wrote (blobs, layers), then the record.
        let put = self.flush_image_data().and_then(|()| {
            crate::failpoint::hit("image.register.after-flush");
            self.inner.images.put_flushed(rec)
        });
        match put {
            Ok(rec) => {
                crate::failpoint::hit("image.register.after-record");
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
}

impl Engine {
    /// Unpack layers `which` of `img` from their blobs into staging, up to
    /// [`UNPACK_THREADS`] at once; results in the order of `which`.
    fn stage_layers(&self, img: &NewImage, which: &[usize]) -> Vec<(usize, Result<StagedLayer>)> {
        let budget = self.inner.snapshots.image_budget();
        let stage = |i: usize| -> Result<StagedLayer> {
            let layer = &img.layers[i];
            let mut blob = self.inner.content.open_blob(&layer.digest)?;
            self.inner
                .snapshots
                .stage_layer(&mut blob, budget.as_ref())
                .map_err(|e| e.context(format!("layer {} of image {}", layer.digest, img.config)))
        };
        if which.len() <= 1 {
            return which.iter().map(|&i| (i, stage(i))).collect();
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: std::sync::Mutex<Vec<(usize, Result<StagedLayer>)>> = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|sc| {
            for _ in 0..UNPACK_THREADS.min(which.len()) {
                sc.spawn(|| loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&i) = which.get(k) else { break };
                    let r = stage(i);
                    results.lock().unwrap_or_else(|p| p.into_inner()).push((i, r));
                });
            }
        });
        let mut out = results.into_inner().unwrap_or_else(|p| p.into_inner());
        out.sort_by_key(|(i, _)| *i);
        out
    }

    /// Make the blobs and layers an image registration wrote durable before its record is
    /// written: one `syncfs(2)` per filesystem, skipping the image store's own (its record
    /// write flushes that one).
    fn flush_image_data(&self) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        let records = self.inner.images.device();
        let dev = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| m.dev());
        let content_dev = dev(self.inner.content.blobs_dir());
        if content_dev.is_none() || content_dev != records {
            self.inner.content.flush()?;
        }
        let snap_dev = dev(self.inner.snapshots.dir());
        if (snap_dev.is_none() || snap_dev != records) && snap_dev != content_dev {
            self.inner.snapshots.flush()?;
        }
        Ok(())
    }
}

/// Layers unpacked at once by a registration (and by a pull while downloading).
pub(crate) const UNPACK_THREADS: usize = 3;

#[cfg(test)]
mod tests {
    use super::super::{synth_manifest, RemoveImageOptions, RemovedImage};
    use super::*;
    use crate::image::manifest::Descriptor;
    use crate::layer::testutil::TarBuilder;
    use crate::{EngineConfig, ErrorKind};

    /// A one-file layer.
    fn tar_of(name: &str, data: &[u8]) -> Vec<u8> {
        TarBuilder::new().file(name, data, 0o644).finish()
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

    #[test]
    fn an_unreadable_record_is_rebuilt_or_kept_never_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = EngineConfig::with_dirs(dir.path().join("root"), dir.path().join("state"));
        let e = Engine::open(cfg.clone()).unwrap();
        let a = e.register_image(staged(&e, &[tar_of("a", b"a")], &["app:1"], None)).unwrap();
        let b = e.register_image(staged(&e, &[tar_of("b", b"b")], &["other:1"], None)).unwrap();
        let layers = e.image_layers_for_test().unwrap();
        let record = |id: &Digest| e.inner.images.record_path(id);
        let (ra, rb) = (record(&a.id), record(&b.id));
        drop(e);
        std::fs::write(&ra, "{\"trunc").unwrap();
        std::fs::write(&rb, "{\"trunc").unwrap();
        // b's manifest is gone as well: its record cannot be rebuilt.
        std::fs::remove_file(dir.path().join("root/content/blobs/sha256").join(b.manifest.hex())).unwrap();

        let e = Engine::open(cfg).unwrap();
        let rebuilt = e.inner.images.get(&a.id).expect("a's record rebuilt from the content store");
        assert_eq!((rebuilt.manifest.clone(), rebuilt.chain_ids.clone()), (a.manifest.clone(), a.chain_ids.clone()));
        assert!(rebuilt.names.is_empty(), "names are not in the content store");
        assert!(e.resolve_image(&a.id.to_string()).is_ok());
        // b is not listed, but nothing of it is deleted, and info says so.
        assert!(e.inner.images.get(&b.id).is_none());
        assert_eq!(e.inner.images.broken(), vec![b.id.clone()]);
        assert_eq!(e.image_layers_for_test().unwrap(), layers, "no layer collected");
        assert!(rb.exists() && e.inner.content.contains(&b.layers[0].digest));
        let info = e.info().unwrap();
        assert_eq!(info.warnings.len(), 1, "{:?}", info.warnings);
        assert!(info.warnings[0].contains(&b.id.to_string()), "{:?}", info.warnings);
    }
}
