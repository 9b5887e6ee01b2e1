//! OOM-kill detection: the `oom_kill` counter of the process' memory cgroup
//! (`memory.oom_control` on cgroup v1, `memory.events` on v2), read at create and at exit.

use std::fs;
use std::path::PathBuf;

/// The counter file and its value when the process was created.
pub(crate) struct OomWatch {
    file: Option<PathBuf>,
    baseline: u64,
}

impl OomWatch {
    /// Find the memory cgroup of `pid` and remember its current `oom_kill` count.
    pub(crate) fn new(pid: i32) -> OomWatch {
        let file = counter_file(pid);
        let baseline = file.as_ref().and_then(read_count).unwrap_or(0);
        OomWatch { file, baseline }
    }

    /// Whether the kernel OOM-killed a process of the cgroup since [`OomWatch::new`].
    pub(crate) fn killed(&self) -> bool {
        self.file.as_ref().and_then(read_count).is_some_and(|n| n > self.baseline)
    }
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
