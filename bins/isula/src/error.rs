//! The CLI's error: a message for stderr and Docker's exit code.

use std::fmt;

use isula_types::reason::Reason;

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

    /// The daemon refused a request: `Error response from daemon: MSG`, status 1 as Docker;
    /// a call that failed in the connection instead ([`connection_failed`]) is an engine
    /// error (125).
    pub(crate) fn daemon(s: &tonic::Status) -> Self {
        if connection_failed(s) {
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

impl From<isula_types::Error> for CliError {
    /// A flag value the shared parsers refuse: a usage error (125) with the parser's message,
    /// which names the option and the value.
    fn from(e: isula_types::Error) -> Self {
        CliError::engine(e.to_string())
    }
}

/// Whether the call failed in the connection to the daemon rather than being answered: tonic
/// builds such a status itself from its transport's error ([`tonic::transport::Error`], kept
/// as the status's source), while a status the daemon sent has no source. Decided by type,
/// never by the message.
pub(crate) fn connection_failed(s: &tonic::Status) -> bool {
    let mut cause = std::error::Error::source(s);
    while let Some(e) = cause {
        if e.is::<tonic::transport::Error>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// What to say when connecting to the daemon at `addr` failed with `e`: permission denied
/// on the socket (found by the I/O error's kind in `e`'s causes), or "is it running?".
pub(crate) fn connect_error_message(addr: &str, e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied) {
            return format!(
                "permission denied while trying to connect to isulad at {addr}: run as root or as a member of the socket's group"
            );
        }
        cause = c.source();
    }
    format!("cannot connect to isulad at {addr}: is it running?")
}

/// The engine's machine-readable reason for a refused request, from the daemon's
/// `isula-reason` status metadata; `None` when it gave none. Every decision on the kind of
/// a daemon error beyond its gRPC code goes through here, never through the message text.
pub(crate) fn reason(s: &tonic::Status) -> Option<Reason> {
    s.metadata().get(isula_api::REASON_KEY)?.to_str().ok()?.parse().ok()
}

/// Docker's exit code for a refused start of a container or exec: 127 when the command was
/// not found, 126 when it could not be invoked (from the reason), otherwise 125.
pub(crate) fn start_error_code(s: &tonic::Status) -> i32 {
    Reason::start_exit_code(reason(s)).unwrap_or(ENGINE)
}

/// Exit status when stdout or stderr is a pipe whose reader went away (128 + SIGPIPE, as the
/// shell reports a process killed by SIGPIPE).
pub(crate) const BROKEN_PIPE: i32 = 141;

/// Handle the result of a write to stdout/stderr: a closed pipe ends the program quietly
/// with [`BROKEN_PIPE`]; other failures are reported as `println!` would.
pub(crate) fn written(r: std::io::Result<()>, stream: &str) {
    match r {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(BROKEN_PIPE),
        Err(e) => panic!("failed printing to {stream}: {e}"),
    }
}

/// `print!` to stdout through [`written`] (used by the crate's `println!`/`print!`).
pub(crate) fn write_out(args: fmt::Arguments<'_>) {
    use std::io::Write;
    written(std::io::stdout().lock().write_fmt(args), "stdout");
}

/// `eprint!` to stderr through [`written`] (used by the crate's `eprintln!`/`eprint!`).
pub(crate) fn write_err(args: fmt::Arguments<'_>) {
    use std::io::Write;
    written(std::io::stderr().lock().write_fmt(args), "stderr");
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

    fn with_reason(code: tonic::Code, reason: &'static str) -> tonic::Status {
        let mut s = tonic::Status::new(code, "exec: \"nope\": executable file not found in $PATH");
        s.metadata_mut().insert(isula_api::REASON_KEY, tonic::metadata::MetadataValue::from_static(reason));
        s
    }

    #[test]
    fn reasons_come_from_metadata_not_text() {
        let s = with_reason(tonic::Code::NotFound, "command_not_found");
        assert_eq!(reason(&s), Some(Reason::CommandNotFound));
        assert_eq!(start_error_code(&s), 127);
        assert_eq!(start_error_code(&with_reason(tonic::Code::PermissionDenied, "command_not_executable")), 126);
        assert_eq!(reason(&with_reason(tonic::Code::NotFound, "no_such_image")), Some(Reason::NoSuchImage));
        // the same text without the metadata is just an engine error
        let bare = tonic::Status::new(tonic::Code::NotFound, "exec: \"nope\": executable file not found in $PATH");
        assert_eq!((reason(&bare), start_error_code(&bare)), (None, ENGINE));
        assert_eq!(reason(&with_reason(tonic::Code::NotFound, "from_the_future")), None);
    }

    #[test]
    fn connection_failures_by_type_not_text() {
        // What tonic makes of its transport's failure: the transport error is the source.
        let transport = tonic::transport::Endpoint::from_shared("not a uri\n").unwrap_err();
        let s = tonic::Status::from_error(Box::new(transport));
        assert!(connection_failed(&s));
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(connect_error_message("unix:///x.sock", &denied).starts_with("permission denied"));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(connect_error_message("unix:///x.sock", &refused).ends_with("is it running?"));
        let e = CliError::daemon(&s);
        assert_eq!(e.code, ENGINE, "{}", e.msg);
        assert!(e.msg.starts_with("Error: the connection to isulad failed:"), "{}", e.msg);
        // A status the daemon sent is its answer, whatever its code and text.
        let answered = tonic::Status::unavailable("transport error: the runtime is down");
        assert!(!connection_failed(&answered));
        let e = CliError::daemon(&answered);
        assert_eq!((e.code, e.msg.as_str()), (1, "Error response from daemon: transport error: the runtime is down"));
    }

    #[test]
    fn io_errors_read_like_go() {
        let e = std::fs::read("/no/such/file").unwrap_err();
        assert_eq!(io_text(&e), "no such file or directory");
        let custom = std::io::Error::other("Broken thing");
        assert_eq!(io_text(&custom), "broken thing");
    }
}
