//! Exec, Attach and PortForward without a transport: what they check, the URLs they return,
//! and how the streaming server treats unknown, reused and mismatched tokens and requests
//! that do not upgrade.

use std::io::{Read, Write};
use std::time::Duration;

use k8s_cri::v1 as cri;
use tonic::Code;

use super::support::{container_config, pod_config, prerequisites, Cri};

/// `GET path` on the URL's server without an upgrade; the status line and body.
fn plain_get(url: &str, path: &str) -> String {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let host = rest.split('/').next().unwrap();
    let mut s = std::net::TcpStream::connect(host).expect("connect to the streaming server");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn path_of(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    format!("/{}", rest.split_once('/').unwrap().1)
}

#[test]
fn streaming_calls_check_their_request_and_tokens_are_single_use() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let logs = c.daemon.root.path().join("logs");
    let sandbox = pod_config("urls", &logs);
    let pod = c.run_pod(&sandbox);
    let ctr = c.create(&pod, &container_config("sleeper", &["sleep", "1000"]), &sandbox);
    let exec = |r: cri::ExecRequest| c.call(c.rs().exec(r));
    let req = |cmd: &[&str]| cri::ExecRequest {
        container_id: ctr.clone(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        stdout: true,
        ..Default::default()
    };

    // A container that is not running cannot be exec'd or attached to.
    assert_eq!(exec(req(&["true"])).unwrap_err().code(), Code::FailedPrecondition);
    let att = cri::AttachRequest { container_id: ctr.clone(), stdout: true, ..Default::default() };
    assert_eq!(c.call(c.rs().attach(att.clone())).unwrap_err().code(), Code::FailedPrecondition);
    c.start_container(&ctr);

    // Bad requests.
    assert_eq!(exec(req(&[])).unwrap_err().code(), Code::InvalidArgument);
    assert_eq!(exec(cri::ExecRequest { stdout: false, ..req(&["true"]) }).unwrap_err().code(), Code::InvalidArgument);
    let e = exec(cri::ExecRequest { tty: true, stderr: true, ..req(&["true"]) }).unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(
        exec(cri::ExecRequest { container_id: "no-such-container".into(), ..req(&["true"]) }).unwrap_err().code(),
        Code::NotFound
    );
    let pf = |id: &str, port: Vec<i32>| {
        c.call(c.rs().port_forward(cri::PortForwardRequest { pod_sandbox_id: id.into(), port }))
    };
    assert_eq!(pf("no-such-pod", vec![]).unwrap_err().code(), Code::NotFound);
    assert_eq!(pf(&pod, vec![70000]).unwrap_err().code(), Code::InvalidArgument);

    // Good ones get a URL on the streaming server, with a token of their own.
    let u1 = exec(req(&["true"])).unwrap().url;
    let u2 = exec(req(&["true"])).unwrap().url;
    let ua = c.call(c.rs().attach(att)).unwrap().url;
    let up = pf(&pod, vec![80]).unwrap().url;
    for (u, kind) in [(&u1, "exec"), (&u2, "exec"), (&ua, "attach"), (&up, "portforward")] {
        let p = path_of(u);
        let token = p.strip_prefix(&format!("/{kind}/")).unwrap_or_else(|| panic!("{u}"));
        assert!(u.starts_with("http://127.0.0.1:"), "{u}");
        assert_eq!(token.len(), 32, "{u}");
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{u}");
    }
    assert_ne!(u1, u2);

    // A request without an upgrade is refused, and uses up its token.
    let r = plain_get(&u1, &path_of(&u1));
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    assert!(r.contains("SPDY/3.1") && r.contains("websocket"), "{r}");
    let r = plain_get(&u1, &path_of(&u1));
    assert!(r.starts_with("HTTP/1.1 404"), "a reused token: {r}");
    // A token is good only for its own kind; a refused try uses it up as well.
    let r = plain_get(&u2, &path_of(&u2).replace("/exec/", "/attach/"));
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
    let r = plain_get(&u2, &path_of(&u2));
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
    // Unknown tokens and paths.
    assert!(plain_get(&ua, "/exec/0123456789abcdef0123456789abcdef").starts_with("HTTP/1.1 404"));
    assert!(plain_get(&ua, "/metrics").starts_with("HTTP/1.1 404"));

    // A pod that stopped cannot be port-forwarded.
    c.call(c.rs().stop_pod_sandbox(cri::StopPodSandboxRequest { pod_sandbox_id: pod.clone() })).unwrap();
    assert_eq!(pf(&pod, vec![]).unwrap_err().code(), Code::FailedPrecondition);
    c.remove_pod(&pod);
}

#[test]
fn unused_tokens_expire_and_idle_connections_close() {
    if !prerequisites() {
        return;
    }
    let net = super::support::CniNet::new();
    net.write();
    let c = Cri::start_on(net, vec!["--stream-idle-timeout".into(), "2s".into()]);
    let logs = c.daemon.root.path().join("logs");
    let sandbox = pod_config("idle", &logs);
    let pod = c.run_pod(&sandbox);
    let pf = || {
        let r = cri::PortForwardRequest { pod_sandbox_id: pod.clone(), port: vec![80] };
        c.call(c.rs().port_forward(r)).unwrap().url
    };
    let unused = pf();
    let issued = std::time::Instant::now();

    // An upgraded connection on which nothing is sent is closed after the idle timeout.
    let url = pf();
    let host = url.strip_prefix("http://").unwrap().split('/').next().unwrap().to_string();
    let mut s = std::net::TcpStream::connect(&host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "POST {} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n",
        path_of(&url)
    )
    .unwrap();
    let opened = std::time::Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("the idle connection was not closed: {e}"),
        }
    }
    let head = String::from_utf8_lossy(&got);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(opened.elapsed() >= Duration::from_millis(1500), "closed before the idle timeout");

    // A token unused for more than a minute is gone.
    std::thread::sleep(Duration::from_secs(61).saturating_sub(issued.elapsed()));
    let r = plain_get(&unused, &path_of(&unused));
    assert!(r.starts_with("HTTP/1.1 404"), "an expired token: {r}");
    c.remove_pod(&pod);
}
