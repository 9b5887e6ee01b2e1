//! Container logs: the Docker json-file writer used by `isulad-shim` ([`jsonfile`], from
//! the `isula-shim-proto` crate both link)
//! and the reader behind `logs` ([`reader`]).

pub(crate) use isula_shim_proto::jsonfile;
pub(crate) mod reader;

pub use reader::{follow_logs, read_logs, LogLine, LogOptions, LogStream};

/// Parse a Docker size (`max-size`): `10`, `10k`, `1m`, `2g` (1024-based, case-insensitive, optional `b`).
pub(crate) fn parse_size(s: &str) -> crate::Result<u64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| crate::Error::invalid(format!("invalid log size {s:?} (use e.g. 10k, 1m)")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("1m").unwrap(), 1 << 20);
        assert_eq!(super::parse_size("30KB").unwrap(), 30 << 10);
        assert_eq!(super::parse_size("123").unwrap(), 123);
        assert!(super::parse_size("x1").is_err());
    }
}
