//! `shimbench engine`: the embedded `isula_core::Engine`, driven like the CLI engines.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use isula_core::LoadOptions;
use isula_core::{CreateOptions, ListOptions, RemoveOptions};
use isula_core::{Engine, EngineConfig};

use crate::{checkpoint, parallel};

const IMAGE: &str = "busybox:latest";

struct Bench {
    engine: Engine,
    /// Container ids made and not yet removed.
    live: Mutex<Vec<String>>,
}

fn timed(f: impl FnOnce() -> isula_core::Result<()>, what: &str) -> Result<f64, String> {
    let t = Instant::now();
    f().map_err(|e| format!("{what}: {e}"))?;
    Ok(t.elapsed().as_secs_f64())
}

impl Bench {
    fn opts(name: &str) -> CreateOptions {
        CreateOptions {
            name: Some(name.to_string()),
            image: IMAGE.to_string(),
            cmd: Some(vec!["sleep".into(), "1000".into()]),
            // Like every other engine in the bench: no network setup is measured.
            network_mode: Some("none".into()),
            ..Default::default()
        }
    }

    /// `create`; returns the id and the seconds it took.
    fn create(&self, name: &str) -> Result<(String, f64), String> {
        let t = Instant::now();
        let id = self.engine.containers().create(&Self::opts(name)).map_err(|e| format!("create {name}: {e}"))?;
        let dt = t.elapsed().as_secs_f64();
        self.live.lock().unwrap().push(id.clone());
        Ok((id, dt))
    }

    fn run(&self, name: &str) -> Result<(String, f64), String> {
        let t = Instant::now();
        let id = self.engine.containers().run(&Self::opts(name)).map_err(|e| format!("run {name}: {e}"))?;
        let dt = t.elapsed().as_secs_f64();
        self.live.lock().unwrap().push(id.clone());
        Ok((id, dt))
    }

    fn remove(&self, id: &str, force: bool) -> Result<f64, String> {
        let dt = timed(
            || self.engine.containers().remove(id, &RemoveOptions { force, volumes: false }),
            &format!("remove {id}"),
        )?;
        self.live.lock().unwrap().retain(|x| x != id);
        Ok(dt)
    }

    fn cleanup(&self) {
        let mut ids: Vec<String> = self.live.lock().unwrap().clone();
        if let Ok(all) = self.engine.containers().list(&ListOptions { all: true, ..Default::default() }) {
            ids.extend(all.into_iter().map(|c| c.id));
        }
        ids.sort();
        ids.dedup();
        for id in ids {
            if let Err(e) = self.remove(&id, true) {
                eprintln!("shimbench engine: cleanup: {e}");
            }
        }
    }
}

fn phases(
    b: &Arc<Bench>,
    prefix: &str,
    n_serial: usize,
    n_par: usize,
    threads: usize,
) -> Result<serde_json::Value, String> {
    let names = |tag: &str, n: usize| -> Vec<String> { (0..n).map(|i| format!("{prefix}-{tag}{i}")).collect() };
    let (warm, _) = b.run(&format!("{prefix}-warm"))?;
    b.remove(&warm, true)?;
    checkpoint("idle");

    let mut ids = Vec::new();
    let mut create = Vec::new();
    for n in names("s", n_serial) {
        let (id, dt) = b.create(&n)?;
        ids.push(id);
        create.push(dt);
    }
    let start = ids
        .iter()
        .map(|id| timed(|| b.engine.containers().start(id), &format!("start {id}")))
        .collect::<Result<Vec<_>, _>>()?;
    checkpoint("serial");
    let stop = ids
        .iter()
        .map(|id| timed(|| b.engine.containers().stop(id, Some(0)), &format!("stop {id}")))
        .collect::<Result<Vec<_>, _>>()?;
    let rm = ids.iter().map(|id| b.remove(id, false)).collect::<Result<Vec<_>, _>>()?;
    let mut ids = Vec::new();
    let mut run_d = Vec::new();
    for n in names("r", n_serial) {
        let (id, dt) = b.run(&n)?;
        ids.push(id);
        run_d.push(dt);
    }
    let rm_f = ids.iter().map(|id| b.remove(id, true)).collect::<Result<Vec<_>, _>>()?;

    let up = parallel(b, &names("p", n_par), threads, |b, n| {
        let (id, _) = b.create(n)?;
        b.engine.containers().start(&id).map_err(|e| format!("start {n}: {e}"))
    })?;
    checkpoint("parallel");
    let ids: Vec<String> = b.live.lock().unwrap().clone();
    let down = parallel(b, &ids, threads, |b, id| b.remove(id, true).map(|_| ()))?;
    checkpoint("after");
    Ok(serde_json::json!({
        "latency": {"create": create, "start": start, "stop": stop, "rm": rm, "run -d": run_d, "rm -f": rm_f},
        "parallel_up_s": up, "parallel_rm_s": down,
    }))
}

/// `args`: `exec SHIM RUNTIME WORKDIR ARCHIVE N`: one running container (`sleep`, no network),
/// three untimed execs of `true`, then N serial execs of `true`, each timed from the call to
/// `Containers::exec` to the collected exit (what ExecSync does, without gRPC and crictl).
pub fn exec_main(args: &[String]) {
    if args.len() != 6 {
        eprintln!("usage: shimbench exec SHIM RUNTIME WORKDIR ARCHIVE N");
        std::process::exit(2);
    }
    let n: usize = args[5].parse().unwrap_or_else(|_| panic!("not a number: {}", args[5]));
    let dir = PathBuf::from(&args[3]);
    let cfg = EngineConfig {
        graph: dir.join("root"),
        state: dir.join("state"),
        default_runtime: args[2].clone(),
        shim_path: Some(PathBuf::from(&args[1])),
        log_level: "warn".into(),
        ..Default::default()
    };
    let engine = Engine::open(cfg).unwrap_or_else(|e| panic!("Engine::open: {e}"));
    let mut f = std::fs::File::open(&args[4]).unwrap_or_else(|e| panic!("{}: {e}", args[4]));
    engine.images().load(&mut f, &LoadOptions::default()).unwrap_or_else(|e| panic!("load {}: {e}", args[4]));
    let b = Arc::new(Bench { engine, live: Mutex::new(Vec::new()) });
    let r = (|| -> Result<Vec<f64>, String> {
        let (id, _) = b.run("exec-target")?;
        let opts = isula_core::ExecOptions { cmd: vec!["true".into()], ..Default::default() };
        let one = || -> Result<f64, String> {
            let t = Instant::now();
            let out =
                b.engine.containers().exec(&id, &opts).and_then(|e| e.collect()).map_err(|e| format!("exec: {e}"))?;
            if out.exit_code != 0 {
                return Err(format!("exec true exited with {}", out.exit_code));
            }
            Ok(t.elapsed().as_secs_f64())
        };
        for _ in 0..3 {
            one()?;
        }
        (0..n).map(|_| one()).collect()
    })();
    b.cleanup();
    match r {
        Ok(v) => println!("{}", serde_json::json!({ "exec_s": v })),
        Err(e) => {
            println!("{}", serde_json::json!({ "error": e }));
            std::process::exit(1);
        }
    }
}

/// `args`: `engine SHIM RUNTIME WORKDIR ARCHIVE PREFIX SERIAL PARALLEL THREADS`.
pub fn main(args: &[String]) {
    if args.len() != 9 {
        eprintln!("usage: shimbench engine SHIM RUNTIME WORKDIR ARCHIVE PREFIX SERIAL PARALLEL THREADS");
        std::process::exit(2);
    }
    let num = |s: &str| -> usize { s.parse().unwrap_or_else(|_| panic!("not a number: {s}")) };
    let dir = PathBuf::from(&args[3]);
    let cfg = EngineConfig {
        graph: dir.join("root"),
        state: dir.join("state"),
        default_runtime: args[2].clone(),
        shim_path: Some(PathBuf::from(&args[1])),
        log_level: "warn".into(),
        ..Default::default()
    };
    let engine = Engine::open(cfg).unwrap_or_else(|e| panic!("Engine::open: {e}"));
    let mut f = std::fs::File::open(&args[4]).unwrap_or_else(|e| panic!("{}: {e}", args[4]));
    engine.images().load(&mut f, &LoadOptions::default()).unwrap_or_else(|e| panic!("load {}: {e}", args[4]));
    let b = Arc::new(Bench { engine, live: Mutex::new(Vec::new()) });
    let r = phases(&b, &args[5], num(&args[6]), num(&args[7]), num(&args[8]));
    b.cleanup();
    match r {
        Ok(v) => println!("{}", serde_json::json!({ "result": v })),
        Err(e) => {
            println!("{}", serde_json::json!({ "error": e }));
            std::process::exit(1);
        }
    }
}
