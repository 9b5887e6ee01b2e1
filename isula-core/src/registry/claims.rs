//! Blobs claimed by pulls in flight. One engine owns a root, so every pull touching a
//! content store runs in this process: a failing pull removes the blobs it added only
//! when no other pull in flight claims them, under the same lock that claims take, so a
//! concurrent pull never counts on a blob that is about to disappear.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::content::ContentStore;
use crate::digest::Digest;

fn table() -> MutexGuard<'static, HashMap<PathBuf, usize>> {
    static T: OnceLock<Mutex<HashMap<PathBuf, usize>>> = OnceLock::new();
    T.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner())
}

/// The blobs one pull uses; released when dropped.
#[derive(Debug, Default)]
pub(crate) struct BlobClaims {
    paths: Vec<PathBuf>,
}

impl BlobClaims {
    /// No claims yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Claim `digests` of `store` (before checking whether the store has them).
    pub(crate) fn claim(&mut self, store: &ContentStore, digests: &[Digest]) {
        let mut t = table();
        for d in digests {
            let p = store.path(d);
            *t.entry(p.clone()).or_insert(0) += 1;
            self.paths.push(p);
        }
    }

    /// Delete those of `digests` that no other pull claims and `keep` does not protect
    /// (e.g. blobs an image references). Returns the digests deleted.
    pub(crate) fn delete_unshared(
        &self,
        store: &ContentStore,
        digests: &[Digest],
        keep: impl Fn(&Digest) -> bool,
    ) -> Vec<Digest> {
        let t = table();
        let mut out = Vec::new();
        for d in digests {
            let p = store.path(d);
            let mine = self.paths.iter().filter(|x| **x == p).count();
            if t.get(&p).copied().unwrap_or(0) > mine || keep(d) {
                continue;
            }
            if store.delete(d).is_ok() {
                out.push(d.clone());
            }
        }
        out
    }
}

/// True when a pull in flight claims blob `d` of `store` (garbage collection should spare it).
#[cfg(test)]
pub(crate) fn is_claimed(store: &ContentStore, d: &Digest) -> bool {
    table().get(&store.path(d)).copied().unwrap_or(0) > 0
}

impl Drop for BlobClaims {
    fn drop(&mut self) {
        let mut t = table();
        for p in self.paths.drain(..) {
            if let Some(n) = t.get_mut(&p) {
                *n -= 1;
                if *n == 0 {
                    t.remove(&p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_blobs_survive_a_failing_pull() {
        let dir = tempfile::tempdir().unwrap();
        let s = ContentStore::open(dir.path()).unwrap();
        let a_blob = s.put(b"a", None).unwrap();
        let shared = s.put(b"shared", None).unwrap();
        let mut a = BlobClaims::new();
        a.claim(&s, &[a_blob.clone(), shared.clone()]);
        let mut b = BlobClaims::new();
        b.claim(&s, std::slice::from_ref(&shared));
        assert!(is_claimed(&s, &shared));
        let gone = a.delete_unshared(&s, &[a_blob.clone(), shared.clone()], |_| false);
        assert_eq!(gone, vec![a_blob.clone()]);
        assert!(s.contains(&shared) && !s.contains(&a_blob));
        drop(b);
        assert_eq!(a.delete_unshared(&s, std::slice::from_ref(&shared), |d| *d == shared), vec![]);
        assert_eq!(a.delete_unshared(&s, std::slice::from_ref(&shared), |_| false), vec![shared.clone()]);
        drop(a);
        assert!(!is_claimed(&s, &shared));
    }
}
