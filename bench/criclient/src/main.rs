//! `criclient execsync|exec SOCKET CONTAINER N`: N serial ExecSync calls of `true` (or Exec
//! calls, each followed by the SPDY/3.1 session on the returned URL until the status arrives)
//! over one CRI connection, after one untimed call; prints each call's milliseconds, one per
//! line, so that the figure is the engine's round trip without crictl's process start-up and
//! connection. The SPDY session is opened as client-go does for a command without stdin and
//! tty: upgrade with `X-Stream-Protocol-Version: v4.channel.k8s.io`, streams error, stdout,
//! stderr, each read to its end.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use isula_spdy::{Headers, Role, Session};

use isula_api::addr::Addr;
use isula_api::client::connect;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{ExecRequest, ExecSyncRequest};

/// Run the exec behind `url` (an `http://HOST:PORT/...` streaming URL) to its end.
fn stream_exec(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("not an http URL: {url}"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut sock = TcpStream::connect(host).map_err(|e| format!("connect {host}: {e}"))?;
    sock.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\
         X-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"
    );
    sock.write_all(req.as_bytes()).map_err(|e| format!("send upgrade: {e}"))?;
    // Byte by byte: nothing past the answer's head may be taken from the session.
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match sock.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return Err("connection closed inside the upgrade answer".into()),
        }
    }
    let text = String::from_utf8_lossy(&head);
    if !text.starts_with("HTTP/1.1 101") {
        return Err(format!("upgrade refused: {}", text.lines().next().unwrap_or("")));
    }
    let r = sock.try_clone().map_err(|e| e.to_string())?;
    let s = Session::new(r, sock, Role::Client).map_err(|e| format!("SPDY session: {e}"))?;
    let open = |kind: &str| s.open(Headers::new().with("streamType", kind)).map_err(|e| format!("open {kind}: {e}"));
    let error = open("error")?;
    let streams = [open("stdout")?, open("stderr")?];
    let readers: Vec<_> = streams
        .into_iter()
        .map(|st| {
            std::thread::spawn(move || {
                let (mut r, _w) = st.split();
                let mut v = Vec::new();
                let _ = r.read_to_end(&mut v);
            })
        })
        .collect();
    let (mut er, _ew) = error.split();
    let mut status = Vec::new();
    // A server may reset the stream after the status (kubelet's server library, as used by
    // containerd, does); client-go's spdystream reads a reset as the end of the stream too.
    let _ = er.read_to_end(&mut status);
    for t in readers {
        let _ = t.join();
    }
    let status = String::from_utf8_lossy(&status);
    if !status.is_empty() && !status.contains("Success") {
        return Err(format!("exec failed: {status}"));
    }
    Ok(())
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 5 || !(a[1] == "execsync" || a[1] == "exec") {
        eprintln!("usage: criclient execsync|exec SOCKET CONTAINER N");
        std::process::exit(2);
    }
    let streaming = a[1] == "exec";
    let n: usize = a[4].parse().unwrap_or_else(|_| panic!("not a number: {}", a[4]));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let res: Result<Vec<f64>, String> = rt.block_on(async {
        let ch = connect(&Addr::Unix(a[2].clone().into()), None).await.map_err(|e| format!("connect {}: {e}", a[2]))?;
        let mut c = RuntimeServiceClient::new(ch);
        let cmd = vec!["true".to_string()];
        let sync = ExecSyncRequest { container_id: a[3].clone(), cmd: cmd.clone(), timeout: 0 };
        let exec =
            ExecRequest { container_id: a[3].clone(), cmd, tty: false, stdin: false, stdout: true, stderr: true };
        let mut out = Vec::with_capacity(n);
        for i in 0..=n {
            let t = Instant::now();
            if streaming {
                let url = c.exec(exec.clone()).await.map_err(|e| format!("Exec: {e}"))?.into_inner().url;
                // Blocking, as a client's own thread would be; nothing else runs on this runtime.
                stream_exec(&url)?;
            } else {
                let r = c.exec_sync(sync.clone()).await.map_err(|e| format!("ExecSync: {e}"))?.into_inner();
                if r.exit_code != 0 {
                    return Err(format!("true exited with {}", r.exit_code));
                }
            }
            if i > 0 {
                out.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        Ok(out)
    });
    match res {
        Ok(v) => v.iter().for_each(|ms| println!("{ms:.3}")),
        Err(e) => {
            eprintln!("criclient: {e}");
            std::process::exit(1);
        }
    }
}
