//! shimbench: drives isula-core in-process for bench/ptcr.py, with the same serial and
//! parallel phases as the CLI engines, no daemon. Two modes:
//!
//! - `shimbench SHIM RUNTIME WORKDIR SPEC.json PREFIX SERIAL PARALLEL THREADS`: the runtime
//!   layer only, `OciRuntime` through `isulad-shim`; SPEC.json is the OCI config for every
//!   container (absolute read-only rootfs).
//! - `shimbench engine SHIM RUNTIME WORKDIR ARCHIVE PREFIX SERIAL PARALLEL THREADS`: the whole
//!   embedded `Engine` (image store, overlay snapshots, spec builder, shim) on a root and state
//!   under WORKDIR, after loading the docker-archive ARCHIVE.
//!
//! Prints one JSON object per line on stdout: `{"checkpoint": NAME}` then waits for a line on
//! stdin (the harness measures memory meanwhile), and finally `{"result": {...}}` with timings
//! in seconds. Every container it made is removed before it exits, also on errors.

mod engine;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use isula_core::unstable::runtime::{CreateRequest, OciRuntime, Runtime, ShimHandle, ShimLogConfig};

const WAIT: Option<Duration> = Some(Duration::from_secs(30));

struct Bench {
    rt: OciRuntime,
    dir: PathBuf,
    spec: serde_json::Value,
    live: Mutex<Vec<(String, ShimHandle)>>,
}

impl Bench {
    fn bundle(&self, id: &str) -> PathBuf {
        self.dir.join("bundles").join(id)
    }

    /// Untimed: write the bundle.
    fn prepare(&self, id: &str) -> Result<(), String> {
        let b = self.bundle(id);
        std::fs::create_dir_all(&b).map_err(|e| format!("{}: {e}", b.display()))?;
        let mut spec = self.spec.clone();
        spec["hostname"] = serde_json::json!(&id[id.len().saturating_sub(12)..]);
        std::fs::write(b.join("config.json"), spec.to_string()).map_err(|e| e.to_string())
    }

    /// Spawn the shim, which runs `runtime create`.
    fn create(&self, id: &str) -> Result<f64, String> {
        self.spawn(id, false)
    }

    /// Spawn the shim, which runs `runtime run --detach` (create and start in one call).
    fn run_d(&self, id: &str) -> Result<f64, String> {
        self.spawn(id, true)
    }

    fn spawn(&self, id: &str, start: bool) -> Result<f64, String> {
        let req = CreateRequest {
            id: id.to_string(),
            bundle: self.bundle(id),
            state_dir: self.dir.join("state").join(id),
            log: Some(ShimLogConfig {
                path: self.dir.join("logs").join(format!("{id}.log")),
                max_size: 1 << 20,
                max_file: 1,
                format: Default::default(),
            }),
            terminal: false,
            open_stdin: false,
            attach: false,
            start,
        };
        let t = Instant::now();
        let s = self.rt.create(&req).map_err(|e| format!("create {id}: {e}"))?;
        let dt = t.elapsed().as_secs_f64();
        self.live.lock().unwrap().push((id.to_string(), s.handle));
        Ok(dt)
    }

    fn start(&self, id: &str) -> Result<f64, String> {
        let t = Instant::now();
        self.rt.start(id).map_err(|e| format!("start {id}: {e}"))?;
        Ok(t.elapsed().as_secs_f64())
    }

    fn handle(&self, id: &str) -> Option<ShimHandle> {
        self.live.lock().unwrap().iter().find(|(n, _)| n == id).map(|(_, h)| h.clone())
    }

    /// SIGKILL and wait for the exit status the shim records.
    fn stop(&self, id: &str) -> Result<f64, String> {
        let h = self.handle(id).ok_or_else(|| format!("stop {id}: not created"))?;
        let t = Instant::now();
        self.rt.kill(id, 9, true).map_err(|e| format!("kill {id}: {e}"))?;
        h.wait_exit(WAIT).map_err(|e| format!("wait {id}: {e}"))?.ok_or_else(|| format!("{id}: no exit within 30s"))?;
        Ok(t.elapsed().as_secs_f64())
    }

    fn rm(&self, id: &str) -> Result<f64, String> {
        let t = Instant::now();
        self.rt.delete(id, false).map_err(|e| format!("delete {id}: {e}"))?;
        let dt = t.elapsed().as_secs_f64();
        self.forget(id);
        Ok(dt)
    }

    /// Force-delete (kills) and wait for the shim to record the exit.
    fn rm_f(&self, id: &str) -> Result<f64, String> {
        let h = self.handle(id).ok_or_else(|| format!("rm -f {id}: not created"))?;
        let t = Instant::now();
        self.rt.delete(id, true).map_err(|e| format!("delete -f {id}: {e}"))?;
        h.wait_exit(WAIT).map_err(|e| format!("wait {id}: {e}"))?;
        let dt = t.elapsed().as_secs_f64();
        self.forget(id);
        Ok(dt)
    }

    fn forget(&self, id: &str) {
        self.live.lock().unwrap().retain(|(n, _)| n != id);
    }

    /// Remove whatever is still there (errors, interruptions).
    fn cleanup(&self) {
        let left: Vec<String> = self.live.lock().unwrap().iter().map(|(n, _)| n.clone()).collect();
        for id in left {
            if let Err(e) = self.rm_f(&id) {
                eprintln!("shimbench: cleanup {id}: {e}");
            }
        }
    }
}

pub(crate) fn checkpoint(name: &str) {
    println!("{}", serde_json::json!({ "checkpoint": name }));
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

fn serial(b: &Bench, ids: &[String], f: impl Fn(&Bench, &str) -> Result<f64, String>) -> Result<Vec<f64>, String> {
    ids.iter().map(|id| f(b, id)).collect()
}

/// Run `f(b, item)` for every item on a pool of `threads` threads; wall time in seconds, or
/// the first error.
pub(crate) fn parallel<B: Send + Sync + 'static>(
    b: &Arc<B>,
    items: &[String],
    threads: usize,
    f: fn(&B, &str) -> Result<(), String>,
) -> Result<f64, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let items = Arc::new(items.to_vec());
    let t = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (b, next, items) = (b.clone(), next.clone(), items.clone());
            std::thread::spawn(move || -> Result<(), String> {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(x) = items.get(i) else { return Ok(()) };
                    f(&b, x)?;
                }
            })
        })
        .collect();
    let mut first_err = None;
    for w in workers {
        if let Err(e) = w.join().unwrap_or_else(|_| Err("worker panicked".into())) {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(t.elapsed().as_secs_f64()), Err)
}

fn run(
    b: &Arc<Bench>,
    prefix: &str,
    n_serial: usize,
    n_par: usize,
    threads: usize,
) -> Result<serde_json::Value, String> {
    let ids = |tag: &str, n: usize| -> Vec<String> { (0..n).map(|i| format!("{prefix}-{tag}{i}")).collect() };
    let warm = format!("{prefix}-warm");
    b.prepare(&warm)?;
    b.create(&warm)?;
    b.start(&warm)?;
    b.rm_f(&warm)?;

    let s = ids("s", n_serial);
    for id in &s {
        b.prepare(id)?;
    }
    let create = serial(b, &s, Bench::create)?;
    let start = serial(b, &s, Bench::start)?;
    checkpoint("serial");
    let stop = serial(b, &s, Bench::stop)?;
    let rm = serial(b, &s, Bench::rm)?;
    let r = ids("r", n_serial);
    for id in &r {
        b.prepare(id)?;
    }
    let run_d = serial(b, &r, Bench::run_d)?;
    let rm_f = serial(b, &r, Bench::rm_f)?;

    let p = ids("p", n_par);
    for id in &p {
        b.prepare(id)?;
    }
    let up = parallel(b, &p, threads, |b, id| {
        b.create(id)?;
        b.start(id).map(|_| ())
    })?;
    checkpoint("parallel");
    let down = parallel(b, &p, threads, |b, id| b.rm_f(id).map(|_| ()))?;
    Ok(serde_json::json!({
        "latency": {"create": create, "start": start, "stop": stop, "rm": rm, "run -d": run_d, "rm -f": rm_f},
        "parallel_up_s": up, "parallel_rm_s": down,
    }))
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.get(1).map(String::as_str) == Some("seccomp") {
        // The OCI seccomp section isula generates for a default container (Docker's profile,
        // default capabilities, this host), for the bare runtimes' bundles: same spec, fair test.
        let caps: Vec<String> = isula_core::unstable::spec::DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
        let host = isula_core::unstable::spec::SeccompHost::detect();
        match isula_core::unstable::spec::default_profile(&caps, &host) {
            Ok(s) => println!("{}", serde_json::to_string(&s).unwrap_or_default()),
            Err(e) => {
                eprintln!("shimbench seccomp: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    if a.get(1).map(String::as_str) == Some("exec") {
        engine::exec_main(&a[1..]);
        return;
    }
    if a.get(1).map(String::as_str) == Some("engine") {
        engine::main(&a[1..]);
        return;
    }
    if a.len() != 9 {
        eprintln!("usage: shimbench SHIM RUNTIME WORKDIR SPEC.json PREFIX SERIAL PARALLEL THREADS");
        std::process::exit(2);
    }
    let num = |s: &str| -> usize { s.parse().unwrap_or_else(|_| panic!("not a number: {s}")) };
    let dir = PathBuf::from(&a[3]);
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&a[4]).expect("read SPEC.json")).expect("SPEC.json is JSON");
    let rt = OciRuntime::new(&a[2], &a[2], vec![], &dir.join("rtroot"), Path::new(&a[1]))
        .unwrap_or_else(|e| panic!("runtime {}: {e}", a[2]));
    let b = Arc::new(Bench { rt, dir, spec, live: Mutex::new(Vec::new()) });
    let r = run(&b, &a[5], num(&a[6]), num(&a[7]), num(&a[8]));
    b.cleanup();
    match r {
        Ok(v) => println!("{}", serde_json::json!({ "result": v })),
        Err(e) => {
            println!("{}", serde_json::json!({ "error": e }));
            std::process::exit(1);
        }
    }
}
