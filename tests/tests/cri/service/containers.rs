//! CRI containers: status (metadata, labels, annotations, image, exit reasons, times), lists
//! and filters, ExecSync, CRI-format logs and ReopenContainerLog, stats, events.

use std::collections::HashMap;
use std::time::Duration;

use k8s_cri::v1 as cri;
use tokio_stream::StreamExt;

use super::support::*;

#[test]
fn status_lists_and_exit_reasons() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let logs = c.daemon.root.path().join("logs");
    let pc = pod_config("status", &logs);
    let pod = c.run_pod(&pc);
    // The event stream, subscribed before anything happens.
    let mut events = c.call(c.rs().get_container_events(cri::GetEventsRequest {})).unwrap();

    let cfg = container_config("sleeper", &["sleep", "1000"]);
    let id = c.create(&pod, &cfg, &pc);
    let s = c.container_status(&id);
    assert_eq!(s.state, cri::ContainerState::ContainerCreated as i32);
    assert_eq!(s.metadata, cfg.metadata);
    assert_eq!(s.labels, cfg.labels, "labels exactly as given");
    assert_eq!(s.annotations, cfg.annotations, "annotations exactly as given");
    assert_eq!(s.image.as_ref().unwrap().image, "busybox:latest", "the image as requested");
    let img = c
        .call(c.is().image_status(cri::ImageStatusRequest { image: cfg.image.clone(), verbose: false }))
        .unwrap()
        .image
        .unwrap();
    assert_eq!(s.image_id, img.id);
    assert_eq!(s.image_ref, img.id, "a loaded image has no repo digest: its id");
    assert_eq!(s.log_path, logs.join("sleeper/0.log").display().to_string());
    assert!(s.created_at > 0 && s.started_at == 0 && s.finished_at == 0, "{s:?}");
    c.start_container(&id);
    let s = c.container_status(&id);
    assert_eq!(s.state, cri::ContainerState::ContainerRunning as i32);
    assert!(s.started_at >= s.created_at);

    let ok = c.create(&pod, &container_config("ok", &["true"]), &pc);
    let bad = c.create(&pod, &container_config("bad", &["sh", "-c", "echo boom >&2; exit 3"]), &pc);
    c.start_container(&ok);
    c.start_container(&bad);
    let exited = |id: &str| {
        wait_for(Duration::from_secs(20), "exit", || {
            let s = c.container_status(id);
            (s.state == cri::ContainerState::ContainerExited as i32).then_some(s)
        })
    };
    let s = exited(&ok);
    assert_eq!((s.exit_code, s.reason.as_str()), (0, "Completed"));
    assert!(s.finished_at >= s.started_at && s.started_at > 0);
    let s = exited(&bad);
    assert_eq!((s.exit_code, s.reason.as_str()), (3, "Error"));

    // Lists and filters.
    let list = |f: cri::ContainerFilter| {
        c.call(c.rs().list_containers(cri::ListContainersRequest { filter: Some(f) })).unwrap().containers
    };
    let all = list(Default::default());
    assert_eq!(all.len(), 3, "the infra container is not a CRI container");
    let one = all.iter().find(|x| x.id == id).unwrap();
    assert_eq!(one.pod_sandbox_id, pod);
    assert_eq!(one.labels, cfg.labels);
    assert_eq!(one.annotations, cfg.annotations);
    assert_eq!(one.image_ref, img.id);
    let running = cri::ContainerStateValue { state: cri::ContainerState::ContainerRunning as i32 };
    assert_eq!(list(cri::ContainerFilter { state: Some(running), ..Default::default() }).len(), 1);
    assert_eq!(list(cri::ContainerFilter { id: id[..10].into(), ..Default::default() }).len(), 1);
    assert_eq!(list(cri::ContainerFilter { pod_sandbox_id: pod.clone(), ..Default::default() }).len(), 3);
    assert_eq!(list(cri::ContainerFilter { pod_sandbox_id: "ffff".into(), ..Default::default() }).len(), 0);
    let sel = HashMap::from([("c".to_string(), "ok".to_string())]);
    assert_eq!(list(cri::ContainerFilter { label_selector: sel, ..Default::default() }).len(), 1);

    // Stop twice, remove twice: successes.
    for _ in 0..2 {
        let req = cri::StopContainerRequest { container_id: id.clone(), timeout: 1 };
        c.call(c.rs().stop_container(req)).unwrap();
    }
    assert_eq!(c.container_status(&id).state, cri::ContainerState::ContainerExited as i32);
    for _ in 0..2 {
        c.call(c.rs().remove_container(cri::RemoveContainerRequest { container_id: id.clone() })).unwrap();
    }
    assert_eq!(list(Default::default()).len(), 2);

    // Events: created, started, stopped, deleted of the first container, in order.
    let mut seen = Vec::new();
    c.runtime().block_on(async {
        while !seen.contains(&(id.clone(), cri::ContainerEventType::ContainerDeletedEvent as i32)) {
            let next = tokio::time::timeout(Duration::from_secs(20), events.next()).await;
            let ev = next.expect("an event within 20s").expect("stream open").expect("event");
            seen.push((ev.container_id.clone(), ev.container_event_type));
        }
    });
    let mine: Vec<i32> = seen.iter().filter(|(c, _)| *c == id).map(|(_, t)| *t).collect();
    use cri::ContainerEventType as T;
    assert_eq!(
        mine,
        vec![
            T::ContainerCreatedEvent as i32,
            T::ContainerStartedEvent as i32,
            T::ContainerStoppedEvent as i32,
            T::ContainerDeletedEvent as i32
        ]
    );
    let info = pod_info(&c, &pod);
    c.remove_pod(&pod);
    assert_pod_gone(&c, &info);
}

#[test]
fn exec_sync_output_exit_code_and_timeout() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let pc = pod_config("exec", &c.daemon.root.path().join("logs"));
    let pod = c.run_pod(&pc);
    let id = c.create(&pod, &container_config("box", &["sleep", "1000"]), &pc);
    c.start_container(&id);
    let r = c.exec(&id, &["sh", "-c", "echo out; echo err >&2; exit 3"], 10).unwrap();
    assert_eq!((r.exit_code, r.stdout.as_slice(), r.stderr.as_slice()), (3, &b"out\n"[..], &b"err\n"[..]));
    let r = c.exec(&id, &["sh", "-c", "head -c 100000 /dev/zero"], 0).unwrap();
    assert_eq!(r.stdout.len(), 100000);
    // Timeout: DEADLINE_EXCEEDED, and the command is gone.
    let e = c.exec(&id, &["sh", "-c", "sleep 77"], 1).unwrap_err();
    assert_eq!(e.code(), tonic::Code::DeadlineExceeded, "{e:?}");
    wait_for(Duration::from_secs(10), "the timed-out command killed", || {
        (!c.exec_ok(&id, &["ps"]).contains("sleep 77")).then_some(())
    });
    // A command that does not exist, a stopped container: errors, not hangs.
    assert!(c.exec(&id, &["/no/such"], 5).map(|r| r.exit_code != 0).unwrap_or(true));
    c.call(c.rs().stop_container(cri::StopContainerRequest { container_id: id.clone(), timeout: 0 })).unwrap();
    let e = c.exec(&id, &["true"], 5).unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e:?}");
    let e = c.exec(&id, &[], 5).unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    c.remove_pod(&pod);
}

#[test]
fn cri_logs_and_reopen() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let logs = c.daemon.root.path().join("logs");
    let pc = pod_config("logs", &logs);
    let pod = c.run_pod(&pc);
    let script = "i=0; while true; do echo line$i; echo err$i >&2; i=$((i+1)); sleep 0.1; done";
    let id = c.create(&pod, &container_config("talker", &["sh", "-c", script]), &pc);
    c.start_container(&id);
    let path = logs.join("talker/0.log");
    let text = wait_for(Duration::from_secs(20), "log lines", || {
        let t = std::fs::read_to_string(&path).ok()?;
        (t.contains(" stdout F line2\n") && t.contains(" stderr F err2\n")).then_some(t)
    });
    for l in text.lines() {
        let mut f = l.splitn(4, ' ');
        let (ts, stream, tag) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        assert!(isula_core::time::parse_rfc3339(ts).is_some(), "timestamp of {l:?}");
        assert!(matches!(stream, "stdout" | "stderr") && tag == "F", "{l:?}");
    }
    // kubelet's rotation: move the file away, reopen, new lines go to a new file.
    let rotated = logs.join("talker/0.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    c.call(c.rs().reopen_container_log(cri::ReopenContainerLogRequest { container_id: id.clone() })).unwrap();
    wait_for(Duration::from_secs(20), "lines in the new file", || {
        std::fs::read_to_string(&path).ok().filter(|t| t.contains(" stdout F line")).map(|_| ())
    });
    // A stopped container cannot reopen its log.
    c.call(c.rs().stop_container(cri::StopContainerRequest { container_id: id.clone(), timeout: 0 })).unwrap();
    let e = c.call(c.rs().reopen_container_log(cri::ReopenContainerLogRequest { container_id: id })).unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    c.remove_pod(&pod);
}

#[test]
fn container_and_pod_stats() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let pc = pod_config("stats", &c.daemon.root.path().join("logs"));
    let pod = c.run_pod(&pc);
    let cfg = container_config("busy", &["sh", "-c", "dd if=/dev/zero of=/tmp/f bs=1k count=512; sleep 1000"]);
    let id = c.create(&pod, &cfg, &pc);
    c.start_container(&id);
    let s = wait_for(Duration::from_secs(20), "stats with a writable layer", || {
        let r = c.call(c.rs().container_stats(cri::ContainerStatsRequest { container_id: id.clone() })).ok()?;
        let s = r.stats?;
        (s.writable_layer.as_ref()?.used_bytes.as_ref()?.value >= 512 * 1024).then_some(s)
    });
    let attrs = s.attributes.unwrap();
    assert_eq!((attrs.id.as_str(), attrs.metadata), (id.as_str(), cfg.metadata.clone()));
    assert_eq!(attrs.labels, cfg.labels);
    assert!(s.cpu.unwrap().usage_core_nano_seconds.unwrap().value > 0);
    assert!(s.memory.unwrap().working_set_bytes.unwrap().value > 0);

    let f = cri::ContainerStatsFilter { pod_sandbox_id: pod.clone(), ..Default::default() };
    let l = c.call(c.rs().list_container_stats(cri::ListContainerStatsRequest { filter: Some(f) })).unwrap();
    assert_eq!(l.stats.len(), 1);
    let p = c.call(c.rs().pod_sandbox_stats(cri::PodSandboxStatsRequest { pod_sandbox_id: pod.clone() })).unwrap();
    let p = p.stats.unwrap();
    assert_eq!(p.attributes.unwrap().id, pod);
    let linux = p.linux.unwrap();
    assert!(linux.cpu.unwrap().usage_core_nano_seconds.unwrap().value > 0);
    assert!(linux.memory.unwrap().working_set_bytes.unwrap().value > 0);
    assert_eq!(linux.containers.len(), 1);
    assert!(linux.network.is_some_and(|n| n.default_interface.is_some()));
    let l = c.call(c.rs().list_pod_sandbox_stats(cri::ListPodSandboxStatsRequest { filter: None })).unwrap();
    assert_eq!(l.stats.len(), 1);
    let e = c.call(c.rs().container_stats(cri::ContainerStatsRequest { container_id: "nosuch".into() }));
    assert_eq!(e.unwrap_err().code(), tonic::Code::NotFound);
    c.remove_pod(&pod);
}
