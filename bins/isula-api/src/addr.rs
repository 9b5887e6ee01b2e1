//! Daemon addresses as iSulad and Docker write them: `unix:///run/isulad.sock`,
//! a bare absolute socket path, or `tcp://host:port`.

use std::fmt;
use std::path::PathBuf;

/// A parsed daemon address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    /// A unix socket path.
    Unix(PathBuf),
    /// A TCP `host:port`.
    Tcp(String),
}

impl Addr {
    /// Parse `unix://PATH`, an absolute `PATH`, or `tcp://HOST:PORT`.
    pub fn parse(s: &str) -> Result<Addr, String> {
        if let Some(p) = s.strip_prefix("unix://") {
            if !p.starts_with('/') {
                return Err(format!("invalid address {s:?}: the unix socket path must be absolute"));
            }
            return Ok(Addr::Unix(PathBuf::from(p)));
        }
        if let Some(hp) = s.strip_prefix("tcp://") {
            let hp = hp.trim_end_matches('/');
            match hp.rsplit_once(':') {
                Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => return Ok(Addr::Tcp(hp.to_string())),
                _ => return Err(format!("invalid address {s:?}: expected tcp://HOST:PORT")),
            }
        }
        if s.starts_with('/') {
            return Ok(Addr::Unix(PathBuf::from(s)));
        }
        Err(format!("invalid address {s:?}: expected unix:///PATH or tcp://HOST:PORT"))
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Unix(p) => write!(f, "unix://{}", p.display()),
            Addr::Tcp(hp) => write!(f, "tcp://{hp}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        assert_eq!(Addr::parse("unix:///run/isulad.sock").unwrap(), Addr::Unix("/run/isulad.sock".into()));
        assert_eq!(Addr::parse("/tmp/x.sock").unwrap(), Addr::Unix("/tmp/x.sock".into()));
        assert_eq!(Addr::parse("tcp://127.0.0.1:2375").unwrap(), Addr::Tcp("127.0.0.1:2375".into()));
        assert_eq!(Addr::parse("unix:///a").unwrap().to_string(), "unix:///a");
        for bad in ["unix://rel", "tcp://nohost", "tcp://:1", "tcp://h:notaport", "http://x", "rel"] {
            assert!(Addr::parse(bad).is_err(), "{bad}");
        }
    }
}
