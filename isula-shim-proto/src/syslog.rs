//! The `syslog` log driver: each line of the container's output becomes one syslog message
//! (RFC 5424 by default, RFC 3164 on request), sent to the local syslog socket or to a
//! collector over unix, unixgram, udp or tcp. Stdout lines have severity `info`, stderr
//! lines `err`, as with Docker.

use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use isula_types::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The socket used when no `syslog-address` is given.
pub const DEFAULT_ADDRESS: &str = "unixgram:///dev/log";

/// How long one send may block before the message is given up.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Facility names and numbers (RFC 5424 §6.2.1), as `syslog-facility` takes them.
pub const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// The facility named `s` (a name from [`FACILITIES`] or a number 0–23).
pub fn facility(s: &str) -> Option<u8> {
    if let Ok(n) = s.parse::<u8>() {
        return (n <= 23).then_some(n);
    }
    FACILITIES.iter().find(|(name, _)| *name == s).map(|(_, n)| *n)
}

/// The message format (`syslog-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyslogFormat {
    /// RFC 5424 with a timestamp in whole seconds.
    #[default]
    Rfc5424,
    /// RFC 5424 with microseconds in the timestamp.
    Rfc5424Micro,
    /// The BSD format of RFC 3164.
    Rfc3164,
}

impl SyslogFormat {
    /// The format named by `syslog-format` (`""` is the default).
    pub fn parse(s: &str) -> Option<SyslogFormat> {
        match s {
            "" | "rfc5424" => Some(SyslogFormat::Rfc5424),
            "rfc5424micro" => Some(SyslogFormat::Rfc5424Micro),
            "rfc3164" => Some(SyslogFormat::Rfc3164),
            _ => None,
        }
    }
}

/// Where the messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A unix datagram socket (`unixgram://`, and `/dev/log`).
    UnixGram(PathBuf),
    /// A unix socket, datagram or else stream (`unix://`).
    Unix(PathBuf),
    /// `udp://host:port` (port 514 when left out).
    Udp(String),
    /// `tcp://host:port` (port 514 when left out).
    Tcp(String),
}

impl Address {
    /// Parse `syslog-address` (`""` is [`DEFAULT_ADDRESS`]).
    pub fn parse(s: &str) -> Result<Address, String> {
        let s = if s.is_empty() { DEFAULT_ADDRESS } else { s };
        let (scheme, rest) =
            s.split_once("://").ok_or_else(|| format!("syslog-address {s:?}: expected SCHEME://ADDRESS"))?;
        let host_port = |r: &str| -> Result<String, String> {
            if r.is_empty() || r.contains('/') {
                return Err(format!("syslog-address {s:?}: expected HOST[:PORT]"));
            }
            let has_port = r.rsplit_once(':').is_some_and(|(h, p)| !h.ends_with(':') && p.parse::<u16>().is_ok());
            Ok(if has_port { r.to_string() } else { format!("{r}:514") })
        };
        match scheme {
            "unixgram" | "unix" if !rest.starts_with('/') => {
                Err(format!("syslog-address {s:?}: a unix socket needs an absolute path"))
            }
            "unixgram" => Ok(Address::UnixGram(rest.into())),
            "unix" => Ok(Address::Unix(rest.into())),
            "udp" => host_port(rest).map(Address::Udp),
            "tcp" => host_port(rest).map(Address::Tcp),
            _ => Err(format!("syslog-address {s:?}: unsupported scheme {scheme:?} (unix, unixgram, udp or tcp)")),
        }
    }
}

/// The driver's settings, decided by the engine and handed to the shim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyslogConfig {
    /// `syslog-address` as given (`""` = [`DEFAULT_ADDRESS`]).
    pub address: String,
    /// Facility number (0–23).
    pub facility: u8,
    /// APP-NAME (RFC 5424) or TAG (RFC 3164): the expanded `tag`.
    pub tag: String,
    /// Message format.
    pub format: SyslogFormat,
    /// HOSTNAME field.
    pub hostname: String,
}

/// One message of `msg` (its trailing newline dropped), from stderr when `stderr`.
pub fn format_message(cfg: &SyslogConfig, stderr: bool, msg: &[u8], time: SystemTime, pid: u32) -> Vec<u8> {
    let severity = if stderr { 3 } else { 6 };
    let pri = u32::from(cfg.facility) * 8 + severity;
    let msg = msg.strip_suffix(b"\n").unwrap_or(msg);
    let t = Timestamp::from(time);
    let nil =
        |s: &str| if s.is_empty() { "-".to_string() } else { s.chars().filter(|c| c.is_ascii_graphic()).collect() };
    let mut out = match cfg.format {
        SyslogFormat::Rfc3164 => {
            const MONTHS: [&str; 12] =
                ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
            let f = t.utc();
            format!(
                "<{pri}>{} {:2} {:02}:{:02}:{:02} {} {}[{pid}]: ",
                MONTHS[(f.month as usize).clamp(1, 12) - 1],
                f.day,
                f.hour,
                f.minute,
                f.second,
                nil(&cfg.hostname),
                cfg.tag
            )
        }
        SyslogFormat::Rfc5424 | SyslogFormat::Rfc5424Micro => {
            let ts = if cfg.format == SyslogFormat::Rfc5424 {
                t.to_rfc3339_secs()
            } else {
                let s = t.to_rfc3339_secs();
                format!("{}.{:06}Z", s.trim_end_matches('Z'), t.subsec_nanos() / 1000)
            };
            let app: String = nil(&cfg.tag).chars().take(48).collect();
            format!("<{pri}>1 {ts} {} {app} {pid} - - ", nil(&cfg.hostname))
        }
    }
    .into_bytes();
    out.extend_from_slice(msg);
    out
}

enum Conn {
    Dgram(UnixDatagram),
    Stream(UnixStream),
    Udp(UdpSocket),
    Tcp(TcpStream),
}

fn connect(addr: &Address) -> io::Result<Conn> {
    Ok(match addr {
        Address::UnixGram(p) => {
            let s = UnixDatagram::unbound()?;
            s.connect(p)?;
            s.set_write_timeout(Some(SEND_TIMEOUT))?;
            Conn::Dgram(s)
        }
        Address::Unix(p) => {
            let s = UnixDatagram::unbound()?;
            match s.connect(p) {
                Ok(()) => {
                    s.set_write_timeout(Some(SEND_TIMEOUT))?;
                    Conn::Dgram(s)
                }
                Err(e) if e.raw_os_error() == Some(libc_eprototype()) => {
                    let s = UnixStream::connect(p)?;
                    s.set_write_timeout(Some(SEND_TIMEOUT))?;
                    Conn::Stream(s)
                }
                Err(e) => return Err(e),
            }
        }
        Address::Udp(hp) => {
            let to = hp.to_socket_addrs()?.next().ok_or_else(|| io::Error::other(format!("{hp}: no address")))?;
            let s = UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
            s.connect(to)?;
            s.set_write_timeout(Some(SEND_TIMEOUT))?;
            Conn::Udp(s)
        }
        Address::Tcp(hp) => {
            let to = hp.to_socket_addrs()?.next().ok_or_else(|| io::Error::other(format!("{hp}: no address")))?;
            let s = TcpStream::connect_timeout(&to, SEND_TIMEOUT)?;
            s.set_write_timeout(Some(SEND_TIMEOUT))?;
            Conn::Tcp(s)
        }
    })
}

/// EPROTOTYPE: a datagram connect to a stream socket (Linux's value; std has no constant).
const fn libc_eprototype() -> i32 {
    91
}

/// Sends messages, connecting (again) when needed. A message that cannot be sent within
/// a second is given up so that a stuck collector never stops the container's output.
pub struct SyslogWriter {
    cfg: SyslogConfig,
    addr: Address,
    conn: Option<Conn>,
    pid: u32,
}

impl SyslogWriter {
    /// A writer for `cfg`, connected when the collector answers (else on the next message).
    pub fn new(cfg: SyslogConfig) -> Result<SyslogWriter, String> {
        let addr = Address::parse(&cfg.address)?;
        let conn = connect(&addr).ok();
        Ok(SyslogWriter { cfg, addr, conn, pid: std::process::id() })
    }

    /// Check that the collector of `cfg` can be reached now (what a container start asks).
    pub fn probe(cfg: &SyslogConfig) -> Result<(), String> {
        let addr = Address::parse(&cfg.address)?;
        connect(&addr).map(drop).map_err(|e| format!("syslog-address {:?}: {e}", cfg.address))
    }

    /// Send one line of output (`stderr` selects the severity).
    pub fn write_line(&mut self, stderr: bool, line: &[u8], time: SystemTime) -> io::Result<()> {
        let msg = format_message(&self.cfg, stderr, line, time, self.pid);
        let framed = self.frame(msg);
        match self.send(&framed) {
            Ok(()) => Ok(()),
            Err(_) => {
                self.conn = Some(connect(&self.addr)?);
                self.send(&framed)
            }
        }
    }

    /// Stream transports need message boundaries: octet counting (RFC 6587) for RFC 5424
    /// over TCP, a newline otherwise.
    fn frame(&self, mut msg: Vec<u8>) -> Vec<u8> {
        match (&self.conn, self.cfg.format) {
            (Some(Conn::Tcp(_)), SyslogFormat::Rfc5424 | SyslogFormat::Rfc5424Micro) => {
                let mut v = format!("{} ", msg.len()).into_bytes();
                v.append(&mut msg);
                v
            }
            (Some(Conn::Tcp(_) | Conn::Stream(_)), _) => {
                msg.push(b'\n');
                msg
            }
            _ => msg,
        }
    }

    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        let sent = match self.conn.as_mut() {
            None => return Err(io::Error::from(io::ErrorKind::NotConnected)),
            Some(Conn::Dgram(s)) => s.send(data).map(drop),
            Some(Conn::Udp(s)) => s.send(data).map(drop),
            Some(Conn::Stream(s)) => s.write_all(data),
            Some(Conn::Tcp(s)) => s.write_all(data),
        };
        if sent.is_err() {
            self.conn = None;
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(format: SyslogFormat) -> SyslogConfig {
        SyslogConfig { address: String::new(), facility: 3, tag: "web".into(), format, hostname: "node1".into() }
    }

    #[test]
    fn rfc5424_and_3164_shapes() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        let m = format_message(&cfg(SyslogFormat::Rfc5424), false, b"hello\n", t, 42);
        assert_eq!(String::from_utf8(m).unwrap(), "<30>1 2023-11-14T22:13:20Z node1 web 42 - - hello");
        let m = format_message(&cfg(SyslogFormat::Rfc5424Micro), true, b"oops", t, 42);
        assert_eq!(String::from_utf8(m).unwrap(), "<27>1 2023-11-14T22:13:20.123456Z node1 web 42 - - oops");
        let m = format_message(&cfg(SyslogFormat::Rfc3164), false, b"x\n", t, 7);
        assert_eq!(String::from_utf8(m).unwrap(), "<30>Nov 14 22:13:20 node1 web[7]: x");
    }

    #[test]
    fn addresses_and_facilities() {
        assert_eq!(Address::parse("").unwrap(), Address::UnixGram("/dev/log".into()));
        assert_eq!(Address::parse("udp://127.0.0.1").unwrap(), Address::Udp("127.0.0.1:514".into()));
        assert_eq!(Address::parse("tcp://127.0.0.1:601").unwrap(), Address::Tcp("127.0.0.1:601".into()));
        assert_eq!(Address::parse("unix:///run/x.sock").unwrap(), Address::Unix("/run/x.sock".into()));
        for bad in ["ftp://h", "unix://rel", "udp://", "tcp://h/x", "/dev/log"] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(facility("local7"), Some(23));
        assert_eq!(facility("3"), Some(3));
        assert_eq!(facility("24"), None);
        assert_eq!(facility("bogus"), None);
        assert_eq!(SyslogFormat::parse("rfc3164"), Some(SyslogFormat::Rfc3164));
        assert_eq!(SyslogFormat::parse("json"), None);
    }
}
