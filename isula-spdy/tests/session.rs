//! A client and a server session over a socket pair.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use isula_spdy::frame::{Control, Head};
use isula_spdy::{Config, Error, Headers, Role, Session};

const T: Option<Duration> = Some(Duration::from_secs(10));

fn pair() -> (Session, Session, UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    let client = Session::new(a.try_clone().unwrap(), a.try_clone().unwrap(), Role::Client).unwrap();
    let server = Session::new(b.try_clone().unwrap(), b.try_clone().unwrap(), Role::Server).unwrap();
    (client, server, a, b)
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Open a stream on `client` while `server` accepts it.
fn open_accept(client: &Session, server: &Session) -> (isula_spdy::Stream, isula_spdy::Stream) {
    let server = server.clone();
    let t = std::thread::spawn(move || server.accept(T).unwrap());
    let s = client.open(Headers::new()).unwrap();
    (s, t.join().unwrap())
}

#[test]
fn streams_carry_headers_data_and_fin_both_ways() {
    let (client, server, _a, _b) = pair();
    let h = Headers::new().with("streamType", "stdin").with("port", "80").with("port", "81");
    let t = std::thread::spawn(move || {
        let mut s = server.accept(T).unwrap();
        assert_eq!(s.headers().get("streamtype"), Some("stdin"));
        let ports: Vec<_> = s.headers().iter().filter(|(n, _)| *n == "port").map(|(_, v)| v.to_string()).collect();
        assert_eq!(ports, ["80", "81"]);
        assert_eq!(s.id() % 2, 1);
        let mut got = String::new();
        s.read_to_string(&mut got).unwrap();
        assert_eq!(got, "hello");
        s.write_all(b"world").unwrap();
        // Drop: FIN.
    });
    let mut s = client.open(h).unwrap();
    assert_eq!(s.id(), 1);
    s.write_all(b"hello").unwrap();
    s.close_write().unwrap();
    assert!(s.write(b"late").is_err());
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert_eq!(got, "world");
    t.join().unwrap();
}

#[test]
fn reset_ends_both_directions() {
    let (client, server, _a, _b) = pair();
    let t = std::thread::spawn(move || {
        let s = server.accept(T).unwrap();
        s.reset();
        // The stream is forgotten; what the client still sends is dropped.
        server
    });
    let mut s = client.open(Headers::new()).unwrap();
    let _server = t.join().unwrap();
    let mut buf = [0u8; 4];
    let e = s.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    assert_eq!(s.write(b"x").unwrap_err().kind(), ErrorKind::ConnectionReset);
    // The session goes on.
    let (s2, _) = open_accept(&client, &_server);
    assert_eq!(s2.id(), 3);
}

#[test]
fn ten_mib_round_trip_through_one_stream() {
    let (client, server, _a, _b) = pair();
    let data = pattern(10 << 20, 1);
    let echo = std::thread::spawn(move || {
        let s = server.accept(T).unwrap();
        let (mut r, mut w) = s.split();
        let n = std::io::copy(&mut r, &mut w).unwrap();
        assert_eq!(n, 10 << 20);
    });
    let s = client.open(Headers::new()).unwrap();
    let (mut r, mut w) = s.split();
    let d = data.clone();
    let writer = std::thread::spawn(move || {
        for c in d.chunks(100_000) {
            w.write_all(c).unwrap();
        }
        // Drop: FIN.
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    echo.join().unwrap();
    assert!(got == data, "10 MiB came back changed ({} bytes)", got.len());
}

#[test]
fn many_streams_at_once() {
    let (client, server, _a, _b) = pair();
    let acceptor = std::thread::spawn(move || {
        let mut echoes = Vec::new();
        for _ in 0..40 {
            let s = server.accept(T).unwrap();
            echoes.push(std::thread::spawn(move || {
                let n: usize = s.headers().get("n").unwrap().parse().unwrap();
                let (mut r, mut w) = s.split();
                std::io::copy(&mut r, &mut w).unwrap();
                n
            }));
        }
        echoes.into_iter().map(|t| t.join().unwrap()).sum::<usize>()
    });
    let clients: Vec<_> = (0..40)
        .map(|n| {
            let c = client.clone();
            std::thread::spawn(move || {
                let s = c.open(Headers::new().with("n", &n.to_string())).unwrap();
                let data = pattern(200_000 + n * 1000, n as u32);
                let (mut r, mut w) = s.split();
                let d = data.clone();
                let wt = std::thread::spawn(move || w.write_all(&d).unwrap());
                let mut got = Vec::new();
                r.read_to_end(&mut got).unwrap();
                wt.join().unwrap();
                assert!(got == data, "stream {n} came back changed");
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(acceptor.join().unwrap(), (0..40).sum::<usize>());
}

#[test]
fn a_full_stream_holds_the_connection_until_its_reader_goes() {
    let (a, b) = UnixStream::pair().unwrap();
    let client = Session::new(a.try_clone().unwrap(), a.try_clone().unwrap(), Role::Client).unwrap();
    let cfg = Config { stream_buffer: 256 * 1024, ..Config::default() };
    let server = Session::with_config(b.try_clone().unwrap(), b, Role::Server, cfg).unwrap();
    let (mut full, stalled) = open_accept(&client, &server);
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let writer = std::thread::spawn(move || {
        // Far more than the stream buffer and the socket buffers hold.
        full.write_all(&vec![7u8; 8 << 20]).unwrap();
        d.store(true, Ordering::SeqCst);
        full
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!done.load(Ordering::SeqCst), "the writer should wait for the stalled stream");
    // Giving up the reader discards its data and frees the connection.
    let (r, _w) = stalled.split();
    drop(r);
    let _full = writer.join().unwrap();
    let (mut s, mut t) = open_accept(&client, &server);
    s.write_all(b"after").unwrap();
    s.close_write().unwrap();
    let mut got = String::new();
    t.read_to_string(&mut got).unwrap();
    assert_eq!(got, "after");
}

#[test]
fn the_connection_going_closes_everything() {
    let (client, server, a, b) = pair();
    let fired = Arc::new(AtomicBool::new(false));
    let f = fired.clone();
    server.on_close(move || f.store(true, Ordering::SeqCst));
    let (mut s, mut t) = open_accept(&client, &server);
    s.write_all(b"buffered").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(client);
    a.shutdown(std::net::Shutdown::Both).unwrap();
    assert!(server.wait_closed(T));
    assert!(fired.load(Ordering::SeqCst));
    // What arrived is still read, then the loss is an error, not an EOF.
    let mut buf = [0u8; 8];
    t.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"buffered");
    assert_eq!(t.read(&mut buf).unwrap_err().kind(), ErrorKind::ConnectionAborted);
    assert!(t.write(b"x").is_err());
    assert!(matches!(server.accept(T), Err(Error::Closed)));
    let late = Arc::new(AtomicBool::new(false));
    let l = late.clone();
    server.on_close(move || l.store(true, Ordering::SeqCst));
    assert!(late.load(Ordering::SeqCst));
    drop(b);
}

#[test]
fn accept_times_out_and_go_away_ends_accepting() {
    let (client, server, _a, _b) = pair();
    assert!(matches!(server.accept(Some(Duration::from_millis(50))), Err(Error::Timeout)));
    assert!(matches!(server.open(Headers::new()), Err(Error::Usage(_))));
    server.go_away();
    assert!(matches!(server.accept(T), Err(Error::Closed)));
    // The client learns it: new streams fail.
    std::thread::sleep(Duration::from_millis(100));
    assert!(client.open(Headers::new()).is_err());
}

/// Speak raw frames to a server session: PING is echoed, a stream id of the wrong parity is
/// refused, garbage ends the session.
#[test]
fn raw_peer_pings_and_protocol_errors() {
    let (mut a, b) = UnixStream::pair().unwrap();
    let server = Session::new(b.try_clone().unwrap(), b, Role::Server).unwrap();
    a.write_all(&Control::Ping(7).encode()).unwrap();
    let read_frame = |a: &mut UnixStream| {
        let mut h = [0u8; 8];
        a.read_exact(&mut h).unwrap();
        let Head::Control { kind, flags, len, .. } = Head::decode(h) else { panic!("data frame") };
        let mut p = vec![0u8; len];
        a.read_exact(&mut p).unwrap();
        Control::decode(kind, flags, &p).unwrap()
    };
    assert_eq!(read_frame(&mut a), Control::Ping(7));
    // An even id from a client: PROTOCOL_ERROR. The header block must still be valid zlib.
    let block = {
        let (mut x, y) = UnixStream::pair().unwrap();
        let c = Session::new(y.try_clone().unwrap(), y, Role::Client).unwrap();
        // Take the block a client session writes for its first SYN_STREAM.
        let opener = std::thread::spawn(move || c.open_timeout(Headers::new(), Duration::from_millis(200)).is_err());
        let mut h = [0u8; 8];
        x.read_exact(&mut h).unwrap();
        let Head::Control { len, .. } = Head::decode(h) else { panic!() };
        let mut p = vec![0u8; len];
        x.read_exact(&mut p).unwrap();
        assert!(opener.join().unwrap());
        p[10..].to_vec()
    };
    let syn = Control::SynStream { stream_id: 2, associated: 0, priority: 0, flags: 0, block };
    a.write_all(&syn.encode()).unwrap();
    assert_eq!(read_frame(&mut a), Control::RstStream { stream_id: 2, status: 1 });
    a.write_all(&[0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]).unwrap();
    assert!(matches!(read_frame(&mut a), Control::GoAway { status: 1, .. }));
    assert!(server.wait_closed(T));
}
