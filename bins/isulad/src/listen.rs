//! Binding the daemon's listeners: unix sockets (mode 0660, group `isula` when it exists)
//! and, only when asked for explicitly, plain TCP. Connections accepted on unix sockets read
//! through [`AuthorityFixed`], which accepts gRPC clients that send the socket path as the
//! HTTP/2 `:authority`.

mod authority;
mod stream;

use std::path::{Path, PathBuf};

use isula_api::addr::Addr;

pub(crate) use stream::AuthorityFixed;

/// A bound listener.
pub(crate) enum Listener {
    /// A unix socket and its path (removed on shutdown).
    Unix(tokio::net::UnixListener, PathBuf),
    /// A TCP listener.
    Tcp(tokio::net::TcpListener),
}

/// The gid of group `name` from /etc/group, if it exists.
pub(crate) fn group_gid(name: &str) -> Option<u32> {
    let text = std::fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.nth(1)?.parse().ok()
    })
}

/// Bind `addr`. An existing socket file that nobody answers on (left by a crash) is replaced;
/// one that answers means another daemon is running there, which is an error.
/// TCP listeners need `tls` (mutual TLS) or `insecure_tcp`.
pub(crate) async fn bind(addr: &Addr, group: &str, insecure_tcp: bool, tls: bool) -> Result<Listener, String> {
    match addr {
        Addr::Unix(path) => bind_unix(path, group).map(|l| Listener::Unix(l, path.clone())),
        Addr::Tcp(hp) => {
            if !insecure_tcp && !tls {
                return Err(format!(
                    "refusing to listen on {addr} without TLS: pass --tlsverify (with --tlscacert, \
                     --tlscert, --tlskey), or --insecure-tcp to serve plain TCP \
                     (anyone reaching the port controls the engine)"
                ));
            }
            let l = tokio::net::TcpListener::bind(hp).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            if !tls {
                log::warn!("listening on {addr} without TLS (--insecure-tcp)");
            }
            Ok(Listener::Tcp(l))
        }
    }
}

fn bind_unix(path: &Path, group: &str) -> Result<tokio::net::UnixListener, String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(format!("another daemon is already listening on unix://{shown}"));
        }
        std::fs::remove_file(path).map_err(|e| format!("cannot remove stale socket {shown}: {e}"))?;
    }
    let l = tokio::net::UnixListener::bind(path).map_err(|e| format!("cannot listen on unix://{shown}: {e}"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("cannot chmod {shown}: {e}"))?;
    if let Some(gid) = group_gid(group) {
        std::os::unix::fs::chown(path, None, Some(gid))
            .map_err(|e| format!("cannot chown {shown} to group {group}: {e}"))?;
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_group_exists() {
        assert_eq!(group_gid("root"), Some(0));
        assert_eq!(group_gid("no-such-group-isula-test"), None);
    }

    #[tokio::test]
    async fn binds_0660_and_replaces_stale_sockets() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/d.sock");
        let addr = Addr::Unix(p.clone());
        let l = bind(&addr, "no-such-group-isula-test", false, false).await.unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o660);
        let err = bind(&addr, "x", false, false).await.err().unwrap();
        assert!(err.contains("already listening"), "{err}");
        drop(l);
        // The file stays behind, nobody answers: it is replaced.
        assert!(p.exists());
        bind(&addr, "x", false, false).await.unwrap();
        let err = bind(&Addr::Tcp("127.0.0.1:0".into()), "x", false, false).await.err().unwrap();
        assert!(err.contains("--insecure-tcp"), "{err}");
    }
}
