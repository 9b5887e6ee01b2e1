//! Rewriting a client's HTTP/2 `:authority` that is not a valid authority (the unix socket
//! path that older gRPC clients send, e.g. `/run/isulad.sock`) to `localhost`, so that h2
//! does not reset every stream with PROTOCOL_ERROR ("malformed authority").
//!
//! [`Rewriter`] sees the client→server bytes of one connection: it passes the connection
//! preface through, then parses frames (9-byte header: length, type, flags, stream id).
//! Every frame but HEADERS (and its CONTINUATIONs) is copied through as it arrives, without
//! being held or decoded (DATA payloads are streamed). A header block is held until its
//! END_HEADERS, then decoded with an HPACK decoder that follows the client's dynamic table.
//!
//! # The HPACK invariant
//!
//! h2's decoder must always end up with the same headers the client encoded (but for the
//! authority), although it sees different bytes once a block was rewritten:
//! - Until the first block that needs a new authority, every block goes through byte for
//!   byte, so h2's dynamic table and ours (and the client's encoder's) stay identical.
//! - From that block on, EVERY block is re-encoded, each field as a literal without
//!   indexing with a literal name and no Huffman coding. Such a block neither reads nor
//!   changes h2's dynamic table, so h2's table stays frozen as it was, and the meaning of
//!   every re-encoded block is self-contained. Our decoder keeps following the client's
//!   table (indexing, evictions, size updates), which is what the client's later blocks
//!   refer to. Dynamic table size updates are consumed by our decoder and not forwarded
//!   (h2's frozen table is never referred to, so its size does not matter).
//!
//! Field order is kept; only the `:authority` value changes. A re-encoded block goes out as
//! one HEADERS frame (END_STREAM and the priority fields kept, padding dropped), split into
//! CONTINUATIONs of at most 16384 bytes, the smallest max frame size any peer must accept.
//! Fields the client sent as never-indexed lose that mark, which only matters to proxies
//! (h2 is the last hop).
//!
//! Cost when no block needs rewriting (every client that sends a valid authority): the bytes
//! are copied once more (see `stream.rs`), and each header block is held until complete,
//! HPACK-decoded once more than h2 does and copied into a reused buffer.
//!
//! Garbled input (a frame other than CONTINUATION inside a header block, bad padding, an
//! HPACK error, a block over [`MAX_BLOCK`]) ends the rewriting: the bytes held so far and
//! everything after go through unchanged, and h2 rejects them as it would have anyway.

use loona_hpack::Decoder;

/// The client connection preface (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Frame types and flags (RFC 9113 §6).
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// The largest frame payload emitted: the default (and minimum) SETTINGS_MAX_FRAME_SIZE.
const MAX_FRAME: usize = 16_384;
/// The most bytes of one header block (frames included) held before giving up: far above
/// the 16 KiB header list that hyper's h2 accepts.
const MAX_BLOCK: usize = 1 << 20;
/// The largest dynamic table a client may ask for (h2 allows 4096 unless configured).
const MAX_TABLE: usize = 1 << 16;
/// What an invalid authority becomes.
const REPLACEMENT: &[u8] = b"localhost";

/// Where the parser is in the byte stream.
#[derive(Clone, Copy)]
enum State {
    /// Passing the connection preface; this many bytes of it seen.
    Preface(usize),
    /// Reading a frame header; `have` bytes of it in `buf`.
    Header { buf: [u8; 9], have: usize },
    /// Copying this many more payload bytes of a frame through.
    Copy(usize),
    /// Holding this many more payload bytes of a HEADERS or CONTINUATION frame that starts
    /// at `start` in the held block.
    Hold { start: usize, need: usize },
    /// Given up (garbled stream): everything goes through unchanged.
    Through,
}

/// The frames of one header block being held.
#[derive(Default)]
struct Block {
    /// The frames as received.
    raw: Vec<u8>,
    /// Their header block fragments, concatenated.
    fragment: Vec<u8>,
    /// The stream and HEADERS flags of the first frame.
    stream: u32,
    flags: u8,
    /// The HEADERS priority fields (exclusive bit + dependency, weight), when flagged.
    priority: Option<[u8; 5]>,
    /// A HEADERS frame without END_HEADERS was seen: CONTINUATIONs must follow.
    open: bool,
}

/// The client→server byte rewriter of one connection (see the module doc).
pub(crate) struct Rewriter {
    state: State,
    hpack: Decoder<'static>,
    block: Block,
    /// Re-encoding of the current block (reused).
    encoded: Vec<u8>,
    /// A block was re-encoded: all later ones are too.
    rewriting: bool,
}

impl Rewriter {
    /// A rewriter at the start of a connection.
    pub(crate) fn new() -> Rewriter {
        let mut hpack = Decoder::new();
        hpack.set_max_allowed_table_size(MAX_TABLE);
        Rewriter { state: State::Preface(0), hpack, block: Block::default(), encoded: Vec::new(), rewriting: false }
    }

    /// Whether some header block has been rewritten on this connection.
    #[cfg(test)]
    pub(crate) fn rewrote(&self) -> bool {
        self.rewriting
    }

    /// Take the next bytes read from the client; append what to pass on to `out` (bytes of an
    /// incomplete frame header or header block are held back).
    pub(crate) fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            match &mut self.state {
                State::Through => {
                    out.extend_from_slice(input);
                    return;
                }
                State::Preface(seen) => {
                    let n = input.len().min(PREFACE.len() - *seen);
                    if input[..n] != PREFACE[*seen..*seen + n] {
                        self.state = State::Through;
                        continue;
                    }
                    out.extend_from_slice(&input[..n]);
                    *seen += n;
                    if *seen == PREFACE.len() {
                        self.state = State::Header { buf: [0; 9], have: 0 };
                    }
                    input = &input[n..];
                }
                State::Header { buf, have } => {
                    let n = input.len().min(9 - *have);
                    buf[*have..*have + n].copy_from_slice(&input[..n]);
                    *have += n;
                    input = &input[n..];
                    if *have == 9 {
                        let header = *buf;
                        self.frame_header(header, out);
                    }
                }
                State::Copy(left) => {
                    let n = input.len().min(*left);
                    out.extend_from_slice(&input[..n]);
                    *left -= n;
                    input = &input[n..];
                    if *left == 0 {
                        self.state = State::Header { buf: [0; 9], have: 0 };
                    }
                }
                State::Hold { start, need } => {
                    let n = input.len().min(*need);
                    self.block.raw.extend_from_slice(&input[..n]);
                    *need -= n;
                    input = &input[n..];
                    if *need == 0 {
                        let start = *start;
                        self.held_frame(start, out);
                    }
                }
            }
        }
    }

    /// The client closed its side: pass on whatever is still held, unchanged.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if let State::Header { buf, have } = self.state {
            self.give_up(out);
            out.extend_from_slice(&buf[..have]);
        } else {
            self.give_up(out);
        }
    }

    /// Pass the held block on unchanged and stop parsing.
    fn give_up(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.block.raw);
        self.block = Block::default();
        self.state = State::Through;
    }

    /// A complete frame header.
    fn frame_header(&mut self, h: [u8; 9], out: &mut Vec<u8>) {
        let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
        let (kind, flags) = (h[3], h[4]);
        let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
        let holding = if self.block.open {
            // Only CONTINUATIONs of the same stream may follow (RFC 9113 §6.10).
            kind == CONTINUATION && stream == self.block.stream
        } else if kind == HEADERS {
            self.block.stream = stream;
            self.block.flags = flags;
            true
        } else {
            out.extend_from_slice(&h);
            self.state = if len == 0 { State::Header { buf: [0; 9], have: 0 } } else { State::Copy(len) };
            return;
        };
        if !holding || self.block.raw.len() + h.len() + len > MAX_BLOCK {
            self.give_up(out);
            out.extend_from_slice(&h);
            return;
        }
        let start = self.block.raw.len();
        self.block.raw.extend_from_slice(&h);
        self.state = State::Hold { start, need: len };
        if len == 0 {
            self.held_frame(start, out);
        }
    }

    /// A HEADERS or CONTINUATION frame is complete in the held block at `start`.
    fn held_frame(&mut self, start: usize, out: &mut Vec<u8>) {
        let b = &mut self.block;
        let (kind, flags) = (b.raw[start + 3], b.raw[start + 4]);
        let payload = &b.raw[start + 9..];
        let fragment = if kind == HEADERS {
            match headers_fragment(payload, flags) {
                Some((priority, range)) => {
                    b.priority = priority;
                    &payload[range]
                }
                None => return self.give_up(out),
            }
        } else {
            payload
        };
        b.fragment.extend_from_slice(fragment);
        self.state = State::Header { buf: [0; 9], have: 0 };
        if flags & END_HEADERS == 0 {
            b.open = true;
        } else {
            self.complete_block(out);
        }
    }

    /// The held header block is complete: decode it, then pass it on as received or
    /// re-encoded.
    fn complete_block(&mut self, out: &mut Vec<u8>) {
        self.encoded.clear();
        let mut replaced = false;
        let encoded = &mut self.encoded;
        let decoded = self.hpack.decode_with_cb(&self.block.fragment, |name, value| {
            if *name == *b":authority" && !valid_authority(&value) {
                replaced = true;
                encode_literal(encoded, &name, REPLACEMENT);
            } else {
                encode_literal(encoded, &name, &value);
            }
        });
        if decoded.is_err() {
            return self.give_up(out);
        }
        if replaced && !self.rewriting {
            log::debug!("rewriting a client's invalid :authority (a socket path?) to localhost");
        }
        self.rewriting |= replaced;
        if self.rewriting {
            let b = &self.block;
            write_block(out, b.stream, b.flags & END_STREAM, b.priority, &self.encoded);
        } else {
            out.extend_from_slice(&self.block.raw);
        }
        let mut raw = std::mem::take(&mut self.block.raw);
        let mut fragment = std::mem::take(&mut self.block.fragment);
        raw.clear();
        fragment.clear();
        self.block = Block { raw, fragment, ..Block::default() };
    }
}

/// The priority fields and the fragment range of a HEADERS payload, or None when its padding
/// or priority fields do not fit.
fn headers_fragment(payload: &[u8], flags: u8) -> Option<(Option<[u8; 5]>, std::ops::Range<usize>)> {
    let (mut from, mut to) = (0, payload.len());
    if flags & PADDED != 0 {
        let pad = usize::from(*payload.first()?);
        from = 1;
        to = to.checked_sub(pad).filter(|&t| t >= from)?;
    }
    let mut priority = None;
    if flags & PRIORITY != 0 {
        priority = Some(payload.get(from..from + 5).filter(|_| from + 5 <= to)?.try_into().ok()?);
        from += 5;
    }
    Some((priority, from..to))
}

/// Append a header field as a literal without indexing, literal name, no Huffman coding
/// (RFC 7541 §6.2.2).
fn encode_literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0x00);
    for s in [name, value] {
        encode_int(out, s.len(), 7, 0x00);
        out.extend_from_slice(s);
    }
}

/// Append an HPACK integer with an N-bit prefix after the `high` bits (RFC 7541 §5.1).
fn encode_int(out: &mut Vec<u8>, mut v: usize, prefix: u32, high: u8) {
    let max = (1usize << prefix) - 1;
    if v < max {
        out.push(high | v as u8);
        return;
    }
    out.push(high | max as u8);
    v -= max;
    while v >= 0x80 {
        out.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Append a header block as one HEADERS frame and as many CONTINUATIONs as it needs.
fn write_block(out: &mut Vec<u8>, stream: u32, end_stream: u8, priority: Option<[u8; 5]>, block: &[u8]) {
    let prio: &[u8] = priority.as_ref().map_or(&[], |p| &p[..]);
    let first = block.len().min(MAX_FRAME - prio.len());
    let (head, mut rest) = block.split_at(first);
    let mut flags = end_stream | if priority.is_some() { PRIORITY } else { 0 };
    if rest.is_empty() {
        flags |= END_HEADERS;
    }
    frame_header(out, prio.len() + head.len(), HEADERS, flags, stream);
    out.extend_from_slice(prio);
    out.extend_from_slice(head);
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rest.len().min(MAX_FRAME));
        rest = tail;
        frame_header(out, chunk.len(), CONTINUATION, if rest.is_empty() { END_HEADERS } else { 0 }, stream);
        out.extend_from_slice(chunk);
    }
}

/// Append a frame header.
fn frame_header(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
}

/// Whether `a` is `host[:port]` with an RFC 3986 reg-name (unreserved and sub-delims, no
/// percent-encoding) or IP literal host and a decimal port. Anything else (a socket path, an
/// empty value, userinfo) is replaced, which is harmless: isulad routes by `:path` alone.
fn valid_authority(a: &[u8]) -> bool {
    let (host_ok, rest) = if let Some(inner) = a.strip_prefix(b"[") {
        match inner.iter().position(|&c| c == b']') {
            Some(end) => {
                let ip = &inner[..end];
                (
                    !ip.is_empty() && ip.iter().all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.'),
                    &inner[end + 1..],
                )
            }
            None => (false, &[][..]),
        }
    } else {
        let end = a.iter().position(|&c| c == b':').unwrap_or(a.len());
        let host = &a[..end];
        let reg = |c: &u8| c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(c);
        (!host.is_empty() && host.iter().all(reg), &a[end..])
    };
    host_ok
        && match rest.strip_prefix(b":") {
            Some(port) => !port.is_empty() && port.len() <= 5 && port.iter().all(u8::is_ascii_digit),
            None => rest.is_empty(),
        }
}

#[cfg(test)]
#[path = "authority_tests.rs"]
mod tests;
