//! Measurements (never asserted): what networking costs per container — netns creation plus
//! attach to a bridge network (lo up in process, bridge+host-local, portmap, firewall), and detach plus
//! netns removal. Run with
//! `cargo test --release -p isula-tests --test network perf:: -- --ignored --nocapture`.

use crate::network_common;

use std::time::{Duration, Instant};

use isula_core::unstable::network::netns;
use isula_core::{NetworkAttachRequest, NetworkCreateOptions};
use network_common::*;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
#[ignore]
fn measure_attach_detach() {
    if !prerequisites() {
        return;
    }
    let mut env = NetEnv::new();
    let name = env.net("perf");
    env.store().create(&NetworkCreateOptions { name: name.clone(), ..Default::default() }).unwrap();
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for i in 0..10 {
        let c = env.cid(&format!("q{i}"));
        let ns = env.root.path().join("state/netns").join(&c);
        env.track_netns(&c, &ns);
        let t = Instant::now();
        netns::create(&ns).unwrap();
        env.store().attach(&c, &ns, &[NetworkAttachRequest { name: name.clone(), ..Default::default() }]).unwrap();
        up.push(t.elapsed());
        let t = Instant::now();
        env.store().detach_all(&c, &ns).unwrap();
        netns::remove(&ns).unwrap();
        down.push(t.elapsed());
    }
    println!("network setup (netns + attach), median of 10: {:?}", median(up));
    println!("network teardown (detach + netns removal), median of 10: {:?}", median(down));
}
