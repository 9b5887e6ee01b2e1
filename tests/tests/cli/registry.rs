//! End to end: `isula pull`/`push`/`login`/`logout` through a real isulad against a real
//! docker-registry on 127.0.0.1.

use crate::cli_support;

use cli_support::Daemon;
use isula_tests::images;
use isula_tests::registry::{self, Registry, RegistryMode};

#[test]
fn pull_push_round_trip_over_an_insecure_registry() {
    let mode = RegistryMode::Http;
    if !registry::available(&mode) || !isula_tests::env::require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    let img = images::busybox();
    let name = reg.push(&img, "library/busybox:1.0");
    let d = Daemon::start_with(vec!["--insecure-registry".into(), reg.addr()]);

    let out = d.isula(&["pull", &name]).ok().to_string();
    assert!(out.starts_with("1.0: Pulling from library/busybox\n"), "{out}");
    assert!(out.contains(": Pull complete\n"), "{out}");
    assert!(out.contains("Status: Downloaded newer image for "), "{out}");
    assert!(out.ends_with(&format!("{name}\n")), "{out}");
    assert_eq!(d.isula(&["inspect", "-f", "{{.Id}}", &name]).ok(), format!("{}\n", img.id()));
    // A second pull downloads nothing.
    let again = d.isula(&["pull", "-q", &name]).ok().to_string();
    assert_eq!(again, format!("{name}\n"));

    // Push under another name, forget it locally, pull it back: same image.
    let other = format!("{}/team/box:v2", reg.addr());
    d.isula(&["tag", &name, &other]).ok();
    let pushed = d.isula(&["push", &other]).ok().to_string();
    assert!(pushed.starts_with(&format!("The push refers to repository [{}/team/box]\n", reg.addr())), "{pushed}");
    let last = pushed.lines().last().unwrap_or_default();
    assert!(last.starts_with("v2: digest: sha256:"), "{pushed}");
    d.isula(&["rmi", "-f", img.id()]).ok();
    assert_eq!(d.isula(&["images", "-q"]).ok(), "");
    d.isula(&["pull", "-q", &other]).ok();
    assert_eq!(d.isula(&["inspect", "-f", "{{.Id}}", &other]).ok(), format!("{}\n", img.id()));

    // Unknown tag: the daemon's error, status 1, nothing added.
    let missing = format!("{}/library/busybox:nope", reg.addr());
    let e = d.isula(&["pull", &missing]).fails(1).to_string();
    assert!(e.starts_with("Error response from daemon: "), "{e}");
    assert_eq!(d.isula(&["images", "-q"]).ok().lines().count(), 1);
}

#[test]
fn login_and_logout() {
    let mode = RegistryMode::BasicAuthHttp { user: "alice".into(), password: "s3cret".into() };
    if !registry::available(&mode) || !isula_tests::env::require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    let name = reg.push(&images::busybox(), "private/busybox:1");
    let d = Daemon::start_with(vec!["--insecure-registry".into(), reg.addr()]);

    // Without credentials the pull is refused.
    d.isula(&["pull", "-q", &name]).fails(1);
    let e =
        d.isula_in(&["login", "-u", "alice", "--password-stdin", &reg.addr()], Some(b"wrong\n")).fails(1).to_string();
    assert!(e.starts_with("Error response from daemon: "), "{e}");
    let ok = d.isula_in(&["login", "-u", "alice", "--password-stdin", &reg.addr()], Some(b"s3cret\n"));
    assert_eq!(ok.ok(), "Login Succeeded\n");
    d.isula(&["pull", "-q", &name]).ok();
    assert_eq!(d.isula(&["logout", &reg.addr()]).ok(), format!("Removing login credentials for {}\n", reg.addr()));
    d.isula(&["rmi", &name]).ok();
    d.isula(&["pull", "-q", &name]).fails(1);
    // Usage errors of login are 125.
    d.isula(&["login", "--password-stdin", &reg.addr()]).fails(125);
}

#[test]
fn pull_through_a_hosts_toml_mirror() {
    let mode = RegistryMode::Http;
    if !registry::available(&mode) || !isula_tests::env::require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    let img = images::busybox();
    reg.push(&img, "k8s-staging/test-image:test");
    let d = Daemon::start();
    // The file goes in the daemon's --registry-config-dir; it is read at each pull.
    let dir = d.registry_config_dir().join("mirror.test.invalid");
    std::fs::create_dir_all(&dir).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(
        dir.join("hosts.toml"),
        format!(
            "server = \"https://mirror.test.invalid\"\n\n\
             [host.\"http://127.0.0.1:{closed}\"]\n  capabilities = [\"pull\", \"resolve\"]\n\n\
             [host.\"http://{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
            reg.addr()
        ),
    )
    .unwrap();
    let name = "mirror.test.invalid/k8s-staging/test-image:test";
    let out = d.isula(&["pull", name]).ok().to_string();
    assert!(out.contains("Status: Downloaded newer image for "), "{out}");
    assert!(out.ends_with(&format!("{name}\n")), "{out}");
    assert_eq!(d.isula(&["inspect", "-f", "{{.Id}}", name]).ok(), format!("{}\n", img.id()));
    let listed = d.isula(&["images", "--format", "{{.Repository}}:{{.Tag}}"]).ok().to_string();
    assert_eq!(listed, format!("{name}\n"));

    // A malformed file: the daemon's InvalidArgument names it, nothing is pulled.
    let bad = d.registry_config_dir().join("bad.test.invalid");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("hosts.toml"), "server = [\n").unwrap();
    let e = d.isula(&["pull", "bad.test.invalid/k8s-staging/test-image:test"]).fails(1).to_string();
    assert!(e.contains(&bad.join("hosts.toml").display().to_string()), "{e}");
    assert_eq!(d.isula(&["images", "-q"]).ok().lines().count(), 1);
}
