//! Files in the container directory that are bind-mounted into the container
//! (`hosts`, `resolv.conf`, `hostname`), and volume directories.

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::sys::fs::{ensure_dir, replace_file};
use crate::volume::validate_name as validate_volume_name;
use crate::{Error, Result};

/// File name of the generated hosts file in the container directory.
pub(crate) const HOSTS_FILE: &str = "hosts";
/// File name of the generated resolv.conf in the container directory.
pub(crate) const RESOLV_FILE: &str = "resolv.conf";
/// File name of the generated hostname file in the container directory.
pub(crate) const HOSTNAME_FILE: &str = "hostname";

/// Content of `/etc/hosts`: localhost entries, `ip hostname` when an address is known
/// (the network code passes it), then `--add-host` entries. `base` replaces the
/// localhost block (used with `--network host`, where it is the host's file).
pub(crate) fn hosts_content(
    hostname: &str,
    domainname: &str,
    ip: Option<&str>,
    extra_hosts: &[(String, String)],
    base: Option<&str>,
) -> String {
    let mut s = match base {
        Some(b) => {
            let mut b = b.to_string();
            if !b.is_empty() && !b.ends_with('\n') {
                b.push('\n');
            }
            b
        }
        None => "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n".to_string(),
    };
    for (h, addr) in extra_hosts {
        s.push_str(&format!("{addr}\t{h}\n"));
    }
    if let Some(ip) = ip {
        if domainname.is_empty() {
            s.push_str(&format!("{ip}\t{hostname}\n"));
        } else {
            s.push_str(&format!("{ip}\t{hostname}.{domainname} {hostname}\n"));
        }
    }
    s
}

/// Writes `dir/hosts` atomically, unflushed (see [`hosts_content`] and [`container_files`]); returns its path.
pub(crate) fn write_hosts(
    dir: &Path,
    hostname: &str,
    domainname: &str,
    ip: Option<&str>,
    extra_hosts: &[(String, String)],
    base: Option<&str>,
) -> Result<PathBuf> {
    let p = dir.join(HOSTS_FILE);
    replace_file(&p, hosts_content(hostname, domainname, ip, extra_hosts, base).as_bytes(), 0o644)?;
    Ok(p)
}

fn is_local_nameserver(ns: &str) -> bool {
    let ip = ns.split('%').next().unwrap_or(ns);
    match ip.parse::<std::net::IpAddr>() {
        Ok(a) => a.is_loopback(),
        Err(_) => false,
    }
}

/// Content of `/etc/resolv.conf` from the host's file: `dns`, `dns_search` and `dns_options`
/// replace the host's nameservers, search domains and options when non-empty. When the
/// container has its own network namespace, loopback nameservers are dropped (they would
/// point at the container itself); no public resolver is made up to replace them.
pub(crate) fn resolv_conf_content(
    host: &str,
    dns: &[String],
    dns_search: &[String],
    dns_options: &[String],
    private_netns: bool,
) -> String {
    let mut nameservers = Vec::new();
    let mut search: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    let mut other = Vec::new();
    for line in host.lines() {
        let t = line.trim();
        let mut words = t.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(ns) = words.next() {
                    if !(private_netns && is_local_nameserver(ns)) {
                        nameservers.push(ns.to_string());
                    }
                }
            }
            Some("search") | Some("domain") => search = words.map(String::from).collect(),
            Some("options") => options.extend(words.map(String::from)),
            Some(w) if !w.starts_with('#') && !w.starts_with(';') => other.push(t.to_string()),
            _ => {}
        }
    }
    if !dns.is_empty() {
        nameservers = dns.to_vec();
    }
    if !dns_search.is_empty() {
        search = dns_search.iter().filter(|s| s.as_str() != ".").cloned().collect();
    }
    if !dns_options.is_empty() {
        options = dns_options.to_vec();
    }
    let mut s = String::new();
    for l in other {
        s.push_str(&l);
        s.push('\n');
    }
    if !search.is_empty() {
        s.push_str(&format!("search {}\n", search.join(" ")));
    }
    for ns in nameservers {
        s.push_str(&format!("nameserver {ns}\n"));
    }
    if !options.is_empty() {
        s.push_str(&format!("options {}\n", options.join(" ")));
    }
    s
}

/// Writes `dir/resolv.conf` atomically, unflushed (see [`resolv_conf_content`]); returns its path.
pub(crate) fn write_resolv_conf(
    dir: &Path,
    host: &str,
    dns: &[String],
    dns_search: &[String],
    dns_options: &[String],
    private_netns: bool,
) -> Result<PathBuf> {
    let p = dir.join(RESOLV_FILE);
    replace_file(&p, resolv_conf_content(host, dns, dns_search, dns_options, private_netns).as_bytes(), 0o644)?;
    Ok(p)
}

/// Writes `dir/hostname` atomically, unflushed (`hostname\n`); returns its path.
pub(crate) fn write_hostname(dir: &Path, hostname: &str) -> Result<PathBuf> {
    let p = dir.join(HOSTNAME_FILE);
    replace_file(&p, format!("{hostname}\n").as_bytes(), 0o644)?;
    Ok(p)
}

/// The files the spec step wrote into container directory `dir` without flushing them
/// (hosts, resolv.conf, hostname, the bundle's config.json), those that exist: the caller
/// makes them durable in one batch with the container record.
pub(crate) fn container_files(dir: &Path) -> Vec<PathBuf> {
    [HOSTS_FILE, RESOLV_FILE, HOSTNAME_FILE, "config.json"]
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.is_file())
        .collect()
}

/// The deterministic name of the anonymous volume of container `id` at `destination`
/// (64 hex digits, like Docker's random names), so it can be found again for `rm -v`.
pub fn anonymous_volume_name(id: &str, destination: &str) -> String {
    let mut h = Sha256::new();
    h.update(id.as_bytes());
    h.update([0]);
    h.update(destination.trim_end_matches('/').as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The data directory of volume `name`: `<volumes_root>/<name>/_data`.
pub(crate) fn volume_data_dir(volumes_root: &Path, name: &str) -> PathBuf {
    volumes_root.join(name).join("_data")
}

/// Creates (if needed) the data directory of volume `name`; returns it and whether it was
/// created by this call (a new, empty volume).
pub(crate) fn ensure_volume(volumes_root: &Path, name: &str) -> Result<(PathBuf, bool)> {
    validate_volume_name(name)?;
    ensure_dir(volumes_root, 0o700)?;
    ensure_dir(&volumes_root.join(name), 0o755)?;
    let data = volume_data_dir(volumes_root, name);
    let created = !data.exists();
    ensure_dir(&data, 0o755)?;
    Ok((data, created))
}

/// Copies the tree under `src` into the existing directory `dst` (Docker's volume
/// copy-up): directories, regular files and symlinks with their modes and owners;
/// `dst` itself takes `src`'s mode and owner. Other file types are skipped; a missing or
/// non-directory `src` copies nothing.
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    use std::os::unix::fs::{lchown, symlink, MetadataExt, PermissionsExt};
    let meta = match std::fs::symlink_metadata(src) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(src, "stat", e)),
    };
    if !meta.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(src).map_err(|e| Error::io(src, "read dir", e))? {
        let entry = entry.map_err(|e| Error::io(src, "read dir", e))?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let m = std::fs::symlink_metadata(&from).map_err(|e| Error::io(&from, "stat", e))?;
        let ft = m.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&to).map_err(|e| Error::io(&to, "create dir", e))?;
            copy_tree(&from, &to)?;
            continue;
        } else if ft.is_file() {
            std::fs::copy(&from, &to).map_err(|e| Error::io(&to, "copy to", e))?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&from).map_err(|e| Error::io(&from, "read link", e))?;
            symlink(&target, &to).map_err(|e| Error::io(&to, "create symlink", e))?;
        } else {
            continue;
        }
        lchown(&to, Some(m.uid()), Some(m.gid())).map_err(|e| Error::io(&to, "chown", e))?;
        if ft.is_file() {
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(m.mode() & 0o7777))
                .map_err(|e| Error::io(&to, "chmod", e))?;
        }
    }
    lchown(dst, Some(meta.uid()), Some(meta.gid())).map_err(|e| Error::io(dst, "chown", e))?;
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(|e| Error::io(dst, "chmod", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_trees() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("src"), t.path().join("dst"));
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::create_dir(&dst).unwrap();
        std::fs::write(src.join("sub/f"), "content").unwrap();
        std::fs::set_permissions(src.join("sub/f"), std::fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::lchown(src.join("sub/f"), Some(1000), Some(1001)).unwrap();
        std::os::unix::fs::symlink("sub/f", src.join("link")).unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o1777)).unwrap();
        copy_tree(&src, &dst).unwrap();
        assert_eq!(std::fs::read_to_string(dst.join("sub/f")).unwrap(), "content");
        let m = std::fs::metadata(dst.join("sub/f")).unwrap();
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o640, 1000, 1001));
        assert_eq!(std::fs::read_link(dst.join("link")).unwrap(), Path::new("sub/f"));
        assert_eq!(std::fs::metadata(&dst).unwrap().mode() & 0o7777, 0o1777);
    }

    #[test]
    fn hosts() {
        let s = hosts_content("abc", "", Some("10.0.0.2"), &[("db".into(), "1.2.3.4".into())], None);
        assert!(s.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(s.contains("1.2.3.4\tdb\n"));
        assert!(s.ends_with("10.0.0.2\tabc\n"));
        let s = hosts_content("abc", "example.com", Some("10.0.0.2"), &[], Some("127.0.0.1 myhost"));
        assert_eq!(s, "127.0.0.1 myhost\n10.0.0.2\tabc.example.com abc\n");
    }

    #[test]
    fn resolv() {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 10.1.1.1\nnameserver ::1\nsearch a.example b.example\noptions edns0\n";
        let s = resolv_conf_content(host, &[], &[], &[], true);
        assert_eq!(s, "search a.example b.example\nnameserver 10.1.1.1\noptions edns0\n");
        let s = resolv_conf_content(host, &[], &[], &[], false);
        assert!(s.contains("nameserver 127.0.0.53\n"));
        let s = resolv_conf_content(host, &["9.9.9.9".into()], &["c.example".into()], &["ndots:2".into()], true);
        assert_eq!(s, "search c.example\nnameserver 9.9.9.9\noptions ndots:2\n");
        assert_eq!(resolv_conf_content("nameserver 127.0.0.1\n", &[], &[], &[], true), "");
    }

    #[test]
    fn writes_files_and_volumes() {
        let t = tempfile::tempdir().unwrap();
        let p = write_hostname(t.path(), "box").unwrap();
        assert_eq!(std::fs::read_to_string(p).unwrap(), "box\n");
        let p = write_hosts(t.path(), "box", "", None, &[], None).unwrap();
        assert!(std::fs::read_to_string(p).unwrap().contains("localhost"));
        let p = write_resolv_conf(t.path(), "nameserver 1.1.1.1\n", &[], &[], &[], true).unwrap();
        assert_eq!(std::fs::read_to_string(p).unwrap(), "nameserver 1.1.1.1\n");
        let n = anonymous_volume_name("id1", "/data/");
        assert_eq!(n, anonymous_volume_name("id1", "/data"));
        assert_ne!(n, anonymous_volume_name("id2", "/data"));
        assert_eq!(n.len(), 64);
        let (d, created) = ensure_volume(&t.path().join("volumes"), &n).unwrap();
        assert!(d.is_dir() && d.ends_with("_data") && created);
        assert!(!ensure_volume(&t.path().join("volumes"), &n).unwrap().1, "second call: already there");
        assert!(ensure_volume(&t.path().join("volumes"), "../x").is_err());
    }
}
