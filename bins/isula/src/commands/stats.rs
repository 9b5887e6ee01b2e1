//! `isula stats`: resource usage of containers, once or refreshed.

use std::io::Write;

use isula_api::v1::StatsRequest;
use isula_types::stats::ContainerStats;

use crate::ctx::{parse_typed, Ctx};
use crate::error::CmdResult;
use crate::fmt::align;

/// `isula stats [OPTIONS] CONTAINER...`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Disable streaming stats and only pull the first result.
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
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
fn stats_row(s: &ContainerStats) -> String {
    let id: String = s.id.chars().take(12).collect();
    let (usage, limit, pids, read, written) = match &s.stats {
        Some(st) => (
            st.memory.usage_no_cache(),
            st.memory.limit.unwrap_or(0),
            st.pids.current,
            st.blkio.devices.iter().map(|d| d.read_bytes).sum(),
            st.blkio.devices.iter().map(|d| d.write_bytes).sum(),
        ),
        None => (0, 0, 0, 0, 0),
    };
    format!(
        "{id}\t{}\t{:.2}%\t{} / {}\t{:.2}%\t0B / 0B\t{} / {}\t{pids}",
        s.name,
        s.cpu_percent,
        bytes_iec(usage),
        bytes_iec(limit),
        s.memory_percent,
        bytes_iec(read),
        bytes_iec(written),
    )
}

/// Run `isula stats` (with `--no-stream`: one sample per container; else a refreshing table).
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
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
                lines.push(stats_row(&parse_typed("stats_json", &j)?));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes_iec(512), "512B");
        assert_eq!(bytes_iec(1536 * 1024), "1.5MiB");
    }

    #[test]
    fn row_of_a_typed_sample() {
        let s: ContainerStats = serde_json::from_str(
            r#"{"id": "0123456789abcdef", "name": "web", "precpu": {"total_usage_ns": 0, "per_cpu_ns": null,
                "user_ns": null, "kernel_ns": null, "system_usage_ns": 0, "online_cpus": 1,
                "throttling": {"periods": 0, "throttled_periods": 0, "throttled_time_ns": 0}},
              "stats": null, "cpu_percent": 1.5, "memory_percent": 0.25}"#,
        )
        .unwrap();
        assert_eq!(stats_row(&s), "0123456789ab\tweb\t1.50%\t0B / 0B\t0.25%\t0B / 0B\t0B / 0B\t0");
    }
}
