//! SPDY/3.1 frames on the wire: the 8-byte frame head, control frames (with their header
//! blocks still compressed) and data frame heads. Data payloads are not copied here: the
//! session streams them straight from the connection into the stream's buffer.
//!
//! Control frame: `1 | version(15) | type(16)`, `flags(8) | length(24)`, payload.
//! Data frame: `0 | stream-id(31)`, `flags(8) | length(24)`, payload.

use crate::Error;

/// The SPDY version spoken.
pub const VERSION: u16 = 3;
/// Length of every frame head.
pub const HEAD_LEN: usize = 8;
/// Largest payload a frame length field can express (2^24 - 1).
pub const MAX_PAYLOAD: usize = (1 << 24) - 1;
/// Largest control frame payload this implementation reads (header blocks are tiny).
pub const MAX_CONTROL_PAYLOAD: usize = 1 << 20;

/// FLAG_FIN (control and data frames): the sender's last frame on the stream.
pub const FLAG_FIN: u8 = 0x01;
/// FLAG_UNIDIRECTIONAL (SYN_STREAM): the receiver may not send on the stream.
pub const FLAG_UNIDIRECTIONAL: u8 = 0x02;

/// Control frame types.
const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

/// RST_STREAM status codes (SPDY/3.1 section 2.6.3).
pub mod rst {
    /// PROTOCOL_ERROR.
    pub const PROTOCOL_ERROR: u32 = 1;
    /// INVALID_STREAM.
    pub const INVALID_STREAM: u32 = 2;
    /// REFUSED_STREAM.
    pub const REFUSED_STREAM: u32 = 3;
    /// CANCEL.
    pub const CANCEL: u32 = 5;
    /// INTERNAL_ERROR.
    pub const INTERNAL_ERROR: u32 = 6;
}

/// GOAWAY status codes.
pub mod goaway {
    /// OK.
    pub const OK: u32 = 0;
    /// PROTOCOL_ERROR.
    pub const PROTOCOL_ERROR: u32 = 1;
    /// INTERNAL_ERROR.
    pub const INTERNAL_ERROR: u32 = 2;
}

/// A decoded frame head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// A control frame of type `kind` whose payload is `len` bytes.
    Control {
        /// The SPDY version.
        version: u16,
        /// The frame type.
        kind: u16,
        /// The flags.
        flags: u8,
        /// Payload length.
        len: usize,
    },
    /// A data frame of `len` bytes on `stream_id`.
    Data {
        /// The stream.
        stream_id: u32,
        /// The flags (FLAG_FIN).
        flags: u8,
        /// Payload length.
        len: usize,
    },
}

impl Head {
    /// Decode the 8 bytes that start every frame.
    pub fn decode(b: [u8; HEAD_LEN]) -> Head {
        let first = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let flags = b[4];
        let len = u32::from_be_bytes([0, b[5], b[6], b[7]]) as usize;
        if first & 0x8000_0000 != 0 {
            Head::Control { version: ((first >> 16) & 0x7fff) as u16, kind: (first & 0xffff) as u16, flags, len }
        } else {
            Head::Data { stream_id: first & 0x7fff_ffff, flags, len }
        }
    }
}

/// The head of a data frame carrying `len` bytes.
pub fn data_head(stream_id: u32, flags: u8, len: usize) -> [u8; HEAD_LEN] {
    debug_assert!(len <= MAX_PAYLOAD && stream_id & 0x8000_0000 == 0);
    let mut h = [0u8; HEAD_LEN];
    h[..4].copy_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
    h[4..].copy_from_slice(&(((flags as u32) << 24) | len as u32).to_be_bytes());
    h
}

/// A control frame; header blocks are kept compressed (see [`crate::headers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Open a stream.
    SynStream {
        /// The new stream.
        stream_id: u32,
        /// The stream it is associated with (0: none).
        associated: u32,
        /// Priority 0 (highest) to 7.
        priority: u8,
        /// FLAG_FIN, FLAG_UNIDIRECTIONAL.
        flags: u8,
        /// The compressed header block.
        block: Vec<u8>,
    },
    /// Accept a stream.
    SynReply {
        /// The stream.
        stream_id: u32,
        /// FLAG_FIN.
        flags: u8,
        /// The compressed header block.
        block: Vec<u8>,
    },
    /// Abort a stream.
    RstStream {
        /// The stream.
        stream_id: u32,
        /// Why (see [`rst`]).
        status: u32,
    },
    /// Settings: (flags, id, value) triples.
    Settings(Vec<(u8, u32, u32)>),
    /// A ping (echoed by the receiver when the sender's parity is not its own).
    Ping(u32),
    /// The sender accepts no new streams; `last_good` is the last it accepted.
    GoAway {
        /// The last peer-initiated stream the sender accepted.
        last_good: u32,
        /// Why (see [`goaway`]).
        status: u32,
    },
    /// More headers on a stream.
    Headers {
        /// The stream.
        stream_id: u32,
        /// FLAG_FIN.
        flags: u8,
        /// The compressed header block.
        block: Vec<u8>,
    },
    /// Flow-control credit for a stream (0: the session).
    WindowUpdate {
        /// The stream.
        stream_id: u32,
        /// Extra bytes the sender may send.
        delta: u32,
    },
    /// A control frame type this implementation does not know (ignored, as the spec says).
    Unknown(u16),
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn bad(what: String) -> Error {
    Error::Protocol(what)
}

impl Control {
    /// Decode the payload of a control frame of type `kind`.
    pub fn decode(kind: u16, flags: u8, p: &[u8]) -> Result<Control, Error> {
        let need = |n: usize, exact: bool| -> Result<(), Error> {
            if p.len() < n || (exact && p.len() != n) {
                return Err(bad(format!("control frame type {kind} has a {}-byte payload", p.len())));
            }
            Ok(())
        };
        let stream = |at: usize| be32(p, at) & 0x7fff_ffff;
        Ok(match kind {
            SYN_STREAM => {
                need(10, false)?;
                Control::SynStream {
                    stream_id: stream(0),
                    associated: stream(4),
                    priority: p[8] >> 5,
                    flags,
                    block: p[10..].to_vec(),
                }
            }
            SYN_REPLY => {
                need(4, false)?;
                Control::SynReply { stream_id: stream(0), flags, block: p[4..].to_vec() }
            }
            RST_STREAM => {
                need(8, true)?;
                Control::RstStream { stream_id: stream(0), status: be32(p, 4) }
            }
            SETTINGS => {
                need(4, false)?;
                let n = be32(p, 0) as usize;
                if p.len() != 4 + n.saturating_mul(8) {
                    return Err(bad(format!("SETTINGS with {n} entries has a {}-byte payload", p.len())));
                }
                Control::Settings(
                    (0..n).map(|i| 4 + 8 * i).map(|at| (p[at], be32(p, at) & 0xff_ffff, be32(p, at + 4))).collect(),
                )
            }
            PING => {
                need(4, true)?;
                Control::Ping(be32(p, 0))
            }
            GOAWAY => {
                need(8, true)?;
                Control::GoAway { last_good: stream(0), status: be32(p, 4) }
            }
            HEADERS => {
                need(4, false)?;
                Control::Headers { stream_id: stream(0), flags, block: p[4..].to_vec() }
            }
            WINDOW_UPDATE => {
                need(8, true)?;
                Control::WindowUpdate { stream_id: stream(0), delta: be32(p, 4) & 0x7fff_ffff }
            }
            other => Control::Unknown(other),
        })
    }

    /// The whole frame (head and payload). `Unknown` encodes as nothing.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, flags, payload): (u16, u8, Vec<u8>) = match self {
            Control::SynStream { stream_id, associated, priority, flags, block } => {
                let mut p = Vec::with_capacity(10 + block.len());
                p.extend_from_slice(&stream_id.to_be_bytes());
                p.extend_from_slice(&associated.to_be_bytes());
                p.push((priority & 7) << 5);
                p.push(0);
                p.extend_from_slice(block);
                (SYN_STREAM, *flags, p)
            }
            Control::SynReply { stream_id, flags, block } => {
                (SYN_REPLY, *flags, [&stream_id.to_be_bytes()[..], block].concat())
            }
            Control::Headers { stream_id, flags, block } => {
                (HEADERS, *flags, [&stream_id.to_be_bytes()[..], block].concat())
            }
            Control::RstStream { stream_id, status } => {
                (RST_STREAM, 0, [stream_id.to_be_bytes(), status.to_be_bytes()].concat())
            }
            Control::Settings(entries) => {
                let mut p = (entries.len() as u32).to_be_bytes().to_vec();
                for (f, id, v) in entries {
                    p.extend_from_slice(&(((*f as u32) << 24) | (id & 0xff_ffff)).to_be_bytes());
                    p.extend_from_slice(&v.to_be_bytes());
                }
                (SETTINGS, 0, p)
            }
            Control::Ping(id) => (PING, 0, id.to_be_bytes().to_vec()),
            Control::GoAway { last_good, status } => {
                (GOAWAY, 0, [last_good.to_be_bytes(), status.to_be_bytes()].concat())
            }
            Control::WindowUpdate { stream_id, delta } => {
                (WINDOW_UPDATE, 0, [stream_id.to_be_bytes(), delta.to_be_bytes()].concat())
            }
            Control::Unknown(_) => return Vec::new(),
        };
        let mut out = Vec::with_capacity(HEAD_LEN + payload.len());
        out.extend_from_slice(&(0x8000_0000u32 | ((VERSION as u32) << 16) | kind as u32).to_be_bytes());
        out.extend_from_slice(&(((flags as u32) << 24) | payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(c: Control, wire: &[u8]) {
        let bytes = c.encode();
        assert_eq!(bytes, wire, "{c:?}");
        let head = Head::decode(bytes[..8].try_into().unwrap());
        let Head::Control { version, kind, flags, len } = head else { panic!("{head:?}") };
        assert_eq!((version, len), (3, bytes.len() - 8));
        assert_eq!(Control::decode(kind, flags, &bytes[8..]).unwrap(), c);
    }

    #[test]
    fn control_frames_match_the_wire_format() {
        round_trip(Control::Ping(1), &[0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]);
        round_trip(
            Control::RstStream { stream_id: 5, status: rst::CANCEL },
            &[0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 5, 0, 0, 0, 5],
        );
        round_trip(
            Control::GoAway { last_good: 7, status: goaway::OK },
            &[0x80, 3, 0, 7, 0, 0, 0, 8, 0, 0, 0, 7, 0, 0, 0, 0],
        );
        round_trip(
            Control::WindowUpdate { stream_id: 3, delta: 0x10000 },
            &[0x80, 3, 0, 9, 0, 0, 0, 8, 0, 0, 0, 3, 0, 1, 0, 0],
        );
        round_trip(
            Control::SynStream { stream_id: 1, associated: 0, priority: 7, flags: FLAG_FIN, block: vec![0xaa] },
            &[0x80, 3, 0, 1, 1, 0, 0, 11, 0, 0, 0, 1, 0, 0, 0, 0, 0xe0, 0, 0xaa],
        );
        round_trip(
            Control::SynReply { stream_id: 2, flags: 0, block: vec![1, 2] },
            &[0x80, 3, 0, 2, 0, 0, 0, 6, 0, 0, 0, 2, 1, 2],
        );
        round_trip(
            Control::Headers { stream_id: 2, flags: FLAG_FIN, block: vec![] },
            &[0x80, 3, 0, 8, 1, 0, 0, 4, 0, 0, 0, 2],
        );
        round_trip(
            Control::Settings(vec![(1, 7, 65536)]),
            &[0x80, 3, 0, 4, 0, 0, 0, 12, 0, 0, 0, 1, 1, 0, 0, 7, 0, 1, 0, 0],
        );
    }

    #[test]
    fn data_heads() {
        let h = data_head(3, FLAG_FIN, 0x012345);
        assert_eq!(h, [0, 0, 0, 3, 1, 0x01, 0x23, 0x45]);
        assert_eq!(Head::decode(h), Head::Data { stream_id: 3, flags: FLAG_FIN, len: 0x012345 });
    }

    #[test]
    fn bad_lengths_are_protocol_errors() {
        assert!(matches!(Control::decode(PING, 0, &[0, 0, 1]), Err(Error::Protocol(_))));
        assert!(matches!(Control::decode(RST_STREAM, 0, &[0; 12]), Err(Error::Protocol(_))));
        assert!(matches!(Control::decode(SYN_STREAM, 0, &[0; 9]), Err(Error::Protocol(_))));
        assert!(matches!(Control::decode(SETTINGS, 0, &[0, 0, 0, 2, 0, 0, 0, 0]), Err(Error::Protocol(_))));
        assert_eq!(Control::decode(42, 0, &[1, 2]).unwrap(), Control::Unknown(42));
    }
}
