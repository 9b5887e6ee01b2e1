//! TLS for the streaming server: a rustls server session per connection (the `ring`
//! provider), relayed by a thread of its own onto a socket pair, so that the transports see
//! a plain byte stream ([`Socket::Unix`]) they can clone, time out and shut down.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

use super::conn::Socket;

/// Clear text read from the client and not yet taken by the server, at most.
const MAX_PENDING: usize = 256 * 1024;
/// Clear text moved per read.
const CHUNK: usize = 16 * 1024;

/// The server's certificate and key, ready to accept connections.
pub(crate) struct Acceptor {
    config: Arc<ServerConfig>,
}

impl Acceptor {
    /// Load a PEM certificate chain (leaf first) and its PEM private key (PKCS#8, PKCS#1
    /// or SEC1).
    pub(crate) fn from_files(cert: &Path, key: &Path) -> Result<Acceptor, String> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("streaming server TLS certificate {}: {e}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!("streaming server TLS certificate {}: no certificate in it", cert.display()));
        }
        let private = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("streaming server TLS key {}: {e}", key.display()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
            .map_err(|e| {
                format!("streaming server TLS certificate {} and key {}: {e}", cert.display(), key.display())
            })?;
        Ok(Acceptor { config: Arc::new(config) })
    }

    /// Run the TLS handshake on `tcp` (within its read timeout) and return the clear-text
    /// side, which gets the same read timeout.
    pub(crate) fn wrap(&self, mut tcp: TcpStream) -> std::io::Result<Socket> {
        let mut tls = ServerConnection::new(self.config.clone()).map_err(std::io::Error::other)?;
        while tls.is_handshaking() {
            tls.complete_io(&mut tcp)?;
        }
        let (app, relay_end) = UnixStream::pair()?;
        app.set_read_timeout(tcp.read_timeout()?)?;
        tcp.set_nonblocking(true)?;
        relay_end.set_nonblocking(true)?;
        std::thread::Builder::new().name("stream-tls".into()).spawn(move || relay(tls, tcp, relay_end))?;
        Ok(Socket::Unix(app))
    }
}

/// Move bytes between the TLS session on `tcp` and the server's end of the pair `app` until
/// the server closes its end (a `close_notify` then goes out) or the client's side fails.
/// When the client ends its side, the server reads end-of-file and may still write.
fn relay(mut tls: ServerConnection, mut tcp: TcpStream, mut app: UnixStream) {
    let mut to_app: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    let (mut client_done, mut app_told, mut app_done) = (false, false, false);
    loop {
        // Encrypted bytes out.
        while tls.wants_write() {
            match tls.write_tls(&mut tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return,
            }
        }
        // Clear text to the server.
        while !to_app.is_empty() {
            match app.write(&to_app) {
                Ok(n) => drop(to_app.drain(..n)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return,
            }
        }
        if client_done && to_app.is_empty() && !app_told {
            let _ = app.shutdown(Shutdown::Write);
            app_told = true;
        }
        if app_done && !tls.wants_write() {
            return;
        }
        let tcp_events = flags(!client_done && to_app.len() < MAX_PENDING, tls.wants_write());
        let app_events = flags(!app_done && !tls.wants_write(), !to_app.is_empty());
        // A socket is polled only for what is wanted of it: a hung-up one that is not would
        // be reported ready again and again.
        let (tcp_ready, app_ready) = {
            let mut fds = Vec::with_capacity(2);
            if !tcp_events.is_empty() {
                fds.push(PollFd::new(tcp.as_fd(), tcp_events));
            }
            if !app_events.is_empty() {
                fds.push(PollFd::new(app.as_fd(), app_events));
            }
            if fds.is_empty() {
                return;
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {
                    let mut it = fds.iter().map(|f| f.revents().unwrap_or(PollFlags::empty()));
                    let t = if tcp_events.is_empty() {
                        PollFlags::empty()
                    } else {
                        it.next().unwrap_or(PollFlags::empty())
                    };
                    let a = if app_events.is_empty() {
                        PollFlags::empty()
                    } else {
                        it.next().unwrap_or(PollFlags::empty())
                    };
                    (t, a)
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            }
        };
        let bad = PollFlags::POLLHUP | PollFlags::POLLERR;
        if tcp_ready.intersects(PollFlags::POLLIN | bad) && !client_done {
            client_done = read_client(&mut tls, &mut tcp, &mut to_app, &mut buf);
        }
        if app_ready.intersects(PollFlags::POLLIN | bad) && !app_done {
            match app.read(&mut buf) {
                Ok(0) => {
                    tls.send_close_notify();
                    app_done = true;
                }
                Ok(n) => {
                    if tls.writer().write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                Err(_) => {
                    tls.send_close_notify();
                    app_done = true;
                }
            }
        }
    }
}

/// Poll flags for reading and writing.
fn flags(read: bool, write: bool) -> PollFlags {
    let mut f = PollFlags::empty();
    if read {
        f |= PollFlags::POLLIN;
    }
    if write {
        f |= PollFlags::POLLOUT;
    }
    f
}

/// Read what the client sent and decrypt it into `to_app`. True when the client's side has
/// ended (end of file, `close_notify`, a TLS or socket error).
fn read_client(tls: &mut ServerConnection, tcp: &mut TcpStream, to_app: &mut Vec<u8>, buf: &mut [u8]) -> bool {
    match tls.read_tls(tcp) {
        Ok(0) => return true,
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => return false,
        Err(_) => return true,
    }
    if let Err(e) = tls.process_new_packets() {
        log::debug!("streaming server: TLS: {e}");
        // The alert goes out with the next write_tls.
        let _ = tls.write_tls(tcp);
        return true;
    }
    loop {
        match tls.reader().read(buf) {
            Ok(0) => return true,
            Ok(n) => to_app.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_files_are_refused_by_name() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("none.pem");
        let e = Acceptor::from_files(&missing, &missing).err().unwrap();
        assert!(e.contains("none.pem"), "{e}");
        let junk = d.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let e = Acceptor::from_files(&junk, &junk).err().unwrap();
        assert!(e.contains("no certificate"), "{e}");
    }
}
