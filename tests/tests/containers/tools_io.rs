//! Container I/O through `Engine`: exec with a tty (output through the attach stream,
//! resize), and logs with follow, since, until, tail, timestamps and stream selection.
//! runc AND crun, as root.

use crate::containers_common;

use std::time::{Duration, UNIX_EPOCH};

use containers_common::*;
use isula_core::AttachEvent;
use isula_core::{ExecOptions, WaitCondition};
use isula_core::{LogLine, LogOptions, LogStream};

fn read_logs(env: &Env, id: &str, opts: &LogOptions) -> Vec<LogLine> {
    let mut v = Vec::new();
    env.e()
        .containers()
        .logs(id, opts, &mut |l| {
            v.push(l);
            true
        })
        .unwrap();
    v
}

fn texts(lines: &[LogLine]) -> Vec<String> {
    lines.iter().map(|l| l.log.trim_end().to_string()).collect()
}

#[test]
fn exec_with_tty_streams_output_and_resizes() {
    each_runtime(|rt, env| {
        let e = env.e();
        let id = e.containers().run(&env.opts(&["sleep", "1000"])).unwrap();
        let mut x = e
            .containers()
            .exec(
                &id,
                &ExecOptions {
                    cmd: vec!["sh".into(), "-c".into(), "read l; stty size; [ -t 1 ] && echo tty-$l; exit 4".into()],
                    tty: true,
                    attach_stdin: true,
                    ..Default::default()
                },
            )
            .unwrap();
        let mut s = x.take_stream().expect("attach stream");
        // the resize frame precedes the input, so `stty size` after `read` sees it
        s.resize(33, 101).unwrap();
        s.write_stdin(b"hello\n").unwrap();
        let mut out = Vec::new();
        let mut exit = None;
        while let Some(ev) = s.read_event().unwrap() {
            match ev {
                AttachEvent::Stdout(b) => out.extend(b),
                AttachEvent::Stderr(b) => panic!("{rt}: stderr on a tty: {b:?}"),
                AttachEvent::Exit(st) => {
                    exit = Some(st.code);
                    break;
                }
            }
        }
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("33 101\r\n"), "{rt}: {text:?}");
        assert!(text.contains("tty-hello\r\n"), "{rt}: {text:?}");
        assert_eq!(exit, Some(4), "{rt}");
        assert_eq!(x.wait().unwrap(), 4, "{rt}");
    });
}

#[test]
fn logs_follow_since_until_tail_timestamps() {
    each_runtime(|rt, env| {
        let e = env.e();
        let mut o = env.opts(&["sh", "-c", "echo one; echo two >&2; read x; echo after-$x; echo last"]);
        o.open_stdin = true;
        let id = e.containers().run(&o).unwrap();
        assert!(eventually(Duration::from_secs(20), || read_logs(env, &id, &LogOptions::default()).len() == 2), "{rt}");

        // a follower started now sees the old lines, the new ones, and ends with the container
        let follower = std::thread::scope(|sc| {
            let h = sc.spawn(|| read_logs(env, &id, &LogOptions { follow: true, ..Default::default() }));
            let mut a = e.containers().attach(&id).unwrap();
            a.write_stdin(b"go\n").unwrap();
            a.close_stdin().unwrap();
            h.join().unwrap()
        });
        assert_eq!(e.containers().wait(&id, WaitCondition::NotRunning).unwrap(), 0, "{rt}");
        let mut got = texts(&follower);
        got.sort();
        assert_eq!(got, ["after-go", "last", "one", "two"], "{rt}");

        let all = read_logs(env, &id, &LogOptions::default());
        assert_eq!(all.len(), 4, "{rt}");
        let at = |t: &str| all.iter().find(|l| l.log.trim_end() == t).unwrap();
        assert_eq!(at("two").stream, LogStream::Stderr);
        assert_eq!(at("one").stream, LogStream::Stdout);
        let when = |l: &LogLine| UNIX_EPOCH + Duration::from_nanos(l.time_nanos as u64);

        // stream selection
        let out_only = read_logs(env, &id, &LogOptions { stderr: false, ..Default::default() });
        assert_eq!(texts(&out_only), ["one", "after-go", "last"], "{rt}");
        let err_only = read_logs(env, &id, &LogOptions { stdout: false, ..Default::default() });
        assert_eq!(texts(&err_only), ["two"], "{rt}");
        // since/until are inclusive and use the entries' own times
        let early_end = when(at("one")).max(when(at("two")));
        let mut until = texts(&read_logs(env, &id, &LogOptions { until: Some(early_end), ..Default::default() }));
        until.sort();
        assert_eq!(until, ["one", "two"], "{rt}");
        let since = read_logs(env, &id, &LogOptions { since: Some(when(at("after-go"))), ..Default::default() });
        assert_eq!(texts(&since), ["after-go", "last"], "{rt}");
        // a window of one instant: exactly the entries stamped then (one read may carry two lines)
        let t = when(at("after-go"));
        let w = read_logs(env, &id, &LogOptions { since: Some(t), until: Some(t), ..Default::default() });
        assert!(texts(&w).contains(&"after-go".to_string()), "{rt}");
        assert!(w.iter().all(|l| l.time_nanos == at("after-go").time_nanos), "{rt}");
        // tail
        assert_eq!(texts(&read_logs(env, &id, &LogOptions { tail: Some(1), ..Default::default() })), ["last"]);
        assert_eq!(
            texts(&read_logs(env, &id, &LogOptions { tail: Some(2), ..Default::default() })),
            ["after-go", "last"]
        );
        assert!(read_logs(env, &id, &LogOptions { tail: Some(0), ..Default::default() }).is_empty());
        // timestamps: RFC 3339 with nanoseconds before the text
        let l = at("last");
        let r = l.render(true);
        assert!(r.starts_with(&l.time) && r.ends_with("last\n"), "{rt}: {r:?}");
        assert!(l.time.len() >= 20 && l.time.ends_with('Z') && l.time.contains('T'), "{rt}: {}", l.time);
        assert_eq!(l.render(false), "last\n");
        // a follow of a stopped container returns what is there
        assert_eq!(read_logs(env, &id, &LogOptions { follow: true, ..Default::default() }).len(), 4, "{rt}");
    });
}

#[test]
fn json_file_logs_rotate_by_default_and_journald_is_refused() {
    let env = Env::new("runc");
    let e = env.e();
    // About 3 MB of log lines with no --log-opt: rotated at 1 MB, as iSulad does.
    let o = env.opts(&["sh", "-c", "i=0; while [ $i -lt 30000 ]; do echo line-$i-padded-to-be-long-enough-for-a-hundred-bytes-of-json; i=$((i+1)); done"]);
    let id = e.containers().run(&o).unwrap();
    e.containers().wait(&id, WaitCondition::NotRunning).unwrap();
    let log = std::path::PathBuf::from(e.containers().inspect(&id).unwrap().log_path);
    let dir = log.parent().unwrap();
    let name = log.file_name().unwrap().to_string_lossy().into_owned();
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|f| f.unwrap())
        .filter(|f| f.file_name().to_string_lossy().starts_with(&name))
        .collect();
    assert!(
        files.len() >= 3,
        "expected rotated files beside {name}: {:?}",
        files.iter().map(|f| f.file_name()).collect::<Vec<_>>()
    );
    for f in &files {
        assert!(f.metadata().unwrap().len() <= (1 << 20) + 4096, "{:?} is over 1 MB", f.file_name());
    }
    // journald is refused, not accepted and ignored.
    let mut o = env.opts(&["true"]);
    o.log_config.driver = "journald".into();
    let err = e.containers().create(&o).unwrap_err();
    assert_eq!(err.kind(), isula_core::ErrorKind::Unimplemented, "journald: {err}");
}

/// Options of a container logging to syslog with `opts`.
fn syslog_opts(env: &Env, cmd: &str, opts: &[(&str, &str)]) -> isula_core::CreateOptions {
    let mut o = env.opts(&["sh", "-c", cmd]);
    o.log_config.driver = "syslog".into();
    o.log_config.config = opts.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    o
}

/// Run `o` to its end and return its name.
fn run_to_end(env: &Env, o: &isula_core::CreateOptions) -> (String, String) {
    let e = env.e();
    let id = e.containers().run(o).unwrap();
    e.containers().wait(&id, WaitCondition::NotRunning).unwrap();
    let name = e.containers().inspect(&id).unwrap().name.trim_start_matches('/').to_string();
    (id, name)
}

/// The message text after the RFC 5424 header `<PRI>1 TS HOST APP PID - - `, with PRI and APP.
fn rfc5424(m: &str) -> (String, String, String) {
    let f: Vec<&str> = m.splitn(8, ' ').collect();
    assert_eq!(f.len(), 8, "{m:?}");
    assert!(f[0].ends_with(">1") && f[1].ends_with('Z') && f[5] == "-" && f[6] == "-", "{m:?}");
    (f[0].trim_end_matches("1").to_string(), f[3].to_string(), f[7].to_string())
}

#[test]
fn syslog_driver_sends_each_line_over_unix_udp_and_tcp() {
    use std::io::Read;
    use std::net::{TcpListener, UdpSocket};
    use std::os::unix::net::UnixDatagram;
    let env = Env::new("runc");
    let e = env.e();
    let cmd = "echo out-line; echo err-line >&2";
    // unixgram, facility local3 (19), a templated tag: stdout is info (6), stderr err (3).
    let sock = env.root.path().join("syslog.sock");
    let rx = UnixDatagram::bind(&sock).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let addr = format!("unixgram://{}", sock.display());
    let o = syslog_opts(&env, cmd, &[("syslog-address", &addr), ("syslog-facility", "local3"), ("tag", "t-{{.Name}}")]);
    let (id, name) = run_to_end(&env, &o);
    let mut got = Vec::new();
    for _ in 0..2 {
        let mut buf = [0u8; 2048];
        let n = rx.recv(&mut buf).expect("a syslog datagram");
        got.push(rfc5424(&String::from_utf8_lossy(&buf[..n])));
    }
    got.sort();
    let app = format!("t-{name}");
    assert_eq!(got, [("<155>".into(), app.clone(), "err-line".into()), ("<158>".into(), app, "out-line".into())]);
    // Nothing to read back: a clear refusal.
    let err = e.containers().logs(&id, &LogOptions::default(), &mut |_| true).unwrap_err();
    assert_eq!(err.kind(), isula_core::ErrorKind::FailedPrecondition, "{err}");
    assert!(err.to_string().contains("syslog"), "{err}");

    // udp, RFC 3164, the default tag (the short id) and facility (daemon, 3).
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let addr = format!("udp://{}", udp.local_addr().unwrap());
    let (id, _) = run_to_end(
        &env,
        &syslog_opts(&env, "echo via-udp", &[("syslog-address", &addr), ("syslog-format", "rfc3164")]),
    );
    let mut buf = [0u8; 2048];
    let n = udp.recv(&mut buf).expect("a syslog datagram over udp");
    let m = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(m.starts_with("<30>"), "{m:?}");
    assert!(m.contains(&format!(" {}[", &id[..12])) && m.ends_with("]: via-udp"), "{m:?}");

    // tcp, RFC 5424 framed by octet counting.
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp://{}", tcp.local_addr().unwrap());
    let o = syslog_opts(&env, "echo via-tcp", &[("syslog-address", &addr)]);
    let accept = std::thread::spawn(move || {
        // The engine's start-up probe connects and closes; the shim's connection follows.
        loop {
            let (mut c, _) = tcp.accept().unwrap();
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut s = String::new();
            let _ = c.read_to_string(&mut s);
            if !s.is_empty() {
                return s;
            }
        }
    });
    run_to_end(&env, &o);
    let text = accept.join().unwrap();
    let (len, msg) = text.split_once(' ').unwrap();
    assert_eq!(len.parse::<usize>().unwrap(), msg.len(), "{text:?}");
    assert_eq!(rfc5424(msg).2, "via-tcp");
}

#[test]
fn syslog_driver_refuses_bad_options_and_unreachable_collectors() {
    let env = Env::new("runc");
    let e = env.e();
    for bad in
        [("syslog-facility", "bogus"), ("syslog-address", "ftp://x"), ("syslog-format", "json"), ("max-size", "1m")]
    {
        let err = e.containers().create(&syslog_opts(&env, "true", &[bad])).unwrap_err();
        assert_eq!(err.kind(), isula_core::ErrorKind::InvalidArgument, "{bad:?}: {err}");
    }
    let gone = format!("unixgram://{}/no-such.sock", env.root.path().display());
    let err = e.containers().run(&syslog_opts(&env, "true", &[("syslog-address", &gone)])).unwrap_err();
    assert_eq!(err.kind(), isula_core::ErrorKind::FailedPrecondition, "{err}");
    assert!(err.to_string().contains("failed to initialize logging driver"), "{err}");
}

#[test]
fn exec_output_reaches_a_slow_reader_whole() {
    each_runtime(|rt, env| {
        let e = env.e();
        let id = e.containers().run(&env.opts(&["sleep", "1000"])).unwrap();
        // 20 MB, more than the shim buffers for a client, read only after a pause.
        let o = ExecOptions {
            cmd: vec!["head".into(), "-c".into(), "20000000".into(), "/dev/zero".into()],
            ..Default::default()
        };
        let mut exec = e.containers().exec(&id, &o).unwrap();
        let mut stream = exec.take_stream().unwrap();
        std::thread::sleep(Duration::from_secs(3));
        let (mut n, mut code) = (0usize, None);
        while let Some(ev) = stream.read_event().unwrap() {
            match ev {
                AttachEvent::Stdout(b) => n += b.len(),
                AttachEvent::Stderr(b) => panic!("{rt}: stderr {}", String::from_utf8_lossy(&b)),
                AttachEvent::Exit(st) => {
                    code = Some(st.code);
                    break;
                }
            }
        }
        assert_eq!((n, code), (20_000_000, Some(0)), "{rt}: output lost to a slow reader");
        e.containers().remove(&id, &isula_core::RemoveOptions { force: true, ..Default::default() }).unwrap();
    });
}
