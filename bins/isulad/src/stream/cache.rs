//! Pending streaming requests: what an Exec, Attach or PortForward call asked for, kept
//! under a random single-use token until the client connects to its URL. A token expires
//! after [`TOKEN_TTL`] unused; at most [`MAX_PENDING`] wait at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a URL stays valid when nobody connects to it (kubelet's and containerd's minute).
pub(crate) const TOKEN_TTL: Duration = Duration::from_secs(60);
/// Most requests waiting for their client at once (as kubelet's streaming cache).
pub(crate) const MAX_PENDING: usize = 1000;

/// What a client of an exec or attach URL gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Command {
    /// The container.
    pub container_id: String,
    /// The command to exec; empty for attach.
    pub cmd: Vec<String>,
    /// A pty (stdout and stderr are then one stream).
    pub tty: bool,
    /// The client sends stdin.
    pub stdin: bool,
    /// The client wants stdout.
    pub stdout: bool,
    /// The client wants stderr (never with a tty).
    pub stderr: bool,
}

/// A request waiting for its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pending {
    /// Run a command in a container (`/exec/<token>`).
    Exec(Command),
    /// Attach to a container's process (`/attach/<token>`).
    Attach(Command),
    /// Forward ports of a pod (`/portforward/<token>`).
    PortForward {
        /// The pod.
        pod_id: String,
    },
}

impl Pending {
    /// The URL path segment of this kind of request.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Pending::Exec(_) => "exec",
            Pending::Attach(_) => "attach",
            Pending::PortForward { .. } => "portforward",
        }
    }
}

/// Why a token was not taken.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Full {
    /// [`MAX_PENDING`] requests wait already.
    TooMany,
    /// `/dev/urandom` could not be read.
    NoRandom(String),
}

/// 16 random bytes as 32 hex digits.
fn random_token() -> Result<String, String> {
    use std::io::Read;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The token → request map.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    entries: Mutex<HashMap<String, (Pending, Instant)>>,
}

impl Cache {
    /// Keep `req` under a new random token (URL-safe) and return the token.
    pub(crate) fn insert(&self, req: Pending) -> Result<String, Full> {
        let now = Instant::now();
        let mut m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, (_, exp)| *exp > now);
        if m.len() >= MAX_PENDING {
            return Err(Full::TooMany);
        }
        let token = random_token().map_err(Full::NoRandom)?;
        m.insert(token.clone(), (req, now + TOKEN_TTL));
        Ok(token)
    }

    /// Take the request of `token` (once): `None` when unknown, used or expired.
    pub(crate) fn take(&self, token: &str) -> Option<Pending> {
        let mut m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (req, exp) = m.remove(token)?;
        (exp > Instant::now()).then_some(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pf() -> Pending {
        Pending::PortForward { pod_id: "p".into() }
    }

    #[test]
    fn a_token_is_single_use() {
        let c = Cache::default();
        let t = c.insert(pf()).unwrap();
        assert_eq!(t.len(), 32);
        assert_eq!(c.take(&t), Some(pf()));
        assert_eq!(c.take(&t), None);
        assert_eq!(c.take("nonsense"), None);
    }

    #[test]
    fn expired_tokens_are_refused_and_dropped() {
        let c = Cache::default();
        let t = c.insert(pf()).unwrap();
        c.entries.lock().unwrap().get_mut(&t).unwrap().1 = Instant::now() - Duration::from_secs(1);
        assert_eq!(c.take(&t), None);
    }

    #[test]
    fn the_cache_is_bounded() {
        let c = Cache::default();
        for _ in 0..MAX_PENDING {
            c.insert(pf()).unwrap();
        }
        assert_eq!(c.insert(pf()), Err(Full::TooMany));
        // Expired entries make room.
        for v in c.entries.lock().unwrap().values_mut() {
            v.1 = Instant::now() - Duration::from_secs(1);
        }
        assert!(c.insert(pf()).is_ok());
    }
}
