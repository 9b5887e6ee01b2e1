//! End-to-end `stats`, `top` and `update` of real runc/crun containers.

use crate::containers_common;

use std::time::Duration;

use containers_common::*;
use isula_core::ErrorKind;
use isula_core::Resources;
use isula_core::UpdateOptions;

fn cgroup_file(env: &Env, id: &str, controller: &str, file: &str) -> String {
    let p = format!("/sys/fs/cgroup/{controller}{}/{id}/{file}", env.cgroup_parent);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {p}: {e}")).trim().to_string()
}

#[test]
fn stats_top_and_update_of_a_running_container() {
    each_runtime(|rt, env| {
        let e = env.e();
        let id = e.containers().run(&env.opts(&["sleep", "1000"])).unwrap();

        // One-shot stats: memory in use, one process, a CPU percentage from two samples.
        let mut got = Vec::new();
        e.containers()
            .stats(&id, false, &mut |s| {
                got.push(s.clone());
                true
            })
            .unwrap();
        assert_eq!(got.len(), 1, "{rt}");
        let s = got[0].stats.as_ref().expect("counters of a running container");
        assert!(s.memory.usage > 0, "{rt}: {:?}", s.memory);
        assert_eq!(s.pids.current, 1, "{rt}");
        assert!(got[0].cpu_percent >= 0.0 && got[0].memory_percent > 0.0, "{rt}: {:?}", got[0]);
        assert_eq!(got[0].precpu.online_cpus, s.cpu.online_cpus);

        // Streamed: stop after two samples.
        let mut n = 0;
        e.containers()
            .stats(&id, true, &mut |_s| {
                n += 1;
                n < 2
            })
            .unwrap();
        assert_eq!(n, 2);

        // top lists the sleep.
        let top = e.containers().top(&id, &[]).unwrap();
        assert!(top.titles.contains(&"PID".to_string()), "{rt}: {:?}", top.titles);
        assert_eq!(top.processes.len(), 1, "{rt}: {top:?}");
        assert!(top.processes[0].last().unwrap().contains("sleep 1000"), "{rt}: {top:?}");
        let top = e.containers().top(&id, &["-o".into(), "pid,args".into()]).unwrap();
        assert_eq!(top.titles, ["PID", "COMMAND"]);
        let pid = e.containers().inspect(&id).unwrap().state.pid;
        assert_eq!(top.processes[0][0], pid.to_string());

        // update: live in the cgroup, persisted in the record.
        let up = UpdateOptions {
            resources: Resources {
                memory: Some(64 << 20),
                memory_swap: Some(128 << 20),
                pids_limit: Some(50),
                cpu_shares: Some(512),
                ..Default::default()
            },
            ..Default::default()
        };
        e.containers().update(&id, &up).unwrap();
        assert_eq!(cgroup_file(env, &id, "memory", "memory.limit_in_bytes"), (64u64 << 20).to_string(), "{rt}");
        assert_eq!(cgroup_file(env, &id, "pids", "pids.max"), "50", "{rt}");
        assert_eq!(cgroup_file(env, &id, "cpu", "cpu.shares"), "512", "{rt}");
        let i = e.containers().inspect(&id).unwrap();
        assert_eq!(i.host_config.resources.memory, Some(64 << 20));
        assert_eq!(i.host_config.resources.pids_limit, Some(50));
        let mut one = None;
        e.containers()
            .stats(&id, false, &mut |s| {
                one = Some(s.clone());
                false
            })
            .unwrap();
        let s = one.unwrap().stats.unwrap();
        assert_eq!((s.memory.limit, s.pids.limit), (Some(64 << 20), Some(50)));

        // Bad values change nothing.
        let bad =
            UpdateOptions { resources: Resources { memory: Some(1024), ..Default::default() }, ..Default::default() };
        assert_eq!(e.containers().update(&id, &bad).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(cgroup_file(env, &id, "memory", "memory.limit_in_bytes"), (64u64 << 20).to_string());

        // After a restart the new limit still applies (it is in the bundle).
        e.containers().stop(&id, Some(1)).unwrap();
        e.containers().start(&id).unwrap();
        assert_eq!(cgroup_file(env, &id, "memory", "memory.limit_in_bytes"), (64u64 << 20).to_string(), "{rt}");

        // Not running: top refuses, stats gives an empty sample.
        e.containers().stop(&id, Some(1)).unwrap();
        assert_eq!(e.containers().top(&id, &[]).unwrap_err().kind(), ErrorKind::FailedPrecondition);
        let mut empty = None;
        e.containers()
            .stats(&id, true, &mut |s| {
                empty = Some(s.clone());
                true
            })
            .unwrap();
        assert!(empty.unwrap().stats.is_none());
    });
}

#[test]
fn update_memory_below_usage_is_refused() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("runc");
    let e = env.e();
    // Hold 20 MB of shared memory in /dev/shm (charged to the container, not reclaimable
    // without swap, and the test hosts have none).
    let mut o =
        env.opts(&["sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=20 && touch /tmp/ready; sleep 1000"]);
    o.resources.memory = Some(256 << 20);
    let id = e.containers().run(&o).unwrap();
    let rootfs = e.containers().record(&id).unwrap().rootfs;
    assert!(eventually(Duration::from_secs(20), || rootfs.join("tmp/ready").exists()));
    let up =
        UpdateOptions { resources: Resources { memory: Some(8 << 20), ..Default::default() }, ..Default::default() };
    let usage: u64 = cgroup_file(&env, &id, "memory", "memory.usage_in_bytes").parse().unwrap();
    assert!(usage > 20_000_000, "the container holds its 20 MB: {usage}");
    let err = e.containers().update(&id, &up).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");
    assert!(err.to_string().contains(&(8u64 << 20).to_string()), "{err}");
    assert_eq!(e.containers().inspect(&id).unwrap().host_config.resources.memory, Some(256 << 20), "not persisted");
    assert_eq!(cgroup_file(&env, &id, "memory", "memory.limit_in_bytes"), (256u64 << 20).to_string());
}
