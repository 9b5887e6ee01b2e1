//! ContainerStats, ListContainerStats, PodSandboxStats and ListPodSandboxStats.

use std::path::Path;

use isula_core::{Engine, ErrorKind, PodInspect, Stats};
use k8s_cri::v1 as cri;
use tonic::Status;

use super::containers::{self, all_containers, state};
use super::images::disk_usage;
use super::meta::{self, nanos, now_nanos, require_id};
use super::pods;
use super::Shared;
use crate::blocking::blocking;

fn u64v(value: u64) -> Option<cri::UInt64Value> {
    Some(cri::UInt64Value { value })
}

/// CPU and memory usage from engine counters.
fn usage(s: &Stats) -> (cri::CpuUsage, cri::MemoryUsage) {
    let ts = nanos(s.read_at.into());
    let cpu =
        cri::CpuUsage { timestamp: ts, usage_core_nano_seconds: u64v(s.cpu.total_usage_ns), usage_nano_cores: None };
    let m = &s.memory;
    let mem = cri::MemoryUsage {
        timestamp: ts,
        working_set_bytes: u64v(m.usage.saturating_sub(m.inactive_file)),
        available_bytes: m.limit.map(|l| l.saturating_sub(m.usage)).and_then(u64v),
        usage_bytes: u64v(m.usage),
        rss_bytes: u64v(m.rss),
        page_faults: m.stat.get("pgfault").copied().and_then(u64v),
        major_page_faults: m.stat.get("pgmajfault").copied().and_then(u64v),
    };
    (cpu, mem)
}

/// One sample of a container's counters (`None` when it is not running).
fn sample(engine: &Engine, id: &str) -> isula_core::Result<Option<Stats>> {
    let mut out = None;
    match engine.containers().stats(id, true, &mut |s| {
        out = s.stats.clone();
        false
    }) {
        Ok(()) => Ok(out),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The stats of CRI container `id` (blocking).
fn container_stats(engine: &Engine, id: &str) -> isula_core::Result<cri::ContainerStats> {
    let i = engine.containers().inspect(id)?;
    let m = meta::decode(&i.host_config.labels)
        .ok_or_else(|| isula_core::Error::not_found(format!("container {} is not a CRI container", i.id)))?;
    let mut out = cri::ContainerStats {
        attributes: Some(cri::ContainerAttributes {
            id: i.id.clone(),
            metadata: Some(m.metadata),
            labels: m.labels,
            annotations: m.annotations,
        }),
        ..Default::default()
    };
    if let Some(upper) = i.graph_driver.data.get("UpperDir") {
        let (bytes, inodes) = disk_usage(Path::new(upper));
        out.writable_layer = Some(cri::FilesystemUsage {
            timestamp: now_nanos(),
            fs_id: Some(cri::FilesystemIdentifier { mountpoint: upper.clone() }),
            used_bytes: u64v(bytes),
            inodes_used: u64v(inodes),
        });
    }
    if state(&i.state.status) == cri::ContainerState::ContainerRunning {
        if let Some(s) = sample(engine, &i.id)? {
            let (cpu, mem) = usage(&s);
            out.cpu = Some(cpu);
            out.memory = Some(mem);
        }
    }
    Ok(out)
}

/// ContainerStats.
pub(crate) async fn container(shared: &Shared, id: String) -> Result<cri::ContainerStatsResponse, Status> {
    require_id("container", &id)?;
    let engine = shared.engine.clone();
    let stats = blocking(move || container_stats(&engine, &id)).await?;
    Ok(cri::ContainerStatsResponse { stats: Some(stats) })
}

/// ListContainerStats with the filter's id prefix, pod id and label selector.
pub(crate) async fn list_containers(
    shared: &Shared,
    r: cri::ListContainerStatsRequest,
) -> Result<cri::ListContainerStatsResponse, Status> {
    let f = r.filter.unwrap_or_default();
    // ListContainers' filter without a state.
    let f = cri::ContainerFilter {
        id: f.id,
        pod_sandbox_id: f.pod_sandbox_id,
        label_selector: f.label_selector,
        state: None,
    };
    let engine = shared.engine.clone();
    let stats = blocking(move || {
        let mut out = Vec::new();
        for c in all_containers(&engine)? {
            if !containers::selected(&c, &f) {
                continue;
            }
            match container_stats(&engine, &c.id) {
                Ok(s) => out.push(s),
                // Removed meanwhile.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    })
    .await?;
    Ok(cri::ListContainerStatsResponse { stats })
}

/// Received and sent bytes and errors of `eth0` in the network namespace of `pid`.
fn network(pid: i32) -> Option<cri::NetworkUsage> {
    if pid <= 0 {
        return None;
    }
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
    let mut interfaces = Vec::new();
    for line in text.lines().skip(2) {
        let (name, rest) = line.split_once(':')?;
        let f: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        if f.len() < 11 || name.trim() == "lo" {
            continue;
        }
        interfaces.push(cri::NetworkInterfaceUsage {
            name: name.trim().to_string(),
            rx_bytes: u64v(f[0]),
            rx_errors: u64v(f[2]),
            tx_bytes: u64v(f[8]),
            tx_errors: u64v(f[10]),
        });
    }
    let default_interface = interfaces.iter().find(|i| i.name == "eth0").or(interfaces.first()).cloned();
    Some(cri::NetworkUsage { timestamp: now_nanos(), default_interface, interfaces })
}

/// The stats of pod `p` and its CRI containers (blocking).
fn pod_stats(engine: &Engine, p: &PodInspect) -> isula_core::Result<cri::PodSandboxStats> {
    let mut linux = cri::LinuxPodSandboxStats::default();
    if p.state == isula_core::PodState::Ready {
        match engine.pods().stats(&p.id) {
            Ok(s) => {
                let (cpu, mem) = usage(&s);
                linux.cpu = Some(cpu);
                linux.memory = Some(mem);
                linux.process =
                    Some(cri::ProcessUsage { timestamp: nanos(s.read_at.into()), process_count: u64v(s.pids.current) });
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        linux.network = network(p.pid);
    }
    for c in all_containers(engine)?.iter().filter(|c| c.pod_sandbox_id == p.id) {
        match container_stats(engine, &c.id) {
            Ok(s) => linux.containers.push(s),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(cri::PodSandboxStats {
        attributes: Some(cri::PodSandboxAttributes {
            id: p.id.clone(),
            metadata: Some(cri::PodSandboxMetadata {
                name: p.config.name.clone(),
                uid: p.config.uid.clone(),
                namespace: p.config.namespace.clone(),
                attempt: p.config.attempt,
            }),
            labels: meta::to_hash(&p.config.labels),
            annotations: meta::to_hash(&p.config.annotations),
        }),
        linux: Some(linux),
        windows: None,
    })
}

/// PodSandboxStats.
pub(crate) async fn pod(shared: &Shared, id: String) -> Result<cri::PodSandboxStatsResponse, Status> {
    require_id("pod sandbox", &id)?;
    let engine = shared.engine.clone();
    let stats = blocking(move || {
        let p = engine.pods().inspect(&id)?;
        pod_stats(&engine, &p)
    })
    .await?;
    Ok(cri::PodSandboxStatsResponse { stats: Some(stats) })
}

/// ListPodSandboxStats with the filter's id prefix and label selector.
pub(crate) async fn list_pods(
    shared: &Shared,
    r: cri::ListPodSandboxStatsRequest,
) -> Result<cri::ListPodSandboxStatsResponse, Status> {
    let f = r.filter.unwrap_or_default();
    // ListPodSandbox's filter without a state.
    let f = cri::PodSandboxFilter { id: f.id, label_selector: f.label_selector, state: None };
    let engine = shared.engine.clone();
    let stats = blocking(move || {
        let mut out = Vec::new();
        for p in engine.pods().list()? {
            if pods::selected(&p, &f) {
                out.push(pod_stats(&engine, &p)?);
            }
        }
        Ok(out)
    })
    .await?;
    Ok(cri::ListPodSandboxStatsResponse { stats })
}
