//! The channel protocol's message codec (`channel.k8s.io`, `base64.channel.k8s.io`, v5's close
//! signal) and the WebSocket limits: pure functions, no I/O, so the fuzz targets
//! (`fuzz/targets`) compile this file as it is.

use base64::Engine as _;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::Message;

/// The channel number of the close signal (`v5.channel.k8s.io`).
pub(super) const CLOSE_SIGNAL: u8 = 255;
/// Largest message accepted from a client.
pub(super) const MAX_MESSAGE: usize = 16 << 20;

/// How channel messages are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Codec {
    /// Binary messages: channel byte, payload.
    Binary,
    /// Text messages: channel as an ASCII digit, payload in standard base64.
    Base64,
    /// No channels: binary messages are pieces of one byte stream, channel 0 (the SPDY
    /// tunnel).
    Raw,
}

/// A message from the client, decoded.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Incoming {
    /// Payload on a channel.
    Data(u8, Vec<u8>),
    /// The client closed its side of a channel (v5).
    Close(u8),
}

/// Decode one data message (`text`: it came as a text message). `Ok(None)`: nothing to do
/// (empty, undecodable base64, as kubelet skips it); `Err`: a protocol error that ends the
/// connection.
pub(super) fn decode(codec: Codec, close_signal: bool, data: &[u8], text: bool) -> Result<Option<Incoming>, String> {
    if codec == Codec::Raw {
        return match text {
            true => Err("a text message in a binary stream".into()),
            false => Ok((!data.is_empty()).then(|| Incoming::Data(0, data.to_vec()))),
        };
    }
    let Some((&first, payload)) = data.split_first() else { return Ok(None) };
    if close_signal && first == CLOSE_SIGNAL {
        return match payload {
            [ch] => Ok(Some(Incoming::Close(*ch))),
            _ => Err(format!("a close signal must name one channel, got {} bytes", payload.len())),
        };
    }
    match codec {
        Codec::Binary | Codec::Raw => Ok(Some(Incoming::Data(first, payload.to_vec()))),
        Codec::Base64 => match base64::engine::general_purpose::STANDARD.decode(payload) {
            Ok(p) => Ok(Some(Incoming::Data(first.wrapping_sub(b'0'), p))),
            Err(e) => {
                log::debug!("streaming server: dropping a message with bad base64: {e}");
                Ok(None)
            }
        },
    }
}

/// The message carrying `data` on channel `ch`.
pub(super) fn encode(codec: Codec, ch: u8, data: &[u8]) -> Message {
    match codec {
        Codec::Binary => {
            let mut m = Vec::with_capacity(data.len() + 1);
            m.push(ch);
            m.extend_from_slice(data);
            Message::binary(m)
        }
        Codec::Base64 => {
            let mut m = String::with_capacity(data.len() * 4 / 3 + 5);
            m.push(char::from(b'0'.wrapping_add(ch)));
            base64::engine::general_purpose::STANDARD.encode_string(data, &mut m);
            Message::text(m)
        }
        Codec::Raw => Message::binary(data.to_vec()),
    }
}

/// The limits of both directions.
pub(super) fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
        .write_buffer_size(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_messages_carry_a_channel_byte() {
        assert_eq!(decode(Codec::Binary, false, &[1, b'h', b'i'], false), Ok(Some(Incoming::Data(1, b"hi".to_vec()))));
        assert_eq!(decode(Codec::Binary, false, &[], false), Ok(None));
        assert_eq!(encode(Codec::Binary, 2, b"x"), Message::binary(vec![2, b'x']));
        assert_eq!(encode(Codec::Binary, 3, b""), Message::binary(vec![3]));
    }

    #[test]
    fn base64_messages_carry_a_digit() {
        // wsstream's example: "foo\n" on channel '0'.
        assert_eq!(decode(Codec::Base64, false, b"0Zm9vCg==", true), Ok(Some(Incoming::Data(0, b"foo\n".to_vec()))));
        assert_eq!(decode(Codec::Base64, false, b"0!!", true), Ok(None));
        assert_eq!(encode(Codec::Base64, 1, b"\n"), Message::text("1Cg=="));
    }

    #[test]
    fn raw_messages_are_a_byte_stream() {
        assert_eq!(decode(Codec::Raw, false, &[1, 2], false), Ok(Some(Incoming::Data(0, vec![1, 2]))));
        assert_eq!(decode(Codec::Raw, false, &[], false), Ok(None));
        assert!(decode(Codec::Raw, false, b"x", true).is_err());
        assert_eq!(encode(Codec::Raw, 0, b"ab"), Message::binary(b"ab".to_vec()));
    }

    #[test]
    fn the_close_signal_is_v5s() {
        assert_eq!(decode(Codec::Binary, true, &[255, 0], false), Ok(Some(Incoming::Close(0))));
        assert!(decode(Codec::Binary, true, &[255, 0, 1], false).is_err());
        assert_eq!(decode(Codec::Binary, false, &[255, 0], false), Ok(Some(Incoming::Data(255, vec![0]))));
    }
}
