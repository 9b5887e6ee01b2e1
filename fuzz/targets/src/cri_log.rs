//! The CRI log format (`RFC3339Nano stream P|F message`): the record parser of
//! isula-shim-proto, the shim's splitter and writer format against it, and the engine's log
//! reader (`isula_core::logs` via `read_logs`) over a file holding the input.

use isula_core::{fuzzing, LogOptions};
use isula_shim_proto::crifile::{format_record, parse_record, CriSplitter, Tag};

/// First byte: bit 0: read the rest as a log file with `read_logs` (bits 1-3 choose tail,
/// stdout/stderr filters); else parse each line and round-trip the splitter.
pub fn cri_log(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    if sel & 1 != 0 {
        let dir = crate::scratch();
        let path = dir.path().join("log");
        std::fs::write(&path, rest).expect("write log");
        let opts = LogOptions {
            tail: (sel & 2 != 0).then_some(usize::from(sel >> 4)),
            stdout: sel & 4 == 0 || sel & 8 != 0,
            stderr: sel & 4 != 0 || sel & 8 != 0,
            ..LogOptions::default()
        };
        let mut n = 0usize;
        let _ = fuzzing::read_logs(&path, &opts, &mut |_| {
            n += 1;
            true
        });
        if let Some(t) = opts.tail.filter(|&t| t > 0) {
            assert!(n <= t, "tail {t} delivered {n} lines");
        }
        return;
    }
    for line in rest.split_inclusive(|&b| b == b'\n') {
        if let Some(r) = parse_record(line) {
            assert!(r.stream == "stdout" || r.stream == "stderr");
            assert!(!r.msg.ends_with(b"\n"), "the record's line terminator is part of its message");
        }
    }
    // What the shim writes, the reader parses back: message and tag intact.
    let mut records = Vec::new();
    let mut splitter = CriSplitter::default();
    let mut emit = |m: &[u8], t: Tag| records.push((m.to_vec(), t));
    splitter.push(rest, &mut emit);
    splitter.flush(&mut emit);
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(1_700_000_000_123_456_789);
    for (msg, tag) in records {
        assert!(!msg.contains(&b'\n'), "a record message holds a newline");
        let line = format_record("stdout", tag, &msg, t);
        let r = parse_record(&line).unwrap_or_else(|| panic!("{line:?} does not parse"));
        assert_eq!((r.msg, r.tag, r.stream), (&msg[..], tag, "stdout"));
    }
}
