//! The CRI log format (driver `cri`): the file kubelet reads for `kubectl logs`.
//!
//! One record per line: `<RFC3339Nano time> <stream> <tag> <message>\n`, stream `stdout` or
//! `stderr`, tag `F` for a full line and `P` for a partial one. As containerd does, a line
//! longer than [`MAX_LINE`] bytes is cut into `P` records of [`MAX_LINE`] bytes ended by an
//! `F` record with the rest, output that ends without a newline when the stream closes is
//! one last `P` record, and the line terminator (`\n` or `\r\n`) is not part of the message.
//! The time is Go's `RFC3339Nano` in UTC (fraction trimmed of trailing zeros).
//!
//! There is no rotation here: kubelet renames the file and asks for a reopen
//! ([`CriFileWriter::reopen`]).

use isula_types::time::Timestamp;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Longest message of one record; longer lines are split (containerd's default
/// `max_container_log_line_size`).
pub const MAX_LINE: usize = 16 * 1024;

/// Whether a record holds a whole line or a piece of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// `F`: the message ends a line.
    Full,
    /// `P`: a piece of a line; the next record of the stream continues it.
    Partial,
}

impl Tag {
    /// The tag letter.
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Full => "F",
            Tag::Partial => "P",
        }
    }
}

/// One formatted record, newline included.
pub fn format_record(stream: &str, tag: Tag, msg: &[u8], time: SystemTime) -> Vec<u8> {
    let ts = Timestamp::from(time).to_rfc3339();
    let mut v = Vec::with_capacity(ts.len() + stream.len() + msg.len() + 5);
    v.extend_from_slice(ts.as_bytes());
    v.push(b' ');
    v.extend_from_slice(stream.as_bytes());
    v.push(b' ');
    v.extend_from_slice(tag.as_str().as_bytes());
    v.push(b' ');
    v.extend_from_slice(msg);
    v.push(b'\n');
    v
}

/// One parsed record (see [`parse_record`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// The time as written.
    pub time: &'a str,
    /// `stdout` or `stderr`.
    pub stream: &'a str,
    /// Full or partial.
    pub tag: Tag,
    /// The message, without the line terminator.
    pub msg: &'a [u8],
}

/// Parse one record (with or without its trailing `\n`); `None` when `line` is not one.
pub fn parse_record(line: &[u8]) -> Option<Record<'_>> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let mut parts = line.splitn(4, |&b| b == b' ');
    let time = std::str::from_utf8(parts.next()?).ok()?;
    let stream = std::str::from_utf8(parts.next()?).ok()?;
    if stream != "stdout" && stream != "stderr" {
        return None;
    }
    let tag = match parts.next()? {
        b"F" => Tag::Full,
        b"P" => Tag::Partial,
        _ => return None,
    };
    Some(Record { time, stream, tag, msg: parts.next().unwrap_or(b"") })
}

/// Cuts a byte stream into CRI records: see the module doc for the rules.
#[derive(Debug, Default)]
pub struct CriSplitter {
    partial: Vec<u8>,
}

impl CriSplitter {
    /// Feed `data`; `emit(message, tag)` is called for every record that is complete.
    pub fn push(&mut self, mut data: &[u8], emit: &mut dyn FnMut(&[u8], Tag)) {
        while !data.is_empty() {
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.partial.extend_from_slice(&data[..i]);
                    data = &data[i + 1..];
                    if self.partial.last() == Some(&b'\r') {
                        self.partial.pop();
                    }
                    let mut start = 0;
                    while self.partial.len() - start > MAX_LINE {
                        emit(&self.partial[start..start + MAX_LINE], Tag::Partial);
                        start += MAX_LINE;
                    }
                    emit(&self.partial[start..], Tag::Full);
                    self.partial.clear();
                }
                None => {
                    self.partial.extend_from_slice(data);
                    data = &[];
                    // Keep up to MAX_LINE bytes: a newline may still make them a full line.
                    let mut start = 0;
                    while self.partial.len() - start > MAX_LINE {
                        emit(&self.partial[start..start + MAX_LINE], Tag::Partial);
                        start += MAX_LINE;
                    }
                    self.partial.drain(..start);
                }
            }
        }
    }

    /// The stream ended: what is left (output without a final newline) is a `P` record.
    pub fn flush(&mut self, emit: &mut dyn FnMut(&[u8], Tag)) {
        if !self.partial.is_empty() {
            emit(&self.partial, Tag::Partial);
            self.partial.clear();
        }
    }
}

/// Appends CRI records to the file at a path; [`reopen`](Self::reopen) starts a new file there.
#[derive(Debug)]
pub struct CriFileWriter {
    path: PathBuf,
    file: File,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).mode(0o640).open(path)
}

impl CriFileWriter {
    /// Open (create, append) `path`.
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(CriFileWriter { path: path.to_path_buf(), file: open_append(path)? })
    }

    /// Write one record (a single `write` so concurrent readers never see half of one).
    pub fn write_record(&mut self, stream: &str, tag: Tag, msg: &[u8], time: SystemTime) -> io::Result<()> {
        self.file.write_all(&format_record(stream, tag, msg, time))
    }

    /// Close the file and open (create) the path again, e.g. after it was renamed. On an
    /// error the old file stays in use.
    pub fn reopen(&mut self) -> io::Result<()> {
        self.file = open_append(&self.path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn split(chunks: &[&[u8]]) -> Vec<(Vec<u8>, Tag)> {
        let mut s = CriSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut |m, t| out.push((m.to_vec(), t)));
        }
        s.flush(&mut |m, t| out.push((m.to_vec(), t)));
        out
    }

    #[test]
    fn records_have_time_stream_tag_and_message() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_780);
        let r = format_record("stdout", Tag::Full, b"hello world", t);
        assert_eq!(r, b"2023-11-14T22:13:20.12345678Z stdout F hello world\n");
        let r = format_record("stderr", Tag::Partial, b"", UNIX_EPOCH + Duration::from_secs(1));
        assert_eq!(r, b"1970-01-01T00:00:01Z stderr P \n");
        let p = parse_record(b"2023-11-14T22:13:20.12345678Z stdout F hello world\n").unwrap();
        assert_eq!(
            p,
            Record { time: "2023-11-14T22:13:20.12345678Z", stream: "stdout", tag: Tag::Full, msg: b"hello world" }
        );
        assert_eq!(parse_record(b"1970-01-01T00:00:01Z stderr P ").unwrap().msg, b"");
        assert!(parse_record(b"{\"log\":\"x\"}").is_none());
        assert!(parse_record(b"t stdin F x").is_none());
        assert!(parse_record(b"t stdout X x").is_none());
    }

    #[test]
    fn lines_are_full_records_without_terminators() {
        let out = split(&[b"a\nb", b"c\r\n\n", b"tail"]);
        assert_eq!(
            out,
            vec![
                (b"a".to_vec(), Tag::Full),
                (b"bc".to_vec(), Tag::Full),
                (b"".to_vec(), Tag::Full),
                (b"tail".to_vec(), Tag::Partial)
            ]
        );
    }

    #[test]
    fn long_lines_become_partials_ended_by_a_full_record() {
        let mut line = vec![b'x'; 2 * MAX_LINE + 5];
        line.push(b'\n');
        let out = split(&[&line]);
        assert_eq!(
            out.iter().map(|(m, t)| (m.len(), *t)).collect::<Vec<_>>(),
            vec![(MAX_LINE, Tag::Partial), (MAX_LINE, Tag::Partial), (5, Tag::Full)]
        );
        // In small pieces, the same records.
        let pieces: Vec<&[u8]> = line.chunks(1000).collect();
        let out2 = split(&pieces);
        assert_eq!(out, out2);
        // Exactly MAX_LINE bytes, then the newline in a later read: one full record.
        let exact = vec![b'y'; MAX_LINE];
        let out = split(&[&exact, b"\n"]);
        assert_eq!(out, vec![(exact.clone(), Tag::Full)]);
    }

    #[test]
    fn writer_appends_and_reopens_a_renamed_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("0.log");
        let mut w = CriFileWriter::open(&p).unwrap();
        w.write_record("stdout", Tag::Full, b"one", SystemTime::now()).unwrap();
        std::fs::rename(&p, dir.path().join("0.log.1")).unwrap();
        w.write_record("stdout", Tag::Full, b"two", SystemTime::now()).unwrap();
        w.reopen().unwrap();
        w.write_record("stderr", Tag::Full, b"three", SystemTime::now()).unwrap();
        let old = std::fs::read_to_string(dir.path().join("0.log.1")).unwrap();
        let new = std::fs::read_to_string(&p).unwrap();
        assert!(old.ends_with(" stdout F one\n") || old.contains(" stdout F one\n"));
        assert!(old.ends_with(" stdout F two\n"));
        assert_eq!(new.lines().count(), 1);
        assert!(new.ends_with(" stderr F three\n"));
    }
}
