//! Image records on disk (`images/<id-hex>/image.json`, written atomically) and the
//! in-memory index of ids and names, behind one lock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};

use super::manifest::Descriptor;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::sys;

const RECORD_FILE: &str = "image.json";

/// One image: id (= config digest), names, manifest and layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ImageRecord {
    /// Image id: the config digest.
    pub id: Digest,
    /// Full normalised `repo:tag` names (`docker.io/library/busybox:latest`).
    pub names: Vec<String>,
    /// Full `repo@sha256:` names the image was pulled by.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// Manifest blob in the content store.
    pub manifest: Digest,
    /// Its media type.
    pub manifest_media_type: String,
    /// Layer blobs in the content store, bottom first.
    pub layers: Vec<Descriptor>,
    /// Uncompressed layer digests (config `rootfs.diff_ids`).
    pub diff_ids: Vec<Digest>,
    /// Layer chain ids (snapshotter keys), bottom first.
    pub chain_ids: Vec<Digest>,
    /// Creation time from the config, seconds since the epoch.
    pub created: i64,
    /// Uncompressed size of the layers.
    pub size: u64,
    /// Uncompressed size of each layer, bottom first.
    #[serde(default)]
    pub layer_sizes: Vec<u64>,
    /// Labels of the config.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Write sequence number; breaks ties when a crash left a name on two records.
    #[serde(default)]
    pub seq: u64,
}

impl ImageRecord {
    /// All blobs this image references: config, manifest and layers.
    pub(crate) fn blobs(&self) -> impl Iterator<Item = &Digest> {
        [&self.id, &self.manifest].into_iter().chain(self.layers.iter().map(|l| &l.digest))
    }
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    pub(crate) images: BTreeMap<Digest, ImageRecord>,
    pub(crate) names: HashMap<String, Digest>,
    seq: u64,
}

impl Index {
    /// Record holding the full name `name`.
    pub(crate) fn by_name(&self, name: &str) -> Option<&ImageRecord> {
        self.names.get(name).and_then(|id| self.images.get(id))
    }
}

/// The image store: one record per image, names and tags indexed.
#[derive(Debug)]
pub(crate) struct ImageStore {
    dir: PathBuf,
    index: RwLock<Index>,
    ops: Mutex<()>,
    pins: Mutex<HashMap<Digest, usize>>,
    /// Images whose record did not parse: their directory and data are kept (never deleted
    /// because metadata is bad) until the engine rebuilds the record or the admin acts.
    broken: Mutex<BTreeSet<Digest>>,
}

/// Blobs protected from garbage collection while an operation that will reference them
/// (a load or pull not yet registered) is in progress. Unpins on drop.
#[derive(Debug)]
pub(crate) struct BlobPins<'a> {
    store: &'a ImageStore,
    digests: Vec<Digest>,
}

impl BlobPins<'_> {
    /// Pin one more blob.
    pub(crate) fn add(&mut self, d: &Digest) {
        *self.store.pins_lock().entry(d.clone()).or_insert(0) += 1;
        self.digests.push(d.clone());
    }
}

impl Drop for BlobPins<'_> {
    fn drop(&mut self) {
        let mut pins = self.store.pins_lock();
        for d in &self.digests {
            if let Some(n) = pins.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    pins.remove(d);
                }
            }
        }
    }
}

impl ImageStore {
    /// Open (creating if needed) the store at `dir` and load every record.
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        sys::fs::ensure_dir(dir, 0o700)?;
        let mut index = Index::default();
        let mut broken = BTreeSet::new();
        for e in fs::read_dir(dir).map_err(|e| Error::io(dir, "list", e))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if Digest::from_hex(&name).is_err() {
                // Leftovers of an interrupted write.
                if name.starts_with('.') {
                    let _ = fs::remove_file(&path);
                }
                continue;
            }
            let file = path.join(RECORD_FILE);
            match sys::read_json::<ImageRecord>(&file) {
                Ok(rec) if rec.id.hex() == name => {
                    index.seq = index.seq.max(rec.seq);
                    index.images.insert(rec.id.clone(), rec);
                }
                Ok(_) => {
                    log::error!("image record {} names another image: kept aside as broken", file.display());
                    broken.insert(Digest::from_hex(&name)?);
                }
                Err(e) => {
                    log::error!("image record {} is unreadable ({e}): kept aside as broken", file.display());
                    broken.insert(Digest::from_hex(&name)?);
                }
            }
        }
        // Names: on duplicates (crash between two record writes) the newest write wins.
        let mut owners: HashMap<String, (u64, Digest)> = HashMap::new();
        for rec in index.images.values() {
            for n in &rec.names {
                let e = owners.entry(n.clone()).or_insert((rec.seq, rec.id.clone()));
                if rec.seq > e.0 {
                    *e = (rec.seq, rec.id.clone());
                }
            }
        }
        for rec in index.images.values_mut() {
            rec.names.retain(|n| owners.get(n).map(|o| o.1 == rec.id).unwrap_or(false));
        }
        index.names = owners.into_iter().map(|(n, (_, id))| (n, id)).collect();
        Ok(ImageStore {
            dir: dir.to_path_buf(),
            index: RwLock::new(index),
            ops: Mutex::new(()),
            pins: Mutex::new(HashMap::new()),
            broken: Mutex::new(broken),
        })
    }

    /// Images whose record could not be read at open and has not been rebuilt.
    pub(crate) fn broken(&self) -> Vec<Digest> {
        self.broken.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    /// The record directory of image `id` (for messages).
    pub(crate) fn record_path(&self, id: &Digest) -> PathBuf {
        self.dir.join(id.hex()).join(RECORD_FILE)
    }

    /// Serialise mutating operations (register, tag, remove, GC) against each other.
    pub(crate) fn lock_ops(&self) -> MutexGuard<'_, ()> {
        self.ops.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pins_lock(&self) -> MutexGuard<'_, HashMap<Digest, usize>> {
        self.pins.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An empty pin set; blobs added to it are not garbage-collected until it is dropped.
    pub(crate) fn pin_blobs(&self) -> BlobPins<'_> {
        BlobPins { store: self, digests: Vec::new() }
    }

    /// True when some operation has pinned `d`.
    pub(crate) fn is_pinned(&self, d: &Digest) -> bool {
        self.pins_lock().contains_key(d)
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    /// All records (snapshot).
    pub(crate) fn list(&self) -> Vec<ImageRecord> {
        self.read().images.values().cloned().collect()
    }

    /// Record by id.
    pub(crate) fn get(&self, id: &Digest) -> Option<ImageRecord> {
        self.read().images.get(id).cloned()
    }

    /// Write `rec` (new or updated) and index it; `rec.names` are taken from whichever images
    /// held them, and those images are rewritten. Returns the stored record. Each record is
    /// flushed on its own (fsync of file and directory).
    pub(crate) fn put(&self, rec: ImageRecord) -> Result<ImageRecord> {
        self.put_with(rec, false)
    }

    /// [`ImageStore::put`] for a new image whose data was just written unflushed: the
    /// records are written, then one `syncfs(2)` makes them and all the image's data durable
    /// together, and only then are they renamed into place (the renames flushed with their
    /// directories). A crash leaves either no record or a record whose data is all on disk.
    pub(crate) fn put_flushed(&self, rec: ImageRecord) -> Result<ImageRecord> {
        self.put_with(rec, true)
    }

    fn put_with(&self, mut rec: ImageRecord, batch: bool) -> Result<ImageRecord> {
        let mut idx = self.write();
        let seq0 = idx.seq;
        idx.seq += 1;
        rec.seq = idx.seq;
        dedup(&mut rec.names);
        dedup(&mut rec.repo_digests);
        // Take the names away from their previous owners.
        let mut touched: BTreeMap<Digest, ImageRecord> = BTreeMap::new();
        for n in &rec.names {
            if let Some(old) = idx.names.get(n).filter(|o| **o != rec.id).cloned() {
                let r = touched.entry(old.clone()).or_insert_with(|| idx.images[&old].clone());
                r.names.retain(|x| x != n);
            }
        }
        for r in touched.values_mut() {
            idx.seq += 1;
            r.seq = idx.seq;
        }
        let all: Vec<&ImageRecord> = std::iter::once(&rec).chain(touched.values()).collect();
        let written =
            if batch { self.write_records_batched(&all) } else { all.iter().try_for_each(|r| self.write_record(r)) };
        if let Err(e) = written {
            idx.seq = seq0;
            return Err(e);
        }
        self.broken.lock().unwrap_or_else(|p| p.into_inner()).remove(&rec.id);
        for (_, r) in touched {
            idx.images.insert(r.id.clone(), r);
        }
        if let Some(prev) = idx.images.get(&rec.id) {
            for n in prev.names.clone() {
                if !rec.names.contains(&n) {
                    idx.names.remove(&n);
                }
            }
        }
        for n in &rec.names {
            idx.names.insert(n.clone(), rec.id.clone());
        }
        idx.images.insert(rec.id.clone(), rec.clone());
        Ok(rec)
    }

    /// Delete the record of `id` (its names go with it).
    pub(crate) fn delete(&self, id: &Digest) -> Result<()> {
        let mut idx = self.write();
        let dir = self.dir.join(id.hex());
        sys::fs::remove_dir_all_if_exists(&dir)?;
        sys::fsync_dir(&self.dir)?;
        if let Some(rec) = idx.images.remove(id) {
            for n in rec.names {
                idx.names.remove(&n);
            }
        }
        Ok(())
    }

    fn write_record(&self, rec: &ImageRecord) -> Result<()> {
        let dir = self.dir.join(rec.id.hex());
        sys::fs::ensure_dir(&dir, 0o700)?;
        sys::atomic_write_json(&dir.join(RECORD_FILE), rec)
    }

    /// Write `recs` as [`ImageStore::put_flushed`] describes: temp files, one syncfs, renames,
    /// directory flushes. On error no record is half-written (temp files are removed).
    fn write_records_batched(&self, recs: &[&ImageRecord]) -> Result<()> {
        let mut tmps: Vec<(PathBuf, PathBuf)> = Vec::new();
        let res = (|| {
            for rec in recs {
                let dir = self.dir.join(rec.id.hex());
                sys::fs::ensure_dir(&dir, 0o700)?;
                let path = dir.join(RECORD_FILE);
                let tmp = sys::fs::temp_sibling(&path);
                let data = serde_json::to_vec_pretty(rec)
                    .map_err(|e| Error::internal(format!("serialise {}: {e}", path.display())))?;
                tmps.push((tmp.clone(), path));
                fs::write(&tmp, data).map_err(|e| Error::io(&tmp, "write", e))?;
            }
            self.syncfs()?;
            for (tmp, path) in &tmps {
                fs::rename(tmp, path).map_err(|e| Error::io(path, "rename onto", e))?;
            }
            // Only the renames are left to flush (the record directories, made before the
            // syncfs, are durable): one directory flush each, not another syncfs, which would
            // also wait for whatever else the filesystem has dirty.
            for (_, path) in &tmps {
                sys::fsync_dir(path.parent().unwrap_or(&self.dir))?;
            }
            Ok(())
        })();
        if res.is_err() {
            for (tmp, _) in &tmps {
                let _ = fs::remove_file(tmp);
            }
        }
        res
    }

    /// One `syncfs(2)` of the store's filesystem.
    fn syncfs(&self) -> Result<()> {
        sys::openat::DirFd::open(&self.dir)
            .and_then(|d| d.syncfs())
            .map_err(|e| Error::io(&self.dir, "sync filesystem of", e))
    }

    /// The filesystem (device) the records are on.
    pub(crate) fn device(&self) -> Option<u64> {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(&self.dir).ok().map(|m| m.dev())
    }
}

/// Drop repeated entries, keeping the first of each.
fn dedup(v: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(x.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u8, names: &[&str]) -> ImageRecord {
        ImageRecord {
            id: Digest::of(&[n]),
            names: names.iter().map(|s| s.to_string()).collect(),
            repo_digests: vec![],
            manifest: Digest::of(&[n, 1]),
            manifest_media_type: "m".into(),
            layers: vec![],
            diff_ids: vec![],
            chain_ids: vec![],
            created: n as i64,
            size: 0,
            layer_sizes: vec![],
            labels: BTreeMap::new(),
            seq: 0,
        }
    }

    #[test]
    fn names_move_between_records_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let s = ImageStore::open(dir.path()).unwrap();
        s.put(rec(1, &["a:1", "b:1", "a:1"])).unwrap();
        s.put(rec(2, &["b:1", "c:1"])).unwrap();
        assert_eq!(s.get(&Digest::of(&[1])).unwrap().names, vec!["a:1"]);
        assert_eq!(s.read().by_name("b:1").unwrap().id, Digest::of(&[2]));
        drop(s);
        let s = ImageStore::open(dir.path()).unwrap();
        assert_eq!(s.get(&Digest::of(&[1])).unwrap().names, vec!["a:1"]);
        assert_eq!(s.read().by_name("c:1").unwrap().id, Digest::of(&[2]));
        s.delete(&Digest::of(&[2])).unwrap();
        assert!(s.read().by_name("b:1").is_none());
        assert_eq!(s.list().len(), 1);
    }

    #[test]
    fn duplicate_names_after_a_crash_go_to_the_newest_write() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = rec(1, &["x:1"]);
        old.seq = 5;
        let mut new = rec(2, &["x:1"]);
        new.seq = 9;
        for r in [&old, &new] {
            let d = dir.path().join(r.id.hex());
            std::fs::create_dir_all(&d).unwrap();
            sys::atomic_write_json(&d.join(RECORD_FILE), r).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("not-an-id")).unwrap();
        let s = ImageStore::open(dir.path()).unwrap();
        assert_eq!(s.read().by_name("x:1").unwrap().id, new.id);
        assert!(s.get(&old.id).unwrap().names.is_empty());
        // A later write continues the sequence.
        let r = s.put(rec(3, &[])).unwrap();
        assert!(r.seq > 9);
    }
}
