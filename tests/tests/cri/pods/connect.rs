//! `Pods::connect`: port-forward's TCP connection to a port inside a pod's network namespace.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use isula_core::ErrorKind;

use super::common::*;

const T: Duration = Duration::from_secs(20);

#[test]
fn connect_reaches_a_port_inside_the_pod_only() {
    if !prerequisites() {
        return;
    }
    let env = PodEnv::new("runc", false);
    let e = env.e();
    let id = e.pods().run(&env.pod_config("echo")).expect("run pod");
    // An echo server inside the pod's (loopback-only) network namespace.
    e.containers().run(&env.in_pod(&id, &["nc", "-ll", "-p", "8080", "-e", "cat"])).expect("run nc");
    let mut conn = isula_tests::poll::wait_for(T, "the echo server listens", || e.pods().connect(&id, 8080).ok());
    conn.write_all(b"through the namespace\n").unwrap();
    conn.shutdown(Shutdown::Write).unwrap();
    conn.set_read_timeout(Some(T)).unwrap();
    let mut got = String::new();
    conn.read_to_string(&mut got).unwrap();
    assert_eq!(got, "through the namespace\n");

    // Nothing listens on another port: a clear error, not a hang.
    let err = e.pods().connect(&id, 8081).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("8081"), "{err}");
    assert_eq!(e.pods().connect(&id, 0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(e.pods().connect("no-such-pod", 8080).unwrap_err().kind(), ErrorKind::NotFound);

    // A stopped pod has no network to reach.
    e.pods().stop(&id).expect("stop pod");
    assert_eq!(e.pods().connect(&id, 8080).unwrap_err().kind(), ErrorKind::FailedPrecondition);
    e.pods().remove(&id).expect("remove pod");
}
