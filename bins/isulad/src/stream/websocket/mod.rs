//! WebSocket transport (RFC 6455, framing by `tungstenite`): remote commands over kubelet's
//! channel protocol (`v5`…`channel.k8s.io`, base64 variants; [`command`]), port-forward
//! over channels (`v4.channel.k8s.io`, ports in the query; [`forward`]) or as SPDY/3.1
//! tunnelled in binary messages (`SPDY/3.1+portforward.k8s.io`; [`tunnel`]).

mod channel;
mod codec;
mod command;
mod forward;
mod handshake;
mod tunnel;

use super::cache::Pending;
use super::conn::Conn;
use super::http::Head;
use super::Ctx;

/// Serve one WebSocket upgrade request for `pending`.
pub(crate) fn serve(mut conn: Conn, head: &Head, pending: Pending, ctx: &Ctx) {
    let key = match handshake::check(head) {
        Ok(k) => k,
        Err(r) => return r.send(&mut conn.socket),
    };
    match pending {
        Pending::Exec(cmd) => command::serve(conn, head, &key, &cmd, false, ctx),
        Pending::Attach(cmd) => command::serve(conn, head, &key, &cmd, true, ctx),
        Pending::PortForward { pod_id } if tunnel::wanted(head) => tunnel::serve(conn, &key, &pod_id, ctx),
        Pending::PortForward { pod_id } => forward::serve(conn, head, &key, &pod_id, ctx),
    }
}
