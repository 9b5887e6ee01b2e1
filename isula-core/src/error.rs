//! The crate's one error type, [`Error`], and the [`ErrorKind`] callers match on.
//!
//! A kind drives everything outside the library: the daemon maps it to a gRPC
//! status code, the C ABI to an `isula_status`, the CLI to an exit code.

use std::fmt;
use std::io;
use std::path::Path;

pub use isula_types::reason::Reason;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ErrorKind {
    /// The named object (image, container, blob, layer, …) does not exist.
    NotFound,
    /// An object with that identity already exists.
    AlreadyExists,
    /// The request itself is malformed: bad reference, bad option, bad archive.
    InvalidArgument,
    /// The system is not in a state that allows the operation (e.g. a running container).
    FailedPrecondition,
    /// The request conflicts with another object (e.g. a name in use).
    Conflict,
    /// A resource is temporarily unreachable or locked (registry down, root locked).
    Unavailable,
    /// The caller may not do this.
    PermissionDenied,
    /// The operation is not implemented.
    Unimplemented,
    /// A bug or an unexpected system failure.
    Internal,
}

impl ErrorKind {
    /// A stable lower-case name for the kind (used in logs and JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::FailedPrecondition => "failed_precondition",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Unimplemented => "unimplemented",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned by every fallible call of the engine.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    reason: Option<Reason>,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a human-readable message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, reason: None, message: message.into(), source: None }
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The machine-readable reason, when the error has one a caller can act on.
    pub fn reason(&self) -> Option<Reason> {
        self.reason
    }

    /// Set the machine-readable reason (kept through [`context`](Self::context)).
    pub fn with_reason(mut self, reason: Reason) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Docker's exit code for a failed start of a container or exec (127 command not found,
    /// 126 not executable), from the reason; `None` for other errors.
    pub fn start_exit_code(&self) -> Option<i32> {
        Reason::start_exit_code(self.reason)
    }

    /// The message without the source chain.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Attach an underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Prefix the message with context (`"{context}: {message}"`), keeping the kind.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// [`ErrorKind::AlreadyExists`].
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::AlreadyExists, message)
    }
    /// [`ErrorKind::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    /// [`ErrorKind::FailedPrecondition`].
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::FailedPrecondition, message)
    }
    /// [`ErrorKind::Conflict`].
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    /// [`ErrorKind::Unavailable`].
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
    /// [`ErrorKind::PermissionDenied`].
    pub fn permission(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, message)
    }
    /// [`ErrorKind::Unimplemented`].
    pub fn unimplemented(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unimplemented, message)
    }
    /// [`ErrorKind::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// An I/O error on `path`, with the kind derived from the I/O error.
    pub fn io(path: impl AsRef<Path>, what: &str, err: io::Error) -> Self {
        let kind = io_kind(&err);
        Error::new(kind, format!("{what} {}: {err}", path.as_ref().display())).with_source(err)
    }
}

fn io_kind(err: &io::Error) -> ErrorKind {
    match err.kind() {
        io::ErrorKind::NotFound => ErrorKind::NotFound,
        io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
        io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof => {
            ErrorKind::InvalidArgument
        }
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    }
}

impl From<isula_types::Error> for Error {
    fn from(e: isula_types::Error) -> Self {
        match e {
            isula_types::Error::InvalidArgument(m) => Error::invalid(m),
        }
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        Error::new(io_kind(&err), err.to_string()).with_source(err)
    }
}

impl From<nix::Error> for Error {
    fn from(err: nix::Error) -> Self {
        Error::from(io::Error::from(err))
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::invalid(format!("invalid JSON: {err}")).with_source(err)
    }
}

/// Adds `.ctx("...")` to results, prefixing the error message and keeping the kind.
pub trait ResultExt<T> {
    /// Prefix the error with `context`.
    fn ctx(self, context: impl fmt::Display) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn ctx(self, context: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(context))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_to_kinds() {
        let e: Error = io::Error::from(io::ErrorKind::NotFound).into();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = Error::io("/x", "open", io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.to_string().starts_with("open /x: "));
    }

    #[test]
    fn reason_survives_context() {
        let e = Error::not_found("No such container: x").with_reason(Reason::NoSuchContainer).context("start");
        assert_eq!((e.kind(), e.reason()), (ErrorKind::NotFound, Some(Reason::NoSuchContainer)));
        assert_eq!(Error::internal("boom").reason(), None);
        let e = Error::internal("exec failed").with_reason(Reason::CommandNotFound);
        assert_eq!(e.start_exit_code(), Some(127));
        let e = Error::permission("exec failed").with_reason(Reason::CommandNotExecutable);
        assert_eq!(e.start_exit_code(), Some(126));
        assert_eq!(Error::not_found("layer").start_exit_code(), None);
    }

    #[test]
    fn context_keeps_kind() {
        let r: Result<()> = Err(Error::conflict("name in use"));
        let e = r.ctx("create web").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert_eq!(e.to_string(), "create web: name in use");
    }
}
