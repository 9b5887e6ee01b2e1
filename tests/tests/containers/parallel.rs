//! 100 containers created, started and removed from parallel threads leave no process,
//! mount or cgroup behind; plus latency measurements (ignored test). runc AND crun, as root.

use crate::containers_common;

use std::time::{Duration, Instant};

use containers_common::*;
use isula_core::{ListOptions, RemoveOptions};

#[test]
fn hundred_in_parallel_leave_nothing_behind() {
    if !prerequisites() {
        return;
    }
    for rt in RUNTIMES {
        let env = Env::new(rt);
        let e = env.e();
        let threads = 10;
        let per = 10;
        let shims: Vec<(i32, i32)> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads)
                .map(|t| {
                    let env = &env;
                    s.spawn(move || {
                        let mut pids = Vec::new();
                        for i in 0..per {
                            let mut o = env.opts(&["sleep", "1000"]);
                            o.name = Some(format!("p{t}-{i}"));
                            let id = e.containers().run(&o).unwrap();
                            let r = e.containers().record(&id).unwrap();
                            assert!(r.state.pid > 0);
                            pids.push((r.state.pid, r.state.shim_pid));
                            e.containers().remove(&id, &RemoveOptions { force: true, volumes: true }).unwrap();
                        }
                        pids
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(shims.len(), threads * per);
        assert!(e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap().is_empty());
        assert!(
            eventually(Duration::from_secs(10), || shims.iter().all(|(p, s)| !pid_alive(*p) && !pid_alive(*s))),
            "{rt}: processes left"
        );
        assert!(mounts_below(env.root.path()).is_empty(), "{rt}: {:?}", mounts_below(env.root.path()));
        assert!(env.cgroup_leftovers().is_empty(), "{rt}: {:?}", env.cgroup_leftovers());
        assert_eq!(std::fs::read_dir(env.root.path().join("root/containers")).unwrap().count(), 0);
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn pss_kb(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Pss:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Latencies through the engine vs the bare runtime (`runtime run -d`), shim PSS. Prints only.
#[test]
#[ignore]
fn measure_latencies() {
    if !prerequisites() {
        return;
    }
    for rt in RUNTIMES {
        let env = Env::new(rt);
        let e = env.e();
        let (mut c, mut s, mut st, mut rm, mut pss) = (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..10 {
            let t = Instant::now();
            let id = e.containers().create(&env.opts(&["sleep", "1000"])).unwrap();
            c.push(t.elapsed());
            let t = Instant::now();
            e.containers().start(&id).unwrap();
            s.push(t.elapsed());
            pss.push(pss_kb(e.containers().record(&id).unwrap().state.shim_pid));
            let t = Instant::now();
            e.containers().stop(&id, Some(0)).unwrap();
            st.push(t.elapsed());
            let t = Instant::now();
            e.containers().remove(&id, &RemoveOptions::default()).unwrap();
            rm.push(t.elapsed());
        }
        // bare runtime: run -d of the same kind of bundle (busybox rootfs from a container of the engine)
        let id = e.containers().create(&env.opts(&["sleep", "1000"])).unwrap();
        let rec = e.containers().record(&id).unwrap();
        let bundle = env.root.path().join("bare");
        std::fs::create_dir_all(&bundle).unwrap();
        let mut spec: serde_json::Value = serde_json::from_slice(
            &std::fs::read(env.root.path().join("root/containers").join(&id).join("config.json")).unwrap(),
        )
        .unwrap();
        spec["root"]["path"] = serde_json::json!(rec.rootfs);
        let bare_root = env.root.path().join("bare-root");
        let mut bare = vec![];
        for i in 0..10 {
            let bid = format!("bare-{}-{i}", std::process::id());
            spec["linux"]["cgroupsPath"] = serde_json::json!(format!("{}/{bid}", env.cgroup_parent));
            std::fs::write(bundle.join("config.json"), serde_json::to_vec(&spec).unwrap()).unwrap();
            let t = Instant::now();
            let out = std::process::Command::new(rt)
                .arg("--root")
                .arg(&bare_root)
                .args(["run", "-d", "--bundle"])
                .arg(&bundle)
                .arg(&bid)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            bare.push(t.elapsed());
            assert!(out.success());
            let _ = std::process::Command::new(rt).arg("--root").arg(&bare_root).args(["delete", "-f", &bid]).status();
        }
        pss.sort();
        println!(
            "MEASURE {rt}: engine create {:?} start {:?} stop {:?} rm {:?} | bare `{rt} run -d` {:?} | shim PSS median {} kB",
            median(c),
            median(s),
            median(st),
            median(rm),
            median(bare),
            pss[pss.len() / 2]
        );
    }
}
