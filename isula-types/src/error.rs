//! The error of isula-types: a value that does not parse or is not valid.

/// A string form (flag, option, name) that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The message names the option and the offending value (`invalid --cpus "x": not a number`).
    #[error("{0}")]
    InvalidArgument(String),
}

impl Error {
    /// An [`Error::InvalidArgument`] with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidArgument(message.into())
    }

    /// Prefix the message with `context` (`context: message`), as the engine's errors do.
    pub fn context(self, context: impl std::fmt::Display) -> Self {
        match self {
            Error::InvalidArgument(m) => Error::InvalidArgument(format!("{context}: {m}")),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Error::InvalidArgument(m) => m,
        }
    }
}

/// Result of the parsers.
pub type Result<T> = std::result::Result<T, Error>;
