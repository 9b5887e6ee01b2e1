//! The server side of the WebSocket opening handshake (RFC 6455 §4.2) on a request head the
//! streaming server has already read: the checks, the choice of subprotocol, the
//! `101 Switching Protocols` answer or a refusal.

use std::io::Write;

use tungstenite::handshake::derive_accept_key;

use crate::stream::conn::Socket;
use crate::stream::http::{self, Head};

/// Why an upgrade request is refused, as an HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    /// The status code.
    pub code: u16,
    /// Its reason phrase.
    pub reason: &'static str,
    /// The body.
    pub message: String,
}

impl Refusal {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Refusal {
        Refusal { code, reason, message: message.into() }
    }

    /// `400 Bad Request` with `message`.
    pub(super) fn bad_request(message: impl Into<String>) -> Refusal {
        Refusal::new(400, "Bad Request", message)
    }

    /// Write the answer (a failure to write only means the client is gone).
    pub(super) fn send(&self, s: &mut Socket) {
        let body = format!("{}\n", self.message);
        let r = if self.code == 426 {
            // RFC 6455 §4.4: name the version this server speaks.
            let msg = format!(
                "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            s.write_all(msg.as_bytes())
        } else {
            http::respond(s, self.code, self.reason, &body)
        };
        if let Err(e) = r {
            log::debug!("streaming server: refusing a WebSocket upgrade: {e}");
        }
    }
}

/// The client's `Sec-WebSocket-Key` if `head` is a WebSocket upgrade request this server
/// takes (`GET`, version 13, a key of 16 bytes in base64).
pub(super) fn check(head: &Head) -> Result<String, Refusal> {
    use base64::Engine as _;
    if head.method != "GET" {
        return Err(Refusal::new(405, "Method Not Allowed", "a WebSocket upgrade is a GET request"));
    }
    if head.header("Sec-WebSocket-Version").map(str::trim) != Some("13") {
        return Err(Refusal::new(426, "Upgrade Required", "only WebSocket version 13 is supported"));
    }
    let key = head.header("Sec-WebSocket-Key").map(str::trim).unwrap_or_default();
    match base64::engine::general_purpose::STANDARD.decode(key) {
        Ok(k) if k.len() == 16 => Ok(key.to_string()),
        _ => Err(Refusal::bad_request("missing or malformed Sec-WebSocket-Key")),
    }
}

/// The subprotocols the client offers, in its order of preference.
pub(super) fn offered(head: &Head) -> Vec<String> {
    head.header_values("Sec-WebSocket-Protocol")
}

/// Kubelet's choice: the first subprotocol the client offers that is in `supported`; the
/// empty name when the client offers none (`supported` must then hold `""` to accept).
pub(super) fn choose<'a>(offered: &[String], supported: &[&'a str]) -> Result<&'a str, Refusal> {
    let none = [String::new()];
    let offered = if offered.is_empty() { &none[..] } else { offered };
    offered.iter().find_map(|o| supported.iter().find(|s| **s == o.as_str()).copied()).ok_or_else(|| {
        let supported: Vec<&str> = supported.iter().copied().filter(|s| !s.is_empty()).collect();
        Refusal::new(
            403,
            "Forbidden",
            format!(
                "requested protocol(s) are not supported: {}; supports {}",
                offered.join(", "),
                supported.join(", ")
            ),
        )
    })
}

/// Answer `101 Switching Protocols` to the client whose key is `key`, naming `protocol`
/// (none when empty).
pub(super) fn accept(s: &mut Socket, key: &str, protocol: &str) -> std::io::Result<()> {
    let accept = derive_accept_key(key.as_bytes());
    let mut headers = vec![("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", &accept)];
    if !protocol.is_empty() {
        headers.push(("Sec-WebSocket-Protocol", protocol));
    }
    http::switching_protocols(s, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: &str, headers: &[(&str, &str)]) -> Head {
        Head {
            method: method.into(),
            path: "/exec/t".into(),
            query: String::new(),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        }
    }

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    #[test]
    fn checks_method_version_and_key() {
        let ok = head("GET", &[("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", KEY)]);
        assert_eq!(check(&ok).unwrap(), KEY);
        let post = head("POST", &[("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", KEY)]);
        assert_eq!(check(&post).unwrap_err().code, 405);
        let v8 = head("GET", &[("Sec-WebSocket-Version", "8"), ("Sec-WebSocket-Key", KEY)]);
        assert_eq!(check(&v8).unwrap_err().code, 426);
        let short = head("GET", &[("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", "c2hvcnQ=")]);
        assert_eq!(check(&short).unwrap_err().code, 400);
        let none = head("GET", &[("Sec-WebSocket-Version", "13")]);
        assert_eq!(check(&none).unwrap_err().code, 400);
    }

    #[test]
    fn the_accept_key_is_rfc_6455s() {
        // The example of RFC 6455 §1.3.
        assert_eq!(derive_accept_key(KEY.as_bytes()), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn the_clients_first_supported_protocol_wins() {
        let supported = ["v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io", ""];
        let offer = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(choose(&offer(&["v4.channel.k8s.io", "v5.channel.k8s.io"]), &supported), Ok("v4.channel.k8s.io"));
        assert_eq!(choose(&offer(&["v9.channel.k8s.io", "channel.k8s.io"]), &supported), Ok("channel.k8s.io"));
        assert_eq!(choose(&[], &supported), Ok(""));
        let r = choose(&offer(&["v9.channel.k8s.io"]), &supported).unwrap_err();
        assert_eq!(r.code, 403);
        assert!(r.message.contains("v9.channel.k8s.io"), "{}", r.message);
        assert_eq!(choose(&[], &supported[..2]).unwrap_err().code, 403);
    }
}
