//! sd_notify: tell systemd (Type=notify) that the daemon is ready or stopping.

use std::os::unix::net::UnixDatagram;

/// Send `state` (e.g. `READY=1`) to `$NOTIFY_SOCKET` when it is set; a missing variable
/// is not an error (not started by systemd). Abstract sockets (`@name`) are supported.
pub(crate) fn notify(state: &str) -> std::io::Result<bool> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let sock = UnixDatagram::unbound()?;
    let bytes = path.as_encoded_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        sock.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        sock.send_to(state.as_bytes(), &path)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sends_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notify");
        let rx = std::os::unix::net::UnixDatagram::bind(&p).unwrap();
        // Only this test touches NOTIFY_SOCKET in this binary's test process.
        std::env::set_var("NOTIFY_SOCKET", &p);
        assert!(super::notify("READY=1").unwrap());
        std::env::remove_var("NOTIFY_SOCKET");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        assert!(!super::notify("READY=1").unwrap());
    }
}
