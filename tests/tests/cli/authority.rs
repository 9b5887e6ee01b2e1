//! gRPC requests written frame by frame, for what tonic's client cannot do, with the answers
//! decoded with an HPACK decoder:
//! - isulad's unix socket serves gRPC clients that send the socket path as the HTTP/2
//!   `:authority` (kubelet 1.29's gRPC client, grpc-java, …), which h2 alone resets with
//!   PROTOCOL_ERROR; tonic's client cannot send an invalid authority;
//! - a call whose `grpc-timeout` passes ends with DEADLINE_EXCEEDED; tonic's client would
//!   end it itself (with CANCELLED) before the server's answer could be seen.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use k8s_cri::v1 as cri;
use loona_hpack::Decoder;
use prost::Message;

use crate::cli_support::Daemon;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut o = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    o.extend_from_slice(&[kind, flags]);
    o.extend_from_slice(&stream.to_be_bytes());
    o.extend_from_slice(payload);
    o
}

/// An HPACK integer with a `prefix`-bit prefix after the `high` bits (RFC 7541 §5.1).
fn int(o: &mut Vec<u8>, mut v: usize, prefix: u32, high: u8) {
    let max = (1usize << prefix) - 1;
    if v < max {
        o.push(high | v as u8);
        return;
    }
    o.push(high | max as u8);
    v -= max;
    while v >= 0x80 {
        o.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    o.push(v as u8);
}

fn string(o: &mut Vec<u8>, s: &[u8]) {
    int(o, s.len(), 7, 0);
    o.extend_from_slice(s);
}

/// A literal field with incremental indexing and a literal name (RFC 7541 §6.2.1).
fn indexed_literal(o: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    o.push(0x40);
    string(o, name);
    string(o, value);
}

/// A literal field without indexing whose name is static table entry `index` (§6.2.2).
fn plain_literal(o: &mut Vec<u8>, index: usize, value: &[u8]) {
    int(o, index, 4, 0);
    string(o, value);
}

/// A gRPC message frame (not compressed) holding `msg`.
fn grpc_message(msg: &impl Message) -> Vec<u8> {
    let body = msg.encode_to_vec();
    let mut o = vec![0];
    o.extend_from_slice(&(body.len() as u32).to_be_bytes());
    o.extend_from_slice(&body);
    o
}

/// What came back on one stream.
#[derive(Default, Debug)]
struct Answer {
    headers: Vec<HashMap<String, String>>,
    data: Vec<u8>,
    done: bool,
}

/// Read frames until every stream in `streams` has ended, acknowledging the server's
/// SETTINGS; a reset or GOAWAY fails the test.
fn answers(s: &mut UnixStream, streams: &[u32]) -> HashMap<u32, Answer> {
    let mut hpack = Decoder::new();
    let mut out: HashMap<u32, Answer> = HashMap::new();
    let mut block = Vec::new();
    while !streams.iter().all(|id| out.get(id).is_some_and(|a| a.done)) {
        let mut h = [0u8; 9];
        s.read_exact(&mut h).expect("read a frame header");
        let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
        let (kind, flags) = (h[3], h[4]);
        let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
        let mut payload = vec![0; len];
        s.read_exact(&mut payload).expect("read a frame payload");
        match kind {
            SETTINGS if flags & ACK == 0 => s.write_all(&frame(SETTINGS, ACK, 0, &[])).unwrap(),
            RST_STREAM => panic!("stream {stream} reset with error code {:?}", &payload[..]),
            GOAWAY => panic!("GOAWAY: {payload:?} ({})", String::from_utf8_lossy(payload.get(8..).unwrap_or_default())),
            DATA => out.entry(stream).or_default().data.extend_from_slice(&payload),
            HEADERS | CONTINUATION => {
                // The server sends no padding or priority.
                block.extend_from_slice(&payload);
                if flags & END_HEADERS != 0 {
                    let fields = hpack.decode(&block).expect("decode the answer's headers");
                    block.clear();
                    let fields = fields
                        .into_iter()
                        .map(|(n, v)| (String::from_utf8(n).unwrap(), String::from_utf8(v).unwrap()))
                        .collect();
                    out.entry(stream).or_default().headers.push(fields);
                }
            }
            _ => {}
        }
        if flags & END_STREAM != 0 && matches!(kind, DATA | HEADERS) {
            out.entry(stream).or_default().done = true;
        }
    }
    out
}

#[test]
fn a_socket_path_authority_is_served() {
    let d = Daemon::start();
    let sock = d.sock.to_str().unwrap().as_bytes().to_vec();
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();

    let mut w = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    w.extend(frame(SETTINGS, 0, 0, &[]));
    let body = grpc_message(&cri::VersionRequest { version: "v1".into() });
    // Stream 1: POST, http (static 3 and 6), :path; the socket path as :authority, the
    // content type and te indexed into the dynamic table, as Go's gRPC client does.
    let mut b1 = vec![0x83, 0x86];
    plain_literal(&mut b1, 4, b"/runtime.v1.RuntimeService/Version");
    indexed_literal(&mut b1, b":authority", &sock);
    indexed_literal(&mut b1, b"content-type", b"application/grpc");
    indexed_literal(&mut b1, b"te", b"trailers");
    w.extend(frame(HEADERS, END_HEADERS, 1, &b1));
    w.extend(frame(DATA, END_STREAM, 1, &body));
    // Stream 3 refers to those entries: 64 :authority, 63 content-type, 62 te.
    let mut b3 = vec![0x83, 0x86];
    plain_literal(&mut b3, 4, b"/runtime.v1.RuntimeService/Version");
    b3.extend_from_slice(&[0x80 | 64, 0x80 | 63, 0x80 | 62]);
    w.extend(frame(HEADERS, END_HEADERS, 3, &b3));
    w.extend(frame(DATA, END_STREAM, 3, &body));
    s.write_all(&w).unwrap();

    let got = answers(&mut s, &[1, 3]);
    for id in [1, 3] {
        let a = &got[&id];
        assert_eq!(a.headers[0].get(":status").map(String::as_str), Some("200"), "stream {id}: {a:?}");
        let status = a.headers.iter().find_map(|h| h.get("grpc-status")).map(String::as_str);
        assert_eq!(status, Some("0"), "stream {id}: {a:?}");
        assert!(a.data.len() >= 5 && a.data[0] == 0, "stream {id}: {a:?}");
        let v = cri::VersionResponse::decode(&a.data[5..]).expect("a VersionResponse");
        assert_eq!(v.runtime_name, "isulad");
        assert_eq!(v.runtime_api_version, "v1");
    }
}

#[test]
fn a_call_past_its_grpc_timeout_ends_with_deadline_exceeded() {
    let d = Daemon::start();
    // A "registry" that accepts connections and never answers: the pull hangs.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let image = format!("{}/slow/image:1", silent.local_addr().unwrap());
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    w.extend(frame(SETTINGS, 0, 0, &[]));
    let mut b = vec![0x83, 0x86];
    plain_literal(&mut b, 4, b"/runtime.v1.ImageService/PullImage");
    indexed_literal(&mut b, b":authority", b"localhost");
    indexed_literal(&mut b, b"content-type", b"application/grpc");
    indexed_literal(&mut b, b"te", b"trailers");
    indexed_literal(&mut b, b"grpc-timeout", b"300m");
    w.extend(frame(HEADERS, END_HEADERS, 1, &b));
    let req =
        cri::PullImageRequest { image: Some(cri::ImageSpec { image, ..Default::default() }), ..Default::default() };
    w.extend(frame(DATA, END_STREAM, 1, &grpc_message(&req)));
    let t0 = std::time::Instant::now();
    s.write_all(&w).unwrap();
    let got = answers(&mut s, &[1]);
    let a = &got[&1];
    let status = a.headers.iter().find_map(|h| h.get("grpc-status")).map(String::as_str);
    assert_eq!(status, Some("4"), "DEADLINE_EXCEEDED wanted: {a:?}");
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(250) && took < Duration::from_secs(10), "{took:?}");
    drop(silent);
}
