//! `isula logs [-f] [--tail N] [--since T] [--until T] [-t] CONTAINER`

use std::io::Write;

use isula_api::v1::LogsRequest;
use isula_types::container::types::{parse_log_time, LogOptions};

use crate::ctx::{to_json, Ctx};
use crate::error::{CliError, CmdResult};

/// `isula logs [OPTIONS] CONTAINER`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Follow log output.
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
    /// Number of lines to show from the end of the logs ("all" for every line).
    #[arg(short = 'n', long = "tail", default_value = "all")]
    pub tail: String,
    /// Show logs since timestamp (RFC 3339, unix seconds) or relative (e.g. 42m).
    #[arg(long = "since")]
    pub since: Option<String>,
    /// Show logs before a timestamp (RFC 3339, unix seconds) or relative (e.g. 42m).
    #[arg(long = "until")]
    pub until: Option<String>,
    /// Show timestamps.
    #[arg(short = 't', long = "timestamps")]
    pub timestamps: bool,
    /// The container.
    pub container: String,
}

/// A `--since`/`--until` value for the daemon: relative durations (`10m`, `1h30m`, `5s`)
/// become unix seconds; RFC 3339 and unix seconds pass as they are.
pub(crate) fn time_arg(flag: &str, s: &str) -> Result<String, CliError> {
    if s.parse::<f64>().is_ok() || s.contains('T') || s.contains('-') {
        return Ok(s.to_string());
    }
    let secs = parse_go_duration(s)
        .ok_or_else(|| CliError::engine(format!("invalid value for {flag}: {s:?} (timestamp or duration like 10m)")))?;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    Ok(format!("{:.9}", now - secs))
}

/// Seconds of a Go duration (`1h30m`, `500ms`, `10s`).
fn parse_go_duration(s: &str) -> Option<f64> {
    let mut rest = s;
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, tail) = rest.split_at(n);
        let u = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(u);
        let v: f64 = num.parse().ok()?;
        total += v * match unit {
            "ns" => 1e-9,
            "us" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = tail;
    }
    Some(total)
}

/// Run `isula logs`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let tail = match a.tail.as_str() {
        "all" | "" => None,
        n => Some(n.parse::<i64>().map_err(|_| CliError::engine(format!("invalid value for --tail: {n:?}")))?.max(0)),
    };
    let since = a.since.as_deref().map(|s| time_arg("--since", s)).transpose()?;
    let until = a.until.as_deref().map(|s| time_arg("--until", s)).transpose()?;
    let time = |flag: &str, t: Option<String>| {
        t.map(|t| parse_log_time(&t).ok_or_else(|| CliError::engine(format!("invalid value for {flag}: {t:?}"))))
            .transpose()
    };
    let (since, until) = (time("--since", since)?, time("--until", until)?);
    let opts = LogOptions {
        tail: tail.map(|n| n as usize),
        follow: a.follow,
        timestamps: a.timestamps,
        since,
        until,
        ..LogOptions::default()
    };
    let mut c = ctx.containers()?;
    let id = a.container.clone();
    ctx.rt.block_on(async {
        let mut s = c
            .logs(LogsRequest { id: id.clone(), options_json: to_json(&opts) })
            .await
            .map_err(|s| super::no_such(&s, &id))?
            .into_inner();
        while let Some(m) = s.message().await.map_err(|s| super::no_such(&s, &id))? {
            let mut data = Vec::new();
            if a.timestamps && !m.time.is_empty() {
                data.extend_from_slice(m.time.as_bytes());
                data.push(b' ');
            }
            data.extend_from_slice(&m.data);
            if m.stream == 2 {
                let _ = std::io::stderr().write_all(&data);
            } else {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(&data);
                let _ = o.flush();
            }
        }
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_go_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_go_duration("10x"), None);
        assert_eq!(time_arg("--since", "2024-01-01T00:00:00Z").unwrap(), "2024-01-01T00:00:00Z");
        assert!(time_arg("--since", "10m").unwrap().parse::<f64>().is_ok());
        assert!(time_arg("--since", "bogus").is_err());
    }
}
