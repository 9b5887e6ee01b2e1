//! `isula update`: change the resources or restart policy of containers.

use isula_api::v1::UpdateContainerRequest;
use serde_json::{json, Map};

use crate::ctx::Ctx;
use crate::error::{CliError, CmdResult};

/// `isula update [OPTIONS] CONTAINER...`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of CPUs.
    #[arg(long = "cpus")]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPUs in which to allow execution.
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory limit in bytes (k, m, g suffixes).
    #[arg(short = 'm', long = "memory")]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 for unlimited.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (-1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits.
    #[arg(long = "restart")]
    pub restart: Option<String>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Run `isula update`: prints each name given on success, the daemon's message on failure
/// (status 1 when any failed), as Docker.
pub fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let mut res = Map::new();
    if let Some(v) = a.cpus {
        res.insert("Cpus".into(), json!(v));
    }
    if let Some(v) = a.cpu_shares {
        res.insert("CpuShares".into(), json!(v));
    }
    if let Some(v) = &a.cpuset_cpus {
        res.insert("CpusetCpus".into(), json!(v));
    }
    if let Some(v) = &a.memory {
        res.insert("Memory".into(), json!(parse_size(v)?));
    }
    if let Some(v) = &a.memory_swap {
        let n = if v == "-1" { -1 } else { parse_size(v)? };
        res.insert("MemorySwap".into(), json!(n));
    }
    if let Some(v) = a.pids_limit {
        res.insert("PidsLimit".into(), json!(v));
    }
    let mut opts = json!({"Resources": res});
    if let Some(r) = &a.restart {
        let (name, n) = r.split_once(':').unwrap_or((r, "0"));
        let n: u32 = n.parse().map_err(|_| CliError::engine(format!("invalid restart policy {r:?}")))?;
        opts["RestartPolicy"] = json!({"Name": name, "MaximumRetryCount": n});
    }
    let options_json = opts.to_string();
    super::each(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        let req = UpdateContainerRequest { id: id.to_string(), options_json: options_json.clone() };
        ctx.rt.block_on(c.update(req))?;
        Ok(())
    })
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
    let v: f64 = num.parse().map_err(|_| CliError::engine(format!("invalid size: {s:?}")))?;
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
    }
}
