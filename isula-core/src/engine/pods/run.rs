//! Pod run: checks, network, files, infra container, record; undone on failure.

use std::sync::Arc;

use isula_types::pod::PodConfig;

use crate::container::store::new_id;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::pod::files::{mount_shm, unmount_shm, write_pod_files};
use crate::pod::store::Pod;
use crate::pod::PodRecord;
use crate::sys;
use crate::time::now;

/// Longest hostname.
const MAX_HOSTNAME: usize = 63;

fn valid_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= MAX_HOSTNAME
        && h.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Checks a pod config; returns the effective hostname (without host networking).
pub(super) fn validate(c: &PodConfig) -> Result<String> {
    if c.name.trim().is_empty() {
        return Err(Error::invalid("pod config: metadata name is empty"));
    }
    for p in &c.port_mappings {
        if !matches!(p.protocol.to_ascii_lowercase().as_str(), "" | "tcp" | "udp" | "sctp") {
            return Err(Error::invalid(format!("pod port mapping: unknown protocol {:?}", p.protocol)));
        }
        if p.container_port == 0 && p.host_port != 0 {
            return Err(Error::invalid(format!(
                "pod port mapping: host port {} without a container port",
                p.host_port
            )));
        }
        if !p.host_ip.is_empty() && p.host_ip.parse::<std::net::IpAddr>().is_err() {
            return Err(Error::invalid(format!("pod port mapping: invalid host IP {:?}", p.host_ip)));
        }
    }
    let hostname = if c.hostname.is_empty() {
        c.name.chars().take(MAX_HOSTNAME).collect::<String>().trim_end_matches(['.', '-']).to_string()
    } else {
        c.hostname.clone()
    };
    if !valid_hostname(&hostname) {
        return Err(Error::invalid(format!("pod hostname {hostname:?} is not a valid host name")));
    }
    Ok(hostname)
}

/// Undoes a half-done run when dropped armed.
struct RunUndo<'a> {
    engine: &'a Engine,
    id: String,
    key: String,
    rec: Option<PodRecord>,
    armed: bool,
}

impl Drop for RunUndo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let e = self.engine;
        e.infra_remove(&self.id);
        if let Err(err) = e.network_teardown(&self.id) {
            log::warn!("undo run of pod {}: network teardown: {err}", self.id);
        }
        if let Some(rec) = &self.rec {
            if let Err(err) = e.pod_cgroup_remove(rec) {
                log::warn!("undo run of pod {}: cgroup: {err}", self.id);
            }
        }
        if let Err(err) = unmount_shm(&e.inner.pods.dir_of(&self.id)) {
            log::warn!("undo run of pod {}: {err}", self.id);
        }
        if let Err(err) = sys::fs::remove_dir_all_if_exists(&e.inner.pods.dir_of(&self.id)) {
            log::warn!("undo run of pod {}: {err}", self.id);
        }
        e.inner.pods.release(&self.key, &self.id);
    }
}

impl Engine {
    /// [`Pods::run`](crate::Pods::run): see there.
    pub(crate) fn pod_run(&self, config: &PodConfig) -> Result<String> {
        let hostname = validate(config)?;
        let runtime =
            if config.runtime.is_empty() { self.inner.config.default_runtime.clone() } else { config.runtime.clone() };
        self.runtime(&runtime)?;
        let source = self.infra_source()?;
        let id = new_id()?;
        let key = PodRecord::metadata_key(config);
        self.inner.pods.reserve(&key, &id)?;
        let mut undo = RunUndo { engine: self, id: id.clone(), key, rec: None, armed: true };
        let dir = self.inner.pods.dir_of(&id);
        sys::fs::ensure_dir(&dir, 0o711)?;
        crate::failpoint::hit("pod.run.after-dir");
        let (cgroup_parent, cgroup_owned) = self.pod_cgroup_parent(&id, &config.cgroup_parent);
        let net = self.pod_network_up(&id, config)?;
        let host_network = config.namespaces.host_network;
        let mut rec = PodRecord {
            id: id.clone(),
            config: config.clone(),
            created: now(),
            hostname: if host_network { self.host_info().hostname.clone() } else { hostname },
            netns_path: net.netns,
            network: net.network,
            ip: net.ips.first().cloned().unwrap_or_default(),
            additional_ips: net.ips.iter().skip(1).cloned().collect(),
            cgroup_parent,
            cgroup_owned,
            runtime,
            stopped: false,
        };
        undo.rec = Some(rec.clone());
        let ip = (!rec.ip.is_empty()).then_some(rec.ip.as_str());
        write_pod_files(&dir, &rec.hostname, ip, config.dns.as_ref(), self.host_info(), host_network)?;
        if !config.namespaces.host_ipc {
            mount_shm(&dir)?;
        }
        crate::failpoint::hit("pod.run.after-files");
        self.infra_run(&rec, &dir, source)?;
        crate::failpoint::hit("pod.run.after-infra");
        rec.created = now();
        rec.save(&dir)?;
        crate::failpoint::hit("pod.run.after-record");
        self.inner.pods.insert(Arc::new(Pod::new(rec.clone(), dir)));
        undo.armed = false;
        self.emit_pod("start", &rec);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn configs_are_checked() {
        let ok = PodConfig { name: "web".into(), ..Default::default() };
        assert_eq!(validate(&ok).unwrap(), "web");
        let long = PodConfig { name: "a".repeat(70), ..Default::default() };
        assert_eq!(validate(&long).unwrap().len(), 63);
        for bad in [
            PodConfig::default(),
            PodConfig { hostname: "bad_name".into(), ..ok.clone() },
            PodConfig {
                port_mappings: vec![isula_types::pod::PodPortMapping { protocol: "icmp".into(), ..Default::default() }],
                ..ok.clone()
            },
            PodConfig {
                port_mappings: vec![isula_types::pod::PodPortMapping { host_port: 80, ..Default::default() }],
                ..ok.clone()
            },
        ] {
            assert_eq!(validate(&bad).unwrap_err().kind(), ErrorKind::InvalidArgument, "{bad:?}");
        }
    }
}
