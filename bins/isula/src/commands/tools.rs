//! `isula top`, `stats`, `update` and `export`.

use std::io::Write;

use isula_api::v1::{ContainerRequest, StatsRequest, TopContainerRequest, UpdateContainerRequest};
use serde_json::{json, Map, Value};

use crate::ctx::{parse_reply, Ctx};
use crate::error::{CliError, CmdResult};
use crate::fmt::align;

/// `isula top CONTAINER [ps OPTIONS]`
#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// The container.
    pub container: String,
    /// Options of ps (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// `isula stats [OPTIONS] CONTAINER...`
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Disable streaming stats and only pull the first result.
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `isula update [OPTIONS] CONTAINER...`
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
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

/// `isula export [-o FILE] CONTAINER`
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    /// The container.
    pub container: String,
}

/// Run `isula top`.
pub fn top(ctx: &mut Ctx, a: TopArgs) -> CmdResult {
    let mut c = ctx.containers()?;
    let r = ctx
        .rt
        .block_on(c.top(TopContainerRequest { id: a.container.clone(), ps_args: a.ps_args }))
        .map_err(|s| super::no_such(&s, &a.container))?
        .into_inner();
    let mut lines = vec![r.titles.join("\t")];
    lines.extend(r.processes.iter().map(|p| p.fields.join("\t")));
    print!("{}", align(&lines));
    Ok(0)
}

/// Binary sizes as Docker's stats prints them (`1.5MiB`).
fn bytes_iec(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_string() + units[i]
    }
}

/// One stats row.
fn stats_row(s: &Value) -> String {
    let id: String = s["id"].as_str().unwrap_or("").chars().take(12).collect();
    let m = &s["stats"]["memory"];
    let usage = m["usage"].as_u64().unwrap_or(0).saturating_sub(m["inactive_file"].as_u64().unwrap_or(0));
    let limit = m["limit"].as_u64().unwrap_or(0);
    let pids = s["stats"]["pids"]["current"].as_u64().unwrap_or(0);
    format!(
        "{id}\t{}\t{:.2}%\t{} / {}\t{:.2}%\t0B / 0B\t0B / 0B\t{pids}",
        s["name"].as_str().unwrap_or(""),
        s["cpu_percent"].as_f64().unwrap_or(0.0),
        bytes_iec(usage),
        bytes_iec(limit),
        s["memory_percent"].as_f64().unwrap_or(0.0),
    )
}

/// Run `isula stats` (with `--no-stream`: one sample per container; else a refreshing table).
pub fn stats(ctx: &mut Ctx, a: StatsArgs) -> CmdResult {
    const HEADER: &str = "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS";
    let mut c = ctx.containers()?;
    loop {
        let mut lines = vec![HEADER.to_string()];
        for id in &a.containers {
            let sample: Result<Option<String>, tonic::Status> = ctx.rt.block_on(async {
                let mut s = c.stats(StatsRequest { ids: vec![id.clone()], stream: true }).await?.into_inner();
                // The first sample has no CPU delta; Docker shows the second.
                let first = s.message().await?;
                let second = s.message().await?;
                Ok(second.or(first).map(|m| m.stats_json))
            });
            let j = sample.map_err(|s| super::no_such(&s, id))?;
            if let Some(j) = j {
                lines.push(stats_row(&parse_reply("stats_json", &j)?));
            }
        }
        if !a.no_stream {
            print!("\x1b[2J\x1b[H");
        }
        print!("{}", align(&lines));
        let _ = std::io::stdout().flush();
        if a.no_stream {
            return Ok(0);
        }
    }
}

/// Run `isula update`.
pub fn update(ctx: &mut Ctx, a: UpdateArgs) -> CmdResult {
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

/// Run `isula export`.
pub fn export(ctx: &mut Ctx, a: ExportArgs) -> CmdResult {
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(
            std::fs::File::create(p).map_err(|e| CliError::engine(format!("failed to export container: {p}: {e}")))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut c = ctx.containers()?;
    let id = a.container.clone();
    ctx.rt.block_on(async {
        let mut s =
            c.export(ContainerRequest { id: id.clone() }).await.map_err(|s| super::no_such(&s, &id))?.into_inner();
        while let Some(m) = s.message().await? {
            out.write_all(&m.data).map_err(|e| CliError::engine(format!("write export: {e}")))?;
        }
        out.flush().map_err(|e| CliError::engine(format!("write export: {e}")))?;
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes_iec(512), "512B");
        assert_eq!(bytes_iec(1536 * 1024), "1.5MiB");
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert!(parse_size("lots").is_err());
    }
}
