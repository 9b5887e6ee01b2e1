//! OOM-kill detection: the `oom_kill` counter of the process' memory cgroup
//! (`memory.oom_control` on cgroup v1, `memory.events` on v2), read at create and at exit.
//!
//! On v2 a thread also re-reads `memory.events` whenever the kernel signals a change
//! (inotify): with the systemd driver the scope's cgroup can be gone by the time the
//! process' exit is seen, and the last value read is what counts then.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

/// The counter file and its value when the process was created.
pub(crate) struct OomWatch {
    file: Option<PathBuf>,
    baseline: u64,
    seen: Arc<AtomicU64>,
}

impl OomWatch {
    /// Find the memory cgroup of `pid` and remember its current `oom_kill` count.
    pub(crate) fn new(pid: i32) -> OomWatch {
        let file = counter_file(pid);
        let baseline = file.as_ref().and_then(read_count).unwrap_or(0);
        let seen = Arc::new(AtomicU64::new(baseline));
        if let Some(f) = file.as_ref().filter(|f| f.ends_with("memory.events")) {
            follow(f.clone(), seen.clone());
        }
        OomWatch { file, baseline, seen }
    }

    /// Whether the kernel OOM-killed a process of the cgroup since [`OomWatch::new`].
    pub(crate) fn killed(&self) -> bool {
        let now = self.file.as_ref().and_then(read_count).unwrap_or(0);
        now.max(self.seen.load(Ordering::SeqCst)) > self.baseline
    }
}

/// Re-read `file` into `seen` at each change until the cgroup goes away (best effort: without
/// inotify only the reads at create and exit count).
fn follow(file: PathBuf, seen: Arc<AtomicU64>) {
    let Ok(ino) = Inotify::init(InitFlags::IN_CLOEXEC) else { return };
    if ino.add_watch(&file, AddWatchFlags::IN_MODIFY).is_err() {
        return;
    }
    let _ = std::thread::Builder::new().name("oom-watch".into()).spawn(move || loop {
        let Ok(events) = ino.read_events() else { return };
        if let Some(n) = read_count(&file) {
            seen.fetch_max(n, Ordering::SeqCst);
        }
        if events.iter().any(|e| e.mask.contains(AddWatchFlags::IN_IGNORED)) {
            return;
        }
    });
}

fn counter_file(pid: i32) -> Option<PathBuf> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mut v2 = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let path = path.trim_start_matches('/');
        if ctrls.split(',').any(|c| c == "memory") {
            let f = PathBuf::from("/sys/fs/cgroup/memory").join(path).join("memory.oom_control");
            if f.exists() {
                return Some(f);
            }
        } else if ctrls.is_empty() {
            let f = PathBuf::from("/sys/fs/cgroup").join(path).join("memory.events");
            if f.exists() {
                v2 = Some(f);
            }
        }
    }
    v2
}

fn read_count(file: &PathBuf) -> Option<u64> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| l.strip_prefix("oom_kill ")).and_then(|v| v.trim().parse().ok())
}
