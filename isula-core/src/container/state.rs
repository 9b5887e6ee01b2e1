//! The container state machine: [`Status`], the persisted [`State`] and the guards that
//! say which operation is allowed in which status.
//!
//! ```text
//! create ──> Created ──start──> Running ──exit──> Exited ──start──> Running
//!                                 │  ▲                │
//!                          pause  ▼  │ unpause        restart policy: Restarting ──> Running
//!                                Paused
//! rm: any (Running/Paused only with force) ──> Removing ──> gone (Dead when removal failed)
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Docker's container statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created (the runtime holds the process before `start`).
    Created,
    /// The init process runs.
    Running,
    /// Frozen.
    Paused,
    /// Exited; a restart policy will start it again.
    Restarting,
    /// Exited (or never started after a failed start).
    Exited,
    /// Being removed.
    Removing,
    /// Removal failed half way.
    Dead,
}

impl Status {
    /// Docker's lowercase name (`running`, `exited`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
            Status::Removing => "removing",
            Status::Dead => "dead",
        }
    }

    /// Parse a Docker status name (filters).
    pub fn parse(s: &str) -> Result<Status> {
        Ok(match s {
            "created" => Status::Created,
            "running" => Status::Running,
            "paused" => Status::Paused,
            "restarting" => Status::Restarting,
            "exited" => Status::Exited,
            "removing" => Status::Removing,
            "dead" => Status::Dead,
            _ => return Err(Error::invalid(format!("invalid filter 'status={s}'"))),
        })
    }

    /// A process exists (running or paused).
    pub fn is_active(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }

    /// `start` makes sense (a running container is a no-op success, checked separately).
    pub fn can_start(self) -> bool {
        matches!(self, Status::Created | Status::Exited | Status::Restarting | Status::Running)
    }

    /// `stop` has something to do.
    pub fn can_stop(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Restarting | Status::Created)
    }

    /// `kill` can deliver a signal.
    pub fn can_kill(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }

    /// `pause` is allowed.
    pub fn can_pause(self) -> bool {
        self == Status::Running
    }

    /// `unpause` is allowed.
    pub fn can_unpause(self) -> bool {
        self == Status::Paused
    }

    /// `exec`/`attach` are allowed.
    pub fn can_exec(self) -> bool {
        self == Status::Running
    }

    /// `rm` without force is allowed.
    pub fn can_remove(self) -> bool {
        !matches!(self, Status::Running | Status::Paused | Status::Restarting | Status::Removing)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The runtime state of a container, persisted in its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct State {
    /// Current status.
    pub status: Status,
    /// Host pid of the init process (0 when none).
    pub pid: i32,
    /// Pid of the supervising `isulad-shim` (0 when none).
    pub shim_pid: i32,
    /// Start time of the shim (pid-reuse guard).
    pub shim_start_time: u64,
    /// Last exit code (127: command not found, 126: cannot invoke).
    pub exit_code: i32,
    /// Error of the last failed start.
    pub error: String,
    /// RFC 3339 time of the last start (`0001-01-01T00:00:00Z` when never).
    pub started_at: String,
    /// RFC 3339 time of the last exit.
    pub finished_at: String,
    /// The last exit was an OOM kill.
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Stopped by the user (restart policies `always`/`unless-stopped` leave it alone).
    pub manually_stopped: bool,
}

/// Docker's "zero" time.
pub(crate) const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl Default for State {
    fn default() -> Self {
        State {
            status: Status::Created,
            pid: 0,
            shim_pid: 0,
            shim_start_time: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            oom_killed: false,
            manually_stopped: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards() {
        assert!(Status::Created.can_start() && Status::Exited.can_start());
        assert!(!Status::Paused.can_start() && !Status::Removing.can_start());
        assert!(Status::Running.can_pause() && !Status::Paused.can_pause());
        assert!(Status::Paused.can_unpause() && !Status::Running.can_unpause());
        assert!(!Status::Running.can_remove() && Status::Exited.can_remove() && Status::Created.can_remove());
        assert!(Status::Running.can_kill() && !Status::Exited.can_kill());
        for s in ["created", "running", "paused", "restarting", "exited", "removing", "dead"] {
            assert_eq!(Status::parse(s).unwrap().as_str(), s);
        }
        assert!(Status::parse("bogus").is_err());
        assert_eq!(serde_json::to_value(Status::Running).unwrap(), "running");
    }
}
