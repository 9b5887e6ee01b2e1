//! Docker json-file log writer with size rotation, and RFC 3339 time helpers.
//!
//! One entry per line: `{"log":"<text>\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}`.
//! The live file is `<path>`; rotation renames it to `<path>.1`, `<path>.1` to `<path>.2`,
//! … keeping `max_file` files in all (iSulad and Docker use the same scheme).
//!
//! This file depends only on `std` and `serde_json` so that `isulad-shim` can include it
//! with `#[path]` (the shim must stay small; linking all of isula-core would pull in
//! oci-spec, tar, compression, …).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Default `max-size` of a log file (1 MiB), as iSulad.
pub(crate) const DEFAULT_MAX_SIZE: u64 = 1 << 20;
/// Default `max-file` (7), as iSulad.
pub(crate) const DEFAULT_MAX_FILE: u32 = 7;
/// A line longer than this is written as several entries (as Docker's 16 KiB split).
pub(crate) const MAX_LINE: usize = 16 * 1024;

/// Path of the `n`-th rotated file (`n = 0` is the live file).
pub(crate) fn rotated_path(path: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return path.to_path_buf();
    }
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Appends json-file entries to a log file, rotating by size.
#[derive(Debug)]
pub(crate) struct JsonFileWriter {
    path: PathBuf,
    max_size: u64,
    max_file: u32,
    file: File,
    size: u64,
}

impl JsonFileWriter {
    /// Open (append) `path`. `max_size` 0 disables rotation; `max_file` is clamped to ≥ 1.
    pub(crate) fn open(path: &Path, max_size: u64, max_file: u32) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(JsonFileWriter { path: path.to_path_buf(), max_size, max_file: max_file.max(1), file, size })
    }

    /// Write one entry: `data` (which should end with `\n` for a complete line) from `stream`.
    pub(crate) fn write_entry(&mut self, stream: &str, data: &[u8], time: SystemTime) -> io::Result<()> {
        let mut line = entry_json(stream, data, time);
        line.push('\n');
        if self.max_size > 0 && self.size > 0 && self.size + line.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(line.as_bytes())?;
        self.size += line.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_file <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let _ = fs::remove_file(rotated_path(&self.path, self.max_file - 1));
        for n in (1..self.max_file - 1).rev() {
            let from = rotated_path(&self.path, n);
            if from.exists() {
                fs::rename(&from, rotated_path(&self.path, n + 1))?;
            }
        }
        fs::rename(&self.path, rotated_path(&self.path, 1))?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// The JSON text (without newline) of one entry.
pub(crate) fn entry_json(stream: &str, data: &[u8], time: SystemTime) -> String {
    let log = String::from_utf8_lossy(data);
    let v = serde_json::json!({"log": log, "stream": stream, "time": rfc3339_nano(time)});
    v.to_string()
}

/// Splits a byte stream into lines (each keeping its `\n`), cutting lines longer than [`MAX_LINE`].
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feed `data`; `emit` is called with every complete line.
    pub(crate) fn push(&mut self, mut data: &[u8], emit: &mut dyn FnMut(&[u8])) {
        while !data.is_empty() {
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let (line, rest) = data.split_at(i + 1);
                    if self.partial.is_empty() {
                        emit(line);
                    } else {
                        self.partial.extend_from_slice(line);
                        emit(&self.partial);
                        self.partial.clear();
                    }
                    data = rest;
                }
                None => {
                    self.partial.extend_from_slice(data);
                    data = &[];
                }
            }
            while self.partial.len() >= MAX_LINE {
                let rest = self.partial.split_off(MAX_LINE);
                emit(&self.partial);
                self.partial = rest;
            }
        }
    }

    /// Emit what is left (a last line without newline).
    pub(crate) fn flush(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if !self.partial.is_empty() {
            emit(&self.partial);
            self.partial.clear();
        }
    }
}

/// Nanoseconds since the Unix epoch of `t` (negative before 1970).
pub(crate) fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// Format `t` as RFC 3339 UTC with nanoseconds: `2024-01-02T03:04:05.123456789Z`.
pub(crate) fn rfc3339_nano(t: SystemTime) -> String {
    let n = unix_nanos(t);
    let secs = n.div_euclid(1_000_000_000) as i64;
    let nanos = n.rem_euclid(1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z", sod / 3600, (sod % 3600) / 60, sod % 60)
}

/// Parse RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`) into nanoseconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() {
            return None;
        }
        let mut padded = digits.chars().take(9).collect::<String>();
        while padded.len() < 9 {
            padded.push('0');
        }
        frac = padded.parse().ok()?;
    }
    let offset_secs: i64 = match s.get(i..)? {
        "Z" | "z" => 0,
        rest if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            let v = oh * 3600 + om * 60;
            if rest.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_secs;
    Some(secs as i128 * 1_000_000_000 + frac)
}

// Howard Hinnant's civil calendar algorithms (public-domain date arithmetic).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn time_round_trip() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let s = rfc3339_nano(t);
        assert_eq!(s, "2023-11-14T22:13:20.123456789Z");
        assert_eq!(parse_rfc3339(&s), Some(unix_nanos(t)));
        assert_eq!(parse_rfc3339("2023-11-14T23:13:20.5+01:00"), Some(1_700_000_000_500_000_000));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400_000_000_000));
        assert_eq!(parse_rfc3339("garbage"), None);
        assert_eq!(parse_rfc3339("2023-13-14T22:13:20Z"), None);
    }

    #[test]
    fn splitter_keeps_newlines_and_cuts_long_lines() {
        let mut s = LineSplitter::default();
        let mut out: Vec<Vec<u8>> = Vec::new();
        s.push(b"a\nb", &mut |l| out.push(l.to_vec()));
        s.push(b"c\n\n", &mut |l| out.push(l.to_vec()));
        s.push(&vec![b'x'; MAX_LINE + 3], &mut |l| out.push(l.to_vec()));
        s.flush(&mut |l| out.push(l.to_vec()));
        assert_eq!(out[0], b"a\n");
        assert_eq!(out[1], b"bc\n");
        assert_eq!(out[2], b"\n");
        assert_eq!(out[3].len(), MAX_LINE);
        assert_eq!(out[4], b"xxx");
    }

    #[test]
    fn writer_rotates_and_keeps_max_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let mut w = JsonFileWriter::open(&p, 200, 3).unwrap();
        for i in 0..40 {
            w.write_entry("stdout", format!("line {i}\n").as_bytes(), SystemTime::now()).unwrap();
        }
        assert!(p.exists() && rotated_path(&p, 1).exists() && rotated_path(&p, 2).exists());
        assert!(!rotated_path(&p, 3).exists());
        for n in 0..3 {
            assert!(fs::metadata(rotated_path(&p, n)).unwrap().len() <= 200);
        }
        let last = fs::read_to_string(&p).unwrap();
        let v: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
        assert_eq!(v["log"], "line 39\n");
        assert_eq!(v["stream"], "stdout");
    }
}
