//! End to end: a real isulad on a private root, driven by the real isula binary
//! (load, images, tag, inspect, save/load round trip, import, rmi, error statuses).

use crate::cli_support;

use cli_support::{bin, isula, Daemon};
use isula_tests::images::{self, DockerLayout};

fn busybox_archive() -> Vec<u8> {
    images::docker_archive(&[(&images::busybox(), &["busybox:latest"])], DockerLayout::Legacy)
}

fn load_busybox(d: &Daemon) -> String {
    let tar = d.root.path().join("busybox.tar");
    std::fs::write(&tar, busybox_archive()).unwrap();
    let out = d.isula(&["load", "-i", tar.to_str().unwrap()]).ok().to_string();
    assert_eq!(out, "Loaded image: busybox:latest\n");
    let id = d.isula(&["images", "-q", "--no-trunc"]).ok().trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    id
}

#[test]
fn load_list_tag_inspect_save_roundtrip() {
    let d = Daemon::start();
    assert_eq!(d.isula(&["images"]).ok(), "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n");
    let id = load_busybox(&d);
    let hex = id.strip_prefix("sha256:").unwrap();

    // Table shape: header and one aligned row.
    let table = d.isula(&["images"]).ok().to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[0].starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"), "{table}");
    let cols: Vec<&str> = lines[1].split("   ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(cols[0], "busybox");
    assert_eq!(cols[1], "latest");
    assert_eq!(cols[2], &hex[..12]);
    assert!(cols[3].ends_with(" ago"), "{table}");
    assert!(cols[4].ends_with("MB") || cols[4].ends_with("kB"), "{table}");
    assert_eq!(d.isula(&["images", "-q"]).ok(), format!("{}\n", &hex[..12]));

    // Tag, then --format and filters see both names.
    d.isula(&["tag", "busybox", "localhost:5000/team/box:v1"]).ok();
    let names = d.isula(&["images", "--format", "{{.Repository}}:{{.Tag}}"]).ok().to_string();
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(names, ["busybox:latest", "localhost:5000/team/box:v1"]);
    let only = d.isula(&["images", "--filter", "reference=busybox", "--format", "{{.ID}} {{.Tag}}"]).ok().to_string();
    assert_eq!(only, format!("{} latest\n", &hex[..12]));
    let json_line = d.isula(&["images", "--format", "{{json .}}", "busybox"]).ok().to_string();
    let v: serde_json::Value = serde_json::from_str(json_line.trim()).unwrap();
    assert_eq!(v["Repository"], "busybox");
    let t = d.isula(&["images", "--format", "table {{.Repository}}\\t{{.Tag}}", "busybox"]).ok().to_string();
    assert_eq!(t, "REPOSITORY   TAG\nbusybox      latest\n");

    // inspect: JSON array like docker, -f templates.
    let out = d.isula(&["inspect", "busybox:latest", &hex[..12]]).ok().to_string();
    let arr: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(arr.as_array().unwrap().len(), 2);
    assert_eq!(arr[0]["Id"], id.as_str());
    assert_eq!(d.isula(&["inspect", "-f", "{{.Id}}", "busybox"]).ok(), format!("{id}\n"));
    assert_eq!(d.isula(&["inspect", "-f", "{{.Os}}/{{.RootFS.Type}}", "busybox"]).ok(), "linux/layers\n");

    // save -o, remove everything, load the saved archive from stdin: same id, name back.
    let saved = d.root.path().join("saved.tar");
    d.isula(&["save", "-o", saved.to_str().unwrap(), "busybox:latest"]).ok();
    assert!(std::fs::metadata(&saved).unwrap().len() > 100_000);
    let rm = d.isula(&["rmi", "-f", &hex[..12]]).ok().to_string();
    assert!(rm.contains("Untagged: busybox:latest"), "{rm}");
    assert!(rm.contains(&format!("Deleted: {id}")), "{rm}");
    assert_eq!(d.isula(&["images", "-q"]).ok(), "");
    let data = std::fs::read(&saved).unwrap();
    assert_eq!(d.isula_in(&["load"], Some(&data)).ok(), "Loaded image: busybox:latest\n");
    assert_eq!(d.isula(&["images", "-q", "--no-trunc"]).ok(), format!("{id}\n"));

    // save to stdout streams the same archive.
    let out = d.isula(&["save", "busybox"]);
    out.ok();
    assert!(out.raw.len() > 100_000);
    let again = d.isula_in(&["load", "-t", "copy:v2"], Some(&out.raw));
    assert!(again.ok().starts_with("Loaded image: copy:v2\n"), "{}", again.stdout);
    assert_eq!(d.isula(&["inspect", "-f", "{{.Id}}", "copy:v2"]).ok(), format!("{id}\n"));
}

#[test]
fn import_from_stdin() {
    let d = Daemon::start();
    let tar = images::busybox_layer_tar();
    let out = d.isula_in(&["import", "-m", "from stdin", "-", "imported:v1"], Some(&tar)).ok().to_string();
    let id = out.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{out}");
    assert_eq!(
        d.isula(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]).ok(),
        format!("imported:v1 {}\n", &id[7..19])
    );
    assert_eq!(d.isula(&["inspect", "-f", "{{.Id}}", "imported:v1"]).ok(), format!("{id}\n"));
    let file = d.root.path().join("rootfs.tar");
    std::fs::write(&file, &tar).unwrap();
    d.isula(&["import", file.to_str().unwrap()]).ok();
    assert_eq!(d.isula(&["images", "-q"]).ok().lines().count(), 2);
}

#[test]
fn errors_and_exit_codes() {
    let d = Daemon::start();
    let e = d.isula(&["rmi", "nope"]).fails(1).to_string();
    assert_eq!(e, "Error response from daemon: No such image: nope\n");
    let r = d.isula(&["inspect", "nope"]);
    assert_eq!(r.fails(1), "Error: No such object: nope\n");
    assert_eq!(r.stdout, "[]\n");
    assert!(d.isula(&["tag", "nope", "x"]).fails(1).starts_with("Error response from daemon: "));
    let e = d.isula_in(&["load"], Some(b"this is not a tar archive")).fails(1).to_string();
    assert!(e.starts_with("Error response from daemon: "), "{e}");
    let e = d.isula(&["load", "-i", "/nonexistent/x.tar"]).fails(1).to_string();
    assert!(e.contains("/nonexistent/x.tar"), "{e}");
    // Nothing was made by the failures.
    assert_eq!(d.isula(&["images", "-q"]).ok(), "");
    // Usage errors are 125, help is 0.
    assert!(d.isula(&["images", "--bogus"]).fails(125).contains("--bogus"));
    assert!(d.isula(&["no-such-verb"]).fails(125).contains("no-such-verb"));
    assert!(d.isula(&["rmi"]).fails(125).contains("IMAGE"));
    assert!(d.isula(&["images", "--format", "{{.ID"]).fails(125).contains("template"));
    assert!(d.isula(&["--help"]).ok().contains("images"));
    let bare = std::process::Command::new(cli_support::bin("isula")).output().unwrap();
    assert!(bare.status.success());
    assert!(String::from_utf8_lossy(&bare.stdout).contains("Usage: isula"));
    assert!(d.isula(&["images", "--help"]).ok().contains("--no-trunc"));
    // Containers are not there yet: the daemon says so with UNIMPLEMENTED (checked via info's counters existing).
    assert!(d.isula(&["info"]).ok().contains("Images: 0"));
    assert!(d.isula(&["version"]).ok().contains("Server:"));
}

#[test]
fn no_daemon_is_125_with_the_address() {
    let root = isula_tests::env::TestRoot::new();
    let host = format!("unix://{}", root.path().join("none.sock").display());
    let r = isula(&host, &["images"], None);
    assert_eq!(r.fails(125), format!("cannot connect to isulad at {host}: is it running?\n"));
    // ISULAD_HOST is honoured when -H is absent.
    let out =
        std::process::Command::new(cli_support::bin("isula")).arg("images").env("ISULAD_HOST", &host).output().unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&host));
    let out = std::process::Command::new(cli_support::bin("isula")).args(["completion", "bash"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("isula"));
}

#[test]
fn restart_keeps_images_and_sigterm_exits_cleanly() {
    let mut d = Daemon::start();
    let id = load_busybox(&d);
    let pidfile = d.root.path().join("isulad.pid");
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap().trim(), d.pid().to_string());
    d.restart();
    assert_eq!(d.isula(&["images", "-q", "--no-trunc"]).ok(), format!("{id}\n"));
    let st = d.stop().unwrap();
    assert!(st.success(), "{st}: {}", d.log_text());
    assert!(!d.sock.exists(), "socket left behind");
    assert!(!pidfile.exists(), "pid file left behind");
    assert!(d.log_text().contains("SIGTERM"), "{}", d.log_text());
}

#[test]
fn bad_daemon_json_fails_startup_naming_the_key() {
    let d = Daemon::start();
    let mut d = d;
    d.stop();
    std::fs::write(d.config_file(), r#"{"registry-mirrors": "not-a-list"}"#).unwrap();
    let out = d.command().output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("registry-mirrors"), "{err}");
    assert!(!d.sock.exists());
}

#[test]
fn unknown_default_runtime_and_taken_stream_port_fail_startup() {
    let mut d = Daemon::start();
    d.stop();
    std::fs::write(d.config_file(), r#"{"default-runtime": "no-such-runtime"}"#).unwrap();
    let out = d.command().output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("default-runtime") && err.contains("no-such-runtime"), "{err}");
    assert!(!d.sock.exists());
    // A streaming server port that is taken is a start-up error too, not a silent gap.
    std::fs::write(d.config_file(), "{}").unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    d.flags = vec!["--stream-server-port".into(), port.clone()];
    let out = d.command().output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("streaming server") && err.contains(&port), "{err}");
    assert!(!d.sock.exists(), "a failed start left its socket");
    // A storage option that would be ignored (a per-container quota) is refused at start-up.
    d.flags = vec!["--storage-opt".into(), "overlay2.size=10G".into()];
    let out = d.command().output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("storage-opts") && err.contains("overlay2.size"), "{err}");
}

#[test]
fn a_user_without_access_to_the_socket_is_told_so() {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::start();
    // A copy of the CLI that nobody may run (the build tree may be in root's home).
    let dir = std::env::temp_dir().join(format!("isula-nobody-{}", isula_tests::env::rand_hex(6)));
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cli = dir.join("isula");
    std::fs::copy(bin("isula"), &cli).unwrap();
    // nobody, without supplementary groups: neither root nor in the socket's group.
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&cli)
        .args(["-H", &d.host(), "ps"])
        .output();
    std::fs::remove_dir_all(&dir).unwrap();
    let out = out.expect("run setpriv (util-linux)");
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("permission denied"), "{err}");
    assert!(!err.contains("is it running"), "{err}");
}

#[test]
fn notifies_systemd_and_socket_is_0660() {
    use std::os::unix::fs::PermissionsExt;
    let mut d = Daemon::start();
    d.stop();
    let notify = d.root.path().join("notify.sock");
    let rx = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    rx.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
    let mut child = d.command().env("NOTIFY_SOCKET", &notify).stderr(std::process::Stdio::null()).spawn().unwrap();
    let mut buf = [0u8; 64];
    let n = rx.recv(&mut buf).expect("READY=1 from isulad");
    assert_eq!(&buf[..n], b"READY=1");
    // Ready means serving: the socket answers at once, with mode 0660.
    assert_eq!(std::fs::metadata(&d.sock).unwrap().permissions().mode() & 0o777, 0o660);
    assert_eq!(isula(&d.host(), &["images", "-q"], None).ok(), "");
    // SIGINT stops it as cleanly as SIGTERM, saying STOPPING=1 first.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let n = rx.recv(&mut buf).expect("STOPPING=1 from isulad");
    assert_eq!(&buf[..n], b"STOPPING=1");
    let st = child.wait().unwrap();
    assert!(st.success(), "{st}");
    assert!(!d.sock.exists());
}

#[test]
fn concurrent_clients() {
    let d = Daemon::start();
    load_busybox(&d);
    let tar = images::busybox_layer_tar();
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for i in 0..6 {
            let (d, tar) = (&d, &tar);
            handles.push(s.spawn(move || {
                let name = format!("imp{i}:v1");
                d.isula_in(&["import", "-", &name], Some(tar)).ok();
                d.isula(&["inspect", "-f", "{{.Id}}", "busybox"]).ok();
                d.isula(&["images", "-q"]).ok();
            }));
        }
        for h in handles {
            h.join().unwrap();
        }
    });
    let names = d.isula(&["images", "--format", "{{.Repository}}"]).ok().to_string();
    for i in 0..6 {
        assert!(names.lines().any(|l| l == format!("imp{i}")), "{names}");
    }
}

#[test]
fn second_daemon_on_the_same_socket_is_refused() {
    let d = Daemon::start();
    let out = d.command().output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // Refused by the root lock (same root) before it could touch the socket.
    assert!(err.contains("in use") || err.contains("already listening"), "{err}");
    assert_eq!(d.isula(&["images", "-q"]).ok(), "");
}
