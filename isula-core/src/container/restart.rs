//! Restart policies (`no`, `always`, `on-failure[:N]`, `unless-stopped`) and their backoff.

use std::time::Duration;

use super::options::RestartPolicy;

/// First delay before a restart.
pub(crate) const BACKOFF_START: Duration = Duration::from_millis(100);
/// Largest delay before a restart.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A run at least this long resets the backoff (as Docker).
pub(crate) const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(10);

/// Whether a container that exited with `exit_code` is restarted by `policy`, given the
/// restarts already done and whether the user stopped it.
pub(crate) fn should_restart(
    policy: &RestartPolicy,
    exit_code: i32,
    restart_count: u32,
    manually_stopped: bool,
) -> bool {
    if manually_stopped {
        return false;
    }
    match policy.name.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            exit_code != 0 && (policy.maximum_retry_count == 0 || restart_count < policy.maximum_retry_count)
        }
        _ => false,
    }
}

/// Whether the engine starts this container again when it is opened and finds it
/// stopped, as Docker's daemon does at start-up: `always` restarts even a container the
/// user stopped or killed, `unless-stopped` only one that was not stopped by the user,
/// `on-failure` one whose last exit code is non-zero (within the retry limit).
pub(crate) fn restart_on_open(
    policy: &RestartPolicy,
    exit_code: i32,
    restart_count: u32,
    manually_stopped: bool,
) -> bool {
    match policy.name.as_str() {
        "always" => true,
        "unless-stopped" => !manually_stopped,
        "on-failure" => should_restart(policy, exit_code, restart_count, false),
        _ => false,
    }
}

/// Delay before restart number `attempt` (0-based): 100 ms doubling, at most one minute.
pub fn backoff(attempt: u32) -> Duration {
    let ms = BACKOFF_START.as_millis() as u64;
    let d = Duration::from_millis(ms.saturating_mul(1u64 << attempt.min(20)));
    d.min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, n: u32) -> RestartPolicy {
        RestartPolicy { name: name.into(), maximum_retry_count: n }
    }

    #[test]
    fn policies() {
        assert!(!should_restart(&p("", 0), 1, 0, false));
        assert!(!should_restart(&p("no", 0), 1, 0, false));
        assert!(should_restart(&p("always", 0), 0, 100, false));
        assert!(!should_restart(&p("always", 0), 0, 0, true));
        assert!(should_restart(&p("unless-stopped", 0), 0, 0, false));
        assert!(!should_restart(&p("on-failure", 0), 0, 0, false));
        assert!(should_restart(&p("on-failure", 0), 2, 50, false));
        assert!(should_restart(&p("on-failure", 3), 2, 2, false));
        assert!(!should_restart(&p("on-failure", 3), 2, 3, false));
        assert!(!should_restart(&p("unless-stopped", 0), 0, 0, true));
        assert!(!should_restart(&p("on-failure", 0), 1, 0, true));
    }

    #[test]
    fn policies_on_open() {
        assert!(restart_on_open(&p("always", 0), 0, 0, true));
        assert!(restart_on_open(&p("always", 0), 137, 5, false));
        assert!(!restart_on_open(&p("unless-stopped", 0), 137, 0, true));
        assert!(restart_on_open(&p("unless-stopped", 0), 0, 0, false));
        assert!(restart_on_open(&p("on-failure", 0), 137, 0, true));
        assert!(!restart_on_open(&p("on-failure", 0), 0, 0, false));
        assert!(!restart_on_open(&p("on-failure", 2), 1, 2, false));
        assert!(!restart_on_open(&p("no", 0), 1, 0, false));
        assert!(!restart_on_open(&p("", 0), 1, 0, false));
    }

    #[test]
    fn backoff_doubles_to_a_minute() {
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(5), Duration::from_millis(3200));
        assert_eq!(backoff(10), BACKOFF_MAX);
        assert_eq!(backoff(64), BACKOFF_MAX);
    }
}
