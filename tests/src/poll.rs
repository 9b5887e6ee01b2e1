//! Polling instead of sleeping: wait for a condition with a generous deadline, so a test
//! asserts what happened and never how fast (a slow CI machine only makes it take longer).

use std::time::{Duration, Instant};

/// How often a condition is polled.
const INTERVAL: Duration = Duration::from_millis(20);

/// Poll `cond` until it is true (returns true) or `timeout` passes (returns false).
pub fn poll(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(INTERVAL);
    }
}

/// Poll `cond` until it is true; panics naming `what` when `timeout` passes first.
#[track_caller]
pub fn wait_until(timeout: Duration, what: &str, cond: impl FnMut() -> bool) {
    assert!(poll(timeout, cond), "timed out after {timeout:?} waiting for {what}");
}

/// Poll `f` until it returns `Some`, and return that value; panics naming `what` when
/// `timeout` passes first.
#[track_caller]
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let mut out = None;
    wait_until(timeout, what, || {
        out = f();
        out.is_some()
    });
    out.expect("set when the wait succeeded")
}

/// Check that `cond` stays true for the whole of `window` (polled throughout); panics naming
/// `what` at the first poll that sees it false. For asserting that something does *not*
/// happen (no restart after a stop, no probe while paused), where there is nothing to wait for.
#[track_caller]
pub fn holds_for(window: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + window;
    loop {
        assert!(cond(), "{what} stopped holding");
        if Instant::now() >= end {
            return;
        }
        std::thread::sleep(INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_sees_a_condition_that_becomes_true() {
        let mut n = 0;
        assert!(poll(Duration::from_secs(10), || {
            n += 1;
            n == 3
        }));
        assert_eq!(n, 3);
    }

    #[test]
    fn poll_gives_up_on_a_condition_that_stays_false() {
        assert!(!poll(Duration::ZERO, || false));
    }

    #[test]
    #[should_panic(expected = "waiting for the moon")]
    fn wait_until_names_what_it_waited_for() {
        wait_until(Duration::ZERO, "the moon", || false);
    }

    #[test]
    #[should_panic(expected = "the flag stopped holding")]
    fn holds_for_fails_when_the_condition_breaks() {
        let mut n = 0;
        holds_for(Duration::from_secs(10), "the flag", || {
            n += 1;
            n < 3
        });
    }

    #[test]
    fn holds_for_checks_more_than_once() {
        let mut n = 0;
        holds_for(Duration::from_millis(100), "always", || {
            n += 1;
            true
        });
        assert!(n >= 2, "{n}");
    }

    #[test]
    fn wait_for_returns_the_value() {
        let mut n = 0;
        assert_eq!(
            wait_for(Duration::from_secs(10), "n", || {
                n += 1;
                (n == 2).then_some(n)
            }),
            2
        );
    }
}
