//! Unit tests of the `:authority` rewriter: byte streams in, what h2 would decode out.

use super::*;

const SOCK: &[u8] = b"/run/isulad.sock";
const DATA: u8 = 0x0;
const SETTINGS: u8 = 0x4;

/// One HPACK string literal, raw or Huffman-coded.
fn string(out: &mut Vec<u8>, s: &[u8], huffman: bool) {
    if huffman {
        let h = huffman_encode(s);
        encode_int(out, h.len(), 7, 0x80);
        out.extend_from_slice(&h);
    } else {
        encode_int(out, s.len(), 7, 0x00);
        out.extend_from_slice(s);
    }
}

/// Huffman coding (RFC 7541 Appendix B) of the few characters the tests use.
fn huffman_encode(s: &[u8]) -> Vec<u8> {
    let code = |c: u8| -> (u32, u32) {
        match c {
            b'/' => (0x18, 6),
            b'.' => (0x17, 6),
            b'a' => (0x3, 5),
            b'c' => (0x4, 5),
            b'd' => (0x24, 6),
            b'i' => (0x6, 5),
            b'k' => (0x75, 7),
            b'l' => (0x28, 6),
            b'n' => (0x2a, 6),
            b'o' => (0x7, 5),
            b'r' => (0x2c, 6),
            b's' => (0x8, 5),
            b'u' => (0x2d, 6),
            _ => panic!("no code for {c}"),
        }
    };
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u64, 0u32);
    for &c in s {
        let (v, n) = code(c);
        acc = acc << n | u64::from(v);
        bits += n;
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        // Pad with the most significant bits of EOS (all ones).
        out.push((acc << (8 - bits)) as u8 | (0xff >> bits));
    }
    out
}

/// Header field representations (RFC 7541 §6).
enum F<'a> {
    /// Indexed field.
    Idx(usize),
    /// Literal with incremental indexing, literal name.
    Inc(&'a [u8], &'a [u8]),
    /// Literal with incremental indexing, Huffman-coded value, name by index.
    IncHuff(usize, &'a [u8]),
    /// Literal without indexing, name by index.
    NoIdx(usize, &'a [u8]),
    /// Dynamic table size update.
    Size(usize),
}

fn hpack(fields: &[F<'_>]) -> Vec<u8> {
    let mut o = Vec::new();
    for f in fields {
        match *f {
            F::Idx(i) => encode_int(&mut o, i, 7, 0x80),
            F::Inc(n, v) => {
                o.push(0x40);
                string(&mut o, n, false);
                string(&mut o, v, false);
            }
            F::IncHuff(i, v) => {
                encode_int(&mut o, i, 6, 0x40);
                string(&mut o, v, true);
            }
            F::NoIdx(i, v) => {
                encode_int(&mut o, i, 4, 0x00);
                string(&mut o, v, false);
            }
            F::Size(s) => encode_int(&mut o, s, 5, 0x20),
        }
    }
    o
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut o = Vec::new();
    frame_header(&mut o, payload.len(), kind, flags, stream);
    o.extend_from_slice(payload);
    o
}

/// A gRPC-like request's fields (static indexes: 3 POST, 6 http, 4 :path, 1 :authority).
fn request(authority: &[u8]) -> Vec<u8> {
    hpack(&[
        F::Idx(3),
        F::Idx(6),
        F::NoIdx(4, b"/runtime.v1.RuntimeService/Version"),
        F::NoIdx(1, authority),
        F::Inc(b"content-type", b"application/grpc"),
        F::Inc(b"te", b"trailers"),
    ])
}

fn connection(rest: &[Vec<u8>]) -> Vec<u8> {
    let mut o = PREFACE.to_vec();
    o.extend(frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]));
    for r in rest {
        o.extend_from_slice(r);
    }
    o
}

fn rewrite_all(input: &[u8]) -> (Vec<u8>, bool) {
    let mut r = Rewriter::new();
    let mut out = Vec::new();
    r.feed(input, &mut out);
    r.finish(&mut out);
    (out, r.rewrote())
}

/// A frame as h2 sees it: type, flags, stream, and for header blocks the decoded fields.
#[derive(Debug, PartialEq)]
struct Seen {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
    fields: Vec<(String, String)>,
}

/// Decode what the rewriter passed on like h2 does: the preface, then frames, header blocks
/// (HEADERS + CONTINUATIONs, padding and priority removed) through one stateful decoder.
fn h2_view(bytes: &[u8]) -> Vec<Seen> {
    assert_eq!(&bytes[..24], PREFACE);
    let mut hp = Decoder::new();
    let (mut seen, mut rest) = (Vec::<Seen>::new(), &bytes[24..]);
    let mut block = Vec::new();
    while !rest.is_empty() {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        let (kind, flags) = (rest[3], rest[4]);
        let stream = u32::from_be_bytes(rest[5..9].try_into().unwrap());
        let payload = &rest[9..9 + len];
        rest = &rest[9 + len..];
        match kind {
            HEADERS => {
                let (_, range) = headers_fragment(payload, flags).unwrap();
                block.extend_from_slice(&payload[range]);
            }
            CONTINUATION => block.extend_from_slice(payload),
            _ => {
                seen.push(Seen { kind, flags, stream, payload: payload.to_vec(), fields: Vec::new() });
                continue;
            }
        }
        if kind == HEADERS {
            seen.push(Seen { kind, flags, stream, payload: payload.to_vec(), fields: Vec::new() });
        }
        if flags & END_HEADERS != 0 {
            let fields = hp.decode(&block).unwrap();
            block.clear();
            seen.last_mut().unwrap().fields = fields
                .into_iter()
                .map(|(n, v)| (String::from_utf8_lossy(&n).into_owned(), String::from_utf8_lossy(&v).into_owned()))
                .collect();
        }
    }
    seen
}

fn fields(s: &Seen) -> Vec<(&str, &str)> {
    s.fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

fn authority(s: &Seen) -> &str {
    s.fields.iter().find(|(n, _)| n == ":authority").map(|(_, v)| v.as_str()).unwrap()
}

#[test]
fn valid_authorities_pass_through_byte_for_byte() {
    let input = connection(&[
        frame(HEADERS, END_HEADERS, 1, &request(b"localhost")),
        frame(DATA, END_STREAM, 1, &[0, 0, 0, 0, 0]),
        frame(HEADERS, END_HEADERS | END_STREAM, 3, &request(b"127.0.0.1:10250")),
        frame(HEADERS, END_HEADERS | END_STREAM, 5, &request(b"[::1]:80")),
    ]);
    let (out, rewrote) = rewrite_all(&input);
    assert_eq!(out, input);
    assert!(!rewrote);
}

#[test]
fn a_socket_path_authority_becomes_localhost() {
    let input =
        connection(&[frame(HEADERS, END_HEADERS, 1, &request(SOCK)), frame(DATA, END_STREAM, 1, &[0, 0, 0, 0, 0])]);
    let (out, rewrote) = rewrite_all(&input);
    assert!(rewrote);
    let seen = h2_view(&out);
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[0].kind, SETTINGS);
    assert_eq!((seen[1].kind, seen[1].flags, seen[1].stream), (HEADERS, END_HEADERS, 1));
    assert_eq!(
        fields(&seen[1]),
        [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/runtime.v1.RuntimeService/Version"),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ]
    );
    assert_eq!((seen[2].kind, seen[2].flags, &seen[2].payload[..]), (DATA, END_STREAM, &[0u8, 0, 0, 0, 0][..]));
}

#[test]
fn split_at_every_byte_boundary_gives_the_same_bytes() {
    let big = vec![b'x'; 20_000];
    let mut block = request(SOCK);
    block.extend(hpack(&[F::Inc(b"x-big", &big)]));
    let (a, b) = block.split_at(100);
    let input = connection(&[
        frame(HEADERS, END_HEADERS, 1, &request(b"localhost")),
        frame(DATA, 0, 1, &[0, 0, 0, 0, 3, 1, 2, 3]),
        frame(DATA, END_STREAM, 1, &[]),
        frame(HEADERS, 0, 3, a),
        frame(CONTINUATION, 0, 3, &[]),
        frame(CONTINUATION, END_HEADERS, 3, b),
        frame(HEADERS, END_HEADERS | END_STREAM, 5, &request(SOCK)),
    ]);
    let (whole, _) = rewrite_all(&input);
    for cut in 1..input.len() {
        let mut r = Rewriter::new();
        let mut out = Vec::new();
        r.feed(&input[..cut], &mut out);
        r.feed(&input[cut..], &mut out);
        assert!(out == whole, "differs when cut at {cut}");
    }
    let mut r = Rewriter::new();
    let mut out = Vec::new();
    for b in &input {
        r.feed(std::slice::from_ref(b), &mut out);
    }
    assert!(out == whole, "differs when fed byte by byte");
    let seen = h2_view(&whole);
    let heads: Vec<_> = seen.iter().filter(|s| s.kind == HEADERS).collect();
    assert_eq!(heads.len(), 3);
    assert_eq!(authority(heads[0]), "localhost");
    assert_eq!(authority(heads[1]), "localhost");
    assert_eq!(heads[1].fields.last().unwrap(), &("x-big".to_string(), "x".repeat(20_000)));
    assert_eq!(authority(heads[2]), "localhost");
    assert_eq!(heads[2].flags & END_STREAM, END_STREAM);
}

#[test]
fn a_block_over_the_frame_size_goes_out_as_headers_and_continuations() {
    let big = vec![b'y'; 40_000];
    let mut block = request(SOCK);
    block.extend(hpack(&[F::NoIdx(58, &big)])); // user-agent
    let (a, b) = block.split_at(16_000);
    let input = connection(&[frame(HEADERS, END_STREAM, 1, a), frame(CONTINUATION, END_HEADERS, 1, b)]);
    let (out, rewrote) = rewrite_all(&input);
    assert!(rewrote);
    // Frame by frame: HEADERS (END_STREAM, no END_HEADERS), CONTINUATIONs, the last ending it.
    let mut rest = &out[24 + 15..];
    let mut kinds = Vec::new();
    while !rest.is_empty() {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        assert!(len <= MAX_FRAME);
        kinds.push((rest[3], rest[4]));
        rest = &rest[9 + len..];
    }
    assert_eq!(kinds, [(HEADERS, END_STREAM), (CONTINUATION, 0), (CONTINUATION, END_HEADERS)]);
    let seen = h2_view(&out);
    assert_eq!(authority(&seen[1]), "localhost");
    assert_eq!(seen[1].fields.last().unwrap(), &("user-agent".to_string(), "y".repeat(40_000)));
}

#[test]
fn padding_is_dropped_and_priority_kept() {
    let block = request(SOCK);
    let mut payload = vec![7u8]; // pad length
    payload.extend_from_slice(&[0x80, 0, 0, 1, 200]); // exclusive, depends on 1, weight 201
    payload.extend_from_slice(&block);
    payload.extend_from_slice(&[0; 7]);
    let input = connection(&[frame(HEADERS, END_HEADERS | PADDED | PRIORITY | END_STREAM, 3, &payload)]);
    let (out, _) = rewrite_all(&input);
    let seen = h2_view(&out);
    assert_eq!(seen[1].flags, END_HEADERS | PRIORITY | END_STREAM);
    assert_eq!(&seen[1].payload[..5], &[0x80, 0, 0, 1, 200]);
    assert_eq!(authority(&seen[1]), "localhost");
    assert_eq!(seen[1].fields.len(), 6);
}

#[test]
fn a_huffman_coded_authority_is_recognized() {
    let block = hpack(&[F::Idx(3), F::Idx(6), F::NoIdx(4, b"/x"), F::IncHuff(1, SOCK)]);
    // The coding round-trips (checks the test's own Huffman table).
    assert_eq!(Decoder::new().decode(&block).unwrap()[3].1, SOCK);
    let input = connection(&[frame(HEADERS, END_HEADERS, 1, &block)]);
    let (out, rewrote) = rewrite_all(&input);
    assert!(rewrote);
    assert_eq!(authority(&h2_view(&out)[1]), "localhost");
}

#[test]
fn dynamic_table_references_across_requests_stay_right() {
    // 1: valid, passed through as is: h2's table gets the client's entries.
    let r1 = hpack(&[F::Idx(3), F::Inc(b"x-one", b"1"), F::NoIdx(4, b"/a"), F::Inc(b":authority", b"localhost")]);
    // 2: refers to 1's entries (62 = newest = :authority localhost, 63 = x-one) and indexes
    // a socket path authority (a size update first, as encoders may send).
    let r2 = hpack(&[F::Size(4096), F::Idx(3), F::Idx(63), F::NoIdx(4, b"/b"), F::Inc(b":authority", SOCK)]);
    // 3: refers to the path (62), to 1's entries (63, 64) and indexes more; 4: refers to 3's.
    let r3 = hpack(&[F::Idx(3), F::Idx(62), F::Idx(63), F::Idx(64), F::NoIdx(4, b"/c"), F::Inc(b"x-three", b"3")]);
    let r4 = hpack(&[F::Idx(3), F::Idx(62), F::Idx(63), F::NoIdx(4, b"/d")]);
    let input = connection(&[
        frame(HEADERS, END_HEADERS | END_STREAM, 1, &r1),
        frame(HEADERS, END_HEADERS | END_STREAM, 3, &r2),
        frame(HEADERS, END_HEADERS | END_STREAM, 5, &r3),
        frame(HEADERS, END_HEADERS | END_STREAM, 7, &r4),
    ]);
    let (out, rewrote) = rewrite_all(&input);
    assert!(rewrote);
    // The first block went through unchanged.
    assert_eq!(out[..24 + 15 + 9 + r1.len()], input[..24 + 15 + 9 + r1.len()]);
    let seen = h2_view(&out);
    let m = (":method", "POST");
    assert_eq!(fields(&seen[1]), [m, ("x-one", "1"), (":path", "/a"), (":authority", "localhost")]);
    assert_eq!(fields(&seen[2]), [m, ("x-one", "1"), (":path", "/b"), (":authority", "localhost")]);
    assert_eq!(
        fields(&seen[3]),
        [
            m,
            (":authority", "localhost"),
            (":authority", "localhost"),
            ("x-one", "1"),
            (":path", "/c"),
            ("x-three", "3")
        ]
    );
    assert_eq!(fields(&seen[4]), [m, ("x-three", "3"), (":authority", "localhost"), (":path", "/d")]);
}

#[test]
fn garbled_streams_pass_through_unchanged() {
    let block = request(SOCK);
    let (a, b) = block.split_at(10);
    // A DATA frame inside a header block.
    let input =
        connection(&[frame(HEADERS, 0, 1, a), frame(DATA, 0, 1, b"abc"), frame(CONTINUATION, END_HEADERS, 1, b)]);
    assert_eq!(rewrite_all(&input).0, input);
    // A CONTINUATION of another stream.
    let input = connection(&[frame(HEADERS, 0, 1, a), frame(CONTINUATION, END_HEADERS, 3, b)]);
    assert_eq!(rewrite_all(&input).0, input);
    // An HPACK reference past the tables, after which a socket path is not rewritten.
    let input =
        connection(&[frame(HEADERS, END_HEADERS, 1, &hpack(&[F::Idx(70)])), frame(HEADERS, END_HEADERS, 3, &block)]);
    assert_eq!(rewrite_all(&input).0, input);
    // Padding longer than the frame.
    let input = connection(&[frame(HEADERS, END_HEADERS | PADDED, 1, &[200, 1, 2])]);
    assert_eq!(rewrite_all(&input).0, input);
    // Not HTTP/2 at all.
    let input = b"GET / HTTP/1.1\r\nHost: /run/isulad.sock\r\n\r\n".to_vec();
    assert_eq!(rewrite_all(&input).0, input);
}

#[test]
fn held_bytes_go_out_when_the_client_closes() {
    let input = connection(&[frame(HEADERS, END_HEADERS, 1, &request(SOCK))]);
    for cut in 24..input.len() {
        let mut r = Rewriter::new();
        let mut out = Vec::new();
        r.feed(&input[..cut], &mut out);
        r.finish(&mut out);
        assert_eq!(out, input[..cut], "cut at {cut}");
    }
}

#[test]
fn authority_validity() {
    for ok in ["localhost", "localhost:80", "a-b.c_d~e", "127.0.0.1:65535", "[::1]", "[fe80::1]:10250", "x!$&'()*+,;="]
    {
        assert!(valid_authority(ok.as_bytes()), "{ok}");
    }
    for bad in [
        "",
        "/run/isulad.sock",
        "run/x.sock",
        "%2Frun%2Fx.sock",
        "unix:///x",
        "host:",
        "host:80:90",
        "host:8a",
        "user@host",
        "[::1",
        "[]",
        "[::1]x",
        "a b",
        "h\u{e9}",
    ] {
        assert!(!valid_authority(bad.as_bytes()), "{bad}");
    }
}

#[test]
fn integers_encode_per_rfc7541() {
    // RFC 7541 C.1.1-C.1.3.
    let mut o = Vec::new();
    encode_int(&mut o, 10, 5, 0);
    encode_int(&mut o, 1337, 5, 0);
    encode_int(&mut o, 42, 8, 0);
    assert_eq!(o, [10, 31, 154, 10, 42]);
}

#[test]
fn random_header_blocks_never_panic_and_pass_unchanged_unless_they_decode() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..20_000 {
        let n = (next() % 48) as usize;
        let mut block: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        if next() % 2 == 0 {
            block.splice(0..0, request(SOCK));
        }
        let input =
            connection(&[frame(HEADERS, END_HEADERS, 1, &block), frame(HEADERS, END_HEADERS, 3, &request(SOCK))]);
        let mut reference = Decoder::new();
        reference.set_max_allowed_table_size(MAX_TABLE);
        let (out, _) = rewrite_all(&input);
        if reference.decode(&block).is_ok() {
            let seen = h2_view(&out);
            assert_eq!(authority(&seen[2]), "localhost", "block {block:?}");
        } else {
            assert!(out == input, "block {block:?}");
        }
    }
}
