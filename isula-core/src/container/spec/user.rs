//! Resolving `--user` and `--group-add` against the image's `/etc/passwd` and `/etc/group`
//! (Docker's rules, or Kubernetes' merge of the image's groups for containers of a pod).

use std::path::Path;

use crate::container::spec::rootfs::read_in_rootfs;
use crate::{Error, Result};

/// One line of `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PasswdEntry {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: String,
}

/// One line of `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupEntry {
    /// Group name.
    pub name: String,
    /// Group id.
    pub gid: u32,
    /// Member login names.
    pub members: Vec<String>,
}

/// The user a container process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary group ids (membership in /etc/group plus `--group-add`).
    pub additional_gids: Vec<u32>,
    /// Home directory (for `HOME`).
    pub home: String,
}

/// Parses `/etc/passwd` content; malformed lines and comments are skipped.
pub(crate) fn parse_passwd(content: &str) -> Vec<PasswdEntry> {
    content
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 || f[0].is_empty() {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].trim().parse().ok()?,
                gid: f[3].trim().parse().ok()?,
                home: f.get(5).map(|s| s.to_string()).unwrap_or_default(),
            })
        })
        .collect()
}

/// Parses `/etc/group` content; malformed lines and comments are skipped.
pub(crate) fn parse_group(content: &str) -> Vec<GroupEntry> {
    content
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 3 || f[0].is_empty() {
                return None;
            }
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: f[2].trim().parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| m.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// How the user's `/etc/group` memberships join the supplementary groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImageGroups {
    /// Docker/runc: only when no group was given (`user`, not `user:group`).
    UnlessGroupGiven,
    /// Kubernetes (`SupplementalGroupsPolicy: Merge`, its default), for containers of a pod:
    /// always, also with `uid:gid` (CRI's `run_as_group`).
    Always,
    /// Kubernetes' `SupplementalGroupsPolicy: Strict`: never; only the primary group and
    /// `group_add`.
    Never,
}

/// Resolves `user` (`""`, `name`, `uid`, `name:group`, `uid:gid`) and `group_add` against the
/// given passwd and group entries, with the semantics of Docker/runc:
/// an unknown user *name* is an error, an unknown numeric uid runs with gid 0 and home `/`;
/// supplementary groups come from /etc/group membership as `image_groups` says, then `group_add`.
pub(crate) fn resolve_user_in(
    passwd: &[PasswdEntry],
    groups: &[GroupEntry],
    user: &str,
    group_add: &[String],
    image_groups: ImageGroups,
) -> Result<ResolvedUser> {
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let entry = match user_part.parse::<u32>() {
        Ok(uid) => passwd.iter().find(|p| p.uid == uid).cloned().unwrap_or(PasswdEntry {
            name: String::new(),
            uid,
            gid: 0,
            home: "/".into(),
        }),
        Err(_) => passwd.iter().find(|p| p.name == user_part).cloned().ok_or_else(|| {
            Error::invalid(format!("unable to find user {user_part}: no matching entries in passwd file"))
        })?,
    };
    let find_group =
        |g: &str| -> Result<u32> {
            match g.parse::<u32>() {
                Ok(gid) => Ok(gid),
                Err(_) => groups.iter().find(|e| e.name == g).map(|e| e.gid).ok_or_else(|| {
                    Error::invalid(format!("unable to find group {g}: no matching entries in group file"))
                }),
            }
        };
    let mut resolved = ResolvedUser {
        uid: entry.uid,
        gid: entry.gid,
        additional_gids: Vec::new(),
        home: if entry.home.is_empty() { "/".into() } else { entry.home.clone() },
    };
    let group_given = group_part.is_some_and(|g| !g.is_empty());
    if let Some(g) = group_part.filter(|g| !g.is_empty()) {
        resolved.gid = find_group(g)?;
    }
    let merge = match image_groups {
        ImageGroups::UnlessGroupGiven => !group_given,
        ImageGroups::Always => true,
        ImageGroups::Never => false,
    };
    if !entry.name.is_empty() && merge {
        for g in groups.iter().filter(|g| g.members.contains(&entry.name)) {
            if g.gid != resolved.gid && !resolved.additional_gids.contains(&g.gid) {
                resolved.additional_gids.push(g.gid);
            }
        }
    }
    for g in group_add {
        let gid = find_group(g)?;
        if !resolved.additional_gids.contains(&gid) {
            resolved.additional_gids.push(gid);
        }
    }
    // Kubernetes' rules (either policy) list the primary group among the supplementary ones,
    // as kubelet reports and checks them (`id -G`, ContainerStatus.user).
    if image_groups != ImageGroups::UnlessGroupGiven && !resolved.additional_gids.contains(&resolved.gid) {
        resolved.additional_gids.insert(0, resolved.gid);
    }
    Ok(resolved)
}

/// Resolves a user against `rootfs/etc/passwd` and `rootfs/etc/group` (read without
/// following symlinks out of the rootfs; missing files count as empty).
/// Docker's rule for the image's groups ([`ImageGroups::UnlessGroupGiven`]).
pub(crate) fn resolve_user(rootfs: &Path, user: &str, group_add: &[String]) -> Result<ResolvedUser> {
    resolve_user_with(rootfs, user, group_add, ImageGroups::UnlessGroupGiven)
}

/// [`resolve_user`] with the given rule for the image's groups.
pub(crate) fn resolve_user_with(
    rootfs: &Path,
    user: &str,
    group_add: &[String],
    image_groups: ImageGroups,
) -> Result<ResolvedUser> {
    let passwd = parse_passwd(&read_in_rootfs(rootfs, "/etc/passwd")?.unwrap_or_default());
    let groups = parse_group(&read_in_rootfs(rootfs, "/etc/group")?.unwrap_or_default());
    resolve_user_in(&passwd, &groups, user, group_add, image_groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n# comment\nbroken\napp:x:1000:1000:App:/home/app:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:app,root\napp:x:1000:\naudio:x:29:app\nstaff:x:50:\n";

    fn fake_rootfs() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(t.path().join("etc/passwd"), PASSWD).unwrap();
        std::fs::write(t.path().join("etc/group"), GROUP).unwrap();
        t
    }

    #[test]
    fn parses_files() {
        let p = parse_passwd(PASSWD);
        assert_eq!(p.len(), 3);
        assert_eq!(p[1], PasswdEntry { name: "app".into(), uid: 1000, gid: 1000, home: "/home/app".into() });
        let g = parse_group(GROUP);
        assert_eq!(g[1].members, vec!["app".to_string(), "root".to_string()]);
    }

    #[test]
    fn resolves_users() {
        let t = fake_rootfs();
        let r = resolve_user(t.path(), "app", &[]).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (1000, 1000, "/home/app"));
        assert_eq!(r.additional_gids, vec![10, 29]);
        let r = resolve_user(t.path(), "", &[]).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (0, 0, "/root"));
        assert_eq!(r.additional_gids, vec![10]);
        let r = resolve_user(t.path(), "1000:50", &[]).unwrap();
        assert_eq!((r.uid, r.gid), (1000, 50));
        assert!(r.additional_gids.is_empty(), "explicit group: no membership groups");
        let r = resolve_user(t.path(), "app:staff", &["audio".into(), "4242".into()]).unwrap();
        assert_eq!((r.gid, r.additional_gids.clone()), (50, vec![29, 4242]));
        let r = resolve_user(t.path(), "4321", &[]).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (4321, 0, "/"));
        let e = resolve_user(t.path(), "ghost", &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("unable to find user ghost"), "{e}");
        assert!(resolve_user(t.path(), "app:nogroup", &[]).unwrap_err().to_string().contains("nogroup"));
        assert!(resolve_user(t.path(), "app", &["nogroup".into()]).is_err());
        // Kubernetes' merge: the memberships of the uid's user also with a group given.
        let r = resolve_user_with(t.path(), "1000:50", &["4242".into()], ImageGroups::Always).unwrap();
        assert_eq!((r.uid, r.gid, r.additional_gids), (1000, 50, vec![50, 10, 29, 4242]));
        let r = resolve_user_with(t.path(), "4321:7", &[], ImageGroups::Always).unwrap();
        assert_eq!((r.gid, r.additional_gids), (7, vec![7]));
        // Strict: the image's memberships are left out, group_add stays.
        let r = resolve_user_with(t.path(), "1000:50", &["4242".into()], ImageGroups::Never).unwrap();
        assert_eq!((r.uid, r.gid, r.additional_gids), (1000, 50, vec![50, 4242]));
        let r = resolve_user_with(t.path(), "app", &[], ImageGroups::Never).unwrap();
        assert_eq!(r.additional_gids, vec![r.gid]);
    }

    #[test]
    fn missing_files_and_symlink_escape() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(resolve_user(t.path(), "0", &[]).unwrap().uid, 0);
        assert!(resolve_user(t.path(), "root", &[]).is_err());
        // /etc -> /etc on the host must resolve inside the rootfs, not to the host's files
        std::os::unix::fs::symlink("/etc", t.path().join("etc")).unwrap();
        assert!(resolve_user(t.path(), "root", &[]).is_err());
    }
}
