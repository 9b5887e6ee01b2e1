//! The engine's monitor thread: waits on the pidfds of every container shim (one
//! `poll` over all of them), records exits, and applies auto-remove and restart policies
//! with their backoff timers. Lifecycle code talks to it through [`MonitorSender`].
//!
//! The thread holds only a weak reference to the engine; it ends when the engine's
//! owning handle is dropped (which sends `Stop` and joins it).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Engine, EngineShared};
use crate::error::{Error, Result};
use crate::sys::process::{self as sysproc, PidFd};

/// A message to the monitor thread.
#[derive(Debug)]
pub(crate) enum Msg {
    /// Watch the shim of container `id`.
    Watch { id: String, shim_pid: i32, shim_start_time: u64 },
    /// Apply the restart policy of `id` at `at`.
    RestartAt { id: String, at: Instant },
    /// End the thread.
    Stop,
}

/// Sends messages to the monitor and wakes its `poll`.
pub(crate) struct MonitorSender {
    tx: Mutex<Sender<Msg>>,
    wake: Mutex<File>,
}

/// The receiving end, moved into the thread.
pub(crate) struct MonitorReceiver {
    rx: Receiver<Msg>,
    wake: File,
}

/// A connected sender/receiver pair.
pub(crate) fn channel() -> Result<(MonitorSender, MonitorReceiver)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
    let (tx, rx) = std::sync::mpsc::channel();
    Ok((
        MonitorSender { tx: Mutex::new(tx), wake: Mutex::new(File::from(w)) },
        MonitorReceiver { rx, wake: File::from(r) },
    ))
}

impl MonitorSender {
    /// Queue `m` (ignored when the thread is gone).
    pub(crate) fn send(&self, m: Msg) {
        let _ = self.tx.lock().unwrap_or_else(|p| p.into_inner()).send(m);
        let _ = self.wake.lock().unwrap_or_else(|p| p.into_inner()).write(&[1]);
    }
}

/// The running thread (owned by the `Engine` handle returned by `open`).
pub(crate) struct MonitorThread {
    engine: Weak<EngineShared>,
    join: Option<JoinHandle<()>>,
}

impl MonitorThread {
    /// Start the thread.
    pub(crate) fn spawn(engine: Weak<EngineShared>, rx: MonitorReceiver) -> Result<MonitorThread> {
        let weak = engine.clone();
        let join = std::thread::Builder::new()
            .name("isula-monitor".into())
            .spawn(move || run(weak, rx))
            .map_err(|e| Error::internal(format!("start the monitor thread: {e}")))?;
        Ok(MonitorThread { engine, join: Some(join) })
    }

    /// Ask the thread to end and wait for it.
    pub(crate) fn stop(mut self) {
        if let Some(e) = self.engine.upgrade() {
            e.monitor_tx.send(Msg::Stop);
        }
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

struct Watched {
    shim_pid: i32,
    fd: Option<PidFd>,
    /// For a gone shim whose exit could not be recorded yet (a user operation held the
    /// container): when to try again.
    retry_at: Option<Instant>,
}

/// What to do after an exit.
pub(crate) enum AfterExit {
    /// Nothing.
    Nothing,
    /// Remove the container (AutoRemove).
    Remove,
    /// Restart after the delay.
    Restart(Duration),
    /// A user operation (e.g. a start still finishing) holds the container: try again shortly.
    Busy,
}

fn run(engine: Weak<EngineShared>, mut rx: MonitorReceiver) {
    let mut watched: HashMap<String, Watched> = HashMap::new();
    let mut timers: Vec<(Instant, String)> = Vec::new();
    loop {
        // Wait for a shim exit, a message or the next timer.
        let now = Instant::now();
        let retries = watched.values().filter_map(|w| w.retry_at.map(|t| t.saturating_duration_since(now)));
        let timeout = timers.iter().map(|(t, _)| t.saturating_duration_since(now)).chain(retries).min();
        let mut exited: Vec<(String, i32)> = {
            let ids: Vec<&String> = watched.iter().filter(|(_, w)| w.fd.is_some()).map(|(k, _)| k).collect();
            let mut fds = vec![nix::poll::PollFd::new(rx.wake.as_fd(), nix::poll::PollFlags::POLLIN)];
            for id in &ids {
                let fd = watched[*id].fd.as_ref().map(|f| f.as_fd()).expect("filtered");
                fds.push(nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN));
            }
            let ms = match timeout {
                None => nix::poll::PollTimeout::NONE,
                Some(d) => nix::poll::PollTimeout::try_from(d.as_millis().min(60_000) as i32 + 1)
                    .unwrap_or(nix::poll::PollTimeout::MAX),
            };
            match nix::poll::poll(&mut fds, ms) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => {
                    log::error!("monitor poll: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            let out: Vec<(String, i32)> = ids
                .iter()
                .zip(fds.iter().skip(1))
                .filter(|(_, f)| f.revents().map(|r| !r.is_empty()).unwrap_or(false))
                .map(|(id, _)| ((*id).clone(), watched[*id].shim_pid))
                .collect();
            out
        };
        let mut buf = [0u8; 256];
        while matches!(rx.wake.read(&mut buf), Ok(n) if n > 0) {}
        let mut stop = false;
        while let Ok(m) = rx.rx.try_recv() {
            match m {
                Msg::Stop => stop = true,
                Msg::RestartAt { id, at } => timers.push((at, id)),
                Msg::Watch { id, shim_pid, shim_start_time } => {
                    let fd = match PidFd::open(shim_pid) {
                        Ok(Some(fd)) if sysproc::is_alive(shim_pid, shim_start_time) => Some(fd),
                        _ => None, // already gone: handled as an exit below
                    };
                    watched.insert(id, Watched { shim_pid, fd, retry_at: None });
                }
            }
        }
        if stop {
            return;
        }
        // Shims already gone when their watch arrived.
        let now = Instant::now();
        exited.extend(
            watched
                .iter()
                .filter(|(_, w)| w.fd.is_none() && w.retry_at.is_none_or(|t| t <= now))
                .map(|(k, w)| (k.clone(), w.shim_pid)),
        );
        let Some(shared) = engine.upgrade() else { return };
        let engine = Engine::handle(shared);
        for (id, shim_pid) in exited {
            if watched.get(&id).map(|w| w.shim_pid) != Some(shim_pid) {
                continue;
            }
            watched.remove(&id);
            match engine.on_shim_exit(&id, shim_pid) {
                AfterExit::Nothing => {}
                AfterExit::Restart(d) => timers.push((Instant::now() + d, id)),
                AfterExit::Remove => engine.auto_remove(&id),
                AfterExit::Busy => {
                    let retry_at = Some(Instant::now() + Duration::from_millis(20));
                    watched.insert(id, Watched { shim_pid, fd: None, retry_at });
                }
            }
        }
        let now = Instant::now();
        let due: Vec<String> = timers.iter().filter(|(t, _)| *t <= now).map(|(_, id)| id.clone()).collect();
        timers.retain(|(t, _)| *t > now);
        for id in due {
            if !engine.policy_restart(&id) {
                // The container is busy with a user operation: try again shortly.
                timers.push((now + Duration::from_millis(100), id));
            }
        }
        drop(engine);
    }
}
