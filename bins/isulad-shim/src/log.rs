//! The container log the shim writes: Docker's json-file (rotated by size), the CRI
//! format (never rotated here; reopened on request after kubelet renamed it) or syslog.

use crate::diag::diag;
use std::io;
use std::time::SystemTime;

use isula_shim_proto::crifile::{CriFileWriter, CriSplitter};
use isula_shim_proto::jsonfile::{JsonFileWriter, LineSplitter};
use isula_shim_proto::proto::{LogFormat, ShimLogConfig};
use isula_shim_proto::syslog::SyslogWriter;

/// Stream names by output index (0 = stdout or the pty, 1 = stderr).
const STREAMS: [&str; 2] = ["stdout", "stderr"];

/// An open log of either format, with one line splitter per stream.
pub(crate) enum LogSink {
    /// json-file.
    Json(JsonFileWriter, [LineSplitter; 2]),
    /// CRI.
    Cri(CriFileWriter, [CriSplitter; 2]),
    /// syslog: a message per line.
    Syslog(SyslogWriter, [LineSplitter; 2]),
}

impl LogSink {
    /// Open the log `cfg` describes.
    pub(crate) fn open(cfg: &ShimLogConfig) -> io::Result<LogSink> {
        Ok(match &cfg.format {
            LogFormat::JsonFile => LogSink::Json(
                JsonFileWriter::open(&cfg.path, cfg.max_size, cfg.max_file)?,
                [LineSplitter::default(), LineSplitter::default()],
            ),
            LogFormat::Cri => {
                LogSink::Cri(CriFileWriter::open(&cfg.path)?, [CriSplitter::default(), CriSplitter::default()])
            }
            LogFormat::Syslog(s) => LogSink::Syslog(
                SyslogWriter::new(s.clone()).map_err(io::Error::other)?,
                [LineSplitter::default(), LineSplitter::default()],
            ),
        })
    }

    /// Log `data` read from output `i`.
    pub(crate) fn output(&mut self, i: usize, data: &[u8]) {
        let now = SystemTime::now();
        let stream = STREAMS[i];
        match self {
            LogSink::Json(w, split) => split[i].push(data, &mut |line| {
                if let Err(e) = w.write_entry(stream, line, now) {
                    diag!("write log: {e}");
                }
            }),
            LogSink::Cri(w, split) => split[i].push(data, &mut |msg, tag| {
                if let Err(e) = w.write_record(stream, tag, msg, now) {
                    diag!("write log: {e}");
                }
            }),
            LogSink::Syslog(w, split) => split[i].push(data, &mut |line| {
                if let Err(e) = w.write_line(i == 1, line, now) {
                    diag!("send to syslog: {e}");
                }
            }),
        }
    }

    /// Output `i` ended: write what its splitter still holds.
    pub(crate) fn flush(&mut self) {
        let now = SystemTime::now();
        for (i, stream) in STREAMS.iter().enumerate() {
            match self {
                LogSink::Json(w, split) => split[i].flush(&mut |line| {
                    let _ = w.write_entry(stream, line, now);
                }),
                LogSink::Cri(w, split) => split[i].flush(&mut |msg, tag| {
                    let _ = w.write_record(stream, tag, msg, now);
                }),
                LogSink::Syslog(w, split) => split[i].flush(&mut |line| {
                    let _ = w.write_line(i == 1, line, now);
                }),
            }
        }
    }

    /// Close the file and open its path again (CRI only).
    pub(crate) fn reopen(&mut self) -> Result<(), String> {
        match self {
            LogSink::Json(..) => Err("the json-file log is rotated by the shim; it cannot be reopened".into()),
            LogSink::Cri(w, _) => w.reopen().map_err(|e| format!("reopen log: {e}")),
            LogSink::Syslog(..) => Err("a syslog log has no file to reopen".into()),
        }
    }
}
