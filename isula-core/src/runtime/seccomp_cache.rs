//! Compiled seccomp filters kept per profile, for runtimes that take one ready-made.
//!
//! Compiling Docker's default profile with libseccomp is a large share of what a
//! `crun create` costs (about a third of its CPU on the 2-core test machines). crun leaves
//! the filter it compiled in its state directory (`<root>/<id>/seccomp.bpf`, the raw
//! `sock_filter` array) and accepts a ready one in the `run.oci.seccomp_bpf_data`
//! annotation (base64 of that array), in which case it loads it as it is and skips the
//! compile. [`SeccompCache`] keeps, per profile, the first filter the runtime compiled and
//! hands it to the next containers with the same profile.
//!
//! The profile's `seccomp` section stays in the spec: a runtime that ignores the annotation
//! (runc) applies the section as usual, and since such a runtime leaves no `seccomp.bpf`,
//! its cache never fills and its specs never get the annotation. Profiles with `flags` or a
//! `listenerPath` are never cached (the annotation carries the filter only), nor specs that
//! already carry crun seccomp annotations of the user's (crun would then compile, or load,
//! something other than the profile).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use oci_spec::runtime::Spec;
use sha2::{Digest as _, Sha256};

/// The crun annotation carrying a ready-made filter (base64 of the raw BPF program).
pub(crate) const BPF_DATA_ANNOTATION: &str = "run.oci.seccomp_bpf_data";
/// Prefix of crun's annotations that change how it sets up seccomp.
const CRUN_SECCOMP_ANNOTATIONS: &str = "run.oci.seccomp";
/// The file in the runtime's per-container state directory holding the compiled filter.
const RUNTIME_BPF_FILE: &str = "seccomp.bpf";
/// Size of one BPF instruction (`struct sock_filter`).
const INSN: usize = 8;
/// The kernel's limit on a filter's length (BPF_MAXINSNS).
const MAX_INSNS: usize = 4096;
/// Profiles kept at most; the cache starts over when full (engines use one or two).
const MAX_PROFILES: usize = 32;

/// Filters compiled by one runtime binary, by profile (in memory; refilled after a restart
/// by the first container of each profile).
#[derive(Debug)]
pub(crate) struct SeccompCache {
    /// Identity of the runtime binary (path, size, mtime, inode), part of every key.
    binary_id: String,
    filters: Mutex<HashMap<String, String>>,
}

/// A profile's cache key, from [`SeccompCache::prepare`], for [`SeccompCache::remember`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileKey(String);

impl SeccompCache {
    /// An empty cache for the runtime binary at `binary`.
    pub(crate) fn new(binary: &Path) -> SeccompCache {
        let id = match std::fs::metadata(binary) {
            Ok(m) => {
                use std::os::unix::fs::MetadataExt;
                format!("{}:{}:{}.{}:{}", binary.display(), m.len(), m.mtime(), m.mtime_nsec(), m.ino())
            }
            Err(_) => binary.display().to_string(),
        };
        SeccompCache { binary_id: id, filters: Mutex::new(HashMap::new()) }
    }

    /// Add the ready-made filter for `spec`'s seccomp profile to `spec` when the cache has it.
    /// On a miss, the profile's key: pass it to [`remember`](Self::remember) once the runtime
    /// has created the container. `None` on a hit, and for a spec without a profile or with
    /// one that cannot be cached.
    pub(crate) fn prepare(&self, spec: &mut Spec) -> Option<ProfileKey> {
        let key = self.key(spec)?;
        let hit = self.filters.lock().unwrap_or_else(|p| p.into_inner()).get(&key.0).cloned();
        let Some(data) = hit else { return Some(key) };
        let mut annotations = spec.annotations().clone().unwrap_or_default();
        annotations.insert(BPF_DATA_ANNOTATION.to_string(), data);
        spec.set_annotations(Some(annotations));
        None
    }

    /// Keep the filter the runtime compiled for a container, read from the container's
    /// runtime state directory `runtime_dir`. Nothing is kept when the runtime left no filter
    /// there or the file is not a plausible BPF program.
    pub(crate) fn remember(&self, key: &ProfileKey, runtime_dir: &Path) {
        let Ok(bpf) = std::fs::read(runtime_dir.join(RUNTIME_BPF_FILE)) else { return };
        if bpf.is_empty() || bpf.len() % INSN != 0 || bpf.len() > MAX_INSNS * INSN {
            log::debug!("seccomp cache: ignoring {} ({} bytes)", runtime_dir.display(), bpf.len());
            return;
        }
        let mut filters = self.filters.lock().unwrap_or_else(|p| p.into_inner());
        if filters.len() >= MAX_PROFILES {
            filters.clear();
        }
        filters.insert(key.0.clone(), base64::engine::general_purpose::STANDARD.encode(&bpf));
    }

    fn key(&self, spec: &Spec) -> Option<ProfileKey> {
        let seccomp = spec.linux().as_ref()?.seccomp().as_ref()?;
        if seccomp.flags().as_ref().is_some_and(|f| !f.is_empty()) || seccomp.listener_path().is_some() {
            return None;
        }
        if let Some(a) = spec.annotations() {
            if a.keys().any(|k| k.starts_with(CRUN_SECCOMP_ANNOTATIONS)) {
                return None;
            }
        }
        let profile = serde_json::to_vec(seccomp).ok()?;
        let mut h = Sha256::new();
        h.update(self.binary_id.as_bytes());
        h.update([0]);
        h.update(&profile);
        Some(ProfileKey(crate::digest::hex_encode(&h.finalize())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, LinuxSeccompAction, LinuxSeccompBuilder, SpecBuilder};

    fn spec(default: LinuxSeccompAction, flags: Vec<oci_spec::runtime::LinuxSeccompFilterFlag>) -> Spec {
        let seccomp = LinuxSeccompBuilder::default().default_action(default).flags(flags).build().unwrap();
        SpecBuilder::default().linux(LinuxBuilder::default().seccomp(seccomp).build().unwrap()).build().unwrap()
    }

    fn annotation(s: &Spec) -> Option<String> {
        s.annotations().as_ref().and_then(|a| a.get(BPF_DATA_ANNOTATION).cloned())
    }

    #[test]
    fn a_filter_left_by_the_runtime_is_handed_to_the_next_spec_with_the_same_profile() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SeccompCache::new(Path::new("/bin/sh"));
        let mut first = spec(LinuxSeccompAction::ScmpActErrno, vec![]);
        let key = cache.prepare(&mut first).unwrap();
        assert_eq!(annotation(&first), None);

        // Nothing left by the runtime (runc), or garbage: nothing cached.
        cache.remember(&key, dir.path());
        std::fs::write(dir.path().join(RUNTIME_BPF_FILE), [1u8; 12]).unwrap();
        cache.remember(&key, dir.path());
        assert_eq!(cache.prepare(&mut spec(LinuxSeccompAction::ScmpActErrno, vec![])), Some(key.clone()));

        std::fs::write(dir.path().join(RUNTIME_BPF_FILE), [7u8; 16]).unwrap();
        cache.remember(&key, dir.path());
        let mut second = spec(LinuxSeccompAction::ScmpActErrno, vec![]);
        assert_eq!(cache.prepare(&mut second), None);
        assert_eq!(annotation(&second).as_deref(), Some("BwcHBwcHBwcHBwcHBwcHBw=="));

        // Another profile, or another runtime binary: a different key, no filter.
        let mut other = spec(LinuxSeccompAction::ScmpActKill, vec![]);
        let other_key = cache.prepare(&mut other).unwrap();
        assert!(other_key != key && annotation(&other).is_none());
        let mut same_profile = spec(LinuxSeccompAction::ScmpActErrno, vec![]);
        assert!(SeccompCache::new(Path::new("/bin/ls")).prepare(&mut same_profile).is_some());
        assert_eq!(annotation(&same_profile), None);
    }

    #[test]
    fn profiles_the_annotation_cannot_carry_are_not_cached() {
        // An empty cache: a cacheable profile would come back as a miss key, so None says "not cached".
        let cache = SeccompCache::new(Path::new("/bin/sh"));
        let mut with_flags = spec(
            LinuxSeccompAction::ScmpActErrno,
            vec![oci_spec::runtime::LinuxSeccompFilterFlag::SeccompFilterFlagLog],
        );
        assert_eq!(cache.prepare(&mut with_flags), None);
        let mut no_profile = Spec::default();
        if let Some(linux) = no_profile.linux_mut() {
            linux.set_seccomp(None);
        }
        assert_eq!(cache.prepare(&mut no_profile), None);
        // The user's own crun seccomp annotation: left alone, and what crun then leaves in its
        // state is not the profile's filter.
        let mut own = spec(LinuxSeccompAction::ScmpActErrno, vec![]);
        let mut a = std::collections::HashMap::new();
        a.insert(BPF_DATA_ANNOTATION.to_string(), "AAAAAAAAAAA=".to_string());
        own.set_annotations(Some(a.clone()));
        assert_eq!(cache.prepare(&mut own), None);
        assert_eq!(own.annotations(), &Some(a));
    }
}
