//! SPDY/3.1 transport (to be written): remote command (`v4`…`v2.channel.k8s.io`) and
//! port-forward (`portforward.k8s.io`) streams over an upgraded connection.

use super::cache::Pending;
use super::conn::Conn;
use super::http::{self, Head};
use super::Ctx;

/// Serve one upgraded SPDY connection for `pending`.
pub(crate) fn serve(conn: Conn, _head: &Head, _pending: Pending, _ctx: &Ctx) {
    let mut s = conn.socket;
    let _ = http::respond(&mut s, 501, "Not Implemented", "SPDY streaming is not implemented yet\n");
}
