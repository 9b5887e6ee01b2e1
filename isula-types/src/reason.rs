//! [`Reason`]: the machine-readable cause of an error, carried next to its kind so that
//! every front end (gRPC metadata, the C ABI, the CLI) decides by value, never by message
//! text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an operation failed, when a caller can act on it. The string form ([`Reason::as_str`])
/// is stable: it travels in the daemon's `isula-reason` gRPC metadata and through the C ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No container has that id, id prefix or name.
    NoSuchContainer,
    /// No image has that reference or id.
    NoSuchImage,
    /// No network has that name or id.
    NoSuchNetwork,
    /// No volume has that name.
    NoSuchVolume,
    /// A path does not exist inside a container (`cp`).
    NoSuchPath,
    /// A container name is already taken by another container.
    NameInUse,
    /// The container's or exec's command was not found (Docker's exit code 127).
    CommandNotFound,
    /// The command exists but cannot be invoked (Docker's exit code 126).
    CommandNotExecutable,
    /// The container (or its process) is not running.
    NotRunning,
    /// The operation was cancelled (e.g. a layer download stopped after another failed).
    Cancelled,
}

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: [Reason; 10] = [
        Reason::NoSuchContainer,
        Reason::NoSuchImage,
        Reason::NoSuchNetwork,
        Reason::NoSuchVolume,
        Reason::NoSuchPath,
        Reason::NameInUse,
        Reason::CommandNotFound,
        Reason::CommandNotExecutable,
        Reason::NotRunning,
        Reason::Cancelled,
    ];

    /// The stable snake_case name (`"no_such_container"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoSuchContainer => "no_such_container",
            Reason::NoSuchImage => "no_such_image",
            Reason::NoSuchNetwork => "no_such_network",
            Reason::NoSuchVolume => "no_such_volume",
            Reason::NoSuchPath => "no_such_path",
            Reason::NameInUse => "name_in_use",
            Reason::CommandNotFound => "command_not_found",
            Reason::CommandNotExecutable => "command_not_executable",
            Reason::NotRunning => "not_running",
            Reason::Cancelled => "cancelled",
        }
    }

    /// Docker's exit code for a container or exec that failed to start for this reason:
    /// 127 when the command was not found, 126 when it could not be invoked, `None` otherwise
    /// (Docker then reports 125 from the CLI, 128 in the container's state).
    pub fn start_exit_code(reason: Option<Reason>) -> Option<i32> {
        match reason {
            Some(Reason::CommandNotFound) => Some(127),
            Some(Reason::CommandNotExecutable) => Some(126),
            _ => None,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not the name of any [`Reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error reason {0:?}")]
pub struct UnknownReason(pub String);

impl FromStr for Reason {
    type Err = UnknownReason;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownReason(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_forms_round_trip_and_match_serde() {
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{}\"", r.as_str()));
            assert_eq!(r.to_string(), r.as_str());
        }
        assert_eq!("nope".parse::<Reason>(), Err(UnknownReason("nope".into())));
    }

    #[test]
    fn start_exit_codes_follow_docker() {
        assert_eq!(Reason::start_exit_code(Some(Reason::CommandNotFound)), Some(127));
        assert_eq!(Reason::start_exit_code(Some(Reason::CommandNotExecutable)), Some(126));
        assert_eq!(Reason::start_exit_code(Some(Reason::NoSuchImage)), None);
        assert_eq!(Reason::start_exit_code(None), None);
    }
}
