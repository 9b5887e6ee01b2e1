//! Docker json-file log writer with size rotation.
//!
//! One entry per line: `{"log":"<text>\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}`.
//! The live file is `<path>`; rotation renames it to `<path>.1`, `<path>.1` to `<path>.2`,
//! … keeping `max_file` files in all (iSulad and Docker use the same scheme).
//!
//! It lives in this small crate (std, serde_json and `isula_types::time`) so that
//! `isulad-shim` can link it (the shim must stay small; linking all of isula-core would
//! pull in oci-spec, tar, compression, …).

use isula_types::time::Timestamp;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Default `max-size` of a log file (1 MiB), as iSulad.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 20;
/// Default `max-file` (7), as iSulad.
pub const DEFAULT_MAX_FILE: u32 = 7;
/// A line longer than this is written as several entries (as Docker's 16 KiB split).
pub const MAX_LINE: usize = 16 * 1024;

/// Path of the `n`-th rotated file (`n = 0` is the live file).
pub fn rotated_path(path: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return path.to_path_buf();
    }
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Appends json-file entries to a log file, rotating by size.
#[derive(Debug)]
pub struct JsonFileWriter {
    path: PathBuf,
    max_size: u64,
    max_file: u32,
    file: File,
    size: u64,
}

impl JsonFileWriter {
    /// Open (append) `path`. `max_size` 0 disables rotation; `max_file` is clamped to ≥ 1.
    pub fn open(path: &Path, max_size: u64, max_file: u32) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(JsonFileWriter { path: path.to_path_buf(), max_size, max_file: max_file.max(1), file, size })
    }

    /// Write one entry: `data` (which should end with `\n` for a complete line) from `stream`.
    pub fn write_entry(&mut self, stream: &str, data: &[u8], time: SystemTime) -> io::Result<()> {
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
pub fn entry_json(stream: &str, data: &[u8], time: SystemTime) -> String {
    let log = String::from_utf8_lossy(data);
    let v = serde_json::json!({"log": log, "stream": stream, "time": Timestamp::from(time).to_rfc3339_fixed()});
    v.to_string()
}

/// Splits a byte stream into lines (each keeping its `\n`), cutting lines longer than [`MAX_LINE`].
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feed `data`; `emit` is called with every complete line.
    pub fn push(&mut self, mut data: &[u8], emit: &mut dyn FnMut(&[u8])) {
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
    pub fn flush(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if !self.partial.is_empty() {
            emit(&self.partial);
            self.partial.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
