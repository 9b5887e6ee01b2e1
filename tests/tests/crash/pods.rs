//! Crash points of pod run: network namespace, CNI ADD (a real bridge + host-local network
//! of the case's own), pod files, infra container, record.

use std::path::Path;

use isula_core::PodState;
use isula_tests::env::{require, require_root, skip_or_fail};

use crate::support::{bridge_ports, cgroup_dirs, ipam_allocations, run_op, run_points, Case, Op, POD};

/// The steps of `Pods::run`.
pub(crate) const RUN: &[&str] = &[
    "pod.run.after-dir",
    "pod.run.after-netns",
    "pod.run.after-cni-add",
    "pod.run.after-files",
    "pod.run.after-infra",
    "pod.run.after-record",
];

fn prerequisites() -> bool {
    if !(require_root() && require("runc") && require("ip")) {
        return false;
    }
    Path::new("/usr/lib/cni/bridge").exists() || !skip_or_fail("the CNI plugins (/usr/lib/cni) are not installed")
}

/// The pod runs: ready, its infra process alive, an address on the case's network.
fn assert_ready(c: &Case, when: &str) {
    let p = c.point;
    let pods = c.e().pods().list().unwrap_or_else(|err| panic!("{p}: list pods: {err}"));
    let [pod] = pods.as_slice() else { panic!("{p}: {when}: pods {pods:?}") };
    assert_eq!(pod.config.name, POD);
    assert_eq!(pod.state, PodState::Ready, "{p}: {when}: {pod:?}");
    assert!(pod.pid > 0 && Path::new(&format!("/proc/{}", pod.pid)).exists(), "{p}: {when}: infra pid {}", pod.pid);
    assert!(!pod.ip.is_empty(), "{p}: {when}: no address");
    // The leak probes see it (so that their silence elsewhere means something).
    let bridge = c.bridge.as_deref().expect("the case's bridge");
    assert_eq!(bridge_ports(bridge).len(), 1, "{p}: {when}: ports of {bridge}");
    assert_eq!(ipam_allocations(&c.root.path().join("ipam")).len(), 1, "{p}: {when}: IP allocations");
    let cache = std::fs::read_dir(c.root.path().join("state/cni/results")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(cache, 1, "{p}: {when}: CNI result cache entries");
    let infra = format!("pod-{}", pod.id);
    assert!(
        cgroup_dirs(&c.cgroup_parent).iter().any(|d| d.starts_with(&infra)),
        "{p}: {when}: no cgroup {infra} below {}",
        c.cgroup_parent
    );
}

#[test]
fn pod_run_killed_at_each_step() {
    if !prerequisites() {
        return;
    }
    run_points(RUN, |p| {
        let mut c = Case::new(p, Op::Pod, None);
        c.crash(POD);
        c.assert_no_leftovers("after the crash", false);
        if c.e().pods().list().unwrap().is_empty() {
            assert!(
                c.e()
                    .containers()
                    .list(&isula_core::ListOptions { all: true, ..Default::default() })
                    .unwrap()
                    .is_empty(),
                "{p}: an infra container without its pod"
            );
            run_op(c.e(), Op::Pod, POD).unwrap_or_else(|err| panic!("{p}: retry run: {err}"));
        }
        assert_ready(&c, "after the crash (and retry)");
        c.remove_everything();
        c.assert_no_leftovers("after removing the pod", false);
        run_op(c.e(), Op::Pod, POD).unwrap_or_else(|err| panic!("{p}: run again: {err}"));
        assert_ready(&c, "run again");
        c.remove_everything();
        c.reopen();
        c.assert_no_leftovers("after removing everything and reopening", false);
    });
}
