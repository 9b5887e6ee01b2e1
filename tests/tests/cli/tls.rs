//! End to end: isulad on TCP with mutual TLS; isula with and without a client certificate.

use crate::cli_support;

use std::path::Path;
use std::process::Command;

use cli_support::{isula, Daemon};
use isula_tests::env::{free_port, require, run_ok};

/// A CA, a server certificate for IP 127.0.0.1 and a client certificate, made by openssl in `dir`.
fn make_certs(dir: &Path) {
    let sh = |script: &str| {
        run_ok(Command::new("sh").arg("-ec").arg(script).current_dir(dir));
    };
    sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=isula-test-ca 2>/dev/null
        for who in server client; do
          openssl req -newkey rsa:2048 -nodes -keyout $who-key.pem -out $who.csr -subj /CN=$who 2>/dev/null
        done
        printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext
        printf 'extendedKeyUsage=clientAuth\\n' > client.ext
        for who in server client; do
          openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $who-cert.pem -days 2 -extfile $who.ext 2>/dev/null
        done
        # A second CA whose client certificate the daemon must refuse.
        openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout rogue-key.pem -out rogue.csr -subj /CN=rogue 2>/dev/null
        openssl x509 -req -in rogue.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial -out rogue-cert.pem -days 2 -extfile client.ext 2>/dev/null");
}

#[test]
fn tcp_with_mutual_tls() {
    if !require("openssl") {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let c = |f: &str| certs.path().join(f).to_str().unwrap().to_string();
    let tcp = format!("tcp://127.0.0.1:{}", free_port());
    let d = Daemon::start_with(vec![
        "-H".into(),
        tcp.clone(),
        "--tlsverify".into(),
        "--tlscacert".into(),
        c("ca.pem"),
        "--tlscert".into(),
        c("server-cert.pem"),
        "--tlskey".into(),
        c("server-key.pem"),
    ]);
    // The unix socket keeps working next to the TCP listener.
    d.isula(&["images", "-q"]).ok();
    let tls = |cert: &str, key: &str, args: &[&str]| {
        let mut a: Vec<String> = vec!["--tlsverify".into(), "--tlscacert".into(), c("ca.pem")];
        a.extend(["--tlscert".into(), c(cert), "--tlskey".into(), c(key)]);
        a.extend(args.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        isula(&tcp, &a, None)
    };
    assert!(tls("client-cert.pem", "client-key.pem", &["version"]).ok().contains("Server:"));
    assert_eq!(tls("client-cert.pem", "client-key.pem", &["images", "-q"]).ok(), "");
    // A client certificate from another CA is refused; so is plain TCP.
    assert_ne!(tls("rogue-cert.pem", "rogue-key.pem", &["images", "-q"]).code, 0);
    assert_ne!(isula(&tcp, &["images", "-q"], None).code, 0);
}

#[test]
fn plain_tcp_needs_an_explicit_flag() {
    let mut d = Daemon::start();
    d.stop();
    let tcp = format!("tcp://127.0.0.1:{}", free_port());
    let out = d.command().args(["-H", &tcp]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--insecure-tcp"));
    drop(d);
    let d = Daemon::start_with(vec!["-H".into(), tcp.clone(), "--insecure-tcp".into()]);
    assert_eq!(isula(&tcp, &["images", "-q"], None).ok(), "");
    drop(d);
}
