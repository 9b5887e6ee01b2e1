//! End-to-end health checks: healthy when the probe passes, unhealthy after retries.

use crate::containers_common;

use std::time::Duration;

use containers_common::*;
use isula_core::EventFilter;
use isula_core::HealthConfig;

/// A shell probe every `interval_ms`, unhealthy after two failures.
fn probe(cmd: &str, interval_ms: i64) -> HealthConfig {
    HealthConfig {
        test: vec!["CMD-SHELL".into(), cmd.into()],
        interval: interval_ms * 1_000_000,
        timeout: 5_000_000_000,
        retries: 2,
        start_period: 0,
    }
}

#[test]
fn health_turns_healthy_then_unhealthy() {
    each_runtime(|rt, env| {
        let e = env.e();
        let mut o = env.opts(&["sh", "-c", "touch /tmp/ok; sleep 1000"]);
        o.healthcheck = Some(probe("test -f /tmp/ok", 200));
        let (_past, events) = e.events(&EventFilter::default());
        let id = e.containers().run(&o).unwrap();
        let health = |e: &isula_core::Engine| e.containers().inspect(&id).unwrap().state.health;
        assert!(
            eventually(Duration::from_secs(30), || { health(e).is_some_and(|h| h.status.as_str() == "healthy") }),
            "{rt}: {:?}",
            health(e)
        );
        let h = health(e).unwrap();
        assert_eq!(h.failing_streak, 0);
        assert_eq!(h.log[0].exit_code, 0);

        // Break the probe: unhealthy after two failures.
        let rootfs = e.containers().record(&id).unwrap().rootfs;
        std::fs::remove_file(rootfs.join("tmp/ok")).unwrap();
        assert!(
            eventually(Duration::from_secs(30), || { health(e).is_some_and(|h| h.status.as_str() == "unhealthy") }),
            "{rt}: {:?}",
            health(e)
        );
        let h = health(e).unwrap();
        assert!(h.failing_streak >= 2);
        assert_eq!(h.log.last().unwrap().exit_code, 1);

        let mut seen = Vec::new();
        while let Ok(ev) = events.recv_timeout(Duration::from_millis(100)) {
            if ev.action.starts_with("health_status") {
                seen.push(ev.action.clone());
            }
        }
        assert_eq!(seen, ["health_status: healthy", "health_status: unhealthy"], "{rt}");
        drop(events);

        // Paused: no probes; unpaused: probing carries on and recovers.
        e.containers().pause(&id).unwrap();
        let h = health(e).unwrap();
        holds_for(Duration::from_millis(600), &format!("{rt}: no probes while paused"), || {
            health(e).unwrap().log == h.log
        });
        e.containers().unpause(&id).unwrap();
        std::fs::write(rootfs.join("tmp/ok"), "").unwrap();
        assert!(
            eventually(Duration::from_secs(30), || { health(e).is_some_and(|h| h.status.as_str() == "healthy") }),
            "{rt}: {:?}",
            health(e)
        );

        // Stopped: the monitor stops, the last state stays.
        e.containers().stop(&id, Some(1)).unwrap();
        let h = health(e).unwrap();
        holds_for(Duration::from_millis(600), &format!("{rt}: no probes after stop"), || {
            health(e).unwrap().log == h.log
        });
    });
}

#[test]
fn health_survives_engine_reopen() {
    each_runtime(|rt, env| {
        let e = env.e();
        let mut o = env.opts(&["sleep", "1000"]);
        o.healthcheck = Some(probe("echo probe; test -f /tmp/ok", 300));
        let id = e.containers().run(&o).unwrap();
        let mut stopped_opts = o.clone();
        stopped_opts.cmd = Some(vec!["sleep".into(), "1000".into()]);
        let stopped = e.containers().run(&stopped_opts).unwrap();
        for c in [&id, &stopped] {
            assert!(
                eventually(Duration::from_secs(60), || e
                    .containers()
                    .health(c)
                    .unwrap()
                    .is_some_and(|h| h.failing_streak >= 6 && h.log.len() == 5)),
                "{rt}: {:?}",
                e.containers().health(c).unwrap()
            );
        }
        e.containers().stop(&stopped, Some(1)).unwrap();
        let stopped_before = e.containers().health(&stopped).unwrap().unwrap();
        let before = e.containers().health(&id).unwrap().unwrap();
        assert_eq!(before.status.as_str(), "unhealthy");
        env.reopen();
        let e = env.e();
        // A running container's monitor continues from the saved state: the old results are
        // still there (a fresh monitor could not have them) and the streak did not restart.
        let after = e.containers().health(&id).unwrap().expect("health after reopen");
        assert_eq!(after.status.as_str(), "unhealthy", "{rt}");
        assert!(after.failing_streak >= before.failing_streak, "{rt}: {after:?} vs {before:?}");
        assert_eq!(after.log.len(), 5, "{rt}");
        let last = before.log.last().unwrap();
        assert!(after.log.contains(last) || after.log[0].start > last.start, "{rt}: {after:?} vs {before:?}");
        assert_eq!(last.output, "probe\n");
        // and it keeps probing
        assert!(
            eventually(Duration::from_secs(60), || e
                .containers()
                .health(&id)
                .unwrap()
                .is_some_and(|h| h.failing_streak > after.failing_streak)),
            "{rt}: no probe after reopen"
        );
        // A stopped container shows exactly its last state.
        assert_eq!(e.containers().health(&stopped).unwrap(), Some(stopped_before.clone()), "{rt}");
        let i = e.containers().inspect(&stopped).unwrap();
        assert_eq!(i.state.health.unwrap().failing_streak, stopped_before.failing_streak, "{rt}");
    });
}
