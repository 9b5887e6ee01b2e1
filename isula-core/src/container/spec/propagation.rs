//! Mount propagation of bind mounts: `rshared` needs the source's host mount to be shared
//! and `rslave` needs it shared or a slave, and the container's rootfs propagation must follow
//! (`linux.rootfsPropagation` `rshared` / `rslave`), as containerd's CRI plugin does; a
//! private root would cut the propagation at the container's `/`.

use std::path::Path;

use super::mounts::PlannedMount;
use crate::{Error, Result};

/// Propagation of the host mount holding a path, from its mountinfo optional fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostPropagation {
    Shared,
    Slave,
    Private,
}

/// The mount point holding `path` (the longest prefix; the last one listed when mounts are
/// stacked) and its propagation, from mountinfo text.
fn mount_of(path: &str, mountinfo: &str) -> Option<(String, HostPropagation)> {
    let mut best: Option<(String, HostPropagation)> = None;
    for line in mountinfo.lines() {
        let Some((pre, _)) = line.split_once(" - ") else { continue };
        let fields: Vec<&str> = pre.split(' ').collect();
        if fields.len() < 6 {
            continue;
        }
        let mp = crate::sys::mount::unescape_mountinfo(fields[4]);
        let holds = mp == "/" || path == mp || path.starts_with(&format!("{mp}/"));
        if !holds || best.as_ref().is_some_and(|(b, _)| b.len() > mp.len()) {
            continue;
        }
        let opt = &fields[6..];
        let prop = if opt.iter().any(|f| f.starts_with("shared:")) {
            HostPropagation::Shared
        } else if opt.iter().any(|f| f.starts_with("master:")) {
            HostPropagation::Slave
        } else {
            HostPropagation::Private
        };
        best = Some((mp, prop));
    }
    best
}

fn host_propagation(source: &str, mountinfo: &str) -> Result<(String, HostPropagation)> {
    mount_of(source, mountinfo).ok_or_else(|| Error::internal(format!("no mount holds {source:?} in mountinfo")))
}

/// The rootfs propagation the bind mounts of `table` need (`None`: the runtime default),
/// after checking that each `rshared` / `rslave` source sits on a shared (or slave) mount.
pub(crate) fn rootfs_propagation(table: &[PlannedMount]) -> Result<Option<&'static str>> {
    let mut mountinfo: Option<String> = None;
    let mut out = None;
    for m in table.iter().filter(|m| m.kind == "bind") {
        let shared = m.options.iter().any(|o| o == "rshared" || o == "shared");
        let slave = m.options.iter().any(|o| o == "rslave" || o == "slave");
        if !shared && !slave {
            continue;
        }
        let info = match &mountinfo {
            Some(i) => i,
            None => mountinfo.insert(
                std::fs::read_to_string("/proc/self/mountinfo")
                    .map_err(|e| Error::io(Path::new("/proc/self/mountinfo"), "read", e))?,
            ),
        };
        let (mp, prop) = host_propagation(&m.source, info)?;
        if shared {
            if prop != HostPropagation::Shared {
                return Err(Error::precondition(format!(
                    "path {:?} is mounted on {mp:?} but it is not a shared mount (needed by propagation rshared)",
                    m.source
                )));
            }
            out = Some("rshared");
        } else {
            if prop == HostPropagation::Private {
                return Err(Error::precondition(format!(
                    "path {:?} is mounted on {mp:?} but it is not a shared or slave mount (needed by propagation rslave)",
                    m.source
                )));
            }
            if out.is_none() {
                out = Some("rslave");
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:5 / /mnt/a rw master:4 - tmpfs tmpfs rw
31 22 0:6 / /mnt/a\\040b rw - tmpfs tmpfs rw
32 30 0:7 / /mnt/a/inner rw shared:9 master:4 - tmpfs tmpfs rw
";

    #[test]
    fn finds_the_holding_mount_and_its_propagation() {
        assert_eq!(mount_of("/usr/bin", INFO), Some(("/".into(), HostPropagation::Shared)));
        assert_eq!(mount_of("/mnt/a/x", INFO), Some(("/mnt/a".into(), HostPropagation::Slave)));
        assert_eq!(mount_of("/mnt/ab", INFO), Some(("/".into(), HostPropagation::Shared)));
        assert_eq!(mount_of("/mnt/a b/c", INFO), Some(("/mnt/a b".into(), HostPropagation::Private)));
        assert_eq!(mount_of("/mnt/a/inner", INFO), Some(("/mnt/a/inner".into(), HostPropagation::Shared)));
    }
}
