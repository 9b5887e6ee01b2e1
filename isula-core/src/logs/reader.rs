//! Reading json-file logs across rotated files (and CRI-format logs), with filters, tail
//! and follow.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use super::jsonfile::rotated_path;
use crate::error::{Error, Result};
use crate::time::{parse_rfc3339, Timestamp};
use isula_shim_proto::crifile;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    /// Standard output (and a pty).
    Stdout,
    /// Standard error.
    Stderr,
}

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Source stream.
    pub stream: LogStream,
    /// Time as written (RFC 3339, nanoseconds).
    pub time: String,
    /// Time in nanoseconds since the epoch.
    pub time_nanos: i128,
    /// The text, normally ending with `\n`.
    pub log: String,
}

impl LogLine {
    /// The line as `logs` prints it: with `timestamps`, prefixed by the time and a space.
    pub fn render(&self, timestamps: bool) -> String {
        if timestamps {
            format!("{} {}", self.time, self.log)
        } else {
            self.log.clone()
        }
    }
}

pub use isula_types::container::types::LogOptions;

/// How often a follower looks for new data.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

/// Read the log at `path` (and its rotated files, oldest first) into `sink` until it
/// returns false. With `opts.follow`, keeps following until `sink` returns false
/// (use [`follow_logs`] to stop when the container exits). A missing log is empty.
pub fn read_logs(path: &Path, opts: &LogOptions, sink: &mut dyn FnMut(LogLine) -> bool) -> Result<()> {
    follow_logs(path, opts, &|| true, sink)
}

/// Like [`read_logs`]; when following, stops once `keep_following()` returns false
/// (checked whenever no new data is there; the rest of the file is still delivered).
pub fn follow_logs(
    path: &Path,
    opts: &LogOptions,
    keep_following: &dyn Fn() -> bool,
    sink: &mut dyn FnMut(LogLine) -> bool,
) -> Result<()> {
    let since = opts.since.map(|t| Timestamp::from(t).unix_nanos());
    let until = opts.until.map(|t| Timestamp::from(t).unix_nanos());
    let mut f = Filter { opts, since, until, tail: opts.tail.map(|n| VecDeque::with_capacity(n.min(4096))) };
    if opts.tail == Some(0) && !opts.follow {
        return Ok(());
    }
    let mut n = 1;
    while rotated_path(path, n).exists() {
        n += 1;
    }
    for i in (1..n).rev() {
        let p = rotated_path(path, i);
        let file = match File::open(&p) {
            Ok(file) => file,
            Err(_) => continue, // rotated away meanwhile
        };
        let mut r = LineReader::new(file);
        if !r.drain(&mut f, sink, true)? {
            return Ok(());
        }
    }
    let live = match File::open(path) {
        Ok(file) => Some(file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(path, "open log", e)),
    };
    let mut reader = live.map(LineReader::new);
    if let Some(r) = reader.as_mut() {
        if !r.drain(&mut f, sink, !opts.follow)? {
            return Ok(());
        }
    }
    if let Some(q) = f.tail.take() {
        for line in q {
            if !sink(line) {
                return Ok(());
            }
        }
    }
    if !opts.follow {
        return Ok(());
    }
    loop {
        let mut got = false;
        if let Some(r) = reader.as_mut() {
            got = r.pending_data()?;
            if !r.drain(&mut f, sink, false)? {
                return Ok(());
            }
        }
        if let Some(u) = until {
            if crate::time::now().unix_nanos() > u {
                return Ok(());
            }
        }
        if got {
            continue;
        }
        // Rotated (or created)? Finish the old file, then switch to the new one.
        let current = std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
        let ours = reader.as_ref().and_then(|r| r.id());
        if current.is_some() && current != ours {
            if let Some(r) = reader.as_mut() {
                if !r.drain(&mut f, sink, true)? {
                    return Ok(());
                }
                // Files rotated after ours (several rotations between two looks).
                let mut j = 1;
                while rotated_path(path, j).exists() && rotated_id(path, j) != ours {
                    j += 1;
                }
                if rotated_path(path, j).exists() {
                    for k in (1..j).rev() {
                        if let Ok(file) = File::open(rotated_path(path, k)) {
                            if !LineReader::new(file).drain(&mut f, sink, true)? {
                                return Ok(());
                            }
                        }
                    }
                }
            }
            reader = File::open(path).ok().map(LineReader::new);
            continue;
        }
        if !keep_following() {
            if let Some(r) = reader.as_mut() {
                r.drain(&mut f, sink, true)?;
            }
            return Ok(());
        }
        std::thread::sleep(FOLLOW_INTERVAL);
    }
}

fn rotated_id(path: &Path, n: u32) -> Option<(u64, u64)> {
    std::fs::metadata(rotated_path(path, n)).ok().map(|m| (m.dev(), m.ino()))
}

struct Filter<'a> {
    opts: &'a LogOptions,
    since: Option<i128>,
    until: Option<i128>,
    tail: Option<VecDeque<LogLine>>,
}

impl Filter<'_> {
    /// Route one raw line; false when the sink wants no more.
    fn line(&mut self, raw: &[u8], sink: &mut dyn FnMut(LogLine) -> bool) -> bool {
        let Some((stream, time, log)) = parse_line(raw) else {
            return true; // a torn or foreign line
        };
        if (stream == LogStream::Stdout && !self.opts.stdout) || (stream == LogStream::Stderr && !self.opts.stderr) {
            return true;
        }
        let time_nanos = parse_rfc3339(&time).map_or(0, Timestamp::unix_nanos);
        if self.since.is_some_and(|s| time_nanos < s) || self.until.is_some_and(|u| time_nanos > u) {
            return true;
        }
        let line = LogLine { stream, time, time_nanos, log };
        match self.tail.as_mut() {
            Some(q) => {
                let cap = self.opts.tail.unwrap_or(0);
                if cap > 0 {
                    if q.len() == cap {
                        q.pop_front();
                    }
                    q.push_back(line);
                }
                true
            }
            None => sink(line),
        }
    }
}

/// Stream, time and text of one log line: a json-file entry, or a CRI record (its
/// text ends with `\n` when it is a full line, `F`; a partial one, `P`, has none).
fn parse_line(raw: &[u8]) -> Option<(LogStream, String, String)> {
    let stream_of = |s: Option<&str>| if s == Some("stderr") { LogStream::Stderr } else { LogStream::Stdout };
    if raw.first() == Some(&b'{') {
        let v = serde_json::from_slice::<serde_json::Value>(raw).ok()?;
        let stream = stream_of(v.get("stream").and_then(|s| s.as_str()));
        let time = v.get("time").and_then(|t| t.as_str()).unwrap_or("").to_string();
        let log = v.get("log").and_then(|l| l.as_str()).unwrap_or("").to_string();
        return Some((stream, time, log));
    }
    let r = crifile::parse_record(raw)?;
    let mut log = String::from_utf8_lossy(r.msg).into_owned();
    if r.tag == crifile::Tag::Full {
        log.push('\n');
    }
    Some((stream_of(Some(r.stream)), r.time.to_string(), log))
}

/// Reads complete lines from a growing file, keeping a partial last line for later.
struct LineReader {
    inner: BufReader<File>,
    partial: Vec<u8>,
}

impl LineReader {
    fn new(f: File) -> Self {
        LineReader { inner: BufReader::new(f), partial: Vec::new() }
    }

    fn id(&self) -> Option<(u64, u64)> {
        self.inner.get_ref().metadata().ok().map(|m| (m.dev(), m.ino()))
    }

    /// Whether bytes beyond what was read exist.
    fn pending_data(&mut self) -> Result<bool> {
        Ok(!self.inner.fill_buf()?.is_empty())
    }

    /// Deliver every complete line; with `final_read` a last line without newline too.
    fn drain(&mut self, f: &mut Filter<'_>, sink: &mut dyn FnMut(LogLine) -> bool, final_read: bool) -> Result<bool> {
        loop {
            let n = (&mut self.inner).take(1 << 20).read_until(b'\n', &mut self.partial)?;
            if n == 0 {
                break;
            }
            if self.partial.last() == Some(&b'\n') {
                let line = std::mem::take(&mut self.partial);
                if !f.line(&line, sink) {
                    return Ok(false);
                }
            }
        }
        if final_read && !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            return Ok(f.line(&line, sink));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::jsonfile::JsonFileWriter;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn collect(path: &Path, opts: &LogOptions) -> Vec<String> {
        let mut v = Vec::new();
        read_logs(path, opts, &mut |l| {
            v.push(l.log.trim_end().to_string());
            true
        })
        .unwrap();
        v
    }

    #[test]
    fn reads_across_rotation_with_filters_and_tail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let mut w = JsonFileWriter::open(&p, 300, 10).unwrap();
        for i in 0..30 {
            let t = UNIX_EPOCH + Duration::from_secs(1000 + i);
            let stream = if i % 2 == 0 { "stdout" } else { "stderr" };
            w.write_entry(stream, format!("l{i}\n").as_bytes(), t).unwrap();
        }
        assert!(rotated_path(&p, 2).exists());
        let all = collect(&p, &LogOptions::default());
        assert_eq!(all, (0..30).map(|i| format!("l{i}")).collect::<Vec<_>>());
        let tail = collect(&p, &LogOptions { tail: Some(3), ..Default::default() });
        assert_eq!(tail, vec!["l27", "l28", "l29"]);
        let out = collect(&p, &LogOptions { stderr: false, tail: Some(2), ..Default::default() });
        assert_eq!(out, vec!["l26", "l28"]);
        let since = UNIX_EPOCH + Duration::from_secs(1025);
        let until = UNIX_EPOCH + Duration::from_secs(1026);
        let win = collect(&p, &LogOptions { since: Some(since), until: Some(until), ..Default::default() });
        assert_eq!(win, vec!["l25", "l26"]);
        assert!(collect(&dir.path().join("missing.log"), &LogOptions::default()).is_empty());
    }

    #[test]
    fn reads_cri_records() {
        use isula_shim_proto::crifile::{CriFileWriter, Tag};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("0.log");
        let mut w = CriFileWriter::open(&p).unwrap();
        let t = |s: u64| UNIX_EPOCH + Duration::from_secs(1000 + s);
        w.write_record("stdout", Tag::Full, b"one", t(0)).unwrap();
        w.write_record("stderr", Tag::Partial, b"tw", t(1)).unwrap();
        w.write_record("stderr", Tag::Full, b"o", t(2)).unwrap();
        w.write_record("stdout", Tag::Partial, b"end", t(3)).unwrap();
        let mut got = Vec::new();
        read_logs(&p, &LogOptions::default(), &mut |l| {
            got.push((l.stream, l.log, l.time_nanos));
            true
        })
        .unwrap();
        let s = 1_000_000_000i128;
        assert_eq!(
            got,
            vec![
                (LogStream::Stdout, "one\n".to_string(), 1000 * s),
                (LogStream::Stderr, "tw".to_string(), 1001 * s),
                (LogStream::Stderr, "o\n".to_string(), 1002 * s),
                (LogStream::Stdout, "end".to_string(), 1003 * s),
            ]
        );
        let errs = collect(&p, &LogOptions { stdout: false, ..Default::default() });
        assert_eq!(errs, vec!["tw", "o"]);
    }

    #[test]
    fn follow_sees_new_lines_and_rotation_then_stops() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let mut w = JsonFileWriter::open(&p, 300, 4).unwrap();
        w.write_entry("stdout", b"first\n", SystemTime::now()).unwrap();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d2 = done.clone();
        let writer = std::thread::spawn(move || {
            for i in 0..6 {
                std::thread::sleep(Duration::from_millis(30));
                w.write_entry("stdout", format!("n{i}\n").as_bytes(), SystemTime::now()).unwrap();
            }
            std::thread::sleep(Duration::from_millis(150));
            d2.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut got = Vec::new();
        let opts = LogOptions { follow: true, ..Default::default() };
        follow_logs(&p, &opts, &|| !done.load(std::sync::atomic::Ordering::SeqCst), &mut |l| {
            got.push(l.log.trim_end().to_string());
            true
        })
        .unwrap();
        writer.join().unwrap();
        assert!(rotated_path(&p, 1).exists(), "the test must have rotated");
        assert_eq!(got, vec!["first", "n0", "n1", "n2", "n3", "n4", "n5"]);
    }
}
