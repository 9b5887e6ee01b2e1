//! Port-forward over any transport: one client data stream relayed to a port of a pod,
//! connected inside the pod's network namespace by the engine ([`isula_core::Pods::connect`]).

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use isula_core::Engine;

/// Copy buffer size of each direction.
const CHUNK: usize = 128 * 1024;
/// After one direction ended, how long the other may still run (as socat's default).
const LINGER: Duration = Duration::from_secs(1);

/// Relay `from_client`/`to_client` and port `port` of pod `pod_id` until both directions end
/// (or one ended and the other did not within a second). A client's end of input half-closes
/// the TCP connection; the port's end of output drops `to_client` (the transport closes
/// that stream). `Err` (before anything is relayed) is the message for the error stream.
/// The transport must close `from_client` once this returns, which ends its copy thread.
pub(crate) fn forward(
    engine: &Engine,
    pod_id: &str,
    port: u16,
    mut from_client: Box<dyn Read + Send>,
    mut to_client: Box<dyn Write + Send>,
) -> Result<(), String> {
    let tcp = engine
        .pods()
        .connect(pod_id, port)
        .map_err(|e| format!("error forwarding port {port} to pod {pod_id}: {e}"))?;
    let mut upstream = tcp.try_clone().map_err(|e| format!("error forwarding port {port}: {e}"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        // The client's end of input half-closes; losing the client closes both directions
        // (the other one may wait on an idle port forever otherwise).
        let how = loop {
            match from_client.read(&mut buf) {
                Ok(0) => break Shutdown::Write,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break Shutdown::Both,
                Ok(n) => {
                    if upstream.write_all(&buf[..n]).is_err() {
                        break Shutdown::Write;
                    }
                }
            }
        };
        let _ = upstream.shutdown(how);
        let _ = tx.send(());
    });
    let mut down = &tcp;
    let mut buf = vec![0u8; CHUNK];
    loop {
        match down.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to_client.write_all(&buf[..n]).and_then(|_| to_client.flush()).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    drop(to_client);
    let _ = rx.recv_timeout(LINGER);
    let _ = tcp.shutdown(Shutdown::Both);
    Ok(())
}
