//! The container's mount table: Docker's standard mounts, then the generated
//! `/etc` files, then user mounts (`-v`, `--mount`, `--tmpfs`, image volumes) by depth.

use std::path::Path;

use serde_json::{json, Value};

use crate::container::options::{CreateOptions, MountKind};
use crate::container::parse::{parse_bind, BindSource, NamespaceMode};
use crate::container::spec::files::{anonymous_volume_name, volume_data_dir};
use crate::Result;

/// Default size of /dev/shm (64 MiB).
pub(crate) const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// One mount of the container, before it becomes an OCI mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedMount {
    /// Absolute destination in the container.
    pub destination: String,
    /// Filesystem type (`bind`, `tmpfs`, `proc`, …).
    pub kind: String,
    /// Source path or filesystem source.
    pub source: String,
    /// Mount options.
    pub options: Vec<String>,
    /// The volume backing this mount, if any (created by `prepare_container`).
    pub volume: Option<String>,
    /// Copy the image's content at the destination into the volume when it is new.
    pub copy_up: bool,
}

impl PlannedMount {
    fn new(dst: &str, kind: &str, src: &str, opts: &[&str]) -> Self {
        PlannedMount {
            destination: dst.into(),
            kind: kind.into(),
            source: src.into(),
            options: opts.iter().map(|s| s.to_string()).collect(),
            volume: None,
            copy_up: false,
        }
    }

    /// The OCI form.
    pub(crate) fn to_oci(&self) -> Value {
        json!({ "destination": self.destination, "type": self.kind, "source": self.source, "options": self.options })
    }
}

/// Docker's standard mounts: /proc, /dev, /dev/pts, /sys, /sys/fs/cgroup, /dev/mqueue, /dev/shm.
pub(crate) fn default_mounts(privileged: bool, shm_size: Option<i64>, ipc: &NamespaceMode) -> Vec<PlannedMount> {
    let ro = if privileged { "rw" } else { "ro" };
    let mut v = vec![
        PlannedMount::new("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        PlannedMount::new("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"]),
        PlannedMount::new(
            "/dev/pts",
            "devpts",
            "devpts",
            &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        ),
        PlannedMount::new("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", ro]),
        PlannedMount::new("/sys/fs/cgroup", "cgroup", "cgroup", &["nosuid", "noexec", "nodev", "relatime", ro]),
        PlannedMount::new("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
    ];
    match ipc {
        NamespaceMode::None => {}
        NamespaceMode::Host => v.push(PlannedMount::new("/dev/shm", "bind", "/dev/shm", &["rbind", "rprivate"])),
        _ => {
            let size = shm_size.filter(|s| *s > 0).unwrap_or(DEFAULT_SHM_SIZE);
            let size = format!("size={size}");
            v.push(PlannedMount::new("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", &size]));
        }
    }
    v
}

/// A host bind source with its symlinks resolved (CRI host paths often are links, e.g. into
/// `/run`); a path that cannot be resolved stays as given (validation reports it).
fn resolve_host_source(src: &str) -> String {
    match std::fs::canonicalize(src) {
        Ok(p) => p.to_string_lossy().into_owned(),
        Err(_) => src.to_string(),
    }
}

fn bind_options(read_only: bool, propagation: Option<&str>) -> Vec<String> {
    let mut o = vec!["rbind".to_string(), propagation.unwrap_or("rprivate").to_string()];
    if read_only {
        o.push("ro".into());
    }
    o
}

fn tmpfs_options(user: &str) -> Vec<String> {
    let user: Vec<&str> = user.split(',').filter(|s| !s.is_empty()).collect();
    let mut o: Vec<String> = Vec::new();
    for (def, opposite) in [("nosuid", "suid"), ("nodev", "dev"), ("noexec", "exec")] {
        if !user.contains(&opposite) && !user.contains(&def) {
            o.push(def.into());
        }
    }
    o.extend(user.iter().map(|s| s.to_string()));
    o
}

fn depth(p: &str) -> usize {
    p.trim_end_matches('/').split('/').filter(|c| !c.is_empty()).count()
}

fn norm(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        "/".into()
    } else {
        t.into()
    }
}

/// User mounts in mount order (stable sort by destination depth): `-v` binds and volumes,
/// `--mount`, `--tmpfs`, then the image's declared volumes not already covered
/// (as anonymous volumes named by [`anonymous_volume_name`]).
pub(crate) fn user_mounts(
    o: &CreateOptions,
    id: &str,
    image_volumes: &[String],
    volumes_root: &Path,
) -> Result<Vec<PlannedMount>> {
    let mut out: Vec<PlannedMount> = Vec::new();
    let volume = |name: String, dst: &str, ro: bool, no_copy: bool| PlannedMount {
        destination: norm(dst),
        kind: "bind".into(),
        source: volume_data_dir(volumes_root, &name).to_string_lossy().into_owned(),
        options: bind_options(ro, None),
        volume: Some(name),
        copy_up: !no_copy,
    };
    for b in &o.binds {
        let b = parse_bind(b)?;
        out.push(match b.source {
            BindSource::Host(src) => PlannedMount {
                destination: norm(&b.destination),
                kind: "bind".into(),
                source: resolve_host_source(&src),
                options: bind_options(b.read_only, b.propagation.as_deref()),
                volume: None,
                copy_up: false,
            },
            BindSource::Volume(name) => volume(name, &b.destination, b.read_only, b.no_copy),
            BindSource::Anonymous => {
                volume(anonymous_volume_name(id, &b.destination), &b.destination, b.read_only, b.no_copy)
            }
        });
    }
    for m in &o.mounts {
        out.push(match m.kind {
            MountKind::Bind => PlannedMount {
                destination: norm(&m.target),
                kind: "bind".into(),
                source: resolve_host_source(&m.source),
                options: bind_options(m.read_only, m.propagation.as_deref()),
                volume: None,
                copy_up: false,
            },
            MountKind::Volume => {
                let name = if m.source.is_empty() { anonymous_volume_name(id, &m.target) } else { m.source.clone() };
                volume(name, &m.target, m.read_only, m.no_copy)
            }
            MountKind::Tmpfs => {
                let mut opts = tmpfs_options("");
                if let Some(s) = m.tmpfs_size {
                    opts.push(format!("size={s}"));
                }
                if let Some(mode) = m.tmpfs_mode {
                    opts.push(format!("mode={mode:o}"));
                }
                if m.read_only {
                    opts.push("ro".into());
                }
                PlannedMount {
                    destination: norm(&m.target),
                    kind: "tmpfs".into(),
                    source: "tmpfs".into(),
                    options: opts,
                    volume: None,
                    copy_up: false,
                }
            }
        });
    }
    for (dst, opts) in &o.tmpfs {
        out.push(PlannedMount {
            destination: norm(dst),
            kind: "tmpfs".into(),
            source: "tmpfs".into(),
            options: tmpfs_options(opts),
            volume: None,
            copy_up: false,
        });
    }
    for v in image_volumes {
        let d = norm(v);
        if !out.iter().any(|m| m.destination == d) {
            out.push(volume(anonymous_volume_name(id, &d), &d, false, false));
        }
    }
    out.sort_by_key(|m| depth(&m.destination));
    Ok(out)
}

/// The full mount table: standard mounts not overridden by a user mount, the bind
/// mounts of `etc_files` (`(destination, source)`, skipped when a user mount covers them),
/// then `user`.
pub(crate) fn mount_table(
    defaults: Vec<PlannedMount>,
    etc_files: &[(&str, &Path)],
    user: Vec<PlannedMount>,
) -> Vec<PlannedMount> {
    let taken = |d: &str| user.iter().any(|m| m.destination == d);
    let mut out: Vec<PlannedMount> = defaults.into_iter().filter(|m| !taken(&m.destination)).collect();
    for (dst, src) in etc_files {
        if !taken(dst) {
            out.push(PlannedMount {
                destination: dst.to_string(),
                kind: "bind".into(),
                source: src.to_string_lossy().into_owned(),
                options: bind_options(false, None),
                volume: None,
                copy_up: false,
            });
        }
    }
    out.extend(user);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::options::MountOption;

    #[test]
    fn defaults() {
        let m = default_mounts(false, None, &NamespaceMode::Private);
        let shm = m.iter().find(|m| m.destination == "/dev/shm").unwrap();
        assert!(shm.options.contains(&"size=67108864".to_string()));
        assert!(m.iter().find(|m| m.destination == "/sys").unwrap().options.contains(&"ro".to_string()));
        let m = default_mounts(true, Some(1 << 20), &NamespaceMode::Private);
        assert!(m.iter().find(|m| m.destination == "/sys").unwrap().options.contains(&"rw".to_string()));
        assert!(m.iter().any(|m| m.options.contains(&"size=1048576".to_string())));
        assert!(!default_mounts(false, None, &NamespaceMode::None).iter().any(|m| m.destination == "/dev/shm"));
        assert_eq!(
            default_mounts(false, None, &NamespaceMode::Host)
                .iter()
                .find(|m| m.destination == "/dev/shm")
                .unwrap()
                .kind,
            "bind"
        );
    }

    #[test]
    fn user_mounts_in_depth_order() {
        let mut o = CreateOptions {
            binds: vec!["/tmp:/a/b/c:ro,rshared".into(), "data:/a".into(), "/anon/x/".into()],
            ..Default::default()
        };
        o.mounts = vec![MountOption {
            kind: MountKind::Tmpfs,
            target: "/t".into(),
            tmpfs_size: Some(4096),
            tmpfs_mode: Some(0o1777),
            ..Default::default()
        }];
        o.tmpfs.insert("/run".into(), "exec,size=1m".into());
        let root = Path::new("/vols");
        let m = user_mounts(&o, "cid", &["/a".into(), "/img".into()], root).unwrap();
        let dsts: Vec<&str> = m.iter().map(|m| m.destination.as_str()).collect();
        assert_eq!(dsts, vec!["/a", "/t", "/run", "/img", "/anon/x", "/a/b/c"]);
        assert_eq!(m[5].options, vec!["rbind", "rshared", "ro"]);
        assert_eq!(m[0].source, "/vols/data/_data");
        assert_eq!(m[0].volume.as_deref(), Some("data"));
        assert_eq!(m[1].options, vec!["nosuid", "nodev", "noexec", "size=4096", "mode=1777"]);
        assert_eq!(m[2].options, vec!["nosuid", "nodev", "exec", "size=1m"]);
        assert_eq!(m[3].volume.as_deref(), Some(anonymous_volume_name("cid", "/img").as_str()));
        assert_eq!(m[4].volume.as_deref(), Some(anonymous_volume_name("cid", "/anon/x").as_str()));

        let table = mount_table(
            default_mounts(false, None, &NamespaceMode::Private),
            &[("/etc/hosts", Path::new("/c/hosts")), ("/etc/hostname", Path::new("/c/hostname"))],
            vec![
                PlannedMount::new("/dev/shm", "tmpfs", "tmpfs", &[]),
                PlannedMount::new("/etc/hostname", "bind", "/x", &[]),
            ],
        );
        assert_eq!(table.iter().filter(|m| m.destination == "/dev/shm").count(), 1);
        assert_eq!(table.iter().filter(|m| m.destination == "/etc/hostname").count(), 1);
        assert!(table.iter().any(|m| m.destination == "/etc/hosts" && m.source == "/c/hosts"));
    }
}
