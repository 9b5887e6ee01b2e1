//! `update`: change a container's resource limits (live when it runs) and restart policy.

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemoryBuilder, LinuxPids, LinuxResources};
use serde_json::{json, Value};

use super::Engine;
use crate::container::options::{CreateOptions, Resources, UpdateOptions};
use crate::container::state::Status;
use crate::container::validate::Validate;
use crate::error::{Error, Result};

/// `base` with the `Some` fields of `delta` applied. `--cpus` and `--cpu-quota/period`
/// replace each other.
fn merge(base: &Resources, delta: &Resources) -> Resources {
    let mut r = base.clone();
    macro_rules! take {
        ($($f:ident),*) => { $( if delta.$f.is_some() { r.$f = delta.$f.clone(); } )* };
    }
    take!(
        cpus,
        cpu_shares,
        cpu_period,
        cpu_quota,
        cpuset_cpus,
        cpuset_mems,
        memory,
        memory_swap,
        memory_reservation,
        pids_limit,
        blkio_weight
    );
    for (size, limit) in &delta.hugepage_limits {
        r.hugepage_limits.insert(size.clone(), *limit);
    }
    if delta.cpus.is_some() {
        r.cpu_quota = None;
        r.cpu_period = None;
    } else if delta.cpu_quota.is_some() || delta.cpu_period.is_some() {
        r.cpus = None;
    }
    r
}

/// CFS period (100 ms) `--cpus` is converted with.
const CPUS_PERIOD_US: u64 = 100_000;

/// The `Some` fields of `r` as OCI `linux.resources` for a live cgroup update: `--cpus N`
/// becomes quota `N × 100 ms` over a 100 ms period (`--cpus 0` a quota of -1: no limit);
/// zeros pass through (the cgroup update leaves those settings as they are).
fn live_resources(r: &Resources) -> Result<LinuxResources> {
    if let Some(c) = r.cpus {
        if c.is_nan() || c < 0.0 {
            return Err(Error::invalid(format!("invalid cpus {c}: must be a non-negative number")));
        }
        if c > 0.0 && (r.cpu_quota.is_some_and(|q| q != 0) || r.cpu_period.is_some_and(|p| p != 0)) {
            return Err(Error::invalid("cpus and cpu period/quota cannot be set together"));
        }
    }
    let (quota, period) = match r.cpus {
        Some(c) if c > 0.0 => (Some((c * CPUS_PERIOD_US as f64) as i64), Some(CPUS_PERIOD_US)),
        Some(_) => (Some(-1), None),
        None => (r.cpu_quota, r.cpu_period),
    };
    let mut cpu = LinuxCpu::default();
    cpu.set_shares(r.cpu_shares).set_quota(quota).set_period(period);
    cpu.set_cpus(r.cpuset_cpus.clone()).set_mems(r.cpuset_mems.clone());
    let mut memory = LinuxMemoryBuilder::default();
    if let Some(m) = r.memory {
        memory = memory.limit(m);
    }
    if let Some(s) = r.memory_swap {
        memory = memory.swap(s);
    }
    if let Some(m) = r.memory_reservation {
        memory = memory.reservation(m);
    }
    let memory = memory.build().map_err(|e| Error::internal(format!("memory resources: {e}")))?;
    let mut res = LinuxResources::default();
    res.set_cpu(Some(cpu)).set_memory(Some(memory));
    if let Some(limit) = r.pids_limit {
        let mut pids = LinuxPids::default();
        pids.set_limit(limit);
        res.set_pids(Some(pids));
    }
    if let Some(w) = r.blkio_weight {
        let mut bio = LinuxBlockIo::default();
        bio.set_weight(Some(w));
        res.set_block_io(Some(bio));
    }
    if !r.hugepage_limits.is_empty() {
        let v = crate::container::spec::hugepages::limits_json(&r.hugepage_limits);
        let limits = serde_json::from_value(v).map_err(|e| Error::internal(format!("hugepage limits: {e}")))?;
        res.set_hugepage_limits(Some(limits));
    }
    Ok(res)
}

/// Write the new limits into the bundle's `linux.resources`, so the next start uses them.
fn patch_spec(spec: &mut Value, r: &Resources) {
    let res = &mut spec["linux"]["resources"];
    if !res.is_object() {
        *res = json!({});
    }
    let set = |v: &mut Value, k: &str, x: Value| {
        if !v.is_object() {
            *v = json!({});
        }
        v[k] = x;
    };
    if let Some(m) = r.memory {
        set(&mut res["memory"], "limit", json!(if m <= 0 { -1 } else { m }));
    }
    if let Some(s) = r.memory_swap {
        set(&mut res["memory"], "swap", json!(if s == 0 { -1 } else { s }));
    }
    if let Some(m) = r.memory_reservation {
        set(&mut res["memory"], "reservation", json!(m));
    }
    if let Some(s) = r.cpu_shares.filter(|s| *s > 0) {
        set(&mut res["cpu"], "shares", json!(s));
    }
    match r.cpus {
        Some(c) if c > 0.0 => {
            set(&mut res["cpu"], "quota", json!((c * 100_000.0) as i64));
            set(&mut res["cpu"], "period", json!(100_000));
        }
        Some(_) => set(&mut res["cpu"], "quota", json!(-1)),
        None => {
            if let Some(q) = r.cpu_quota.filter(|q| *q != 0) {
                set(&mut res["cpu"], "quota", json!(q));
            }
            if let Some(p) = r.cpu_period.filter(|p| *p != 0) {
                set(&mut res["cpu"], "period", json!(p));
            }
        }
    }
    if let Some(c) = r.cpuset_cpus.as_ref().filter(|c| !c.is_empty()) {
        set(&mut res["cpu"], "cpus", json!(c));
    }
    if let Some(m) = r.cpuset_mems.as_ref().filter(|c| !c.is_empty()) {
        set(&mut res["cpu"], "mems", json!(m));
    }
    if let Some(p) = r.pids_limit {
        set(&mut res["pids"], "limit", json!(if p <= 0 { -1 } else { p }));
    }
    if let Some(w) = r.blkio_weight.filter(|w| *w > 0) {
        set(&mut res["blockIO"], "weight", json!(w));
    }
    if !r.hugepage_limits.is_empty() {
        let mut all: std::collections::BTreeMap<String, u64> = res["hugepageLimits"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| Some((h["pageSize"].as_str()?.to_string(), h["limit"].as_u64()?)))
            .collect();
        all.extend(r.hugepage_limits.iter().map(|(k, v)| (k.clone(), *v)));
        res["hugepageLimits"] = crate::container::spec::hugepages::limits_json(&all);
    }
}

impl Engine {
    /// [`Containers::update`]: see there.
    pub(crate) fn update(&self, id: &str, opts: &UpdateOptions) -> Result<()> {
        let c = self.container(id)?;
        let _op = c.lock_op();
        let rec = c.record();
        if matches!(rec.state.status, Status::Removing | Status::Dead) {
            return Err(Error::precondition(format!("Cannot update container {}: it is being removed", rec.id)));
        }
        let resources = merge(&rec.host_config.resources, &opts.resources);
        let restart_policy = opts.restart_policy.clone().unwrap_or_else(|| rec.host_config.restart_policy.clone());
        // Validate the result with create's rules (only what update can change).
        let check = CreateOptions {
            image: rec.config.image.clone(),
            resources: resources.clone(),
            restart_policy: restart_policy.clone(),
            auto_remove: rec.host_config.auto_remove,
            ..Default::default()
        };
        check.validate().map_err(|e| e.context(format!("Cannot update container {}", rec.id)))?;
        if !opts.resources.hugepage_limits.is_empty() {
            crate::container::spec::hugepages::check_limits(&opts.resources.hugepage_limits)
                .map_err(|e| e.context(format!("Cannot update container {}", rec.id)))?;
        }
        if rec.state.status.is_active() {
            let cg = self.container_cgroup(&c)?;
            let live = live_resources(&opts.resources)
                .map_err(|e| e.context(format!("Cannot update container {}", rec.id)))?;
            cg.update(&live).map_err(|e| e.context(format!("Cannot update container {}", rec.id)))?;
        }
        let spec_path = c.dir.join("config.json");
        let mut spec: Value = crate::sys::read_json(&spec_path)?;
        patch_spec(&mut spec, &opts.resources);
        crate::sys::atomic_write_json(&spec_path, &spec)?;
        c.update(|r| {
            r.host_config.resources = resources;
            r.host_config.restart_policy = restart_policy;
        })?;
        self.emit_container("update", &c.record(), &[]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_and_patch() {
        let base = Resources { cpu_quota: Some(50_000), memory: Some(64 << 20), ..Default::default() };
        let m = merge(&base, &Resources { cpus: Some(2.0), pids_limit: Some(5), ..Default::default() });
        assert_eq!((m.cpus, m.cpu_quota, m.memory, m.pids_limit), (Some(2.0), None, Some(64 << 20), Some(5)));
        let m = merge(&m, &Resources { cpu_period: Some(20_000), ..Default::default() });
        assert_eq!((m.cpus, m.cpu_period), (None, Some(20_000)));
        let mut spec = json!({"linux": {"resources": {"memory": {"limit": 1}}}});
        patch_spec(
            &mut spec,
            &Resources { memory: Some(128 << 20), cpus: Some(0.5), pids_limit: Some(0), ..Default::default() },
        );
        let r = &spec["linux"]["resources"];
        assert_eq!(r["memory"]["limit"], 128 << 20);
        assert_eq!((r["cpu"]["quota"].as_i64(), r["cpu"]["period"].as_i64()), (Some(50_000), Some(100_000)));
        assert_eq!(r["pids"]["limit"], -1);
    }

    #[test]
    fn live_resources_convert_cpus_and_refuse_conflicts() {
        let r = live_resources(&Resources {
            cpus: Some(1.5),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0-1".into()),
            memory: Some(64 << 20),
            memory_swap: Some(-1),
            memory_reservation: Some(0),
            pids_limit: Some(7),
            blkio_weight: Some(300),
            ..Default::default()
        })
        .unwrap();
        let cpu = r.cpu().as_ref().unwrap();
        assert_eq!((cpu.quota(), cpu.period(), cpu.shares()), (Some(150_000), Some(100_000), Some(512)));
        assert_eq!(cpu.cpus().as_deref(), Some("0-1"));
        let mem = r.memory().as_ref().unwrap();
        assert_eq!((mem.limit(), mem.swap(), mem.reservation()), (Some(64 << 20), Some(-1), Some(0)));
        assert_eq!(r.pids().as_ref().map(|p| p.limit()), Some(7));
        assert_eq!(r.block_io().as_ref().and_then(|b| b.weight()), Some(300));
        // --cpus 0 lifts the quota and keeps the period.
        let r = live_resources(&Resources { cpus: Some(0.0), ..Default::default() }).unwrap();
        assert_eq!(r.cpu().as_ref().map(|c| (c.quota(), c.period())), Some((Some(-1), None)));
        // Nothing given, nothing set.
        let r = live_resources(&Resources::default()).unwrap();
        assert_eq!((r.pids(), r.block_io()), (&None, &None));
        for bad in [
            Resources { cpus: Some(1.0), cpu_quota: Some(5000), ..Default::default() },
            Resources { cpus: Some(1.0), cpu_period: Some(50_000), ..Default::default() },
            Resources { cpus: Some(-1.0), ..Default::default() },
            Resources { cpus: Some(f64::NAN), ..Default::default() },
        ] {
            assert_eq!(live_resources(&bad).unwrap_err().kind(), crate::ErrorKind::InvalidArgument, "{bad:?}");
        }
    }
}
