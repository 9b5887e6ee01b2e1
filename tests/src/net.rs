//! Networks for tests: subnets that clash with nothing on the host.

use isula_core::Ipv4Net;

/// A random 10.x.y.0/24 that overlaps none of the host's routes (random, so that tests running
/// in parallel, and other engines' networks, differ).
pub fn free_subnet() -> Ipv4Net {
    let routes = isula_core::unstable::network::host_routes();
    for _ in 0..10_000 {
        let b = u8::from_str_radix(&crate::env::rand_hex(1), 16).expect("hex");
        let c = u8::from_str_radix(&crate::env::rand_hex(1), 16).expect("hex");
        let s = Ipv4Net::new(std::net::Ipv4Addr::new(10, 64 + b % 180, c, 0), 24).expect("a /24");
        if !routes.iter().any(|r| r.dest.overlaps(&s)) {
            return s;
        }
    }
    panic!("no free 10.x.y.0/24 subnet left on this host");
}
