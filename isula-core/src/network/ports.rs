//! Published ports: `-p [hostip:][hostport:]containerport[/tcp|udp]` parsing (with ranges),
//! host-port availability checks and ephemeral host-port allocation.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use crate::error::{Error, Result};

pub(crate) use isula_types::network::{PortMapping, Protocol};

fn bad(s: &str, why: impl fmt::Display) -> Error {
    Error::invalid(format!("invalid port mapping {s:?}: {why}"))
}

fn parse_range(s: &str, part: &str, what: &str, allow_zero: bool) -> Result<(u16, u16)> {
    let one = |p: &str| -> Result<u16> {
        let v: u16 = p.trim().parse().map_err(|_| bad(s, format!("{what} {p:?} is not a port number")))?;
        if v == 0 && !allow_zero {
            return Err(bad(s, format!("{what} 0 is not allowed")));
        }
        Ok(v)
    };
    match part.split_once('-') {
        None => {
            let v = one(part)?;
            Ok((v, v))
        }
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if a > b {
                return Err(bad(s, format!("{what} range {part} is reversed")));
            }
            Ok((a, b))
        }
    }
}

/// Parses one `-p` value into its mappings (one per port of a range).
///
/// Forms: `80`, `8080:80`, `127.0.0.1:8080:80`, `127.0.0.1::80`, `[::1]:8080:80`,
/// `8000-8002:80-82`, each optionally followed by `/tcp` or `/udp`. A missing or empty host port
/// gives `host_port = 0` (to be allocated).
pub(crate) fn parse_publish(s: &str) -> Result<Vec<PortMapping>> {
    let (spec, proto) = match s.rsplit_once('/') {
        Some((a, p)) => {
            let proto = match p.to_ascii_lowercase().as_str() {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                other => return Err(bad(s, format!("unsupported protocol {other:?} (use tcp or udp)"))),
            };
            (a, proto)
        }
        None => (s, Protocol::Tcp),
    };
    // Split off a host IP: bracketed IPv6, or the part before the second-to-last colon.
    let (host_ip, rest) = if let Some(r) = spec.strip_prefix('[') {
        let (ip, rest) = r.split_once(']').ok_or_else(|| bad(s, "unterminated [ipv6]"))?;
        let rest = rest.strip_prefix(':').ok_or_else(|| bad(s, "expected ':' after [ipv6]"))?;
        let ip: IpAddr = ip.parse().map_err(|_| bad(s, format!("{ip:?} is not an IP address")))?;
        (Some(ip), rest)
    } else {
        let parts: Vec<&str> = spec.split(':').collect();
        match parts.len() {
            1 | 2 => (None, spec),
            3 => {
                let ip: IpAddr =
                    parts[0].parse().map_err(|_| bad(s, format!("{:?} is not an IP address", parts[0])))?;
                (Some(ip), &spec[parts[0].len() + 1..])
            }
            _ => return Err(bad(s, "too many ':' (use [ipv6]:hostport:containerport)")),
        }
    };
    let (host_part, cont_part) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest),
    };
    if cont_part.is_empty() {
        return Err(bad(s, "missing container port"));
    }
    let (c0, c1) = parse_range(s, cont_part, "container port", false)?;
    let (h0, h1) = if host_part.is_empty() { (0, 0) } else { parse_range(s, host_part, "host port", false)? };
    let n = c1 - c0;
    if h0 != 0 && h1 - h0 != n {
        return Err(bad(s, "host and container port ranges differ in size"));
    }
    if h0 == 0 && n != 0 {
        return Err(bad(s, "a container port range needs a host port range of the same size"));
    }
    Ok((0..=n)
        .map(|i| PortMapping {
            host_ip,
            host_port: if h0 == 0 { 0 } else { h0 + i },
            container_port: c0 + i,
            protocol: proto,
        })
        .collect())
}

/// Checks that `mapping`'s host port can be bound now (nothing else listens on it), by binding it
/// briefly. Fails with `Conflict` naming the port.
pub(crate) fn check_port_free(mapping: &PortMapping) -> Result<()> {
    let ip = mapping.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let addr = SocketAddr::new(ip, mapping.host_port);
    let res = match mapping.protocol {
        Protocol::Tcp => TcpListener::bind(addr).map(drop),
        Protocol::Udp => UdpSocket::bind(addr).map(drop),
    };
    res.map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::AddrInUse { "is already in use" } else { "cannot be bound" };
        Error::conflict(format!("host port {addr}/{} {kind}: {e}", mapping.protocol))
    })
}

/// The ephemeral range host ports are allocated from (Docker's default).
pub const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 49153..=65535;

/// Picks a free host port for `protocol` on `host_ip` from [`EPHEMERAL_PORTS`], skipping `exclude`
/// (ports already promised to other containers) and ports something is bound to now.
pub(crate) fn allocate_host_port(protocol: Protocol, host_ip: Option<IpAddr>, exclude: &HashSet<u16>) -> Result<u16> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let span = u32::from(EPHEMERAL_PORTS.end() - EPHEMERAL_PORTS.start()) + 1;
    // Start at a varying offset so concurrent engines rarely race for the same port.
    let start = (std::process::id() * 7919 + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) % span;
    for i in 0..span {
        let port = EPHEMERAL_PORTS.start() + ((start + i) % span) as u16;
        if exclude.contains(&port) {
            continue;
        }
        let m = PortMapping { host_ip, host_port: port, container_port: 1, protocol };
        if check_port_free(&m).is_ok() {
            return Ok(port);
        }
    }
    Err(Error::unavailable(format!("no free {protocol} host port in {EPHEMERAL_PORTS:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_forms() {
        let m = parse_publish("8080:80").unwrap();
        assert_eq!(
            m,
            vec![PortMapping { host_ip: None, host_port: 8080, container_port: 80, protocol: Protocol::Tcp }]
        );
        let m = parse_publish("127.0.0.1:53:5353/udp").unwrap();
        assert_eq!(m[0].host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!((m[0].host_port, m[0].container_port, m[0].protocol), (53, 5353, Protocol::Udp));
        assert_eq!(parse_publish("80").unwrap()[0].host_port, 0);
        assert_eq!(parse_publish("127.0.0.1::80").unwrap()[0].host_port, 0);
        let m = parse_publish("[::1]:8080:80").unwrap();
        assert_eq!(m[0].host_ip, Some("::1".parse().unwrap()));
        let m = parse_publish("8000-8002:80-82").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!((m[2].host_port, m[2].container_port), (8002, 82));
        assert_eq!(m[1].to_string(), "8001:81/tcp");
    }

    #[test]
    fn publish_errors_name_the_value() {
        for bad in
            ["", "x:80", "80:", "1.2.3:80:80", "8080:80/sctp", "8000-8001:80", "80-81", "9-8:9-8", "0:80", "a:b:c:d"]
        {
            let e = parse_publish(bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn busy_port_is_a_conflict_and_allocation_avoids_it() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let m = PortMapping {
            host_ip: Some("127.0.0.1".parse().unwrap()),
            host_port: port,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        let e = check_port_free(&m).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Conflict);
        assert!(e.to_string().contains(&port.to_string()), "{e}");
        let p = allocate_host_port(Protocol::Tcp, None, &HashSet::from([port])).unwrap();
        assert!(EPHEMERAL_PORTS.contains(&p) && p != port);
    }
}
