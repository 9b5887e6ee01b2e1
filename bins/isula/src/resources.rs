//! The resource flags shared by `create`/`run` and `update` (Docker's names), flattened
//! into each command's arguments and parsed into the engine's typed [`Resources`].

use isula_types::container::options::Resources;
use isula_types::container::parse::{parse_cpus, parse_memory_size, parse_memory_swap};

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
    /// Memory limit (k, m, g suffixes); -1 for unlimited.
    #[arg(short = 'm', long = "memory", allow_hyphen_values = true)]
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
    /// The flags as engine [`Resources`] (sizes in bytes, `--cpus` a number), parsed with the
    /// shared parsers; flags not given stay `None` (for `update`: left as they are). A bad
    /// value is a usage error (125) with the parser's message.
    pub(crate) fn resources(&self) -> Result<Resources, CliError> {
        let size = |v: &Option<String>| v.as_deref().map(parse_memory_size).transpose();
        Ok(Resources {
            cpus: self.cpus.as_deref().map(parse_cpus).transpose()?,
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus.clone(),
            memory: match self.memory.as_deref().map(str::trim) {
                Some("-1") => Some(-1),
                _ => size(&self.memory)?,
            },
            memory_swap: self.memory_swap.as_deref().map(parse_memory_swap).transpose()?,
            memory_reservation: size(&self.memory_reservation)?,
            pids_limit: self.pids_limit,
            blkio_weight: self.blkio_weight.filter(|w| *w != 0),
            ..Resources::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_typed_resources() {
        let o = ResourceOpts {
            cpus: Some("0.5".into()),
            cpu_shares: Some(512),
            memory: Some("64m".into()),
            memory_swap: Some("-1".into()),
            memory_reservation: Some("1.5g".into()),
            pids_limit: Some(10),
            blkio_weight: Some(300),
            ..ResourceOpts::default()
        };
        let r = o.resources().unwrap();
        let unlimited = ResourceOpts { memory: Some("-1".into()), ..ResourceOpts::default() };
        assert_eq!(unlimited.resources().unwrap().memory, Some(-1));
        assert_eq!(r.cpus, Some(0.5));
        assert_eq!(r.cpu_shares, Some(512));
        assert_eq!(r.memory, Some(64 << 20));
        assert_eq!(r.memory_swap, Some(-1));
        assert_eq!(r.memory_reservation, Some(3 << 29));
        assert_eq!((r.pids_limit, r.blkio_weight), (Some(10), Some(300)));
        // Flags not given stay unset; --blkio-weight 0 means no weight.
        let r = ResourceOpts { blkio_weight: Some(0), ..ResourceOpts::default() }.resources().unwrap();
        assert_eq!(r, Resources::default());
    }

    #[test]
    fn bad_values_are_usage_errors_with_the_parsers_text() {
        let e = ResourceOpts { cpus: Some("many".into()), ..ResourceOpts::default() }.resources().unwrap_err();
        assert_eq!(e.code, 125);
        assert_eq!(e.msg, parse_cpus("many").unwrap_err().to_string());
        assert!(e.msg.contains("--cpus") && e.msg.contains("many"), "{}", e.msg);
        let e = ResourceOpts { memory: Some("lots".into()), ..ResourceOpts::default() }.resources().unwrap_err();
        assert_eq!((e.code, e.msg.contains("\"lots\"")), (125, true), "{}", e.msg);
        let e = ResourceOpts { memory_swap: Some("-5m".into()), ..ResourceOpts::default() }.resources().unwrap_err();
        assert!(e.msg.contains("--memory-swap"), "{}", e.msg);
    }
}
