//! Just enough HTTP/1.1 for the streaming server: read a request head (request line and
//! headers, bounded), answer with a status or a `101 Switching Protocols`.

use std::io::{Read, Write};

/// Longest request head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// A parsed request head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Head {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The raw query (after `?`), empty when none.
    pub query: String,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`, comma-separated lists split and trimmed.
    pub(crate) fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Whether `Connection` lists `upgrade` and `Upgrade` lists `protocol` (case-insensitive).
    pub(crate) fn upgrades_to(&self, protocol: &str) -> bool {
        self.header_values("Connection").iter().any(|v| v.eq_ignore_ascii_case("upgrade"))
            && self.header_values("Upgrade").iter().any(|v| v.eq_ignore_ascii_case(protocol))
    }

    /// Every value of query parameter `key`, percent-decoded.
    pub(crate) fn query_values(&self, key: &str) -> Vec<String> {
        self.query
            .split('&')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (percent_decode(k) == key).then(|| percent_decode(v))
            })
            .collect()
    }
}

/// `%XX` and `+` decoding of a query component (bad escapes are kept as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a head could not be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// The connection failed or closed first.
    Io(std::io::Error),
    /// Not an HTTP/1.1 request head (or too long).
    Malformed(String),
}

/// Read a request head from `r`. Returns it and the bytes read past its end (the start
/// of the upgraded protocol, if the client did not wait for the answer).
pub(crate) fn read_head(r: &mut impl Read) -> Result<(Head, Vec<u8>), HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let end = loop {
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            break p;
        }
        if buf.len() > MAX_HEAD {
            return Err(HeadError::Malformed(format!("request head longer than {MAX_HEAD} bytes")));
        }
        let n = r.read(&mut chunk).map_err(HeadError::Io)?;
        if n == 0 {
            return Err(HeadError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let rest = buf[end + 4..].to_vec();
    let text =
        std::str::from_utf8(&buf[..end]).map_err(|_| HeadError::Malformed("request head is not UTF-8".into()))?;
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed(format!("bad request line {line:?}")));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(HeadError::Malformed(format!("unsupported HTTP version {version:?}")));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    for l in lines {
        let (n, v) = l.split_once(':').ok_or_else(|| HeadError::Malformed(format!("bad header line {l:?}")))?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    Ok((Head { method: method.into(), path: path.into(), query: query.into(), headers }, rest))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Write a complete plain-text answer (`Connection: close`).
pub(crate) fn respond(w: &mut impl Write, code: u16, reason: &str, body: &str) -> std::io::Result<()> {
    let msg = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    w.write_all(msg.as_bytes())?;
    w.flush()
}

/// Write `101 Switching Protocols` with `headers` (Connection and Upgrade included by the caller).
pub(crate) fn switching_protocols(w: &mut impl Write, headers: &[(&str, &str)]) -> std::io::Result<()> {
    let mut msg = String::from("HTTP/1.1 101 Switching Protocols\r\n");
    for (n, v) in headers {
        msg.push_str(&format!("{n}: {v}\r\n"));
    }
    msg.push_str("\r\n");
    w.write_all(msg.as_bytes())?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_head_and_keeps_what_follows() {
        let raw = b"POST /exec/abc?command=ls&command=-l%20a&tty=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Stream-Protocol-Version: v3.channel.k8s.io, v2.channel.k8s.io\r\n\r\n\x80\x03";
        let (h, rest) = read_head(&mut &raw[..]).unwrap();
        assert_eq!((h.method.as_str(), h.path.as_str()), ("POST", "/exec/abc"));
        assert_eq!(h.query_values("command"), ["ls", "-l a"]);
        assert!(h.upgrades_to("spdy/3.1"));
        assert!(!h.upgrades_to("websocket"));
        assert_eq!(
            h.header_values("x-stream-protocol-version"),
            ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io"]
        );
        assert_eq!(rest, b"\x80\x03");
    }

    #[test]
    fn refuses_garbage() {
        assert!(matches!(read_head(&mut &b"hello\r\n\r\n"[..]), Err(HeadError::Malformed(_))));
        assert!(matches!(read_head(&mut &b"GET / HTTP/1.1\r\nHost"[..]), Err(HeadError::Io(_))));
        let long = vec![b'a'; MAX_HEAD + 10];
        assert!(matches!(read_head(&mut &long[..]), Err(HeadError::Malformed(_))));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb+c%zz%4"), "a/b c%zz%4");
    }
}
