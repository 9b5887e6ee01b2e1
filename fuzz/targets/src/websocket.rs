//! WebSocket as the streaming server reads it: tungstenite's frame parser with the server's
//! limits (`ws_config`) over the fuzzed bytes, and every message through our channel
//! protocol decoder (bins/isulad/src/stream/websocket/codec.rs, compiled here as it is).

use std::io::{Cursor, Read, Write};

use tungstenite::protocol::Role;
use tungstenite::{Message, WebSocket};

#[allow(dead_code, unreachable_pub, clippy::all)]
#[path = "../../../bins/isulad/src/stream/websocket/codec.rs"]
mod codec;

use codec::{decode, encode, ws_config, Codec, Incoming};

/// The client's bytes in, our answers (pongs, close) discarded.
struct Peer(Cursor<Vec<u8>>);

impl Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Peer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// First byte: the channel protocol (binary, base64, raw; with or without v5's close
/// signal); the rest: what the client sends after the handshake.
pub fn websocket(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    let codec = [Codec::Binary, Codec::Base64, Codec::Raw][usize::from(sel % 3)];
    let close_signal = sel & 4 != 0;
    let mut ws = WebSocket::from_raw_socket(Peer(Cursor::new(rest.to_vec())), Role::Server, Some(ws_config()));
    for _ in 0..10_000 {
        let (bytes, text) = match ws.read() {
            Ok(Message::Binary(b)) => (b.to_vec(), false),
            Ok(Message::Text(t)) => (t.as_bytes().to_vec(), true),
            Ok(_) => continue,
            Err(_) => break,
        };
        assert!(bytes.len() <= codec::MAX_MESSAGE, "a message over the limit was delivered");
        if let Ok(Some(m)) = decode(codec, close_signal, &bytes, text) {
            // What we decode, encoded by our side, decodes to the same, for the channels we
            // can write on (base64 names them with one ASCII digit).
            let writable = |ch: u8| codec != Codec::Base64 || ch < 10;
            if let Incoming::Data(ch, payload) = &m {
                let again = match encode(codec, *ch, payload) {
                    Message::Binary(b) => decode(codec, close_signal, &b, false),
                    Message::Text(t) => decode(codec, close_signal, t.as_bytes(), true),
                    other => panic!("encode gave {other:?}"),
                };
                if !(close_signal && *ch == codec::CLOSE_SIGNAL) && writable(*ch) {
                    assert_eq!(again, Ok(Some(m)), "channel message does not survive encode/decode");
                }
            }
        }
    }
}
