//! Which cgroup hierarchies the host mounts, and where a container's cgroup lives in them.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// The cgroup layout of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum CgroupMode {
    /// cgroup v1 only: one hierarchy per controller (or co-mounted group).
    Legacy,
    /// cgroup v1 controllers plus an (empty) cgroup2 hierarchy, usually at `/sys/fs/cgroup/unified`.
    Hybrid,
    /// cgroup v2 only, mounted at `/sys/fs/cgroup`.
    Unified,
}

/// The mounted cgroup hierarchies: v1 controller → mount point, and the cgroup2 mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    mode: CgroupMode,
    v1: BTreeMap<String, PathBuf>,
    unified: Option<PathBuf>,
}

impl Hierarchy {
    /// Read the hierarchies mounted in this mount namespace (`/proc/self/mountinfo`).
    pub(crate) fn detect() -> Result<Hierarchy> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| Error::io("/proc/self/mountinfo", "read", e))?;
        Hierarchy::from_mountinfo(&text)
    }

    /// Parse a `mountinfo` text. Without any cgroup mount this is an Unavailable error.
    pub(crate) fn from_mountinfo(text: &str) -> Result<Hierarchy> {
        let mut v1 = BTreeMap::new();
        let mut unified = None;
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(sep) = fields.iter().position(|f| *f == "-") else { continue };
            if fields.len() < 5 || fields.len() < sep + 4 {
                continue;
            }
            let mountpoint = PathBuf::from(crate::sys::mount::unescape_mountinfo(fields[4]));
            match fields[sep + 1] {
                "cgroup2" => {
                    // The first cgroup2 mount wins (later ones are usually bind mounts).
                    unified.get_or_insert(mountpoint);
                }
                "cgroup" => {
                    for opt in fields[sep + 3].split(',') {
                        let name = match opt {
                            "rw" | "ro" | "relatime" | "noatime" | "nosuid" | "nodev" | "noexec" | "clone_children"
                            | "xattr" | "cpuset_v2_mode" | "noprefix" | "favordynmods" => continue,
                            o if o.starts_with("release_agent=") => continue,
                            o => o,
                        };
                        v1.entry(name.to_string()).or_insert_with(|| mountpoint.clone());
                    }
                }
                _ => {}
            }
        }
        let mode = match (&unified, v1.is_empty()) {
            (Some(_), true) => CgroupMode::Unified,
            (_, false) if unified.is_some() => CgroupMode::Hybrid,
            (None, false) => CgroupMode::Legacy,
            _ => return Err(Error::unavailable("no cgroup hierarchy is mounted")),
        };
        Ok(Hierarchy { mode, v1, unified })
    }

    /// The layout.
    pub(crate) fn mode(&self) -> CgroupMode {
        self.mode
    }

    /// Mount point of the v1 hierarchy holding `controller` (`memory`, `cpu`, …).
    pub(crate) fn v1_mount(&self, controller: &str) -> Option<&Path> {
        self.v1.get(controller).map(|p| p.as_path())
    }

    /// Mount point of the cgroup2 hierarchy, if any.
    #[cfg(test)]
    pub(crate) fn unified_mount(&self) -> Option<&Path> {
        self.unified.as_deref()
    }

    /// The cgroup of a container whose OCI spec says `linux.cgroupsPath = cgroups_path`:
    /// the cgroupfs form such as `/isulad/<id>` (a relative path is taken from the hierarchy
    /// root), or the systemd driver's `slice:prefix:name`, which is the unit's directory
    /// (`system.slice:isula:<id>` → `/system.slice/isula-<id>.scope`, or its `container`
    /// leaf where crun's systemd manager puts the process and its limits on cgroup v2).
    pub(crate) fn cgroup(&self, cgroups_path: &str) -> Result<Cgroup> {
        let rel = if super::systemd::split(cgroups_path).is_some() {
            let mut rel = super::systemd::unit_dir(cgroups_path)?;
            if let Some(u) = self.unified.as_ref().filter(|_| self.mode == CgroupMode::Unified) {
                if u.join(&rel).join(super::systemd::CRUN_LEAF).is_dir() {
                    rel.push(super::systemd::CRUN_LEAF);
                }
            }
            rel
        } else {
            clean(cgroups_path)?
        };
        Ok(self.at(rel))
    }

    /// The cgroup of systemd slice `slice` (`kubepods-besteffort-pod1.slice` →
    /// `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice`).
    pub(crate) fn slice(&self, slice: &str) -> Result<Cgroup> {
        let rel = super::systemd::slice_dir(slice)?;
        if rel.as_os_str().is_empty() {
            return Err(Error::invalid("the root slice is not a container's or pod's cgroup"));
        }
        Ok(self.at(rel))
    }

    fn at(&self, rel: PathBuf) -> Cgroup {
        let mut controllers = BTreeMap::new();
        if self.mode != CgroupMode::Unified {
            for (name, mount) in &self.v1 {
                controllers.insert(name.clone(), mount.join(&rel));
            }
        }
        Cgroup {
            mode: self.mode,
            path: format!("/{}", rel.display()),
            controllers,
            unified: self.unified.as_ref().map(|u| u.join(&rel)),
        }
    }
}

fn clean(cgroups_path: &str) -> Result<PathBuf> {
    if cgroups_path.contains(':') {
        return Err(Error::invalid(format!(
            "cgroups path {cgroups_path:?}: neither a cgroupfs path nor the systemd form slice:prefix:name"
        )));
    }
    let mut rel = PathBuf::new();
    for c in Path::new(cgroups_path).components() {
        match c {
            Component::Normal(n) => rel.push(n),
            Component::RootDir | Component::CurDir => {}
            _ => return Err(Error::invalid(format!("cgroups path {cgroups_path:?} must not contain \"..\""))),
        }
    }
    if rel.as_os_str().is_empty() {
        return Err(Error::invalid("cgroups path is empty (the root cgroup is not a container's)"));
    }
    Ok(rel)
}

/// One container's cgroup: its directory in each mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cgroup {
    pub(super) mode: CgroupMode,
    pub(super) path: String,
    pub(super) controllers: BTreeMap<String, PathBuf>,
    pub(super) unified: Option<PathBuf>,
}

impl Cgroup {
    /// A cgroup v2 directory given directly (fixtures, or a cgroup found by other means).
    #[cfg(test)]
    pub(crate) fn unified_at(dir: impl Into<PathBuf>) -> Cgroup {
        let dir = dir.into();
        Cgroup {
            mode: CgroupMode::Unified,
            path: dir.display().to_string(),
            controllers: BTreeMap::new(),
            unified: Some(dir),
        }
    }

    /// A cgroup v1 cgroup given as controller → directory (fixtures, tests).
    #[cfg(test)]
    pub(crate) fn legacy_at(controllers: BTreeMap<String, PathBuf>) -> Cgroup {
        Cgroup { mode: CgroupMode::Legacy, path: String::new(), controllers, unified: None }
    }

    /// The cgroups path it was resolved from (`/isulad/<id>`).
    #[cfg(test)]
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// Directory of a v1 controller (`memory`, `cpu`, `cpuacct`, `pids`, `blkio`, `cpuset`, …).
    pub(crate) fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.controllers.get(controller).map(|p| p.as_path())
    }

    /// Directory in the cgroup2 hierarchy (all controllers on v2; none on hybrid).
    pub(crate) fn unified_dir(&self) -> Option<&Path> {
        self.unified.as_deref()
    }

    /// True when the cgroup uses v2 for its controllers.
    pub(crate) fn is_v2(&self) -> bool {
        self.mode == CgroupMode::Unified
    }

    /// Its directory in every mounted hierarchy (v1 controllers, deduplicated, and cgroup2).
    pub(crate) fn all_dirs(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> =
            self.controllers.values().map(PathBuf::as_path).chain(self.unified.as_deref()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Does the cgroup exist (has the runtime created it)?
    pub(crate) fn exists(&self) -> bool {
        if self.is_v2() {
            self.unified.as_ref().is_some_and(|d| d.is_dir())
        } else {
            ["memory", "pids", "cpu", "cpuacct"]
                .iter()
                .filter_map(|c| self.v1_dir(c))
                .chain(self.controllers.values().map(|p| p.as_path()))
                .any(|d| d.is_dir())
        }
    }

    /// Directory holding `cgroup.procs` for the container's processes.
    pub(super) fn procs_dir(&self) -> Result<&Path> {
        if self.is_v2() {
            return self.unified_dir().ok_or_else(|| Error::internal("v2 cgroup without a directory"));
        }
        for c in ["pids", "memory", "cpu", "cpuacct", "freezer", "devices"] {
            if let Some(d) = self.v1_dir(c).filter(|d| d.is_dir()) {
                return Ok(d);
            }
        }
        if let Some(d) = self.controllers.values().find(|d| d.is_dir()) {
            return Ok(d);
        }
        Err(Error::not_found(format!("cgroup {} does not exist", self.path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 31 0:32 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
36 31 0:33 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
37 31 0:34 / /mnt/with\\040space rw,relatime shared:5 - cgroup cgroup rw,pids
";

    #[test]
    fn parses_hybrid_and_resolves_paths() {
        let h = Hierarchy::from_mountinfo(HYBRID).unwrap();
        assert_eq!(h.mode(), CgroupMode::Hybrid);
        assert_eq!(h.v1_mount("cpu"), Some(Path::new("/sys/fs/cgroup/cpu")));
        assert_eq!(h.v1_mount("cpuacct"), Some(Path::new("/sys/fs/cgroup/cpu,cpuacct")));
        assert_eq!(h.v1_mount("pids"), Some(Path::new("/mnt/with space")));
        assert_eq!(h.v1_mount("name=systemd"), Some(Path::new("/sys/fs/cgroup/systemd")));
        assert_eq!(h.unified_mount(), Some(Path::new("/sys/fs/cgroup/unified")));
        let c = h.cgroup("/isulad/abc").unwrap();
        assert_eq!(c.v1_dir("memory"), Some(Path::new("/sys/fs/cgroup/memory/isulad/abc")));
        assert_eq!(c.unified_dir(), Some(Path::new("/sys/fs/cgroup/unified/isulad/abc")));
        assert!(!c.is_v2());
        assert_eq!(c.path(), "/isulad/abc");
        for bad in ["/a/../../etc", "system:isula:abc", "a:b", "/", ""] {
            assert_eq!(h.cgroup(bad).unwrap_err().kind(), crate::ErrorKind::InvalidArgument, "{bad}");
        }
        let c = h.cgroup("system.slice:isula:abc").unwrap();
        assert_eq!(c.v1_dir("memory"), Some(Path::new("/sys/fs/cgroup/memory/system.slice/isula-abc.scope")));
        assert_eq!(c.path(), "/system.slice/isula-abc.scope");
        let c = h.slice("kubepods-pod1.slice").unwrap();
        assert_eq!(c.unified_dir(), Some(Path::new("/sys/fs/cgroup/unified/kubepods.slice/kubepods-pod1.slice")));
        assert!(h.slice("-.slice").is_err());
    }

    #[test]
    fn parses_unified_and_legacy() {
        let h = Hierarchy::from_mountinfo("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n").unwrap();
        assert_eq!(h.mode(), CgroupMode::Unified);
        let c = h.cgroup("isulad/x").unwrap();
        assert!(c.is_v2());
        assert_eq!(c.unified_dir(), Some(Path::new("/sys/fs/cgroup/isulad/x")));
        assert_eq!(c.v1_dir("memory"), None);
        let h = Hierarchy::from_mountinfo("34 31 0:31 / /cg/memory rw - cgroup cgroup rw,memory\n").unwrap();
        assert_eq!(h.mode(), CgroupMode::Legacy);
        assert_eq!(
            Hierarchy::from_mountinfo("1 0 0:1 / / rw - ext4 /dev/sda rw\n").unwrap_err().kind(),
            crate::ErrorKind::Unavailable
        );
    }

    #[test]
    fn systemd_scopes_and_crun_leaves_on_v2() {
        let t = tempfile::tempdir().unwrap();
        let h = Hierarchy::from_mountinfo(&format!("30 23 0:26 / {} rw - cgroup2 cgroup2 rw\n", t.path().display()))
            .unwrap();
        let scope = t.path().join("system.slice/isula-x.scope");
        std::fs::create_dir_all(&scope).unwrap();
        assert_eq!(h.cgroup("system.slice:isula:x").unwrap().unified_dir(), Some(scope.as_path()));
        std::fs::create_dir(scope.join("container")).unwrap();
        let leaf = scope.join("container");
        assert_eq!(h.cgroup("system.slice:isula:x").unwrap().unified_dir(), Some(leaf.as_path()));
    }

    #[test]
    fn detects_this_host() {
        let h = Hierarchy::detect().unwrap();
        // Whatever the layout, a memory controller is somewhere.
        match h.mode() {
            CgroupMode::Unified => assert!(h.unified_mount().unwrap().join("cgroup.controllers").exists()),
            _ => assert!(h.v1_mount("memory").unwrap().join("memory.usage_in_bytes").exists()),
        }
    }
}
