//! Health checks (Docker's `HEALTHCHECK`): a monitor thread per running container that
//! probes it through a caller-supplied exec function and keeps its [`HealthState`].
//!
//! Rules, as Docker applies them: the status starts as `starting`; a probe exiting 0 makes
//! it `healthy` and resets the failing streak; any other result (non-zero exit, exec error,
//! timeout) increments the streak, except while the container is still `starting` within
//! its start period; `retries` consecutive failures make it `unhealthy`. The last five
//! results are kept, each output cut to 4 KiB. An exec refused with `FailedPrecondition`
//! (the container is paused or stopping) is not a result and is not recorded.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

pub(crate) use crate::container::options::HealthConfig;
use crate::error::{Error, Result};

/// Default interval, timeout (30 s each) and retries (3), as Docker's.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Default probe timeout.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of consecutive failures before `unhealthy`.
pub(crate) const DEFAULT_RETRIES: u32 = 3;
/// Results kept in [`HealthState::log`].
pub(crate) const MAX_LOG_ENTRIES: usize = 5;
/// Bytes of probe output kept per result.
pub(crate) const MAX_OUTPUT_LEN: usize = 4096;

pub use isula_types::container::inspect::HealthState;
pub(crate) use isula_types::container::inspect::{HealthLogEntry, HealthStatus};

/// Runs a command in the container with a timeout: `(argv, timeout) -> (exit code, output)`.
/// It should kill the command when the timeout passes; the monitor stops waiting then anyway.
pub(crate) type ExecFn = dyn Fn(&[String], Duration) -> Result<(i32, String)> + Send + Sync;

/// Called with the new state after every recorded result (to persist it), with `true`
/// when the status changed (for `health_status` events).
pub(crate) type StatusFn = dyn Fn(&HealthState, bool) + Send + Sync;

/// A health check made concrete: the command and the timings with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Probe {
    /// The command to run (`CMD-SHELL x` becomes `/bin/sh -c x`).
    pub argv: Vec<String>,
    /// Time between the end of a probe and the next.
    pub interval: Duration,
    /// Time a probe may run.
    pub timeout: Duration,
    /// Failures in a row before `unhealthy`.
    pub retries: u32,
    /// Grace period after start in which failures do not count.
    pub start_period: Duration,
}

fn dur(ns: i64, default: Duration) -> Duration {
    if ns > 0 {
        Duration::from_nanos(ns as u64)
    } else {
        default
    }
}

impl Probe {
    /// The probe of `config`; `None` when checks are disabled (`["NONE"]` or no test).
    /// A test not starting with `CMD`, `CMD-SHELL` or `NONE`, or without a command, is InvalidArgument.
    pub(crate) fn from_config(config: &HealthConfig) -> Result<Option<Probe>> {
        let argv = match config.test.first().map(String::as_str) {
            None | Some("NONE") => return Ok(None),
            Some("CMD") if config.test.len() > 1 => config.test[1..].to_vec(),
            Some("CMD-SHELL") if config.test.len() == 2 => {
                vec!["/bin/sh".into(), "-c".into(), config.test[1].clone()]
            }
            _ => {
                return Err(Error::invalid(format!(
                    "invalid health check test {:?}: must be [\"NONE\"], [\"CMD\", args…] or [\"CMD-SHELL\", command]",
                    config.test
                )))
            }
        };
        if config.interval < 0 || config.timeout < 0 || config.retries < 0 || config.start_period < 0 {
            return Err(Error::invalid(
                "health check interval, timeout, retries and start period must not be negative",
            ));
        }
        Ok(Some(Probe {
            argv,
            interval: dur(config.interval, DEFAULT_INTERVAL),
            timeout: dur(config.timeout, DEFAULT_TIMEOUT),
            retries: if config.retries > 0 { config.retries.min(u32::MAX as i64) as u32 } else { DEFAULT_RETRIES },
            start_period: dur(config.start_period, Duration::ZERO),
        }))
    }
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_OUTPUT_LEN {
        let mut cut = MAX_OUTPUT_LEN;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// Apply one probe result to `state` (Docker's rules); returns true when the status changed.
/// `in_start_period`: the probe started within the start period of the container.
pub(crate) fn apply_result(
    state: &mut HealthState,
    retries: u32,
    entry: HealthLogEntry,
    in_start_period: bool,
) -> bool {
    let before = state.status;
    if entry.exit_code == 0 {
        state.failing_streak = 0;
        state.status = HealthStatus::Healthy;
    } else if !(state.status == HealthStatus::Starting && in_start_period) {
        state.failing_streak += 1;
        if state.failing_streak >= retries {
            state.status = HealthStatus::Unhealthy;
        }
    }
    let mut log: VecDeque<_> = std::mem::take(&mut state.log).into();
    log.push_back(entry);
    while log.len() > MAX_LOG_ENTRIES {
        log.pop_front();
    }
    state.log = log.into();
    state.status != before
}

struct Shared {
    state: Mutex<HealthState>,
    stopped: Mutex<bool>,
    wake: Condvar,
}

/// A running health monitor. Stops (and joins its thread, within a few milliseconds) on
/// [`stop`](Self::stop) or drop; a probe in flight is abandoned, not waited for.
pub(crate) struct HealthMonitor {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for HealthMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthMonitor").field("state", &self.state()).finish()
    }
}

impl HealthMonitor {
    /// Start probing with `config` from now on (the container has just started).
    /// `None` when the config disables checks. `name` labels the thread and logs.
    #[cfg(test)]
    pub(crate) fn start(
        name: &str,
        config: &HealthConfig,
        exec: Arc<ExecFn>,
        on_change: Arc<StatusFn>,
    ) -> Result<Option<HealthMonitor>> {
        Self::resume(name, config, HealthState::default(), exec, on_change)
    }

    /// Like [`start`](Self::start) but continuing from `state` (a container unpaused:
    /// its status and failing streak carry on).
    pub(crate) fn resume(
        name: &str,
        config: &HealthConfig,
        state: HealthState,
        exec: Arc<ExecFn>,
        on_change: Arc<StatusFn>,
    ) -> Result<Option<HealthMonitor>> {
        let Some(probe) = Probe::from_config(config)? else { return Ok(None) };
        let shared = Arc::new(Shared { state: Mutex::new(state), stopped: Mutex::new(false), wake: Condvar::new() });
        let s = shared.clone();
        let label = name.to_string();
        let thread = std::thread::Builder::new()
            .name(format!("health-{}", name.chars().take(8).collect::<String>()))
            .spawn(move || run(&label, probe, &s, exec, on_change))
            .map_err(|e| Error::internal(format!("start health monitor of {name}: {e}")))?;
        Ok(Some(HealthMonitor { shared, thread: Some(thread) }))
    }

    /// A copy of the current health.
    pub(crate) fn state(&self) -> HealthState {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stop probing and wait for the monitor thread (not for a probe in flight);
    /// returns the final state.
    pub(crate) fn stop(mut self) -> HealthState {
        self.halt();
        self.state()
    }

    fn halt(&mut self) {
        *self.shared.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            // Never join ourselves (the last engine handle may be dropped by a status callback).
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for HealthMonitor {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Sleep `d` unless stopped first; returns false when stopped.
fn wait(shared: &Shared, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    let mut stopped = shared.stopped.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if *stopped {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        stopped = shared.wake.wait_timeout(stopped, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
    }
}

fn is_stopped(shared: &Shared) -> bool {
    *shared.stopped.lock().unwrap_or_else(|e| e.into_inner())
}

/// Wait for a probe's result up to `timeout` (`Err(())`), checking for a stop request
/// every few milliseconds (`None`), so stopping never waits for a hung probe.
fn wait_probe<T>(shared: &Shared, rx: &mpsc::Receiver<T>, timeout: Duration) -> Option<Result<T, ()>> {
    let deadline = Instant::now() + timeout;
    loop {
        if is_stopped(shared) {
            return None;
        }
        let now = Instant::now();
        if now >= deadline {
            return Some(Err(()));
        }
        match rx.recv_timeout((deadline - now).min(Duration::from_millis(20))) {
            Ok(v) => return Some(Ok(v)),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Some(Err(())),
        }
    }
}

fn run(name: &str, probe: Probe, shared: &Shared, exec: Arc<ExecFn>, on_change: Arc<StatusFn>) {
    let started = Instant::now();
    while wait(shared, probe.interval) {
        let start_wall = SystemTime::now();
        let start = Instant::now();
        let (tx, rx) = mpsc::channel();
        let (e, argv, timeout) = (exec.clone(), probe.argv.clone(), probe.timeout);
        let spawned = std::thread::Builder::new().name("health-probe".into()).spawn(move || {
            let _ = tx.send(e(&argv, timeout));
        });
        let (exit_code, output) = match spawned {
            Err(e) => (-1, format!("cannot run the health check: {e}")),
            Ok(_) => match wait_probe(shared, &rx, probe.timeout) {
                // Stopped meanwhile (the container went away): record nothing.
                None => return,
                Some(Ok(Ok((code, out)))) => (code, out),
                // The container is not running (paused, exiting): not the probe's verdict.
                Some(Ok(Err(e))) if e.kind() == crate::ErrorKind::FailedPrecondition => continue,
                Some(Ok(Err(e))) => (-1, e.to_string()),
                Some(Err(())) => (-1, format!("Health check exceeded timeout ({:?})", probe.timeout)),
            },
        };
        if is_stopped(shared) {
            return;
        }
        let entry = HealthLogEntry {
            start: crate::time::Timestamp::from(start_wall),
            end: crate::time::now(),
            exit_code,
            output: truncate(output),
        };
        let in_start_period = start.duration_since(started) < probe.start_period;
        let (st, changed) = {
            let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            let changed = apply_result(&mut st, probe.retries, entry, in_start_period);
            (st.clone(), changed)
        };
        if changed {
            log::info!("container {name}: health status {}", st.status.as_str());
        }
        on_change(&st, changed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

    fn cfg(test: &[&str], interval_ms: i64, retries: i64, start_period_ms: i64) -> HealthConfig {
        HealthConfig {
            test: test.iter().map(|s| s.to_string()).collect(),
            interval: interval_ms * 1_000_000,
            timeout: 200_000_000,
            retries,
            start_period: start_period_ms * 1_000_000,
        }
    }

    struct Fake {
        code: Arc<AtomicI32>,
        calls: Arc<AtomicUsize>,
        changes: Arc<Mutex<Vec<HealthStatus>>>,
        /// The failing streak at each status change (what a poller could miss under load).
        change_streaks: Arc<Mutex<Vec<u32>>>,
    }

    fn fake() -> (Fake, Arc<ExecFn>, Arc<StatusFn>) {
        let f = Fake {
            code: Arc::new(AtomicI32::new(0)),
            calls: Arc::new(AtomicUsize::new(0)),
            changes: Arc::new(Mutex::new(Vec::new())),
            change_streaks: Arc::new(Mutex::new(Vec::new())),
        };
        let (code, calls, changes) = (f.code.clone(), f.calls.clone(), f.changes.clone());
        let streaks = f.change_streaks.clone();
        let exec: Arc<ExecFn> = Arc::new(move |argv: &[String], _t: Duration| {
            assert_eq!(argv, ["/bin/sh", "-c", "test -f /tmp/ok"]);
            calls.fetch_add(1, Ordering::SeqCst);
            let c = code.load(Ordering::SeqCst);
            Ok((c, format!("exit {c}")))
        });
        let on: Arc<StatusFn> = Arc::new(move |s: &HealthState, changed: bool| {
            if changed {
                changes.lock().unwrap().push(s.status);
                streaks.lock().unwrap().push(s.failing_streak);
            }
        });
        (f, exec, on)
    }

    fn wait_for(m: &HealthMonitor, what: impl Fn(&HealthState) -> bool) -> HealthState {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = m.state();
            if what(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out; state {s:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn probe_from_config() {
        assert_eq!(Probe::from_config(&cfg(&["NONE"], 0, 0, 0)).unwrap(), None);
        assert_eq!(Probe::from_config(&HealthConfig::default()).unwrap(), None);
        let p = Probe::from_config(&HealthConfig { test: vec!["CMD".into(), "true".into()], ..Default::default() })
            .unwrap()
            .unwrap();
        assert_eq!(p.argv, ["true"]);
        assert_eq!(
            (p.interval, p.timeout, p.retries, p.start_period),
            (DEFAULT_INTERVAL, DEFAULT_TIMEOUT, 3, Duration::ZERO)
        );
        let p = Probe::from_config(&cfg(&["CMD-SHELL", "a && b"], 10, 2, 0)).unwrap().unwrap();
        assert_eq!(p.argv, ["/bin/sh", "-c", "a && b"]);
        assert_eq!((p.interval, p.retries), (Duration::from_millis(10), 2));
        for bad in [&["CMD"][..], &["CMD-SHELL"], &["CMD-SHELL", "a", "b"], &["RUN", "x"]] {
            assert_eq!(Probe::from_config(&cfg(bad, 0, 0, 0)).unwrap_err().kind(), crate::ErrorKind::InvalidArgument);
        }
    }

    #[test]
    fn healthy_then_unhealthy_then_healthy() {
        let (f, exec, on) = fake();
        let m =
            HealthMonitor::start("c1", &cfg(&["CMD-SHELL", "test -f /tmp/ok"], 10, 3, 0), exec, on).unwrap().unwrap();
        assert_eq!(m.state().status, HealthStatus::Starting);
        let s = wait_for(&m, |s| s.status == HealthStatus::Healthy);
        assert_eq!(s.failing_streak, 0);
        assert_eq!(s.log.last().unwrap().exit_code, 0);
        assert!(!s.log[0].start.is_zero() && s.log[0].start <= s.log[0].end);
        f.code.store(1, Ordering::SeqCst);
        let s = wait_for(&m, |s| s.status == HealthStatus::Unhealthy);
        assert!(s.failing_streak >= 3, "{s:?}");
        // The change itself happened at the third consecutive failure, not before or after.
        assert_eq!(f.change_streaks.lock().unwrap()[1], 3, "unhealthy exactly at the third failure");
        assert!(s.log.len() <= MAX_LOG_ENTRIES);
        let s = wait_for(&m, |s| s.log.len() == MAX_LOG_ENTRIES && s.failing_streak > 5);
        assert_eq!(s.log.last().unwrap().output, "exit 1");
        f.code.store(0, Ordering::SeqCst);
        let s = wait_for(&m, |s| s.status == HealthStatus::Healthy);
        assert_eq!(s.failing_streak, 0);
        m.stop();
        assert_eq!(*f.changes.lock().unwrap(), [HealthStatus::Healthy, HealthStatus::Unhealthy, HealthStatus::Healthy]);
        // Stopped: no more probes.
        let calls = f.calls.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(f.calls.load(Ordering::SeqCst), calls);
    }

    #[test]
    fn start_period_failures_do_not_count() {
        let (f, exec, on) = fake();
        f.code.store(1, Ordering::SeqCst);
        let begun = Instant::now();
        let m =
            HealthMonitor::start("c2", &cfg(&["CMD-SHELL", "test -f /tmp/ok"], 10, 1, 400), exec, on).unwrap().unwrap();
        let s = wait_for(&m, |s| s.log.len() >= 3);
        if begun.elapsed() < Duration::from_millis(350) {
            // Well inside the 400 ms start period.
            assert_eq!((s.status, s.failing_streak), (HealthStatus::Starting, 0), "{s:?}");
        }
        wait_for(&m, |s| s.status == HealthStatus::Unhealthy);
        assert_eq!(f.change_streaks.lock().unwrap().first(), Some(&1), "unhealthy at the first counted failure");
        drop(m); // drop stops too
        let calls = f.calls.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(f.calls.load(Ordering::SeqCst), calls);
    }

    #[test]
    fn timeouts_and_errors_are_failures_and_output_is_cut() {
        let slow: Arc<ExecFn> = Arc::new(|_argv: &[String], _t: Duration| {
            std::thread::sleep(Duration::from_millis(500));
            Ok((0, String::new()))
        });
        let mut c = cfg(&["CMD", "x"], 10, 1, 0);
        c.timeout = 30_000_000;
        let m = HealthMonitor::start("c3", &c, slow, Arc::new(|_s: &HealthState, _changed: bool| {})).unwrap().unwrap();
        let s = wait_for(&m, |s| s.status == HealthStatus::Unhealthy);
        assert_eq!(s.log[0].exit_code, -1);
        assert!(s.log[0].output.contains("exceeded timeout"), "{:?}", s.log[0]);
        m.stop();

        let refused: Arc<ExecFn> =
            Arc::new(|_a: &[String], _t: Duration| Err(Error::precondition("Container x is not running")));
        let m = HealthMonitor::start(
            "c8",
            &cfg(&["CMD", "x"], 5, 1, 0),
            refused,
            Arc::new(|_s: &HealthState, _changed: bool| {}),
        )
        .unwrap()
        .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(m.state(), HealthState::default(), "refused execs are not results");
        drop(m);

        let failing: Arc<ExecFn> = Arc::new(|_a: &[String], _t: Duration| Err(Error::not_found("no such exec")));
        let m = HealthMonitor::start(
            "c4",
            &cfg(&["CMD", "x"], 10, 2, 0),
            failing,
            Arc::new(|_s: &HealthState, _changed: bool| {}),
        )
        .unwrap()
        .unwrap();
        let s = wait_for(&m, |s| s.status == HealthStatus::Unhealthy);
        assert_eq!((s.log[0].exit_code, s.log[0].output.as_str()), (-1, "no such exec"));
        drop(m);

        // Stopping does not wait for a hung probe: stop returns while the probe is still
        // blocked (it is released only afterwards).
        let gate = Arc::new((Mutex::new((false, false)), Condvar::new())); // (probing, released)
        let g = gate.clone();
        let hung: Arc<ExecFn> = Arc::new(move |_a: &[String], _t: Duration| {
            let (lock, cv) = &*g;
            let mut st = lock.lock().unwrap();
            st.0 = true;
            cv.notify_all();
            let _st = cv.wait_timeout_while(st, Duration::from_secs(60), |s| !s.1).unwrap();
            Ok((0, String::new()))
        });
        let mut c = cfg(&["CMD", "x"], 1, 1, 0);
        c.timeout = 120_000_000_000;
        let m = HealthMonitor::start("c6", &c, hung, Arc::new(|_s: &HealthState, _changed: bool| {})).unwrap().unwrap();
        let (lock, cv) = &*gate;
        drop(cv.wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(60), |s| !s.0).unwrap());
        m.stop();
        let mut st = lock.lock().unwrap();
        assert_eq!(*st, (true, false), "stop returned while the probe was still blocked");
        st.1 = true;
        cv.notify_all();
        drop(st);

        let chatty: Arc<ExecFn> = Arc::new(|_a: &[String], _t: Duration| Ok((0, "é".repeat(5000))));
        let m = HealthMonitor::start(
            "c5",
            &cfg(&["CMD", "x"], 10, 2, 0),
            chatty,
            Arc::new(|_s: &HealthState, _changed: bool| {}),
        )
        .unwrap()
        .unwrap();
        let s = wait_for(&m, |s| s.status == HealthStatus::Healthy);
        assert_eq!(s.log[0].output.len(), MAX_OUTPUT_LEN);
    }

    #[test]
    fn resume_continues_the_streak() {
        let (f, exec, on) = fake();
        f.code.store(1, Ordering::SeqCst);
        let prior = HealthState { status: HealthStatus::Healthy, failing_streak: 2, log: Vec::new() };
        let m = HealthMonitor::resume("c7", &cfg(&["CMD-SHELL", "test -f /tmp/ok"], 10, 3, 0), prior, exec, on)
            .unwrap()
            .unwrap();
        let s = wait_for(&m, |s| !s.log.is_empty());
        assert_eq!(s.status, HealthStatus::Unhealthy);
        assert_eq!(f.change_streaks.lock().unwrap().first(), Some(&3), "one more failure was enough");
        drop(m);
        assert_eq!(*f.changes.lock().unwrap(), [HealthStatus::Unhealthy]);
    }

    #[test]
    fn state_serialises_like_docker() {
        let mut st = HealthState::default();
        let e = HealthLogEntry {
            start: crate::time::Timestamp::UNIX_EPOCH,
            end: crate::time::Timestamp::UNIX_EPOCH,
            exit_code: 0,
            output: "ok".into(),
        };
        assert!(apply_result(&mut st, 3, e, false));
        let j = serde_json::to_value(&st).unwrap();
        assert_eq!(j["Status"], "healthy");
        assert_eq!(j["FailingStreak"], 0);
        assert_eq!(j["Log"][0]["ExitCode"], 0);
        let t = crate::time::Timestamp::from(SystemTime::UNIX_EPOCH + Duration::new(1_704_067_200, 5));
        assert_eq!(serde_json::to_value(t).unwrap(), "2024-01-01T00:00:00.000000005Z");
    }
}
