//! The CLI's error: a message for stderr and Docker's exit code.

use std::fmt;

/// Exit code of an engine or usage error (Docker's 125).
pub(crate) const ENGINE: i32 = 125;

/// A failed command: `msg` goes to stderr, `code` is the exit status.
#[derive(Debug)]
pub(crate) struct CliError {
    /// Exit status.
    pub code: i32,
    /// Message printed as is.
    pub msg: String,
}

impl CliError {
    /// An error with exit status 1 (Docker's status for a failed request of most commands).
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        CliError { code: 1, msg: msg.into() }
    }

    /// An error with exit status 125.
    pub(crate) fn engine(msg: impl Into<String>) -> Self {
        CliError { code: ENGINE, msg: msg.into() }
    }

    /// The daemon refused a request: `Error response from daemon: MSG`, status 1 as Docker.
    pub(crate) fn daemon(s: &tonic::Status) -> Self {
        if s.code() == tonic::Code::Unavailable && s.message().contains("transport") {
            return CliError::engine(format!("Error: the connection to isulad failed: {}", s.message()));
        }
        CliError::new(format!("Error response from daemon: {}", s.message()))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl From<tonic::Status> for CliError {
    fn from(s: tonic::Status) -> Self {
        CliError::daemon(&s)
    }
}

/// Result of a command: its exit status.
pub(crate) type CmdResult = Result<i32, CliError>;

/// An I/O error as Go prints it (`no such file or directory`), for Docker-shaped messages.
pub(crate) fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error ") {
        Some(i) if e.raw_os_error().is_some() => &s[..i],
        _ => &s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_like_go() {
        let e = std::fs::read("/no/such/file").unwrap_err();
        assert_eq!(io_text(&e), "no such file or directory");
        let custom = std::io::Error::other("Broken thing");
        assert_eq!(io_text(&custom), "broken thing");
    }
}
