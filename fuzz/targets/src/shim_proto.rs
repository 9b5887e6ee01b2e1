//! The shim protocol (isula-shim-proto): the attach frame decoder fed in arbitrary pieces, and
//! the JSON documents daemon and shim exchange (config, state, exit status, readiness lines).

use isula_shim_proto::proto::{frame, ExitStatus, ReadyMessage, ShimConfig, ShimState};

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(doc: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<T>(doc) {
        let json = serde_json::to_vec(&v).expect("serialise");
        let again: T = serde_json::from_slice(&json).unwrap_or_else(|e| panic!("{v:?} does not read back: {e}"));
        assert_eq!(again, v);
    }
}

/// First byte: which decoder; for frames, also the size of the pieces the bytes arrive in.
pub fn shim_proto(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    match sel % 5 {
        0 => {
            let chunk = usize::from(sel / 5).max(1);
            let mut d = frame::Decoder::default();
            let mut frames = Vec::new();
            'feed: for piece in rest.chunks(chunk) {
                d.push(piece);
                loop {
                    match d.next_frame() {
                        Ok(Some(f)) => frames.push(f),
                        Ok(None) => break,
                        Err(_) => break 'feed,
                    }
                }
            }
            // Decoded frames encode back to the bytes they came from.
            let encoded: Vec<u8> = frames.iter().flat_map(|(k, p)| frame::encode(*k, p)).collect();
            assert!(rest.starts_with(&encoded), "frames do not re-encode to their input");
            for (_, p) in &frames {
                assert!(p.len() <= frame::MAX_PAYLOAD);
            }
        }
        1 => round_trip::<ShimConfig>(rest),
        2 => round_trip::<ShimState>(rest),
        3 => round_trip::<ExitStatus>(rest),
        _ => {
            for line in rest.split(|&b| b == b'\n') {
                round_trip::<ReadyMessage>(line);
            }
        }
    }
}
