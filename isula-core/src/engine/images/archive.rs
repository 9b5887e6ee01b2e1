//! `load` and `save`: image archives (docker-archive and OCI layouts) in and out.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{synth_manifest, LoadOptions, LoadedImage, NewBlobs, NewImage};
use crate::digest::Digest;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::image::archive::{self, save};
use crate::image::manifest::{self, Descriptor};
use crate::image::store::ImageRecord;
use crate::reference::Reference;
use crate::sys;

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

impl Engine {
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
        crate::failpoint::hit("image.load.after-archive");
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
                    // The archive reader hashed the file as it wrote it: move it into the
                    // store instead of copying it.
                    let added = self.inner.content.adopt(path, &d.digest)?;
                    new.note(!added, &d.digest);
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
                crate::failpoint::hit("image.load.after-blobs");
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
}
