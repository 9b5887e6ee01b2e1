//! SPDY/3.1 transport, as kubelet serves it to client-go, kubectl and crictl: the HTTP
//! upgrade with `X-Stream-Protocol-Version` negotiation, then a server-role
//! [`isula_spdy::Session`] on the connection whose streams become the remote command's
//! streams ([`command`]: `v4`…`channel.k8s.io`) or port-forward pairs ([`forward`]:
//! `portforward.k8s.io`).

mod command;
mod forward;

use std::io::Write;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use isula_spdy::{Config, Role, Session};

use super::cache::Pending;
use super::conn::{Conn, Socket};
use super::http::{self, Head};
use super::remote::Protocol;
use super::Ctx;

// For the WebSocket transport (SPDY tunnelled in WebSocket for port-forward).
pub(crate) use forward::port_forward_session;

/// The port-forward protocol name.
const PORT_FORWARD_PROTOCOL: &str = "portforward.k8s.io";
/// The remote-command versions served over SPDY, newest first (v5 is WebSocket only).
const REMOTE_COMMAND: [Protocol; 4] = [Protocol::V4, Protocol::V3, Protocol::V2, Protocol::V1];
/// After the session ended, how long the client has to read the last frames and close the
/// connection before it is closed from this side.
const CLOSE_LINGER: Duration = Duration::from_secs(5);

/// Serve one upgraded SPDY connection for `pending`.
pub(crate) fn serve(conn: Conn, head: &Head, pending: Pending, ctx: &Ctx) {
    let mut socket = conn.socket;
    if !head.upgrades_to("SPDY/3.1") {
        let _ = http::respond(&mut socket, 400, "Bad Request", "unable to upgrade: missing upgrade headers\n");
        return;
    }
    let conn = Conn { socket, leftover: conn.leftover, idle: conn.idle };
    let (cmd, exec) = match pending {
        Pending::Exec(cmd) => (cmd, true),
        Pending::Attach(cmd) => (cmd, false),
        Pending::PortForward { pod_id } => {
            let Some((conn, _)) = upgrade(conn, head, &[PORT_FORWARD_PROTOCOL]) else { return };
            let Some((session, ctl)) = start_session(conn) else { return };
            forward::serve(&session, &pod_id, ctx);
            finish(&session, &ctl);
            return;
        }
    };
    let names: Vec<&str> = REMOTE_COMMAND.iter().map(|p| p.name()).collect();
    let Some((conn, chosen)) = upgrade(conn, head, &names) else { return };
    let Some(protocol) = Protocol::from_name(chosen) else { return };
    let Some((session, ctl)) = start_session(conn) else { return };
    command::serve(&session, protocol, &cmd, exec, ctx);
    finish(&session, &ctl);
}

/// A refused upgrade: status code, reason phrase, extra headers, body.
#[derive(Debug)]
struct Refusal {
    code: u16,
    reason: &'static str,
    headers: Vec<(String, String)>,
    body: String,
}

/// Pick the newest of `server` (newest first) that the client's `X-Stream-Protocol-Version`
/// lists. `Err`: the refusal, as kubelet's handshake answers (400 without the header, 403
/// with nothing in common).
fn negotiate<'a>(head: &Head, server: &[&'a str]) -> Result<&'a str, Refusal> {
    const H: &str = "X-Stream-Protocol-Version";
    if head.header(H).is_none() {
        let msg =
            format!("unable to upgrade: header {H} does not exist in request with {} headers", head.headers.len());
        return Err(Refusal { code: 400, reason: "Bad Request", headers: Vec::new(), body: msg });
    }
    let client = head.header_values(H);
    if client.is_empty() {
        let body = format!("unable to upgrade: header {H} contains no valid protocols");
        return Err(Refusal { code: 400, reason: "Bad Request", headers: Vec::new(), body });
    }
    if let Some(p) = server.iter().find(|p| client.iter().any(|c| c == *p)) {
        return Ok(p);
    }
    let accepted = server.iter().map(|p| ("X-Accepted-Stream-Protocol-Versions".to_string(), p.to_string())).collect();
    let msg = format!(
        "unable to upgrade: unable to negotiate protocol: client supports [{}], server accepts [{}]",
        client.join(" "),
        server.join(" ")
    );
    Err(Refusal { code: 403, reason: "Forbidden", headers: accepted, body: msg })
}

/// Negotiate and answer `101 Switching Protocols`; on refusal answer the error and return
/// `None`.
fn upgrade<'a>(mut conn: Conn, head: &Head, server: &[&'a str]) -> Option<(Conn, &'a str)> {
    match negotiate(head, server) {
        Ok(chosen) => {
            let headers = [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"), ("X-Stream-Protocol-Version", chosen)];
            match http::switching_protocols(&mut conn.socket, &headers) {
                Ok(()) => Some((conn, chosen)),
                Err(e) => {
                    log::debug!("streaming server: writing 101: {e}");
                    None
                }
            }
        }
        Err(Refusal { code, reason, headers: extra, body }) => {
            log::debug!("streaming server: SPDY upgrade refused: {body}");
            let mut msg = format!(
                "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len() + 1
            );
            for (n, v) in extra {
                msg.push_str(&format!("{n}: {v}\r\n"));
            }
            msg.push_str(&format!("\r\n{body}\n"));
            let _ = conn.socket.write_all(msg.as_bytes());
            None
        }
    }
}

/// Start the server session on the upgraded connection. Returns it and a handle on the
/// socket for shutting it down. The socket gets the idle timeout as its read timeout: a
/// connection with no traffic either way for that long ends (see [`isula_spdy::Session`]).
fn start_session(conn: Conn) -> Option<(Session, Socket)> {
    let setup = || -> std::io::Result<(Session, Socket)> {
        let ctl = conn.socket.try_clone()?;
        let probe = conn.socket.try_clone()?;
        // Set before the reader thread's first read (a timeout applies from a read's start).
        ctl.set_read_timeout(Some(conn.idle))?;
        let (reader, writer) = conn.split()?;
        let cfg = Config { stall_probe: Some(Arc::new(move || peer_gone(&probe))), ..Config::default() };
        let session = Session::with_config(reader, writer, Role::Server, cfg).map_err(std::io::Error::from)?;
        // However the session ends (the client's EOF, idleness, a protocol error, a failed
        // write), the socket goes too: that also frees a writer blocked on a client that
        // stopped reading.
        let end = ctl.try_clone()?;
        session.on_close(move || {
            let _ = end.shutdown(Shutdown::Both);
        });
        Ok((session, ctl))
    };
    match setup() {
        Ok(v) => Some(v),
        Err(e) => {
            log::warn!("streaming server: cannot start a SPDY session: {e}");
            None
        }
    }
}

/// End the connection politely: GOAWAY, our FIN after everything written, then wait a
/// little for the client to read and close before closing from this side.
fn finish(session: &Session, ctl: &Socket) {
    session.go_away();
    let _ = ctl.shutdown(Shutdown::Write);
    if !session.wait_closed(Some(CLOSE_LINGER)) {
        log::debug!("streaming server: the SPDY client did not close its connection; closing it");
    }
    let _ = ctl.shutdown(Shutdown::Both);
    session.wait_closed(Some(CLOSE_LINGER));
}

/// Whether the client has gone (hung up or shut down its side): what the session's reader
/// thread asks while it waits for a full stream to drain.
fn peer_gone(s: &Socket) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let fd = match s {
        Socket::Tcp(t) => t.as_fd(),
        Socket::Unix(u) => u.as_fd(),
    };
    let rdhup = PollFlags::from_bits_retain(libc::POLLRDHUP);
    let gone = rdhup | PollFlags::POLLHUP | PollFlags::POLLERR;
    let mut fds = [PollFd::new(fd, rdhup)];
    match poll(&mut fds, PollTimeout::ZERO) {
        // nix does not know POLLRDHUP: its revents() is None exactly when that bit is set.
        Ok(n) if n > 0 => fds[0].revents().is_none_or(|r| r.intersects(gone)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(versions: &[&str]) -> Head {
        let mut h = Head { method: "POST".into(), path: "/exec/t".into(), ..Head::default() };
        for v in versions {
            h.headers.push(("X-Stream-Protocol-Version".into(), v.to_string()));
        }
        h
    }

    #[test]
    fn the_newest_common_version_wins() {
        let server: Vec<&str> = REMOTE_COMMAND.iter().map(|p| p.name()).collect();
        let all =
            ["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"];
        assert_eq!(negotiate(&head(&all), &server).unwrap(), "v4.channel.k8s.io");
        assert_eq!(negotiate(&head(&["v2.channel.k8s.io, v3.channel.k8s.io"]), &server).unwrap(), "v3.channel.k8s.io");
        assert_eq!(negotiate(&head(&["channel.k8s.io"]), &server).unwrap(), "channel.k8s.io");
    }

    #[test]
    fn refusals_match_kubelet() {
        let server = [PORT_FORWARD_PROTOCOL];
        let r = negotiate(&head(&[]), &server).unwrap_err();
        assert_eq!(r.code, 400);
        assert!(r.headers.is_empty() && r.body.contains("does not exist"), "{r:?}");
        let r = negotiate(&head(&["v4.channel.k8s.io"]), &server).unwrap_err();
        assert_eq!(r.code, 403);
        assert_eq!(r.headers, [("X-Accepted-Stream-Protocol-Versions".to_string(), PORT_FORWARD_PROTOCOL.to_string())]);
        assert!(r.body.contains("unable to negotiate protocol"), "{r:?}");
    }
}
