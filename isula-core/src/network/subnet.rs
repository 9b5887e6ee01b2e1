//! IPv4 subnets: parsing, overlap tests, the host's routes and automatic allocation.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::error::{Error, Result};

/// An IPv4 network in CIDR form (`10.89.3.0/24`); the address is always the network address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// The network containing `addr` with prefix length `prefix` (host bits are cleared).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self> {
        if prefix > 32 {
            return Err(Error::invalid(format!("invalid prefix length /{prefix} (at most 32)")));
        }
        Ok(Ipv4Net { addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)), prefix })
    }

    /// The network address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The broadcast (last) address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask(self.prefix))
    }

    /// True when `ip` lies inside the network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }

    /// True when the two networks share at least one address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        let p = self.prefix.min(other.prefix);
        u32::from(self.addr) & mask(p) == u32::from(other.addr) & mask(p)
    }

    /// The `n`th address of the network (`nth(1)` is the conventional gateway).
    pub fn nth(&self, n: u32) -> Option<Ipv4Addr> {
        let size = if self.prefix == 0 { u64::from(u32::MAX) + 1 } else { 1u64 << (32 - self.prefix) };
        (u64::from(n) < size).then(|| Ipv4Addr::from(u32::from(self.addr) + n))
    }

    /// True when `ip` is usable by a host: inside, and not the network or broadcast address
    /// (for prefixes shorter than /31).
    pub fn is_host_addr(&self, ip: Ipv4Addr) -> bool {
        self.contains(ip) && (self.prefix >= 31 || (ip != self.addr && ip != self.broadcast()))
    }

    /// The subnets of length `len` inside this network, in address order.
    pub fn subnets(&self, len: u8) -> impl Iterator<Item = Ipv4Net> {
        let base = u32::from(self.addr);
        let count: u64 = if len < self.prefix || len > 32 { 0 } else { 1u64 << (len - self.prefix) };
        let step: u64 = if len == 0 { 0 } else { 1u64 << (32 - len as u32) };
        (0..count).map(move |i| Ipv4Net { addr: Ipv4Addr::from((u64::from(base) + i * step) as u32), prefix: len })
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = Error;

    /// Parses `a.b.c.d/len`; host bits must be zero (`10.1.2.3/24` is refused: use `10.1.2.0/24`).
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid(format!("invalid subnet {s:?}: {why}"));
        let (a, p) = s.trim().split_once('/').ok_or_else(|| bad("expected CIDR form a.b.c.d/len"))?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad("not an IPv4 address"))?;
        let prefix: u8 = p.parse().map_err(|_| bad("bad prefix length"))?;
        if prefix > 32 {
            return Err(bad("prefix length above 32"));
        }
        let net = Ipv4Net::new(addr, prefix)?;
        if net.addr != addr {
            return Err(bad(&format!("host bits set (did you mean {net}?)")));
        }
        Ok(net)
    }
}

impl serde::Serialize for Ipv4Net {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Ipv4Net {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One IPv4 route of the host (from `/proc/net/route`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoute {
    /// Destination network.
    pub dest: Ipv4Net,
    /// Outgoing interface.
    pub iface: String,
}

/// Parses the text of `/proc/net/route` (hex little-endian destination and mask columns).
pub fn parse_proc_net_route(text: &str) -> Vec<HostRoute> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 8 {
            continue;
        }
        let (Ok(dst), Ok(msk)) = (u32::from_str_radix(cols[1], 16), u32::from_str_radix(cols[7], 16)) else {
            continue;
        };
        // The kernel prints the address as a native-endian u32 of network-order bytes.
        let dst = Ipv4Addr::from(dst.to_ne_bytes());
        let prefix = msk.count_ones() as u8;
        if let Ok(dest) = Ipv4Net::new(dst, prefix) {
            out.push(HostRoute { dest, iface: cols[0].to_string() });
        }
    }
    out
}

/// The host's IPv4 routes, default routes excluded (they would overlap everything).
pub fn host_routes() -> Vec<HostRoute> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    parse_proc_net_route(&text).into_iter().filter(|r| r.dest.prefix() > 0).collect()
}

/// The first subnet of length `len` in `pool` that overlaps none of `taken`.
pub fn allocate(pool: &Ipv4Net, len: u8, taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    pool.subnets(len).find(|c| !taken.iter().any(|t| t.overlaps(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_overlap() {
        let a: Ipv4Net = "10.1.0.0/16".parse().unwrap();
        let b: Ipv4Net = "10.1.5.0/24".parse().unwrap();
        let c: Ipv4Net = "10.2.0.0/24".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert_eq!(b.broadcast(), Ipv4Addr::new(10, 1, 5, 255));
        assert_eq!(b.nth(1), Some(Ipv4Addr::new(10, 1, 5, 1)));
        assert!(b.is_host_addr(Ipv4Addr::new(10, 1, 5, 9)));
        assert!(!b.is_host_addr(Ipv4Addr::new(10, 1, 5, 255)));
        assert!("10.1.2.3/24".parse::<Ipv4Net>().unwrap_err().to_string().contains("10.1.2.0/24"));
        assert!("10.1.2.0".parse::<Ipv4Net>().is_err());
        assert!("10.1.2.0/33".parse::<Ipv4Net>().is_err());
        assert!("x/8".parse::<Ipv4Net>().is_err());
    }

    #[test]
    fn routes_from_proc() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let r = parse_proc_net_route(text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].dest.to_string(), "192.0.2.0/24");
        assert_eq!(r[1].iface, "eth0");
        assert_eq!(r[0].dest.prefix(), 0);
    }

    #[test]
    fn allocation_skips_taken() {
        let pool: Ipv4Net = "10.89.0.0/22".parse().unwrap();
        let taken = vec!["10.89.0.0/24".parse().unwrap(), "10.89.1.128/25".parse().unwrap()];
        assert_eq!(allocate(&pool, 24, &taken).unwrap().to_string(), "10.89.2.0/24");
        let all = vec![pool];
        assert_eq!(allocate(&pool, 24, &all), None);
    }
}
