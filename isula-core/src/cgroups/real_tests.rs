//! Real cgroup v1 tests: a throw-away cgroup per test with a child process moved into it.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;
use crate::cgroups::hierarchy::CgroupMode;
use crate::container::options::Resources;
use crate::ErrorKind;

const CONTROLLERS: [&str; 5] = ["memory", "cpu", "cpuacct", "pids", "blkio"];

/// A cgroup `/isula-test-<unique>` in each v1 controller, with one child process in it.
/// Drop kills the child (by its PID) and removes the cgroup directories.
struct TestCgroup {
    cg: Cgroup,
    dirs: Vec<PathBuf>,
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for d in &self.dirs {
            let deadline = Instant::now() + Duration::from_secs(5);
            while std::fs::remove_dir(d).is_err() && d.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl TestCgroup {
    /// The child runs `script` after it has been moved into the cgroup; the script
    /// communicates with the test through `read`/`echo` on its stdin/stdout.
    fn new(script: &str) -> TestCgroup {
        let h = Hierarchy::detect().unwrap();
        assert_ne!(h.mode(), CgroupMode::Unified, "these tests exercise cgroup v1 (this host is v1/hybrid)");
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("/isula-test-{}-{nanos}", std::process::id());
        let cg = h.cgroup(&name).unwrap();
        let mut dirs = Vec::new();
        for c in CONTROLLERS {
            let d = cg.v1_dir(c).unwrap().to_path_buf();
            if !dirs.contains(&d) {
                std::fs::create_dir(&d).unwrap();
                dirs.push(d);
            }
        }
        let mut child = Command::new("/bin/busybox")
            .args(["sh", "-c", &format!("read go; {script}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut t = TestCgroup { cg, dirs, child, stdin, stdout };
        let pid = t.child.id().to_string();
        for d in &t.dirs {
            std::fs::write(d.join("cgroup.procs"), &pid).unwrap();
        }
        t.say("go");
        t
    }

    fn say(&mut self, line: &str) {
        writeln!(self.stdin.as_mut().unwrap(), "{line}").unwrap();
    }

    fn expect(&mut self, want: &str) {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), want);
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

#[test]
fn v1_stats_pids_and_top_of_a_real_cgroup() {
    // Burn some CPU and hold ~8 MB of anonymous memory in the shell, then wait.
    let mut t = TestCgroup::new(
        "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; \
         x=$(/bin/busybox head -c 8000000 /dev/zero | /bin/busybox tr '\\0' a); echo ready; read done",
    );
    t.expect("ready");
    let s = t.cg.stats().unwrap();
    assert!(s.memory.usage > 8_000_000, "memory usage {} should include the 8 MB string", s.memory.usage);
    assert!(s.memory.rss > 0 || s.memory.stat.contains_key("total_rss"), "{:?}", s.memory.stat);
    assert!(s.memory.max_usage.unwrap() >= s.memory.usage);
    assert_eq!(s.memory.limit, None);
    assert_eq!(s.pids.current, 1, "only the shell is left");
    assert_eq!(s.pids.limit, None);
    assert!(s.cpu.total_usage_ns > 1_000_000, "the loop used CPU: {}", s.cpu.total_usage_ns);
    assert!(s.cpu.system_usage_ns > s.cpu.total_usage_ns);
    assert!(s.cpu.per_cpu_ns.as_ref().is_some_and(|p| !p.is_empty()));
    assert_eq!(t.cg.pids().unwrap(), vec![t.pid()]);

    let top = top(&t.cg, &[]).unwrap();
    assert_eq!(top.titles[1], "PID");
    assert_eq!(top.processes.len(), 1, "{top:?}");
    assert_eq!(top.processes[0][1], t.pid().to_string());
    assert!(top.processes[0].last().unwrap().contains("busybox sh"), "{top:?}");
    let top = super::top(&t.cg, &["-o".into(), "pid,comm".into()]).unwrap();
    assert_eq!(top.titles, ["PID", "COMMAND"]);
    assert_eq!(top.processes, vec![vec![t.pid().to_string(), "busybox".to_string()]]);

    // A second sample: CPU percent is computable and not negative.
    let s2 = t.cg.stats().unwrap();
    assert!(cpu_percent(&s.cpu, &s2.cpu) >= 0.0);
    t.say("done");
}

#[test]
fn v1_update_writes_live_limits() {
    let mut t = TestCgroup::new(
        "x=$(/bin/busybox head -c 16000000 /dev/zero | /bin/busybox tr '\\0' a); echo ready; read done",
    );
    t.expect("ready");
    let mem = t.cg.v1_dir("memory").unwrap().to_path_buf();
    let rd = |d: &std::path::Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap().trim().to_string();
    let r = Resources {
        memory: Some(64 << 20),
        memory_reservation: Some(32 << 20),
        cpu_shares: Some(512),
        cpus: Some(0.5),
        pids_limit: Some(10),
        ..Default::default()
    };
    t.cg.update(&r).unwrap();
    assert_eq!(rd(&mem, "memory.limit_in_bytes"), (64u64 << 20).to_string());
    assert_eq!(rd(&mem, "memory.soft_limit_in_bytes"), (32u64 << 20).to_string());
    let cpu = t.cg.v1_dir("cpu").unwrap();
    assert_eq!(rd(cpu, "cpu.shares"), "512");
    assert_eq!(rd(cpu, "cpu.cfs_quota_us"), "50000");
    assert_eq!(rd(cpu, "cpu.cfs_period_us"), "100000");
    assert_eq!(rd(t.cg.v1_dir("pids").unwrap(), "pids.max"), "10");
    let s = t.cg.stats().unwrap();
    assert_eq!((s.memory.limit, s.pids.limit), (Some(64 << 20), Some(10)));

    // Below what the shell holds (16 MB, no swap to reclaim into): the kernel says EBUSY.
    let e = t.cg.update(&Resources { memory: Some(8 << 20), ..Default::default() }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition, "{e}");
    assert!(e.to_string().contains(&(8u64 << 20).to_string()), "{e}");
    assert_eq!(rd(&mem, "memory.limit_in_bytes"), (64u64 << 20).to_string(), "limit unchanged");

    // Memory with swap, both directions.
    if mem.join("memory.memsw.limit_in_bytes").exists() {
        t.cg.update(&Resources { memory: Some(100 << 20), memory_swap: Some(200 << 20), ..Default::default() })
            .unwrap();
        assert_eq!(rd(&mem, "memory.memsw.limit_in_bytes"), (200u64 << 20).to_string());
        t.cg.update(&Resources { memory: Some(50 << 20), memory_swap: Some(60 << 20), ..Default::default() }).unwrap();
        assert_eq!(rd(&mem, "memory.limit_in_bytes"), (50u64 << 20).to_string());
        let e = t.cg.update(&Resources { memory: Some(80 << 20), ..Default::default() }).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    }
    // Unlimited again.
    t.cg.update(&Resources { memory: Some(-1), memory_swap: Some(-1), pids_limit: Some(0), ..Default::default() })
        .unwrap();
    assert_eq!(t.cg.stats().unwrap().memory.limit, None);
    assert_eq!(rd(t.cg.v1_dir("pids").unwrap(), "pids.max"), "max");
    t.say("done");
}

#[test]
fn missing_cgroup_is_not_found() {
    let h = Hierarchy::detect().unwrap();
    let cg = h.cgroup("/isula-test-never-created").unwrap();
    assert_eq!(cg.stats().unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(cg.pids().unwrap_err().kind(), ErrorKind::NotFound);
}
