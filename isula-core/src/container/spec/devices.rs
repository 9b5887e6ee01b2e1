//! Device nodes: the default device cgroup allow-list, `--device` lookups, privileged mode.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde_json::{json, Value};

use crate::{Error, Result};

/// A device node on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostDevice {
    /// Path of the node.
    pub path: String,
    /// `c` (character) or `b` (block).
    pub kind: char,
    /// Major number.
    pub major: i64,
    /// Minor number.
    pub minor: i64,
    /// Permission bits.
    pub file_mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// Stats a device node on the host (following symlinks); non-devices are InvalidArgument.
pub(crate) fn host_device(path: &Path) -> Result<HostDevice> {
    let m = std::fs::metadata(path)
        .map_err(|e| Error::io(path, "stat device", e).context(format!("invalid --device {}", path.display())))?;
    let kind = if m.file_type().is_char_device() {
        'c'
    } else if m.file_type().is_block_device() {
        'b'
    } else {
        return Err(Error::invalid(format!("invalid --device {}: not a device node", path.display())));
    };
    let rdev = m.rdev();
    Ok(HostDevice {
        path: path.to_string_lossy().into_owned(),
        kind,
        major: nix::sys::stat::major(rdev) as i64,
        minor: nix::sys::stat::minor(rdev) as i64,
        file_mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
    })
}

/// Every device node under the host's `/dev` (for privileged containers), skipping
/// `/dev/pts`, `/dev/shm`, `/dev/mqueue` and symlinks.
pub(crate) fn host_devices() -> Vec<HostDevice> {
    let mut out = Vec::new();
    walk(Path::new("/dev"), &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn walk(dir: &Path, out: &mut Vec<HostDevice>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if !matches!(p.to_str(), Some("/dev/pts" | "/dev/shm" | "/dev/mqueue" | "/dev/.lxc" | "/dev/.udev")) {
                walk(&p, out);
            }
        } else if ft.is_char_device() || ft.is_block_device() {
            if let Ok(d) = host_device(&p) {
                out.push(d);
            }
        }
    }
}

/// An OCI `linux.devices` entry creating `d` at `container_path`.
pub(crate) fn oci_device(d: &HostDevice, container_path: &str) -> Value {
    json!({
        "path": container_path, "type": d.kind.to_string(), "major": d.major, "minor": d.minor,
        "fileMode": d.file_mode, "uid": d.uid, "gid": d.gid,
    })
}

/// An OCI device cgroup rule.
pub(crate) fn cgroup_rule(allow: bool, kind: &str, major: Option<i64>, minor: Option<i64>, access: &str) -> Value {
    let mut v = json!({ "allow": allow, "access": access });
    if kind != "a" {
        v["type"] = json!(kind);
    }
    if let Some(m) = major {
        v["major"] = json!(m);
    }
    if let Some(m) = minor {
        v["minor"] = json!(m);
    }
    v
}

/// Docker's default device cgroup rules: deny all, then mknod of any node and
/// rwm on null, zero, full, random, urandom, tty, console, ptmx and the pts devices.
pub(crate) fn default_cgroup_rules() -> Vec<Value> {
    let mut v = vec![
        cgroup_rule(false, "a", None, None, "rwm"),
        cgroup_rule(true, "c", None, None, "m"),
        cgroup_rule(true, "b", None, None, "m"),
    ];
    for (maj, min) in [
        (1, Some(3)),
        (1, Some(5)),
        (1, Some(7)),
        (1, Some(8)),
        (1, Some(9)),
        (5, Some(0)),
        (5, Some(1)),
        (5, Some(2)),
        (136, None),
    ] {
        v.push(cgroup_rule(true, "c", Some(maj), min, "rwm"));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_host_devices() {
        let d = host_device(Path::new("/dev/null")).unwrap();
        assert_eq!((d.kind, d.major, d.minor), ('c', 1, 3));
        assert!(host_device(Path::new("/etc/hostname")).is_err());
        assert!(host_device(Path::new("/dev/nonexistent0")).is_err());
        let all = host_devices();
        assert!(all.iter().any(|d| d.path == "/dev/zero"));
        assert!(!all.iter().any(|d| d.path.starts_with("/dev/pts/")));
        let v = oci_device(&d, "/dev/n");
        assert_eq!(v["type"], "c");
        assert_eq!(v["path"], "/dev/n");
        assert_eq!(default_cgroup_rules()[0], json!({"allow": false, "access": "rwm"}));
    }
}
