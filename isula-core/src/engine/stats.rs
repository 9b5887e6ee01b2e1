//! `stats` and `top`: resource usage and processes of running containers, read from their cgroups.

use std::time::Duration;

use super::Engine;
use crate::cgroups::{cpu_percent, Cgroup, CpuStats, TopResult};
use crate::container::state::Status;
use crate::container::store::Container;
use crate::error::{Error, ErrorKind, Result};

/// Time between two samples of a stats stream (and of the two samples of a one-shot call).
pub const STATS_INTERVAL: Duration = Duration::from_secs(1);

pub use isula_types::stats::ContainerStats;

impl Engine {
    /// The cgroup of container `c`, from `linux.cgroupsPath` of its bundle.
    pub(crate) fn container_cgroup(&self, c: &Container) -> Result<Cgroup> {
        let spec: serde_json::Value = crate::sys::read_json(&c.dir.join("config.json"))?;
        let path = spec["linux"]["cgroupsPath"]
            .as_str()
            .ok_or_else(|| Error::internal(format!("container {}: its spec has no cgroups path", c.id)))?;
        crate::host::cgroup_hierarchy()?.cgroup(path)
    }

    fn sample(&self, c: &Container, prev: Option<&CpuStats>) -> Result<ContainerStats> {
        let rec = c.record();
        let mut out = ContainerStats {
            id: rec.id.clone(),
            name: rec.name.clone(),
            stats: None,
            precpu: prev.cloned().unwrap_or_default(),
            cpu_percent: 0.0,
            memory_percent: 0.0,
        };
        if !rec.state.status.is_active() {
            return Ok(out);
        }
        let s = match self.container_cgroup(c)?.stats() {
            Ok(s) => s,
            // Exited between the status check and the read.
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        if let Some(p) = prev {
            out.cpu_percent = cpu_percent(p, &s.cpu);
        }
        let limit = s.memory.limit.unwrap_or_else(crate::host::mem_total);
        if limit > 0 {
            out.memory_percent = s.memory.usage_no_cache() as f64 / limit as f64 * 100.0;
        }
        out.stats = Some(s);
        Ok(out)
    }

    /// [`Containers::stats`]: see there.
    pub(crate) fn stats(&self, id: &str, stream: bool, sink: &mut dyn FnMut(&ContainerStats) -> bool) -> Result<()> {
        let c = self.container(id)?;
        let mut prev: Option<CpuStats> = None;
        let mut first = true;
        loop {
            let s = self.sample(&c, prev.as_ref())?;
            let Some(counters) = &s.stats else {
                // Not running (any more): one empty sample for a one-shot or a first read.
                if first {
                    sink(&s);
                }
                return Ok(());
            };
            let cpu = counters.cpu.clone();
            // A one-shot call skips its first sample: it only seeds the CPU delta.
            if (stream || !first) && (!sink(&s) || !stream) {
                return Ok(());
            }
            prev = Some(cpu);
            first = false;
            std::thread::sleep(STATS_INTERVAL);
        }
    }

    /// [`Containers::top`]: see there.
    pub(crate) fn top(&self, id: &str, ps_args: &[String]) -> Result<TopResult> {
        let c = self.container(id)?;
        let rec = c.record();
        if !rec.state.status.is_active() || rec.state.status == Status::Restarting {
            return Err(Error::precondition(format!("Container {} is not running", rec.id))
                .with_reason(crate::Reason::NotRunning));
        }
        crate::cgroups::top(&self.container_cgroup(&c)?, ps_args)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_memory_is_known() {
        assert!(crate::host::mem_total() > 64 << 20);
    }
}
