//! The files every container of a pod bind-mounts: `hostname`, `hosts` (localhost entries
//! and the pod's address) and `resolv.conf` (the pod's DNS config, else the host's), kept in
//! the pod's directory.

use std::path::{Path, PathBuf};

use isula_types::pod::DnsConfig;

use crate::container::spec::files::{self, HOSTNAME_FILE, HOSTS_FILE, RESOLV_FILE};
use crate::container::HostInfo;
use crate::error::Result;

/// `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname` of a pod: (path in the container,
/// file in the pod directory `dir`).
pub(crate) fn pod_files(dir: &Path) -> [(&'static str, PathBuf); 3] {
    [
        ("/etc/hosts", dir.join(HOSTS_FILE)),
        ("/etc/resolv.conf", dir.join(RESOLV_FILE)),
        ("/etc/hostname", dir.join(HOSTNAME_FILE)),
    ]
}

/// Size of a pod's `/dev/shm` (as Docker's default).
const SHM_SIZE: u64 = 64 << 20;

/// The pod's `/dev/shm`: a tmpfs at `<pod dir>/shm` bind-mounted by all its containers.
pub(crate) fn shm_dir(dir: &Path) -> PathBuf {
    dir.join("shm")
}

/// Mounts the pod's shm tmpfs (unless already mounted).
pub(crate) fn mount_shm(dir: &Path) -> Result<()> {
    let shm = shm_dir(dir);
    crate::sys::fs::ensure_dir(&shm, 0o755)?;
    if crate::sys::mount::is_mountpoint(&shm) {
        return Ok(());
    }
    crate::sys::mount::mount_tmpfs(&shm, &format!("mode=1777,size={SHM_SIZE}"))
}

/// Unmounts the pod's shm tmpfs (missing or unmounted is fine).
pub(crate) fn unmount_shm(dir: &Path) -> Result<()> {
    let shm = shm_dir(dir);
    while crate::sys::mount::is_mountpoint(&shm) {
        crate::sys::mount::unmount(&shm, true)?;
    }
    Ok(())
}

/// `resolv.conf` content of a pod: from `dns` when it says anything, else the host's file
/// (without loopback name servers when the pod has its own network namespace).
pub(crate) fn resolv_conf(dns: Option<&DnsConfig>, host_resolv: &str, host_network: bool) -> String {
    match dns.filter(|d| !(d.servers.is_empty() && d.searches.is_empty() && d.options.is_empty())) {
        Some(d) => files::resolv_conf_content("", &d.servers, &d.searches, &d.options, false),
        None => files::resolv_conf_content(host_resolv, &[], &[], &[], !host_network),
    }
}

/// Writes (durably) the pod's `hostname`, `hosts` and `resolv.conf` into `dir`. With host
/// networking `hosts` is the host's file.
pub(crate) fn write_pod_files(
    dir: &Path,
    hostname: &str,
    ip: Option<&str>,
    dns: Option<&DnsConfig>,
    host: &HostInfo,
    host_network: bool,
) -> Result<()> {
    let base = host_network.then_some(host.etc_hosts.as_str());
    let ip = if host_network { None } else { ip };
    let hosts = files::write_hosts(dir, hostname, "", ip, &[], base)?;
    let resolv = dir.join(RESOLV_FILE);
    crate::sys::fs::replace_file(&resolv, resolv_conf(dns, &host.resolv_conf, host_network).as_bytes(), 0o644)?;
    let name = files::write_hostname(dir, hostname)?;
    crate::sys::fs::sync_files(&[&hosts, &resolv, &name])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_from_dns_config_or_host() {
        let dns = DnsConfig {
            servers: vec!["10.0.0.10".into()],
            searches: vec!["svc.cluster.local".into()],
            options: vec!["ndots:5".into()],
        };
        let host = "nameserver 127.0.0.53\nnameserver 192.168.1.1\nsearch lan\n";
        assert_eq!(
            resolv_conf(Some(&dns), host, false),
            "search svc.cluster.local\nnameserver 10.0.0.10\noptions ndots:5\n"
        );
        assert_eq!(resolv_conf(None, host, false), "search lan\nnameserver 192.168.1.1\n");
        assert_eq!(
            resolv_conf(Some(&DnsConfig::default()), host, true),
            "search lan\nnameserver 127.0.0.53\nnameserver 192.168.1.1\n"
        );
    }
}
