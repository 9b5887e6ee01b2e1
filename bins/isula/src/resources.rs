//! The resource flags shared by `create`/`run` and `update` (Docker's names), flattened
//! into each command's arguments.

use serde_json::{json, Map, Value};

use crate::error::CliError;

/// `--cpus`, `--cpu-shares`, `--cpuset-cpus`, `-m`, `--memory-swap`, `--memory-reservation`,
/// `--pids-limit`, `--blkio-weight`.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct ResourceOpts {
    /// Number of CPUs.
    #[arg(long = "cpus")]
    pub cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory limit (k, m, g suffixes).
    #[arg(short = 'm', long = "memory")]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable.
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
}

impl ResourceOpts {
    /// The typed flags as engine `Resources` fields (PascalCase keys).
    fn typed(&self) -> Map<String, Value> {
        let mut res = Map::new();
        if let Some(v) = self.cpu_shares {
            res.insert("CpuShares".into(), json!(v));
        }
        if let Some(v) = &self.cpuset_cpus {
            res.insert("CpusetCpus".into(), json!(v));
        }
        if let Some(v) = self.pids_limit {
            res.insert("PidsLimit".into(), json!(v));
        }
        if let Some(v) = self.blkio_weight.filter(|w| *w != 0) {
            res.insert("BlkioWeight".into(), json!(v));
        }
        res
    }

    /// For `create`: the typed flags as `Resources`, and the size and CPU strings as
    /// `CliFlags` entries that the daemon parses with the engine's parsers.
    pub(crate) fn for_create(&self) -> (Map<String, Value>, Map<String, Value>) {
        let mut flags = Map::new();
        for (k, v) in [
            ("cpus", &self.cpus),
            ("memory", &self.memory),
            ("memory-swap", &self.memory_swap),
            ("memory-reservation", &self.memory_reservation),
        ] {
            if let Some(v) = v {
                flags.insert(k.into(), json!(v));
            }
        }
        (self.typed(), flags)
    }

    /// For `update`: every flag as an engine `Resources` field (sizes in bytes).
    pub(crate) fn for_update(&self) -> Result<Map<String, Value>, CliError> {
        let mut res = self.typed();
        if let Some(v) = &self.cpus {
            let n: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| CliError::engine(format!("invalid argument {v:?} for \"--cpus\" flag")))?;
            res.insert("Cpus".into(), json!(n));
        }
        if let Some(v) = &self.memory {
            res.insert("Memory".into(), json!(parse_size(v)?));
        }
        if let Some(v) = &self.memory_swap {
            let n = if v.trim() == "-1" { -1 } else { parse_size(v)? };
            res.insert("MemorySwap".into(), json!(n));
        }
        if let Some(v) = &self.memory_reservation {
            res.insert("MemoryReservation".into(), json!(parse_size(v)?));
        }
        Ok(res)
    }
}

/// `64m`, `1g`, `512k`, `1024` (bytes) to bytes.
fn parse_size(s: &str) -> Result<i64, CliError> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.trim_end_matches('b');
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let v: f64 = num
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| CliError::engine(format!("invalid size: {s:?}")))?;
    Ok((v * mult as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-5m").is_err());
    }

    #[test]
    fn create_and_update_forms() {
        let o = ResourceOpts {
            cpus: Some("0.5".into()),
            memory: Some("64m".into()),
            memory_swap: Some("-1".into()),
            pids_limit: Some(10),
            blkio_weight: Some(300),
            ..ResourceOpts::default()
        };
        let (res, flags) = o.for_create();
        assert_eq!(res["PidsLimit"], 10);
        assert_eq!(res["BlkioWeight"], 300);
        assert_eq!(flags["cpus"], "0.5");
        assert_eq!(flags["memory-swap"], "-1");
        let up = o.for_update().unwrap();
        assert_eq!(up["Cpus"], 0.5);
        assert_eq!(up["Memory"], 64 << 20);
        assert_eq!(up["MemorySwap"], -1);
        let bad = ResourceOpts { cpus: Some("many".into()), ..ResourceOpts::default() };
        assert_eq!(bad.for_update().unwrap_err().code, 125);
    }
}
