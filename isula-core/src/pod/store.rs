//! The in-memory index of pods: lookup by id or unique id prefix, the name/namespace/uid/
//! attempt reservation, and a per-pod operation lock (run, stop and remove of one pod are
//! serialised; different pods proceed in parallel).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::record::PodRecord;
use crate::error::{Error, Result};
use crate::sys;

/// One pod: its record and its operation lock.
#[derive(Debug)]
pub(crate) struct Pod {
    /// Pod id.
    pub id: String,
    /// The pod's directory.
    pub dir: PathBuf,
    op: Mutex<()>,
    rec: Mutex<PodRecord>,
}

fn relock<T>(r: std::sync::LockResult<MutexGuard<'_, T>>) -> MutexGuard<'_, T> {
    r.unwrap_or_else(|p| p.into_inner())
}

impl Pod {
    /// A pod with record `rec` kept in `dir`.
    pub(crate) fn new(rec: PodRecord, dir: PathBuf) -> Pod {
        Pod { id: rec.id.clone(), dir, op: Mutex::new(()), rec: Mutex::new(rec) }
    }

    /// Holds the pod's operation lock.
    pub(crate) fn lock_op(&self) -> MutexGuard<'_, ()> {
        relock(self.op.lock())
    }

    /// A copy of the record.
    pub(crate) fn record(&self) -> PodRecord {
        relock(self.rec.lock()).clone()
    }

    /// Changes the record and persists it.
    pub(crate) fn update(&self, f: impl FnOnce(&mut PodRecord)) -> Result<()> {
        let mut g = relock(self.rec.lock());
        let mut r = g.clone();
        f(&mut r);
        r.save(&self.dir)?;
        *g = r;
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Index {
    pods: BTreeMap<String, Arc<Pod>>,
    /// Metadata key → pod id (also reserved by runs in progress).
    keys: HashMap<String, String>,
}

/// Every pod of the engine.
#[derive(Debug)]
pub(crate) struct PodStore {
    root: PathBuf,
    index: Mutex<Index>,
    /// The pause rootfs once this engine made sure it is current (also serialises that).
    pub(crate) pause_rootfs: Mutex<Option<PathBuf>>,
}

impl PodStore {
    /// The store of pods kept under `root` (`<graph>/pods`), empty; see [`load`](Self::load).
    pub(crate) fn open(root: &Path) -> Result<PodStore> {
        sys::fs::ensure_dir(root, 0o700)?;
        Ok(PodStore { root: root.to_path_buf(), index: Mutex::default(), pause_rootfs: Mutex::new(None) })
    }

    /// The directory of pod `id`.
    pub(crate) fn dir_of(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// The directory of every pod.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Reserves the metadata key of a new pod `id`: `AlreadyExists` naming the pod that has it.
    pub(crate) fn reserve(&self, key: &str, id: &str) -> Result<()> {
        let mut ix = relock(self.index.lock());
        if let Some(other) = ix.keys.get(key) {
            return Err(Error::already_exists(format!(
                "a pod with the same name, namespace, uid and attempt exists: {other}"
            )));
        }
        ix.keys.insert(key.to_string(), id.to_string());
        Ok(())
    }

    /// Releases a reservation of pod `id` (after a failed run or a removal).
    pub(crate) fn release(&self, key: &str, id: &str) {
        let mut ix = relock(self.index.lock());
        if ix.keys.get(key).is_some_and(|i| i == id) {
            ix.keys.remove(key);
        }
    }

    /// Adds a pod (its key must be reserved).
    pub(crate) fn insert(&self, p: Arc<Pod>) {
        relock(self.index.lock()).pods.insert(p.id.clone(), p);
    }

    /// Drops pod `id` and its reservation.
    pub(crate) fn remove(&self, id: &str) {
        let mut ix = relock(self.index.lock());
        if let Some(p) = ix.pods.remove(id) {
            let key = PodRecord::metadata_key(&p.record().config);
            if ix.keys.get(&key).is_some_and(|i| i == id) {
                ix.keys.remove(&key);
            }
        }
    }

    /// The pod with id or unique id prefix `key`.
    pub(crate) fn get(&self, key: &str) -> Result<Arc<Pod>> {
        let ix = relock(self.index.lock());
        if let Some(p) = ix.pods.get(key) {
            return Ok(p.clone());
        }
        let not_found = || Error::not_found(format!("no such pod sandbox: {key}"));
        if key.is_empty() {
            return Err(not_found());
        }
        let mut hits = ix.pods.range(key.to_string()..).take_while(|(id, _)| id.starts_with(key));
        match (hits.next(), hits.next()) {
            (Some((_, p)), None) => Ok(p.clone()),
            (None, _) => Err(not_found()),
            (Some(_), Some(_)) => Err(Error::invalid(format!("pod id prefix {key} matches more than one pod"))),
        }
    }

    /// Every pod.
    pub(crate) fn list(&self) -> Vec<Arc<Pod>> {
        relock(self.index.lock()).pods.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn reserve_lookup_remove() {
        let d = tempfile::tempdir().unwrap();
        let s = PodStore::open(&d.path().join("pods")).unwrap();
        let (a, b) = (format!("ab{}", "0".repeat(62)), format!("ac{}", "0".repeat(62)));
        s.reserve("k1", &a).unwrap();
        assert_eq!(s.reserve("k1", &b).unwrap_err().kind(), ErrorKind::AlreadyExists);
        s.reserve("k2", &b).unwrap();
        for (id, key) in [(&a, "k1"), (&b, "k2")] {
            let rec = PodRecord { id: id.clone(), ..Default::default() };
            let _ = key;
            s.insert(Arc::new(Pod::new(rec, s.dir_of(id))));
        }
        assert_eq!(s.get("ab").unwrap().id, a);
        assert_eq!(s.get("a").unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(s.get("b").unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(s.get("").unwrap_err().kind(), ErrorKind::NotFound);
        s.release("k1", &b);
        assert_eq!(s.reserve("k1", &b).unwrap_err().kind(), ErrorKind::AlreadyExists, "only the owner releases");
        assert_eq!(s.list().len(), 2);
    }
}
