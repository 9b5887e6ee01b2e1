//! A tiny `log` backend: `LEVEL time target: message` lines to stderr or a file.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use log::{LevelFilter, Log, Metadata, Record};

struct Logger {
    level: LevelFilter,
    file: Option<Mutex<File>>,
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= self.level
    }

    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let line = format!("{} {:<5} {}: {}\n", timestamp(), r.level(), r.target(), r.args());
        match &self.file {
            Some(f) => {
                if let Ok(mut f) = f.lock() {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    fn flush(&self) {}
}

/// Parse an iSulad/Docker log level name (`fatal` and `warning` accepted).
pub(crate) fn parse_level(s: &str) -> Option<LevelFilter> {
    Some(match s.to_ascii_lowercase().as_str() {
        "fatal" | "error" => LevelFilter::Error,
        "warn" | "warning" => LevelFilter::Warn,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => return None,
    })
}

/// Install the logger; `file` appends to that path instead of stderr.
pub(crate) fn init(level: LevelFilter, file: Option<&Path>) -> std::io::Result<()> {
    let file = match file {
        Some(p) => Some(Mutex::new(std::fs::OpenOptions::new().create(true).append(true).open(p)?)),
        None => None,
    };
    let logger = Box::leak(Box::new(Logger { level, file }));
    // A second init (only possible in tests) keeps the first logger.
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
    Ok(())
}

/// `2026-01-02T03:04:05.678Z`: now, in UTC.
fn timestamp() -> String {
    isula_core::time::now().to_rfc3339_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_timestamp() {
        assert_eq!(parse_level("WARNING"), Some(LevelFilter::Warn));
        assert_eq!(parse_level("fatal"), Some(LevelFilter::Error));
        assert_eq!(parse_level("loud"), None);
        assert_eq!(timestamp().len(), 24);
    }
}
