//! SPDY/3.1 (isula-spdy) as the streaming server runs it: a whole session reading the fuzzed
//! bytes as the peer's side of the connection (frames, zlib header blocks, flow control,
//! stream lifecycle), plus control-frame decoding on its own.

use std::io::Read;
use std::time::Duration;

use isula_spdy::frame::Control;
use isula_spdy::{Role, Session};

/// First byte: bit 0 and 1 choose a session as server or client, or one control frame
/// (type from the next two bytes, flags from the third, the rest its payload).
pub fn spdy(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    if sel & 2 != 0 {
        let [k0, k1, flags, ref payload @ ..] = *rest else { return };
        let kind = u16::from_be_bytes([k0, k1]);
        if let Ok(c) = Control::decode(kind, flags, payload) {
            if matches!(c, Control::Unknown(_)) {
                return;
            }
            let frame = c.encode();
            let again = Control::decode(kind, flags, &frame[8..]).unwrap_or_else(|e| panic!("{c:?} re-encoded: {e}"));
            assert_eq!(again, c, "control frame does not survive encode/decode");
        }
        return;
    }
    let role = if sel & 1 == 0 { Role::Server } else { Role::Client };
    let session = Session::new(std::io::Cursor::new(rest.to_vec()), std::io::sink(), role).expect("start session");
    // The peer's streams: read each to its end (the input is finite, so every read ends).
    while let Ok(mut s) = session.accept(None) {
        let _ = s.headers().get(":method");
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    }
    assert!(session.wait_closed(Some(Duration::from_secs(20))), "the session did not end after the input ended");
}
