//! The systemd cgroup driver's names: slices (`a-b.slice`), the `slice:prefix:name` cgroups
//! path the OCI runtimes take, and where systemd puts the resulting units in the hierarchy.
//!
//! The runtime (`runc --systemd-cgroup`, crun's systemd manager) asks systemd for a transient
//! scope `<prefix>-<name>.scope` in the slice; the engine only computes where it lands.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Slice of containers without a parent of their own.
pub(crate) const DEFAULT_SLICE: &str = "system.slice";
/// Prefix of the scope units of containers (`isula-<id>.scope`).
pub(crate) const SCOPE_PREFIX: &str = "isula";
/// The leaf cgroup crun's systemd manager creates in a delegated scope on cgroup v2 and puts
/// the container (and its limits) in.
pub(crate) const CRUN_LEAF: &str = "container";

/// Whether the host was booted with systemd as init (`sd_booted()`: `/run/systemd/system`).
pub(crate) fn systemd_booted() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Whether `s` is a usable slice unit name: `<parts joined by ->.slice`, no empty part, no
/// `/`, no leading dash, only unit-name characters.
pub(crate) fn is_slice_name(s: &str) -> bool {
    let Some(stem) = s.strip_suffix(".slice") else { return false };
    if stem == "-" {
        return true;
    }
    !stem.is_empty()
        && stem.split('-').all(|p| !p.is_empty())
        && stem.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@' | '\\'))
}

/// The cgroup directory of slice `slice` relative to the hierarchy root: each dash opens a
/// level, so `kubepods-besteffort-pod1.slice` is
/// `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice`; `-.slice` is the root.
pub(crate) fn slice_dir(slice: &str) -> Result<PathBuf> {
    if !is_slice_name(slice) {
        return Err(Error::invalid(format!("{slice:?} is not a systemd slice name (such as \"system.slice\")")));
    }
    let stem = &slice[..slice.len() - ".slice".len()];
    let mut dir = PathBuf::new();
    if stem == "-" {
        return Ok(dir);
    }
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        dir.push(format!("{prefix}.slice"));
    }
    Ok(dir)
}

/// The unit a `slice:prefix:name` cgroups path names: `<prefix>-<name>.scope` (`<name>.scope`
/// without a prefix), or `name` itself when it is a slice.
fn unit_name(prefix: &str, name: &str) -> String {
    if name.ends_with(".slice") {
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    }
}

/// Split a systemd-driver cgroups path `slice:prefix:name`; `None` for a cgroupfs path.
pub(crate) fn split(cgroups_path: &str) -> Option<(&str, &str, &str)> {
    let mut parts = cgroups_path.split(':');
    let (slice, prefix, name) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next().is_none().then_some((slice, prefix, name))
}

/// The cgroup directory (relative to the hierarchy root) of the unit a `slice:prefix:name`
/// cgroups path asks for; an empty slice is `system.slice`, as runc takes it.
pub(crate) fn unit_dir(cgroups_path: &str) -> Result<PathBuf> {
    let (slice, prefix, name) = split(cgroups_path).ok_or_else(|| {
        Error::invalid(format!("cgroups path {cgroups_path:?} is not of the systemd form slice:prefix:name"))
    })?;
    if name.is_empty() || name.contains('/') || prefix.contains('/') {
        return Err(Error::invalid(format!("cgroups path {cgroups_path:?}: bad unit name")));
    }
    let slice = if slice.is_empty() { DEFAULT_SLICE } else { slice };
    let mut dir = slice_dir(slice)?;
    dir.push(unit_name(prefix, name));
    Ok(dir)
}

/// The cgroups path of container `id` in slice `slice` (`system.slice:isula:<id>`).
pub(crate) fn container_path(slice: &str, id: &str) -> Result<String> {
    slice_dir(slice)?;
    Ok(format!("{slice}:{SCOPE_PREFIX}:{id}"))
}

/// The slice of pod `id` created below `parent` (`system.slice` → `system-isulapod<id>.slice`).
pub(crate) fn pod_slice(parent: &str, id: &str) -> String {
    match parent.strip_suffix(".slice") {
        Some(stem) if stem != "-" && is_slice_name(parent) => format!("{stem}-isulapod{id}.slice"),
        _ => format!("isulapod{id}.slice"),
    }
}

/// Stop systemd unit `unit` (`systemctl stop`), e.g. a pod's slice once its scopes are
/// gone; a unit systemd does not know is already stopped.
pub(crate) fn stop_unit(unit: &str) -> Result<()> {
    let out = std::process::Command::new("systemctl")
        .args(["stop", "--", unit])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::io(Path::new("systemctl"), "run", e))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || stderr.contains("not loaded") {
        return Ok(());
    }
    Err(Error::internal(format!("systemctl stop {unit}: {}: {}", out.status, stderr.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_expand_like_systemd() {
        assert_eq!(slice_dir("system.slice").unwrap(), PathBuf::from("system.slice"));
        assert_eq!(
            slice_dir("kubepods-besteffort-pod12ab.slice").unwrap(),
            PathBuf::from("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12ab.slice")
        );
        assert_eq!(slice_dir("-.slice").unwrap(), PathBuf::new());
        for bad in ["system", "/isulad", "a--b.slice", "-a.slice", "a-.slice", ".slice", "a/b.slice", "a b.slice"] {
            assert_eq!(slice_dir(bad).unwrap_err().kind(), crate::ErrorKind::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn cgroups_paths_name_scopes() {
        assert_eq!(unit_dir("system.slice:isula:abc").unwrap(), PathBuf::from("system.slice/isula-abc.scope"));
        assert_eq!(unit_dir(":isula:abc").unwrap(), PathBuf::from("system.slice/isula-abc.scope"));
        assert_eq!(
            unit_dir("kubepods-burstable.slice::x").unwrap(),
            PathBuf::from("kubepods.slice/kubepods-burstable.slice/x.scope")
        );
        assert_eq!(unit_dir("a.slice:p:a-b.slice").unwrap(), PathBuf::from("a.slice/a-b.slice"));
        for bad in ["/isulad/abc", "system.slice:isula:", "a:b:c:d", "bad:isula:x", "system.slice:isula:../x"] {
            assert!(unit_dir(bad).is_err(), "{bad}");
        }
        assert_eq!(container_path("system.slice", "abc").unwrap(), "system.slice:isula:abc");
        assert!(container_path("/isulad", "abc").is_err());
        assert_eq!(split("/isulad/x"), None);
    }

    #[test]
    fn pod_slices_nest_in_their_parent() {
        assert_eq!(pod_slice("system.slice", "ab"), "system-isulapodab.slice");
        assert_eq!(pod_slice("-.slice", "ab"), "isulapodab.slice");
        assert_eq!(
            slice_dir(&pod_slice("system.slice", "ab")).unwrap(),
            PathBuf::from("system.slice/system-isulapodab.slice")
        );
    }

    #[test]
    fn engine_refuses_the_driver_only_without_systemd() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = crate::EngineConfig::with_dirs(dir.path().join("root"), dir.path().join("state"));
        cfg.cgroup_driver = "systemd".into();
        cfg.bridge = "none".into();
        match crate::Engine::open(cfg) {
            Ok(_) => assert!(systemd_booted(), "opened without systemd"),
            Err(e) => {
                assert!(!systemd_booted(), "refused on a systemd host: {e}");
                assert_eq!(e.kind(), crate::ErrorKind::FailedPrecondition);
                assert!(e.to_string().contains("systemd"), "{e}");
                assert!(!dir.path().join("root").exists(), "the refusal changed nothing");
            }
        }
    }
}
