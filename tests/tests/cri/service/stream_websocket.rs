//! Streaming over WebSocket: exec, attach and port-forward through the CRI streaming server,
//! with tungstenite's client on kubelet's channel protocols (`v5`, `v4`, base64, none).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use k8s_cri::v1 as cri;
use sha2::{Digest, Sha256};
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::Role;
use tungstenite::{Message, WebSocket};

use super::support::*;

/// A daemon with a running pod and a `sleep` container in it.
struct Fixture {
    c: Cri,
    pod: String,
    ctr: String,
}

impl Fixture {
    /// A pod whose container runs `cmd` (with stdin open when `stdin`).
    fn new(name: &str, cmd: &[&str], stdin: bool) -> Fixture {
        Self::on(Cri::start(), name, cmd, stdin)
    }

    fn on(c: Cri, name: &str, cmd: &[&str], stdin: bool) -> Fixture {
        let logs = c.daemon.root.path().join("logs");
        let pc = pod_config(name, &logs);
        let pod = c.run_pod(&pc);
        let mut cfg = container_config(name, cmd);
        cfg.stdin = stdin;
        let ctr = c.create(&pod, &cfg, &pc);
        c.start_container(&ctr);
        Fixture { c, pod, ctr }
    }

    /// The URL of an exec of `cmd`.
    fn exec_url(&self, cmd: &[&str], stdin: bool, tty: bool) -> String {
        let req = cri::ExecRequest {
            container_id: self.ctr.clone(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            tty,
            stdin,
            stdout: true,
            stderr: !tty,
        };
        self.c.call(self.c.rs().exec(req)).expect("Exec").url
    }

    /// The URL of an attach to the container.
    fn attach_url(&self) -> String {
        let req =
            cri::AttachRequest { container_id: self.ctr.clone(), stdin: true, tty: false, stdout: true, stderr: true };
        self.c.call(self.c.rs().attach(req)).expect("Attach").url
    }

    /// The URL of a port-forward to the pod.
    fn port_forward_url(&self) -> String {
        let req = cri::PortForwardRequest { pod_sandbox_id: self.pod.clone(), port: Vec::new() };
        self.c.call(self.c.rs().port_forward(req)).expect("PortForward").url
    }
}

/// Open a WebSocket to `url` (`http://` streaming URL plus `query`) offering `protocols`;
/// the socket and the subprotocol the server chose.
fn connect(url: &str, query: &str, protocols: &[&str]) -> Result<(WebSocket<TcpStream>, String), String> {
    let authority = url.trim_start_matches("http://").split('/').next().unwrap().to_string();
    let tcp = TcpStream::connect(&authority).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    handshake(tcp, &format!("ws://{}{query}", url.trim_start_matches("http://")), protocols)
}

/// The client handshake on `stream` for `url`.
fn handshake<S: Read + Write>(stream: S, url: &str, protocols: &[&str]) -> Result<(WebSocket<S>, String), String> {
    let mut req = url.into_client_request().unwrap();
    if !protocols.is_empty() {
        req.headers_mut().insert("Sec-WebSocket-Protocol", protocols.join(", ").parse().unwrap());
    }
    match tungstenite::client::client(req, stream) {
        Ok((ws, resp)) => {
            let p = resp.headers().get("Sec-WebSocket-Protocol").map(|v| v.to_str().unwrap().to_string());
            Ok((ws, p.unwrap_or_default()))
        }
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r))) => {
            Err(format!("{} {}", r.status().as_u16(), String::from_utf8_lossy(r.body().as_deref().unwrap_or_default())))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// One channel message: binary (channel byte) or text (digit and base64).
fn decode(m: Message) -> Option<(u8, Vec<u8>)> {
    match m {
        Message::Binary(b) if !b.is_empty() => Some((b[0], b[1..].to_vec())),
        Message::Text(t) if !t.is_empty() => {
            let t = t.as_str();
            let data = base64::engine::general_purpose::STANDARD.decode(&t[1..]).expect("base64 payload");
            Some((t.as_bytes()[0] - b'0', data))
        }
        _ => None,
    }
}

/// A binary message on channel `ch`.
fn binary(ch: u8, data: &[u8]) -> Message {
    let mut m = vec![ch];
    m.extend_from_slice(data);
    Message::binary(m)
}

/// What arrived per channel until the server closed the connection.
#[derive(Debug, Default)]
struct Received {
    channels: std::collections::BTreeMap<u8, Vec<u8>>,
    /// Messages in order (channel, length), the empty ones included.
    messages: Vec<(u8, usize)>,
    /// The server sent a close frame.
    closed: bool,
}

impl Received {
    fn on(&self, ch: u8) -> &[u8] {
        self.channels.get(&ch).map(Vec::as_slice).unwrap_or_default()
    }

    fn text(&self, ch: u8) -> String {
        String::from_utf8_lossy(self.on(ch)).into_owned()
    }

    fn add(&mut self, ch: u8, data: Vec<u8>) {
        self.messages.push((ch, data.len()));
        self.channels.entry(ch).or_default().extend(data);
    }
}

/// Read messages until the server closes the connection.
fn read_all<S: Read + Write>(ws: &mut WebSocket<S>) -> Received {
    let mut r = Received::default();
    read_until(ws, &mut r, |_| false);
    r
}

/// Read messages into `r` until `done(r)` or the end of the connection.
fn read_until<S: Read + Write>(ws: &mut WebSocket<S>, r: &mut Received, done: impl Fn(&Received) -> bool) {
    while !done(r) {
        match ws.read() {
            Ok(Message::Close(_)) => r.closed = true,
            Ok(m) => {
                if let Some((ch, data)) = decode(m) {
                    r.add(ch, data);
                }
            }
            Err(tungstenite::Error::ConnectionClosed) => return,
            Err(e) => panic!("reading the WebSocket: {e} (so far: {r:?})"),
        }
    }
}

/// The exit code a v4/v5 status on the error channel carries (0 for Success).
fn exit_code(status: &[u8]) -> i64 {
    let v: serde_json::Value =
        serde_json::from_slice(status).unwrap_or_else(|e| panic!("status {:?}: {e}", String::from_utf8_lossy(status)));
    if v["status"] == "Success" {
        return 0;
    }
    assert_eq!(v["reason"], "NonZeroExitCode", "{v}");
    v["details"]["causes"][0]["message"].as_str().unwrap().parse().unwrap()
}

/// The names of the daemon's threads that serve streams (they inherit the connection
/// thread's name).
fn stream_threads(pid: u32) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    rd.flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| s.starts_with("stream-") && s != "stream-accept")
        .collect()
}

/// Wait until the daemon serves no stream any more.
fn assert_no_stream_threads(c: &Cri) {
    let pid = c.daemon.pid();
    for _ in 0..200 {
        if stream_threads(pid).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("streaming threads left: {:?}", stream_threads(pid));
}

/// Whether a process with exactly this command line runs on the host.
fn process_runs(cmdline: &[&str]) -> bool {
    let want = cmdline.join("\0") + "\0";
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .any(|e| std::fs::read(e.path().join("cmdline")).map(|c| c == want.as_bytes()).unwrap_or(false))
}

#[test]
fn exec_over_v5_v4_base64_and_v1() {
    if !prerequisites() {
        return;
    }
    let f = Fixture::new("wsexec", &["sleep", "1000"], false);
    let cmd = ["sh", "-c", "echo out; echo err >&2; exit 3"];

    // v5: stdout and stderr apart, the exit code in the status on the error channel.
    let url = f.exec_url(&cmd, false, false);
    let (mut ws, proto) = connect(&url, "", &["v5.channel.k8s.io"]).unwrap();
    assert_eq!(proto, "v5.channel.k8s.io");
    let r = read_all(&mut ws);
    assert_eq!(r.messages.first(), Some(&(1, 0)), "kubelet's empty first message on stdout: {r:?}");
    assert_eq!((r.text(1).as_str(), r.text(2).as_str()), ("out\n", "err\n"));
    assert_eq!(exit_code(r.on(3)), 3);
    assert!(r.closed, "a close frame ends the session");

    // The token was used: refused.
    assert_eq!(connect(&url, "", &["v5.channel.k8s.io"]).unwrap_err().split(' ').next(), Some("404"));

    // v4 prefers the client's order; success is a Success status.
    let url = f.exec_url(&["echo", "hi"], false, false);
    let (mut ws, proto) = connect(&url, "", &["v4.channel.k8s.io", "v5.channel.k8s.io"]).unwrap();
    assert_eq!(proto, "v4.channel.k8s.io");
    let r = read_all(&mut ws);
    assert_eq!((r.text(1).as_str(), exit_code(r.on(3))), ("hi\n", 0));

    // base64: text messages, the same streams.
    let url = f.exec_url(&cmd, false, false);
    let (mut ws, proto) = connect(&url, "", &["v4.base64.channel.k8s.io"]).unwrap();
    assert_eq!(proto, "v4.base64.channel.k8s.io");
    let r = read_all(&mut ws);
    assert_eq!((r.text(1).as_str(), r.text(2).as_str(), exit_code(r.on(3))), ("out\n", "err\n", 3));

    // No subprotocol: kubelet's default, v1 (a plain message on the error channel).
    let url = f.exec_url(&cmd, false, false);
    let (mut ws, proto) = connect(&url, "", &[]).unwrap();
    assert_eq!(proto, "");
    let r = read_all(&mut ws);
    assert_eq!(r.text(1), "out\n");
    assert!(r.text(3).contains("exit status 3"), "{r:?}");

    // An unknown subprotocol is refused (and so is the token then).
    let url = f.exec_url(&cmd, false, false);
    let e = connect(&url, "", &["v9.channel.k8s.io"]).unwrap_err();
    assert!(e.starts_with("403"), "{e}");
    assert_no_stream_threads(&f.c);
}

#[test]
fn exec_stdin_round_trip_and_tty_resize() {
    if !prerequisites() {
        return;
    }
    let f = Fixture::new("wsstdin", &["sleep", "1000"], false);

    // 1 MiB through `cat` and back, stdin closed by v5's close signal.
    let input: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let url = f.exec_url(&["cat"], true, false);
    let (mut ws, _) = connect(&url, "", &["v5.channel.k8s.io"]).unwrap();
    let mut writer = WebSocket::from_raw_socket(ws.get_ref().try_clone().unwrap(), Role::Client, None);
    let data = input.clone();
    let w = std::thread::spawn(move || {
        for chunk in data.chunks(32 * 1024) {
            writer.send(binary(0, chunk)).unwrap();
        }
        writer.send(Message::binary(vec![255, 0])).unwrap();
    });
    let r = read_all(&mut ws);
    w.join().unwrap();
    assert_eq!(r.on(1).len(), input.len());
    assert!(r.on(1) == input, "stdout is stdin, byte for byte");
    assert_eq!(exit_code(r.on(3)), 0);

    // A ping (client-go sends one every 5 s) gets its pong while the command runs.
    let url = f.exec_url(&["sh", "-c", "read x; echo \"got $x\""], true, false);
    let (mut ws, _) = connect(&url, "", &["v5.channel.k8s.io"]).unwrap();
    ws.send(Message::Ping(b"beat".to_vec().into())).unwrap();
    loop {
        match ws.read().unwrap() {
            Message::Pong(p) => break assert_eq!(&p[..], b"beat"),
            m => assert!(decode(m).is_some_and(|(_, d)| d.is_empty()), "only the empty first message before"),
        }
    }
    ws.send(binary(0, b"go\n")).unwrap();
    let r = read_all(&mut ws);
    assert_eq!((r.text(1).as_str(), exit_code(r.on(3))), ("got go\n", 0));

    // A tty: the size the client sends is the size the process sees.
    let url = f.exec_url(&["sh", "-c", "while read x; do stty size; done"], true, true);
    let (mut ws, _) = connect(&url, "", &["v5.channel.k8s.io"]).unwrap();
    ws.send(binary(4, br#"{"Width":100,"Height":30}"#)).unwrap();
    let mut r = Received::default();
    let mut seen = false;
    for _ in 0..50 {
        ws.send(binary(0, b"\n")).unwrap();
        read_until(&mut ws, &mut r, |r| r.text(1).lines().any(|l| l.trim().split(' ').count() == 2));
        if r.text(1).lines().any(|l| l.trim() == "30 100") {
            seen = true;
            break;
        }
        r.channels.clear();
    }
    assert!(seen, "stty never saw the new size: {:?}", r.text(1));
    ws.send(Message::binary(vec![255, 0])).unwrap();
    let rest = read_all(&mut ws);
    assert_eq!(exit_code(rest.on(3)), 0);
    assert_no_stream_threads(&f.c);
}

#[test]
fn attach_and_abrupt_disconnect() {
    if !prerequisites() {
        return;
    }
    let f = Fixture::new("wsattach", &["sh", "-c", "while read l; do echo \"got $l\"; done"], true);

    // Attach: stdin in, stdout out; closing stdin detaches and the container runs on.
    let (mut ws, _) = connect(&f.attach_url(), "", &["v5.channel.k8s.io"]).unwrap();
    ws.send(binary(0, b"hello\n")).unwrap();
    let mut r = Received::default();
    read_until(&mut ws, &mut r, |r| r.text(1).contains("got hello"));
    assert!(!r.closed);
    ws.send(Message::binary(vec![255, 0])).unwrap();
    read_until(&mut ws, &mut r, |_| false);
    assert!(r.closed, "{r:?}");
    assert_eq!(exit_code(r.on(3)), 0);
    assert_eq!(f.c.container_status(&f.ctr).state, cri::ContainerState::ContainerRunning as i32);

    // A client that vanishes during an exec: the process is killed.
    let secs = format!("1{}", u16::from_str_radix(&rand_hex(2), 16).unwrap());
    let cmdline = ["sleep", secs.as_str()];
    let url = f.exec_url(&cmdline, false, false);
    let (mut ws, _) = connect(&url, "", &["v5.channel.k8s.io"]).unwrap();
    let mut r = Received::default();
    read_until(&mut ws, &mut r, |r| !r.messages.is_empty());
    wait_for(Duration::from_secs(20), "the exec runs", || process_runs(&cmdline).then_some(()));
    ws.get_ref().shutdown(std::net::Shutdown::Both).unwrap();
    drop(ws);
    wait_for(Duration::from_secs(20), "the exec is killed", || (!process_runs(&cmdline)).then_some(()));
    assert_no_stream_threads(&f.c);
}

/// 10 MiB of a fixed pseudo-random pattern.
fn ten_mib() -> Vec<u8> {
    let mut x = 0x1234_5678u32;
    (0..10 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn sha_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn port_forward_two_ports_ten_mib_each_way() {
    if !prerequisites() {
        return;
    }
    // Port 5000 sends /data (10 MiB) to whoever connects; port 5001 takes 10 MiB and
    // answers their sha256; port 5002 never says anything; 5003 sends /data again.
    let script = "head -c 10485760 /dev/urandom > /data && \
                  (nc -l -p 5000 < /data &) && (sleep 1000 | nc -l -p 5002 &) && (nc -l -p 5003 < /data &) && \
                  (nc -l -p 5001 -e sh -c 'head -c 10485760 | sha256sum' &) && exec sleep 1000";
    let f = Fixture::new("wspf", &["sh", "-c", script], false);
    wait_for(Duration::from_secs(30), "both ports listen", || {
        let out = f.c.exec(&f.ctr, &["netstat", "-ltn"], 10).ok()?;
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        [":5000 ", ":5001 ", ":5002 ", ":5003 "].iter().all(|p| s.contains(p)).then_some(())
    });
    let want_down = f.c.exec_ok(&f.ctr, &["sha256sum", "/data"]);
    let up = ten_mib();

    let url = f.port_forward_url();
    let (mut ws, proto) = connect(&url, "?port=5000,5001", &["v4.channel.k8s.io"]).unwrap();
    assert_eq!(proto, "v4.channel.k8s.io");
    let mut writer = WebSocket::from_raw_socket(ws.get_ref().try_clone().unwrap(), Role::Client, None);
    let data = up.clone();
    let w = std::thread::spawn(move || {
        for chunk in data.chunks(64 * 1024) {
            writer.send(binary(2, chunk)).unwrap();
        }
    });
    let r = read_all(&mut ws);
    w.join().unwrap();
    // Each channel starts with its port, little-endian.
    for (ch, port) in [(0u8, 5000u16), (1, 5000), (2, 5001), (3, 5001)] {
        assert_eq!(r.on(ch)[..2], port.to_le_bytes(), "channel {ch}: {r:?}");
    }
    assert_eq!(r.on(1).len(), 2, "no error on port 5000: {:?}", r.text(1));
    assert_eq!(r.on(3).len(), 2, "no error on port 5001: {:?}", r.text(3));
    let down = &r.on(0)[2..];
    assert_eq!(down.len(), 10 << 20);
    assert_eq!(want_down.split(' ').next().unwrap(), sha_hex(down), "the download is byte-exact");
    let answer = String::from_utf8_lossy(&r.on(2)[2..]).into_owned();
    assert_eq!(answer.split(' ').next().unwrap(), sha_hex(&up), "the upload is byte-exact");
    assert!(r.closed);

    // The same download over base64 text frames.
    let (mut ws, proto) = connect(&f.port_forward_url(), "?port=5003", &["v4.base64.channel.k8s.io"]).unwrap();
    assert_eq!(proto, "v4.base64.channel.k8s.io");
    let r = read_all(&mut ws);
    assert_eq!(r.on(0)[..2], 5003u16.to_le_bytes(), "{r:?}");
    assert_eq!(r.on(0).len(), (10 << 20) + 2);
    assert_eq!(want_down.split(' ').next().unwrap(), sha_hex(&r.on(0)[2..]), "the base64 download is byte-exact");

    // A port nobody listens on: the error channel says so.
    let url = f.port_forward_url();
    let (mut ws, _) = connect(&url, "?port=5999", &["v4.channel.k8s.io"]).unwrap();
    let r = read_all(&mut ws);
    assert!(r.text(1).contains("5999"), "{r:?}");
    // No port: refused.
    let e = connect(&f.port_forward_url(), "", &["v4.channel.k8s.io"]).unwrap_err();
    assert!(e.starts_with("400"), "{e}");

    // A client that vanishes while the port is idle (it never ends the connection itself):
    // nothing is left behind.
    let (mut ws, _) = connect(&f.port_forward_url(), "?port=5002", &["v4.channel.k8s.io"]).unwrap();
    let mut r = Received::default();
    read_until(&mut ws, &mut r, |r| r.messages.len() == 2);
    let established = || {
        let out = f.c.exec_ok(&f.ctr, &["netstat", "-tn"]);
        out.lines().any(|l| l.contains(":5002 ") && l.contains("ESTABLISHED"))
    };
    wait_for(Duration::from_secs(20), "the pod's connection", || established().then_some(()));
    ws.get_ref().shutdown(std::net::Shutdown::Both).unwrap();
    drop(ws);
    assert_no_stream_threads(&f.c);
    assert!(!established(), "the connection into the pod is closed");
}

/// Make a CA and a certificate for 127.0.0.1 signed by it in `dir` with openssl:
/// (ca.pem, cert.pem, key.pem).
fn make_certs(dir: &Path) {
    let sh = |args: &str| {
        let st = std::process::Command::new("sh").arg("-c").arg(args).current_dir(dir).status().unwrap();
        assert!(st.success(), "{args}");
    };
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
        -days 2 -subj /CN=isula-test-ca 2>/dev/null");
    sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out leaf.csr \
        -subj /CN=localhost 2>/dev/null");
    std::fs::write(dir.join("ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    sh("openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 2 \
        -extfile ext 2>/dev/null");
}

#[test]
fn exec_over_tls() {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, ServerName};

    if !prerequisites() || !isula_tests::env::require("openssl") {
        return;
    }
    let certs = isula_tests::env::TestRoot::new();
    make_certs(certs.path());
    let net = CniNet::new();
    net.write();
    let flag = |n: &str, f: &str| vec![n.to_string(), certs.path().join(f).display().to_string()];
    let mut extra = flag("--stream-server-tls-cert", "cert.pem");
    extra.extend(flag("--stream-server-tls-key", "key.pem"));
    let f = Fixture::on(Cri::start_on(net, extra), "wstls", &["sleep", "1000"], false);

    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(certs.path().join("ca.pem")).unwrap()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config: std::sync::Arc<_> = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
        .into();
    let connect_tls = |url: &str| {
        assert!(url.starts_with("https://127.0.0.1:"), "{url}");
        let rest = url.trim_start_matches("https://");
        let tcp = TcpStream::connect(rest.split('/').next().unwrap()).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let tls = rustls::StreamOwned::new(rustls::ClientConnection::new(config.clone(), name).unwrap(), tcp);
        handshake(tls, &format!("ws://{rest}"), &["v5.channel.k8s.io"]).unwrap().0
    };
    let mut ws = connect_tls(&f.exec_url(&["sh", "-c", "echo secret; exit 4"], false, false));
    let r = read_all(&mut ws);
    assert_eq!((r.text(1).as_str(), exit_code(r.on(3))), ("secret\n", 4));
    // A client whose request goes out in the flight that ends the handshake (as Go's does
    // at times): that request is read before anything else arrives. With a tty and stdin the
    // client leaves open, as critest's exec spec.
    let url = f.exec_url(&["echo", "hello"], true, true);
    let rest = url.trim_start_matches("https://");
    let (authority, path) = rest.split_once('/').unwrap();
    let tcp = TcpStream::connect(authority).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut conn = rustls::ClientConnection::new(config.clone(), ServerName::try_from("127.0.0.1").unwrap()).unwrap();
    let req = format!(
        "GET /{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n"
    );
    conn.writer().write_all(req.as_bytes()).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        tls.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "), "{}", String::from_utf8_lossy(&head));
    let mut ws = WebSocket::from_raw_socket(tls, Role::Client, None);
    let r = read_all(&mut ws);
    assert_eq!((r.text(1).as_str(), exit_code(r.on(3))), ("hello\r\n", 0));

    // Plain HTTP on the TLS port gets nowhere.
    let url = f.exec_url(&["true"], false, false).replacen("https://", "http://", 1);
    assert!(connect(&url, "", &["v5.channel.k8s.io"]).is_err());
    assert_no_stream_threads(&f.c);
}

/// The reading half of a WebSocket as a byte stream (binary messages), for SPDY.
struct WsReader {
    ws: WebSocket<TcpStream>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for WsReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            match self.ws.read() {
                Ok(Message::Binary(b)) => (self.buf, self.pos) = (b.to_vec(), 0),
                Ok(Message::Close(_)) | Err(tungstenite::Error::ConnectionClosed) => return Ok(0),
                Ok(_) => {}
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The writing half: each write one binary message; a close frame when dropped.
struct WsWriter(WebSocket<TcpStream>);

impl Write for WsWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.send(Message::binary(b.to_vec())).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for WsWriter {
    fn drop(&mut self) {
        let _ = self.0.close(None);
    }
}

#[test]
fn port_forward_spdy_tunnelled_in_websocket() {
    use isula_spdy::{Headers, Role as SpdyRole, Session};

    if !prerequisites() {
        return;
    }
    let script = "head -c 3145728 /dev/urandom > /data && exec nc -l -p 5000 < /data";
    let f = Fixture::new("wstunnel", &["sh", "-c", script], false);
    wait_for(Duration::from_secs(30), "the port listens", || {
        let out = f.c.exec(&f.ctr, &["netstat", "-ltn"], 10).ok()?;
        String::from_utf8_lossy(&out.stdout).contains(":5000 ").then_some(())
    });
    let want = f.c.exec_ok(&f.ctr, &["sha256sum", "/data"]);

    let (ws, proto) = connect(&f.port_forward_url(), "", &["SPDY/3.1+portforward.k8s.io"]).unwrap();
    assert_eq!(proto, "SPDY/3.1+portforward.k8s.io");
    let mut closer = WebSocket::from_raw_socket(ws.get_ref().try_clone().unwrap(), Role::Client, None);
    let writer = WsWriter(WebSocket::from_raw_socket(ws.get_ref().try_clone().unwrap(), Role::Client, None));
    let session = Session::new(WsReader { ws, buf: Vec::new(), pos: 0 }, writer, SpdyRole::Client).unwrap();
    let h = |t: &str| Headers::new().with("streamType", t).with("port", "5000").with("requestID", "0");
    let mut error = session.open(h("error")).unwrap();
    error.close_write().unwrap();
    // No half-close of data: busybox nc ends at its input's end, before sending it all.
    let mut data = session.open(h("data")).unwrap();
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    let mut e = String::new();
    error.read_to_string(&mut e).unwrap();
    assert_eq!(e, "", "no error");
    assert_eq!(got.len(), 3 << 20);
    assert_eq!(want.split(' ').next().unwrap(), sha_hex(&got), "byte-exact through the tunnel");
    // The client ends the tunnel as client-go does: a close frame.
    drop((data, error));
    closer.close(None).unwrap();
    assert_no_stream_threads(&f.c);
    drop(session);
}
