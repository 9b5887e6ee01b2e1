//! WebSocket transport (to be written): remote command channels (`v5`…`channel.k8s.io`,
//! base64 variants) and port-forward (`v4.channel.k8s.io`, SPDY tunnelled in WebSocket).

use super::cache::Pending;
use super::conn::Conn;
use super::http::{self, Head};
use super::Ctx;

/// Serve one WebSocket upgrade request for `pending`.
pub(crate) fn serve(conn: Conn, _head: &Head, _pending: Pending, _ctx: &Ctx) {
    let mut s = conn.socket;
    let _ = http::respond(&mut s, 501, "Not Implemented", "WebSocket streaming is not implemented yet\n");
}
