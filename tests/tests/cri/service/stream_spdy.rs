//! Streaming over SPDY/3.1: exec, attach and port-forward through the CRI streaming server,
//! with the isula-spdy client role speaking as client-go does (streams opened in its order,
//! stdin closed by FIN, the error stream read to its end).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use isula_spdy::{Headers, Role, Session, Stream};
use k8s_cri::v1 as cri;
use sha2::{Digest, Sha256};

use super::support::*;

/// An upgraded (or refused) streaming connection.
struct Upgraded {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    sock: TcpStream,
}

impl Upgraded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The client session on the upgraded connection.
    fn session(&self) -> Session {
        assert_eq!(self.status, 101, "upgrade refused: {}", self.body);
        Session::new(self.sock.try_clone().unwrap(), self.sock.try_clone().unwrap(), Role::Client).unwrap()
    }
}

/// POST `url` asking for an upgrade to SPDY/3.1 with `versions`.
fn upgrade(url: &str, versions: &[&str]) -> Upgraded {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut sock = TcpStream::connect(host).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n");
    for v in versions {
        req.push_str(&format!("X-Stream-Protocol-Version: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    sock.write_all(req.as_bytes()).unwrap();
    // Byte by byte: nothing past the head may be taken from the session.
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(sock.read(&mut b).unwrap(), 1, "connection closed inside the answer head");
        head.push(b[0]);
    }
    let text = String::from_utf8(head).unwrap();
    let mut lines = text.split("\r\n");
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
    let mut body = String::new();
    if status != 101 {
        let _ = sock.read_to_string(&mut body);
    }
    Upgraded { status, headers, body, sock }
}

const ALL_VERSIONS: [&str; 5] =
    ["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"];

fn stream(s: &Session, kind: &str) -> Stream {
    s.open(Headers::new().with("streamType", kind)).unwrap()
}

/// What a remote command gave back.
#[derive(Debug, Default)]
struct Outcome {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    error: String,
}

/// Read a stream to its end on a thread.
fn drain(s: Stream) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let (mut r, _w) = s.split();
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        v
    })
}

/// Options of one remote command, as client-go's StreamOptions.
#[derive(Default)]
struct Opts {
    stdin: Option<Vec<u8>>,
    stderr: bool,
    tty: bool,
    resize: Option<(u16, u16)>,
}

/// Run a remote command on an upgraded connection as client-go does: streams error, stdin,
/// stdout, stderr, resize; stdin written then closed; wait for the outputs and the status.
fn remote(up: &Upgraded, o: Opts) -> Outcome {
    let s = up.session();
    let error = stream(&s, "error");
    let stdin = o.stdin.as_ref().map(|_| stream(&s, "stdin"));
    let stdout = drain(stream(&s, "stdout"));
    let stderr = (o.stderr && !o.tty).then(|| drain(stream(&s, "stderr")));
    let mut resize =
        (o.tty && up.header("X-Stream-Protocol-Version") != Some("v2.channel.k8s.io")).then(|| stream(&s, "resize"));
    if let (Some(r), Some((w, h))) = (resize.as_mut(), o.resize) {
        r.write_all(format!("{{\"Width\":{w},\"Height\":{h}}}").as_bytes()).unwrap();
    }
    let feeder = stdin.map(|st| {
        let data = o.stdin.clone().unwrap();
        std::thread::spawn(move || {
            let (_r, mut w) = st.split();
            for c in data.chunks(32 * 1024) {
                w.write_all(c).unwrap();
            }
            w.close().unwrap();
            // Keep the read half until the server closes it (as client-go).
            _r
        })
    });
    let out = Outcome {
        stdout: stdout.join().unwrap(),
        stderr: stderr.map(|t| t.join().unwrap()).unwrap_or_default(),
        error: String::from_utf8(drain(error).join().unwrap()).unwrap(),
    };
    if let Some(f) = feeder {
        f.join().unwrap();
    }
    drop(resize);
    out
}

fn exec_url(c: &Cri, id: &str, cmd: &[&str], stdin: bool, stderr: bool, tty: bool) -> String {
    let req = cri::ExecRequest {
        container_id: id.into(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        tty,
        stdin,
        stdout: true,
        stderr,
    };
    c.call(c.rs().exec(req)).expect("Exec").url
}

fn port_forward_url(c: &Cri, pod: &str) -> String {
    let req = cri::PortForwardRequest { pod_sandbox_id: pod.into(), port: vec![] };
    c.call(c.rs().port_forward(req)).expect("PortForward").url
}

/// A pod with a running `sleep` container; (pod, container).
fn sleeper(c: &Cri, name: &str) -> (String, String) {
    let logs = c.daemon.root.path().join("logs");
    let pc = pod_config(name, &logs);
    let pod = c.run_pod(&pc);
    let id = c.create(&pod, &container_config("main", &["sleep", "100000"]), &pc);
    c.start_container(&id);
    (pod, id)
}

fn status(error: &str) -> serde_json::Value {
    serde_json::from_str(error).unwrap_or_else(|e| panic!("status {error:?}: {e}"))
}

/// Wait until the daemon has no streaming-connection thread left: the connection threads,
/// session readers and relays, and the threads they started (which inherit their names).
fn assert_no_stream_threads(c: &Cri) {
    let pid = c.daemon.pid();
    let names = || -> Vec<String> {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|rd| {
                rd.flatten()
                    .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                    .map(|n| n.trim().to_string())
                    .filter(|n| ["stream-conn", "spdy-reader", "stream-portfwd"].contains(&n.as_str()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let left = std::cell::RefCell::new(Vec::new());
    let done = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < done {
        *left.borrow_mut() = names();
        if left.borrow().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("streaming threads left in the daemon: {:?}", left.borrow());
}

fn sha256(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn exec_output_exit_codes_and_versions() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let (_pod, id) = sleeper(&c, "spdy-exec");
    let script = "echo out; echo err >&2; echo more";
    let up = upgrade(&exec_url(&c, &id, &["sh", "-c", script], false, true, false), &ALL_VERSIONS);
    assert_eq!(up.header("X-Stream-Protocol-Version"), Some("v4.channel.k8s.io"));
    assert_eq!(up.header("Upgrade"), Some("SPDY/3.1"));
    let o = remote(&up, Opts { stderr: true, ..Opts::default() });
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out\nmore\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "err\n");
    assert_eq!(status(&o.error)["status"], "Success");

    // A non-zero exit: v4 gives a Status with the code, v3, v2 and v1 a message.
    let up = upgrade(&exec_url(&c, &id, &["sh", "-c", "exit 3"], false, true, false), &ALL_VERSIONS);
    let v = status(&remote(&up, Opts { stderr: true, ..Opts::default() }).error);
    assert_eq!(v["status"], "Failure");
    assert_eq!(v["reason"], "NonZeroExitCode");
    assert_eq!(v["details"]["causes"][0]["reason"], "ExitCode");
    assert_eq!(v["details"]["causes"][0]["message"], "3");
    for version in ["v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"] {
        let up = upgrade(&exec_url(&c, &id, &["sh", "-c", "echo x; exit 5"], false, false, false), &[version]);
        assert_eq!(up.header("X-Stream-Protocol-Version"), Some(version));
        let o = remote(&up, Opts::default());
        assert_eq!(o.stdout, b"x\n");
        assert_eq!(o.error, "command terminated with non-zero exit code: exit status 5", "{version}");
        let up = upgrade(&exec_url(&c, &id, &["true"], false, false, false), &[version]);
        assert_eq!(remote(&up, Opts::default()).error, "", "{version}: success writes nothing");
    }
    // A command that cannot start: a Failure status, not a hang.
    let up = upgrade(&exec_url(&c, &id, &["/no/such/binary"], false, false, false), &ALL_VERSIONS);
    let v = status(&remote(&up, Opts::default()).error);
    assert_eq!(v["status"], "Failure", "{v}");
}

#[test]
fn exec_tty_resize_and_stdin_round_trip() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let (_pod, id) = sleeper(&c, "spdy-tty");
    // The first size sent on the resize stream is the pty's from the process's start.
    let script = "echo \"size $(stty size)\"";
    let up = upgrade(&exec_url(&c, &id, &["sh", "-c", script], false, false, true), &ALL_VERSIONS);
    let o = remote(&up, Opts { tty: true, resize: Some((100, 40)), ..Opts::default() });
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim_end(), "size 40 100");
    assert_eq!(status(&o.error)["status"], "Success");

    // 1 MiB through cat: stdin ends with FIN, every byte comes back in order.
    let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let up = upgrade(&exec_url(&c, &id, &["cat"], true, true, false), &ALL_VERSIONS);
    let o = remote(&up, Opts { stdin: Some(data.clone()), stderr: true, ..Opts::default() });
    assert_eq!(o.stdout.len(), data.len());
    assert!(o.stdout == data, "stdin came back changed");
    assert_eq!(status(&o.error)["status"], "Success");
}

#[test]
fn attach_with_stdin_and_detach() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let logs = c.daemon.root.path().join("logs");
    let pc = pod_config("spdy-attach", &logs);
    let pod = c.run_pod(&pc);
    let mut cfg = container_config("shell", &["sh"]);
    cfg.stdin = true;
    let id = c.create(&pod, &cfg, &pc);
    c.start_container(&id);
    let req = cri::AttachRequest { container_id: id.clone(), stdin: true, tty: false, stdout: true, stderr: true };
    let url = c.call(c.rs().attach(req)).expect("Attach").url;
    let up = upgrade(&url, &ALL_VERSIONS);
    let s = up.session();
    let error = drain(stream(&s, "error"));
    let stdin = stream(&s, "stdin");
    let stdout = stream(&s, "stdout");
    let stderr = drain(stream(&s, "stderr"));
    let (_keep, mut input) = stdin.split();
    input.write_all(b"echo hello-$((6*7))\n").unwrap();
    let (mut out, _w) = stdout.split();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("hello-42\n") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "attach output ended early: {:?}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    // The end of stdin detaches; the container keeps running.
    input.close().unwrap();
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    stderr.join().unwrap();
    assert_eq!(status(&String::from_utf8(error.join().unwrap()).unwrap())["status"], "Success");
    assert_eq!(c.container_status(&id).state, cri::ContainerState::ContainerRunning as i32);
    drop((s, up));
    assert_no_stream_threads(&c);
}

/// Forward one connection on `session` (request `request`) to `port`: send `send`, close
/// the data stream's write side when `half_close`, read until the end. (error, data).
fn forward(session: &Session, request: u32, port: u16, send: &[u8], half_close: bool) -> (String, Vec<u8>) {
    let h = |t: &str| {
        Headers::new().with("streamType", t).with("port", &port.to_string()).with("requestID", &request.to_string())
    };
    let mut error = session.open(h("error")).unwrap();
    error.close_write().unwrap();
    let mut data = session.open(h("data")).unwrap();
    data.write_all(send).unwrap();
    if half_close {
        data.close_write().unwrap();
    }
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    data.reset();
    let mut e = String::new();
    error.read_to_string(&mut e).unwrap();
    (e, got)
}

/// GET `path` from port 80 through the port-forward session; the body (after a 200).
fn http_through(session: &Session, request: u32, port: u16, path: &str) -> Result<Vec<u8>, String> {
    let (err, resp) = forward(session, request, port, format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes(), false);
    if !err.is_empty() {
        return Err(err);
    }
    let at = resp.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no HTTP head")?;
    let head = String::from_utf8_lossy(&resp[..at]);
    if !head.starts_with("HTTP/1.") || !head.contains(" 200 ") {
        return Err(format!("answer {head:?}"));
    }
    Ok(resp[at + 4..].to_vec())
}

/// A pod (`host_network` or on the CNI network) serving `size` random bytes as `/big` with
/// busybox httpd on `port`; (pod, sha256 of /big).
fn file_server(c: &Cri, name: &str, port: u16, size: usize, host_network: bool) -> (String, String) {
    let logs = c.daemon.root.path().join("logs");
    let mut pc = pod_config(name, &logs);
    if host_network {
        let ns = cri::NamespaceOption { network: cri::NamespaceMode::Node as i32, ..Default::default() };
        pc.linux = Some(cri::LinuxPodSandboxConfig {
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(ns),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let pod = c.run_pod(&pc);
    let script = format!(
        "mkdir -p /www && head -c {size} /dev/urandom > /www/tmp && mv /www/tmp /www/big && exec httpd -f -p 127.0.0.1:{port} -h /www"
    );
    let id = c.create(&pod, &container_config("web", &["sh", "-c", &script]), &pc);
    c.start_container(&id);
    let sum = wait_for(Duration::from_secs(30), "the file to serve", || {
        let r = c.exec(&id, &["sha256sum", "/www/big"], 10).ok()?;
        (r.exit_code == 0).then(|| String::from_utf8_lossy(&r.stdout).split(' ').next().unwrap().to_string())
    });
    (pod, sum)
}

#[test]
fn port_forward_transfers_and_concurrent_requests() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let (pod, sum) = file_server(&c, "spdy-pf", 80, 10 << 20, false);
    let up = upgrade(&port_forward_url(&c, &pod), &["portforward.k8s.io"]);
    assert_eq!(up.header("X-Stream-Protocol-Version"), Some("portforward.k8s.io"));
    let s = up.session();
    // httpd may still be starting: the error stream says so until it listens.
    let mut request = 0;
    let body = wait_for(Duration::from_secs(30), "httpd through port-forward", || {
        request += 1;
        http_through(&s, request, 80, "/big").ok()
    });
    assert_eq!(body.len(), 10 << 20);
    assert_eq!(sha256(&body), sum, "10 MiB changed on the way");

    // Two forwards at once on the one connection.
    let threads: Vec<_> = [1000u32, 1001]
        .into_iter()
        .map(|r| {
            let s = s.clone();
            std::thread::spawn(move || http_through(&s, r, 80, "/big").unwrap())
        })
        .collect();
    for t in threads {
        assert_eq!(sha256(&t.join().unwrap()), sum);
    }
    // A closed port: the message comes on the error stream, the session goes on.
    let (err, data) = forward(&s, 2000, 81, b"", true);
    assert!(err.contains("81"), "{err}");
    assert!(data.is_empty());
    assert_eq!(sha256(&http_through(&s, 2001, 80, "/big").unwrap()), sum);
    // Older clients send no requestID: error stream N pairs with data stream N + 2.
    let h = |t: &str| Headers::new().with("streamType", t).with("port", "80");
    let mut e = s.open(h("error")).unwrap();
    e.close_write().unwrap();
    let mut d = s.open(h("data")).unwrap();
    assert_eq!(d.id(), e.id() + 2);
    d.write_all(b"GET /big HTTP/1.0\r\n\r\n").unwrap();
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert!(got.len() > 10 << 20, "{} bytes", got.len());
    // A stream without a port is refused.
    assert!(s.open(Headers::new().with("streamType", "data")).unwrap().read(&mut [0u8; 1]).is_err());
    // The session lasts until the client closes the connection; nothing stays behind.
    drop((e, d, s));
    up.sock.shutdown(Shutdown::Both).unwrap();
    assert_no_stream_threads(&c);
}

#[test]
fn port_forward_to_a_host_network_pod() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let port = free_port();
    let (pod, sum) = file_server(&c, "spdy-pf-host", port, 4 << 20, true);
    let up = upgrade(&port_forward_url(&c, &pod), &["portforward.k8s.io"]);
    let s = up.session();
    let mut request = 0;
    let body = wait_for(Duration::from_secs(30), "httpd through port-forward", || {
        request += 1;
        http_through(&s, request, port, "/big").ok()
    });
    assert_eq!(sha256(&body), sum);
    // A client that stops reading mid-transfer and goes away leaves nothing behind.
    let h = |t: &str| Headers::new().with("streamType", t).with("port", &port.to_string()).with("requestID", "x");
    let _e = s.open(h("error")).unwrap();
    let mut d = s.open(h("data")).unwrap();
    d.write_all(b"GET /big HTTP/1.0\r\n\r\n").unwrap();
    d.read_exact(&mut [0u8; 16]).unwrap();
    up.sock.shutdown(Shutdown::Both).unwrap();
    assert_no_stream_threads(&c);
}

/// `ps` lines of the container that run exactly `args`.
fn processes(c: &Cri, id: &str, args: &str) -> usize {
    let ps = c.exec_ok(id, &["ps", "-o", "args"]);
    ps.lines().filter(|l| l.trim() == args).count()
}

#[test]
fn abrupt_disconnect_kills_the_exec_and_tokens_are_single_use() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let (_pod, id) = sleeper(&c, "spdy-hangup");
    let url = exec_url(&c, &id, &["sleep", "1000"], true, true, false);
    let up = upgrade(&url, &ALL_VERSIONS);
    let s = up.session();
    let mut streams: Vec<Stream> = ["error", "stdin", "stdout", "stderr"].iter().map(|k| stream(&s, k)).collect();
    wait_for(Duration::from_secs(10), "the exec to run", || (processes(&c, &id, "sleep 1000") == 1).then_some(()));
    // Stdin the process never reads: the server's stream buffer fills and its reader waits.
    let mut stdin = streams.remove(1);
    let feeder = std::thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        while stdin.write_all(&chunk).is_ok() {}
    });
    std::thread::sleep(Duration::from_millis(500));
    // Gone without a word: no FIN, no GOAWAY.
    up.sock.shutdown(Shutdown::Both).unwrap();
    feeder.join().unwrap();
    wait_for(Duration::from_secs(15), "the exec to be killed", || {
        (processes(&c, &id, "sleep 1000") == 0).then_some(())
    });
    drop(streams);

    // A token works once.
    let again = upgrade(&url, &ALL_VERSIONS);
    assert_eq!(again.status, 404, "{}", again.body);
    let (base, _) = url.rsplit_once('/').unwrap();
    let bogus = upgrade(&format!("{base}/0123456789abcdef0123456789abcdef"), &ALL_VERSIONS);
    assert_eq!(bogus.status, 404);
    // No version in common: 403 and the versions the server speaks.
    let refused = upgrade(&exec_url(&c, &id, &["true"], false, false, false), &["v9.channel.k8s.io"]);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused
        .headers
        .iter()
        .any(|(n, v)| n == "X-Accepted-Stream-Protocol-Versions" && v == "v4.channel.k8s.io"));
    // No version at all: 400.
    let refused = upgrade(&exec_url(&c, &id, &["true"], false, false, false), &[]);
    assert_eq!(refused.status, 400, "{}", refused.body);
}

#[test]
fn a_lost_client_of_a_stuck_port_forward_leaves_no_relay() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let logs = c.daemon.root.path().join("logs");
    let pc = pod_config("spdy-stuck", &logs);
    let pod = c.run_pod(&pc);
    // A server that accepts and then neither reads nor writes.
    let id = c.create(&pod, &container_config("mute", &["nc", "-l", "-p", "9000", "-e", "sleep", "100000"]), &pc);
    c.start_container(&id);
    wait_for(Duration::from_secs(20), "the mute server to listen", || {
        c.exec(&id, &["sh", "-c", "netstat -ltn | grep -q :9000"], 10).ok().filter(|r| r.exit_code == 0)
    });
    let up = upgrade(&port_forward_url(&c, &pod), &["portforward.k8s.io"]);
    let s = up.session();
    let h = |t: &str| Headers::new().with("streamType", t).with("port", "9000").with("requestID", "0");
    let mut error = s.open(h("error")).unwrap();
    error.close_write().unwrap();
    let mut data = s.open(h("data")).unwrap();
    // More than every buffer on the way holds: the relay ends up waiting on the mute port.
    let feeder = std::thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..256 {
            if data.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_secs(1));
    // The client dies: its socket is reset (a close with unsent data and no linger), as
    // when a process is killed; a plain close would leave TCP waiting on the zero window.
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    nix::sys::socket::setsockopt(&up.sock, nix::sys::socket::sockopt::Linger, &linger).unwrap();
    up.sock.shutdown(Shutdown::Both).unwrap();
    feeder.join().unwrap();
    drop((error, s, up));
    assert_no_stream_threads(&c);
}
