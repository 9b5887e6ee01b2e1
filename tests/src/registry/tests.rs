//! The registry helper against skopeo: push, inspect, TLS and auth failures, cleanup.

use std::process::Command;

use serde_json::Value;

use super::*;
use crate::env::require;
use crate::images::{busybox, busybox_with, multilayer_whiteouts, Compression};

fn inspect(reg: &Registry, name: &str, flags: &[String]) -> std::process::Output {
    Command::new("skopeo")
        .arg("inspect")
        .args(flags)
        .arg(format!("docker://{}/{name}", reg.addr()))
        .output()
        .expect("run skopeo")
}

fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s.rsplit_once(") ").map(|(_, r)| !r.starts_with('Z')).unwrap_or(false),
        Err(_) => false,
    }
}

fn roundtrip(mode: RegistryMode) {
    if !available(&mode) || !require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    let pid = reg.pid();
    let dir = reg.dir().to_path_buf();
    let img = busybox();
    let full = reg.push(&img, "busybox:latest");
    assert_eq!(full, format!("{}/busybox:latest", reg.addr()));
    let out = inspect(&reg, "busybox:latest", &reg.skopeo_flags(""));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Digest"], img.manifest.digest.as_str());
    assert_eq!(v["Layers"], serde_json::json!([img.layers[0].digest]));
    // A second image in another repository, by digest.
    let wh = multilayer_whiteouts();
    reg.push(&wh, "test/wh:v1");
    let out = inspect(&reg, &format!("test/wh@{}", wh.manifest.digest), &reg.skopeo_flags(""));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), 3);
    // Without credentials an auth registry refuses.
    if reg.credentials().is_some() {
        let mut flags = reg.skopeo_flags("");
        flags.retain(|f| !f.starts_with("--creds"));
        let out = inspect(&reg, "busybox:latest", &flags);
        assert!(!out.status.success());
        let mut flags = reg.skopeo_flags("");
        flags.retain(|f| !f.starts_with("--creds"));
        flags.push("--creds=nobody:wrong".into());
        let out = inspect(&reg, "busybox:latest", &flags);
        assert!(!out.status.success(), "wrong password accepted");
    }
    // With TLS, the server certificate is not trusted without the test CA.
    if reg.cert_dir().is_some() {
        let mut flags: Vec<String> = reg.skopeo_flags("").into_iter().filter(|f| !f.contains("cert-dir")).collect();
        flags.push("--tls-verify=true".into());
        let out = inspect(&reg, "busybox:latest", &flags);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("certificate"), "{err}");
        assert!(std::fs::read_to_string(reg.ca_cert_pem().unwrap()).unwrap().contains("BEGIN CERTIFICATE"));
    }
    drop(reg);
    assert!(!pid_alive(pid), "registry {pid} still running after drop");
    assert!(!dir.exists());
}

#[test]
fn registry_http() {
    roundtrip(RegistryMode::Http);
}

#[test]
fn registry_tls() {
    roundtrip(RegistryMode::Tls);
}

#[test]
fn registry_basic_auth_tls() {
    roundtrip(RegistryMode::basic_auth("alice", "s3cret pass"));
}

#[test]
fn registry_basic_auth_http() {
    roundtrip(RegistryMode::BasicAuthHttp { user: "bob".into(), password: "pw".into() });
}

#[test]
fn registry_serves_zstd_layers() {
    let mode = RegistryMode::Http;
    if !available(&mode) || !require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    let img = busybox_with(Compression::Zstd);
    reg.push(&img, "z:1");
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/z:1", reg.addr()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, img.manifest.data);
}

#[test]
fn bcrypt_hash_verifies() {
    if !require("perl") {
        return;
    }
    let h = bcrypt_hash("pw");
    let again = run_ok(Command::new("perl").args(["-e", "print crypt($ARGV[0], $ARGV[1])", "pw", &h]));
    assert_eq!(again, h);
    let wrong = run_ok(Command::new("perl").args(["-e", "print crypt($ARGV[0], $ARGV[1])", "px", &h]));
    assert_ne!(wrong, h);
}

#[test]
fn registry_serves_index_and_docker_manifests() {
    let mode = RegistryMode::Http;
    if !available(&mode) || !require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    let idx = crate::images::multi_platform(&[("amd64", None), ("arm64", Some("v8")), ("riscv64", None)]);
    reg.push_index(&idx, "multi:1");
    let raw = |args: &[&str]| {
        let out = Command::new("skopeo")
            .args(["inspect", "--tls-verify=false"])
            .args(args)
            .arg(format!("docker://{}/multi:1", reg.addr()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    assert_eq!(raw(&["--raw"]), idx.index.data);
    let v: Value = serde_json::from_slice(&raw(&["--override-arch", "arm64"])).unwrap();
    assert_eq!(v["Digest"], idx.index.digest.as_str());
    assert_eq!(v["Architecture"], "arm64");
    assert_eq!(raw(&["--override-arch", "arm64", "--config", "--raw"]), idx.images[1].config.data);
    assert_eq!(raw(&["--override-arch", "riscv64", "--config", "--raw"]), idx.images[2].config.data);

    let img = busybox();
    let d = reg.push_docker_v2s2(&img, "docker:1");
    assert!(d.starts_with("sha256:") && d != img.manifest.digest);
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/docker:1", reg.addr()))
        .output()
        .unwrap();
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["mediaType"], "application/vnd.docker.distribution.manifest.v2+json");
    assert_eq!(crate::images::sha256_digest(&out.stdout), d);
    assert_eq!(m["layers"][0]["digest"], img.layers[0].digest.as_str());
}
