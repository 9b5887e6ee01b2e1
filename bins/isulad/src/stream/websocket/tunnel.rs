//! Port-forward as SPDY/3.1 tunnelled in WebSocket, as client-go's
//! `NewSPDYOverWebsocketDialer` and critest's `-websocket-portforward` speak it: the
//! subprotocol `SPDY/3.1+portforward.k8s.io`, then binary messages carrying the SPDY byte
//! stream both ways (each write one message), served by the SPDY transport's port-forward
//! session.

use crate::stream::conn::Conn;
use crate::stream::http::Head;
use crate::stream::spdy;
use crate::stream::Ctx;

use super::channel::{Channels, Layout};
use super::codec::Codec;
use super::handshake;

/// The tunnelling subprotocol of port-forward.
pub(super) const PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

/// Whether the client's first port-forward subprotocol is the tunnel.
pub(super) fn wanted(head: &Head) -> bool {
    handshake::offered(head).iter().find(|o| *o == PROTOCOL || super::forward::serves(o)).is_some_and(|o| o == PROTOCOL)
}

/// Serve a tunnelled port-forward of pod `pod_id` on an upgrade request with key `key`.
pub(super) fn serve(mut conn: Conn, key: &str, pod_id: &str, ctx: &Ctx) {
    if let Err(e) = handshake::accept(&mut conn.socket, key, PROTOCOL) {
        return log::debug!("streaming server: WebSocket upgrade: {e}");
    }
    let layout = Layout { codec: Codec::Raw, close_signal: false, readable: vec![0], count: 1 };
    let ch = match Channels::start(conn, layout) {
        Ok(c) => c,
        Err(e) => return log::warn!("streaming server: WebSocket channels: {e}"),
    };
    if let Some(reader) = ch.reader(0) {
        spdy::port_forward_session(reader, ch.writer(0), pod_id, ctx);
    }
    ch.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(protocols: &str) -> Head {
        Head {
            method: "GET".into(),
            headers: vec![("Sec-WebSocket-Protocol".into(), protocols.into())],
            ..Default::default()
        }
    }

    #[test]
    fn the_clients_order_picks_tunnel_or_channels() {
        assert!(wanted(&head("SPDY/3.1+portforward.k8s.io")));
        assert!(wanted(&head("v9.channel.k8s.io, SPDY/3.1+portforward.k8s.io, v4.channel.k8s.io")));
        assert!(!wanted(&head("v4.channel.k8s.io, SPDY/3.1+portforward.k8s.io")));
        assert!(!wanted(&head("v4.channel.k8s.io")));
    }
}
