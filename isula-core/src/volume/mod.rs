//! Volumes: their metadata on disk, the Docker-shaped view, create options and list/prune
//! filters. Pure logic and plain files; [`Engine`](crate::Engine)'s `volume_*` methods add
//! locking, the "in use by a container" checks and events.
//!
//! A volume is the directory `<root>/volumes/<name>/` holding `_data/` (what containers
//! mount) and `volume.json` ([`VolumeMeta`]). Volumes made implicitly by `-v name:/dst` or
//! anonymous volumes may have no `volume.json`: they read as `local` volumes without labels,
//! created when their directory was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub(crate) use isula_types::volume::{validate_name, VolumeFilters};
pub use isula_types::volume::{Volume, VolumeCreateOptions, VolumePruneReport};

/// The only volume driver.
pub(crate) const LOCAL_DRIVER: &str = "local";
/// File name of a volume's metadata inside its directory.
pub(crate) const META_FILE: &str = "volume.json";
/// Directory of a volume's content inside its directory.
pub(crate) const DATA_DIR: &str = "_data";

/// What `volume.json` records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct VolumeMeta {
    /// Driver name (always `local`).
    pub driver: String,
    /// Creation time (whole seconds, as Docker).
    pub created_at: crate::time::Timestamp,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Driver options given at creation.
    pub options: BTreeMap<String, String>,
}

/// Check create options before anything is written: driver `local` only, no driver options
/// (Docker's `type`/`device`/`o` mount a filesystem per volume, which isula does not do).
pub(crate) fn validate_create(opts: &VolumeCreateOptions) -> Result<()> {
    if !opts.driver.is_empty() && opts.driver != LOCAL_DRIVER {
        return Err(Error::invalid(format!(
            "volume driver {:?} is not supported: isula has only the \"local\" driver",
            opts.driver
        )));
    }
    if let Some(n) = opts.name.as_deref().filter(|n| !n.is_empty()) {
        validate_name(n)?;
    }
    for k in opts.labels.keys() {
        if k.is_empty() {
            return Err(Error::invalid("volume label with an empty key"));
        }
    }
    if let Some(k) = opts.driver_opts.keys().next() {
        return Err(match k.as_str() {
            "type" | "device" | "o" | "size" => Error::invalid(format!(
                "local volume option {k:?} is not supported by isula: volumes are plain directories under the root"
            )),
            _ => Error::invalid(format!("invalid option key: {k:?}")),
        });
    }
    Ok(())
}

/// The directory of volume `name`.
pub(crate) fn volume_dir(volumes_root: &Path, name: &str) -> PathBuf {
    volumes_root.join(name)
}

/// Read volume `name` from disk: `None` when there is no such volume (no `_data` directory).
pub(crate) fn load(volumes_root: &Path, name: &str) -> Result<Option<Volume>> {
    let dir = volume_dir(volumes_root, name);
    let data = dir.join(DATA_DIR);
    let dmeta = match std::fs::symlink_metadata(&data) {
        Ok(m) if m.is_dir() => m,
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&data, "stat", e)),
    };
    let meta_path = dir.join(META_FILE);
    let meta: VolumeMeta = if meta_path.exists() {
        crate::sys::fs::read_json(&meta_path)?
    } else {
        let secs = dmeta.modified().map_or(0, |t| crate::time::Timestamp::from(t).unix_secs());
        VolumeMeta { created_at: crate::time::Timestamp::from_unix_secs(secs), ..Default::default() }
    };
    Ok(Some(Volume {
        name: name.to_string(),
        driver: if meta.driver.is_empty() { LOCAL_DRIVER.into() } else { meta.driver },
        mountpoint: data.to_string_lossy().into_owned(),
        created_at: meta.created_at,
        labels: meta.labels,
        scope: "local".into(),
        options: meta.options,
    }))
}

/// Names of the volumes under `volumes_root` (valid names with a `_data` directory), sorted.
pub(crate) fn names(volumes_root: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(volumes_root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(volumes_root, "read dir", e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Error::io(volumes_root, "read dir", e))?;
        let Some(n) = e.file_name().to_str().map(String::from) else { continue };
        if validate_name(&n).is_ok() && e.path().join(DATA_DIR).is_dir() {
            out.push(n);
        }
    }
    out.sort();
    Ok(out)
}

/// Create volume `name` atomically: the directory with `_data/` and `volume.json` is built
/// under a temporary name beside it, then renamed into place. The caller makes sure the
/// name is free (and holds the volume lock).
pub(crate) fn create(volumes_root: &Path, name: &str, meta: &VolumeMeta) -> Result<()> {
    use crate::sys::fs::{atomic_write_json, ensure_dir, fsync_dir, remove_dir_all_if_exists, temp_sibling};
    validate_name(name)?;
    ensure_dir(volumes_root, 0o700)?;
    let dir = volume_dir(volumes_root, name);
    let tmp = temp_sibling(&dir);
    let res = (|| {
        ensure_dir(&tmp.join(DATA_DIR), 0o755)?;
        atomic_write_json(&tmp.join(META_FILE), meta)?;
        crate::failpoint::hit("volume.create.after-tmp");
        if dir.exists() {
            // A directory without `_data` (left by a crash): replaced.
            remove_dir_all_if_exists(&dir)?;
        }
        std::fs::rename(&tmp, &dir).map_err(|e| Error::io(&dir, "rename onto", e))?;
        crate::failpoint::hit("volume.create.after-rename");
        fsync_dir(volumes_root)
    })();
    if res.is_err() {
        let _ = remove_dir_all_if_exists(&tmp);
    }
    res
}

/// Remove volume `name` from disk: renamed aside first (so it disappears at once), then deleted.
pub(crate) fn destroy(volumes_root: &Path, name: &str) -> Result<()> {
    use crate::sys::fs::{fsync_dir, remove_dir_all_if_exists, temp_sibling};
    let dir = volume_dir(volumes_root, name);
    let aside = temp_sibling(&dir);
    match std::fs::rename(&dir, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(&dir, "rename", e)),
    }
    fsync_dir(volumes_root)?;
    remove_dir_all_if_exists(&aside)
}

/// Remove what a crash left in `volumes_root`: temporary directories of `create`/`destroy`.
pub(crate) fn repair(volumes_root: &Path) -> Result<()> {
    let Ok(rd) = std::fs::read_dir(volumes_root) else { return Ok(()) };
    for e in rd.flatten() {
        if e.file_name().to_string_lossy().starts_with(".tmp-") {
            crate::sys::fs::remove_dir_all_if_exists(&e.path())?;
        }
    }
    Ok(())
}

/// Bytes of regular-file content under `path` (hard links counted once; symlinks not followed).
pub(crate) fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else { continue };
        if m.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        } else if m.is_file() && (m.nlink() < 2 || seen.insert((m.dev(), m.ino()))) {
            total += m.len();
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(name: &str, labels: &[(&str, &str)]) -> Volume {
        Volume {
            name: name.into(),
            driver: "local".into(),
            mountpoint: String::new(),
            created_at: crate::time::Timestamp::ZERO,
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            scope: "local".into(),
            options: BTreeMap::new(),
        }
    }

    #[test]
    fn filters() {
        let p = |v: &[&str]| VolumeFilters::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let a = vol("data-a", &[("env", "prod"), ("team", "")]);
        assert!(p(&[]).unwrap().matches(&a, true));
        assert!(p(&["name=ta-"]).unwrap().matches(&a, false));
        assert!(!p(&["name=zz"]).unwrap().matches(&a, false));
        assert!(p(&["name=zz", "name=data"]).unwrap().matches(&a, false));
        assert!(p(&["label=env=prod", "label=team"]).unwrap().matches(&a, false));
        assert!(!p(&["label=env=dev"]).unwrap().matches(&a, false));
        assert!(!p(&["label!=env"]).unwrap().matches(&a, false));
        assert!(p(&["label!=env=dev"]).unwrap().matches(&a, false));
        assert!(p(&["dangling=true"]).unwrap().matches(&a, false));
        assert!(!p(&["dangling=1"]).unwrap().matches(&a, true));
        assert!(p(&["dangling=false"]).unwrap().matches(&a, true));
        assert!(p(&["driver=local"]).unwrap().matches(&a, true));
        assert!(p(&["dangling=maybe"]).is_err());
        assert!(p(&["colour=red"]).unwrap_err().to_string().contains("invalid filter 'colour'"));
        assert!(p(&["name"]).is_err());
    }

    #[test]
    fn create_options() {
        let ok = VolumeCreateOptions { name: Some("data".into()), ..Default::default() };
        validate_create(&ok).unwrap();
        let mut o = ok.clone();
        o.driver = "nfs".into();
        assert!(validate_create(&o).unwrap_err().to_string().contains("only the \"local\" driver"));
        let mut o = ok.clone();
        o.driver_opts.insert("type".into(), "tmpfs".into());
        assert!(validate_create(&o).unwrap_err().to_string().contains("not supported"));
        let mut o = ok.clone();
        o.driver_opts.insert("colour".into(), "red".into());
        assert!(validate_create(&o).unwrap_err().to_string().contains("invalid option key"));
        let mut o = ok.clone();
        o.name = Some("../x".into());
        assert!(validate_create(&o).is_err());
    }

    #[test]
    fn create_load_destroy() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("volumes");
        assert!(names(&root).unwrap().is_empty());
        let meta = VolumeMeta {
            driver: "local".into(),
            created_at: "2024-01-02T03:04:05Z".parse().unwrap(),
            labels: [("a".to_string(), "b".to_string())].into(),
            options: BTreeMap::new(),
        };
        create(&root, "vol1", &meta).unwrap();
        // An implicit volume: only `_data`.
        std::fs::create_dir_all(root.join("implicit").join(DATA_DIR)).unwrap();
        std::fs::create_dir_all(root.join("no-data")).unwrap();
        assert_eq!(names(&root).unwrap(), vec!["implicit", "vol1"]);
        let v = load(&root, "vol1").unwrap().unwrap();
        assert_eq!(v.labels["a"], "b");
        assert_eq!(v.created_at.to_string(), "2024-01-02T03:04:05Z");
        assert_eq!(Path::new(&v.mountpoint), root.join("vol1/_data"));
        let i = load(&root, "implicit").unwrap().unwrap();
        assert_eq!((i.driver.as_str(), i.scope.as_str()), ("local", "local"));
        assert!(i.created_at.to_string().ends_with('Z') && !i.created_at.is_zero());
        assert!(load(&root, "no-data").unwrap().is_none());
        std::fs::write(root.join("vol1/_data/f"), vec![0u8; 1000]).unwrap();
        std::fs::hard_link(root.join("vol1/_data/f"), root.join("vol1/_data/g")).unwrap();
        std::fs::write(root.join("vol1/_data/h"), b"12345").unwrap();
        assert_eq!(disk_usage(&root.join("vol1/_data")), 1005);
        destroy(&root, "vol1").unwrap();
        destroy(&root, "vol1").unwrap();
        assert!(load(&root, "vol1").unwrap().is_none());
        std::fs::create_dir_all(root.join(".tmp-x-1-2")).unwrap();
        repair(&root).unwrap();
        let left: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }
}
