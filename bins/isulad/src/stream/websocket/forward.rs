//! Port-forward over WebSocket (kubelet's `v4.channel.k8s.io`): the ports come in the query
//! (`?port=80&port=8080` or `?port=80,8080`); port number i gets channel 2i for data (both
//! ways) and 2i+1 for errors. The server's first message on each of them is the port, two
//! bytes little-endian. One connection to the pod per port; the WebSocket closes when all
//! of them have ended.

use std::io::Write;

use crate::stream::conn::Conn;
use crate::stream::http::Head;
use crate::stream::portforward;
use crate::stream::Ctx;

use super::channel::{Channels, Layout};
use super::codec::Codec;
use super::handshake::{self, Refusal};

/// The subprotocols served: kubelet's (`v4.`, `v4.base64.`, none) and `portforward.k8s.io`
/// (binary, as `v4.channel.k8s.io`).
const PROTOCOLS: [(&str, Codec); 4] = [
    ("v4.channel.k8s.io", Codec::Binary),
    ("v4.base64.channel.k8s.io", Codec::Base64),
    ("portforward.k8s.io", Codec::Binary),
    ("", Codec::Binary),
];

/// Whether `protocol` is one of the subprotocols served here.
pub(super) fn serves(protocol: &str) -> bool {
    PROTOCOLS.iter().any(|p| p.0 == protocol)
}

/// Most ports on one connection (two channels each, and channel 255 is reserved).
const MAX_PORTS: usize = 127;

/// The ports of the query: every `port` value (kubelet's name; `ports` is taken too), each
/// a comma-separated list of 1…65535.
pub(super) fn ports(head: &Head) -> Result<Vec<u16>, Refusal> {
    let values: Vec<String> = head.query_values("port").into_iter().chain(head.query_values("ports")).collect();
    if values.is_empty() {
        return Err(Refusal::bad_request("query parameter \"port\" is required"));
    }
    let mut ports = Vec::new();
    for v in &values {
        if v.is_empty() {
            return Err(Refusal::bad_request("query parameter \"port\" cannot be empty"));
        }
        for p in v.split(',') {
            match p.trim().parse::<u16>() {
                Ok(n) if n > 0 => ports.push(n),
                _ => return Err(Refusal::bad_request(format!("unable to parse {p:?} as a port (1-65535)"))),
            }
        }
    }
    if ports.len() > MAX_PORTS {
        return Err(Refusal::bad_request(format!("at most {MAX_PORTS} ports per connection")));
    }
    Ok(ports)
}

/// Serve a port-forward of pod `pod_id` on an upgrade request with key `key`.
pub(super) fn serve(mut conn: Conn, head: &Head, key: &str, pod_id: &str, ctx: &Ctx) {
    let names: Vec<&str> = PROTOCOLS.iter().map(|p| p.0).collect();
    let chosen = ports(head).and_then(|p| Ok((p, handshake::choose(&handshake::offered(head), &names)?)));
    let (ports, name) = match chosen {
        Ok(v) => v,
        Err(r) => return r.send(&mut conn.socket),
    };
    let codec = PROTOCOLS.iter().find(|p| p.0 == name).map_or(Codec::Binary, |p| p.1);
    if let Err(e) = handshake::accept(&mut conn.socket, key, name) {
        return log::debug!("streaming server: WebSocket upgrade: {e}");
    }
    let n = ports.len();
    let readable = (0..n).map(|i| (2 * i) as u8).collect();
    let ch = match Channels::start(conn, Layout { codec, close_signal: false, readable, count: 2 * n }) {
        Ok(c) => c,
        Err(e) => return log::warn!("streaming server: WebSocket channels: {e}"),
    };
    for (i, port) in ports.iter().enumerate() {
        for c in [2 * i, 2 * i + 1] {
            if ch.writer(c as u8).write_all(&port.to_le_bytes()).is_err() {
                return ch.finish();
            }
        }
    }
    std::thread::scope(|s| {
        for (i, port) in ports.iter().enumerate() {
            let (data, error) = ((2 * i) as u8, (2 * i + 1) as u8);
            let ch = &ch;
            s.spawn(move || {
                let Some(from_client) = ch.reader(data) else { return };
                let (to_client, gone) = (Box::new(ch.writer(data)), &ch.hangup);
                let r = portforward::forward(&ctx.engine, pod_id, *port, Box::new(from_client), to_client, gone);
                ch.break_reader(data);
                if let Err(m) = r {
                    log::debug!("streaming server: {m}");
                    let _ = ch.writer(error).write_all(m.as_bytes());
                }
            });
        }
    });
    ch.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(query: &str) -> Head {
        Head { method: "GET".into(), query: query.into(), ..Default::default() }
    }

    #[test]
    fn ports_come_from_the_query() {
        assert_eq!(ports(&head("port=80")).unwrap(), [80]);
        assert_eq!(ports(&head("port=80,8080&port=9")).unwrap(), [80, 8080, 9]);
        assert_eq!(ports(&head("ports=80%2C81")).unwrap(), [80, 81]);
        assert_eq!(ports(&head("")).unwrap_err().code, 400);
        assert_eq!(ports(&head("port=")).unwrap_err().code, 400);
        assert_eq!(ports(&head("port=0")).unwrap_err().code, 400);
        assert_eq!(ports(&head("port=70000")).unwrap_err().code, 400);
        assert_eq!(ports(&head("port=http")).unwrap_err().code, 400);
        let many: Vec<String> = (1..=128).map(|p| p.to_string()).collect();
        assert_eq!(ports(&head(&format!("port={}", many.join(",")))).unwrap_err().code, 400);
    }
}
