//! Port-forward's way in: a TCP connection to a port of a pod, made inside its network
//! namespace (the host's for host-network pods), so nothing like socat is needed.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::network::netns;

/// How long a connection to a pod's port may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Engine {
    /// [`Pods::connect`](crate::Pods::connect): see there.
    pub(crate) fn pod_connect(&self, key: &str, port: u16) -> Result<TcpStream> {
        if port == 0 {
            return Err(Error::invalid("port 0 is not a port to connect to"));
        }
        let rec = self.pod(key)?.record();
        if self.pod_infra_pid(&rec).is_none() {
            return Err(Error::precondition(format!("pod {} is not ready", rec.id)));
        }
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let conn = if rec.netns_path.is_empty() {
            TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(Error::from)
        } else {
            netns::connect_tcp(Path::new(&rec.netns_path), addr, CONNECT_TIMEOUT)
        };
        conn.map_err(|e| Error::unavailable(format!("cannot connect to port {port} of pod {}: {e}", rec.id)))
    }
}
