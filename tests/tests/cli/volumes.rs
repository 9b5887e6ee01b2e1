//! End to end: `isula volume create|ls|inspect|rm|prune` of the real `isula` against a real
//! `isulad` (runc), and `run -v name:/data` sharing data between containers.
//!
//! Build first: `cargo build -p isulad -p isula -p isulad-shim`.

use crate::cli_support;

use cli_support::Daemon;
use isula_tests::env::{require, require_root};

/// A daemon with busybox loaded; removes every container it knows on drop (before the
/// daemon stops, which removes the root with its volumes).
struct Env {
    d: Daemon,
}

impl Env {
    /// None (skip) without root or runc; a panic in CI.
    fn new() -> Option<Env> {
        if !(require_root() && require("runc") && require("busybox")) {
            return None;
        }
        let d = Daemon::start();
        d.load_busybox();
        Some(Env { d })
    }

    fn isula(&self, args: &[&str]) -> cli_support::Run {
        self.d.isula(args)
    }

    fn volume_names(&self) -> Vec<String> {
        self.isula(&["volume", "ls", "-q"]).ok().lines().map(String::from).collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.d.remove_all_containers();
    }
}

#[test]
fn volume_commands() {
    let Some(env) = Env::new() else { return };
    assert_eq!(env.isula(&["volume", "ls"]).ok(), "DRIVER    VOLUME NAME\n");
    assert_eq!(env.isula(&["volume", "create", "--label", "env=prod", "-d", "local", "data"]).ok(), "data\n");
    assert_eq!(env.isula(&["volume", "create", "data"]).ok(), "data\n", "an existing name is returned");
    let generated = env.isula(&["volume", "create"]).ok().trim().to_string();
    assert_eq!(generated.len(), 64, "{generated}");
    let mut all = vec!["data".to_string(), generated.clone()];
    all.sort();
    assert_eq!(env.volume_names(), all);
    let table = env.isula(&["volume", "ls"]).ok().to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "DRIVER    VOLUME NAME", "{table}");
    assert!(lines.contains(&"local     data"), "{table}");
    assert_eq!(env.isula(&["volume", "ls", "--filter", "label=env=prod", "-q"]).ok(), "data\n");
    assert_eq!(
        env.isula(&["volume", "ls", "-f", "name=dat", "--format", "{{.Name}}:{{.Driver}}:{{.Labels}}"]).ok(),
        "data:local:env=prod\n"
    );
    let err = env.isula(&["volume", "ls", "--filter", "colour=red"]).fails(1).to_string();
    assert!(err.contains("invalid filter 'colour'"), "{err}");

    // inspect: a JSON array in Docker's shape, or a template per volume.
    let out = env.isula(&["volume", "inspect", "data"]).ok().to_string();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let v = &v.as_array().unwrap()[0];
    assert_eq!(v["Name"], "data");
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Labels"]["env"], "prod");
    assert!(v["CreatedAt"].as_str().unwrap().ends_with('Z'));
    assert!(v["Options"].is_object());
    let mp = env.d.root.path().join("root/volumes/data/_data");
    assert_eq!(v["Mountpoint"], mp.to_str().unwrap());
    assert_eq!(env.isula(&["volume", "inspect", "-f", "{{.Mountpoint}}", "data"]).ok(), format!("{}\n", mp.display()));
    let r = env.isula(&["volume", "inspect", "data", "nope"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Error: No such volume: nope"), "{}", r.stderr);
    assert!(r.stdout.contains("\"Name\": \"data\""), "{}", r.stdout);

    // Bad input: exit codes as Docker (usage 125, refused request 1), nothing created.
    let err = env.isula(&["volume", "create", "-d", "nfs", "x1"]).fails(1).to_string();
    assert!(err.starts_with("Error response from daemon:") && err.contains("nfs"), "{err}");
    let err = env.isula(&["volume", "create", "-o", "type=tmpfs", "x2"]).fails(1).to_string();
    assert!(err.contains("not supported"), "{err}");
    env.isula(&["volume", "create", "-o", "novalue", "x3"]).fails(125);
    env.isula(&["volume", "create", "bad/name"]).fails(1);
    env.isula(&["volume", "rm"]).fails(125);
    assert_eq!(env.volume_names(), all);

    // rm: prints the names; unknown volumes fail with 1 unless -f.
    assert_eq!(env.isula(&["volume", "rm", "data", &generated]).ok(), format!("data\n{generated}\n"));
    let err = env.isula(&["volume", "rm", "data"]).fails(1).to_string();
    assert_eq!(err, "Error: No such volume: data\n");
    assert_eq!(env.isula(&["volume", "rm", "-f", "data"]).ok(), "data\n");
    assert!(env.volume_names().is_empty());
}

#[test]
fn run_with_named_volume_and_rm_in_use() {
    let Some(env) = Env::new() else { return };
    // `-v name:/dst` makes the volume; a second container reads what the first wrote.
    env.isula(&["run", "--name", "writer", "-v", "shared:/data", "busybox", "sh", "-c", "echo hello > /data/msg"]).ok();
    assert_eq!(env.volume_names(), vec!["shared"]);
    assert_eq!(env.isula(&["run", "--rm", "-v", "shared:/in:ro", "busybox", "cat", "/in/msg"]).ok(), "hello\n");
    let mounts = env.isula(&["inspect", "-f", "{{json .Mounts}}", "writer"]).ok().to_string();
    let mounts: serde_json::Value = serde_json::from_str(&mounts).unwrap();
    let m = &mounts.as_array().unwrap()[0];
    assert_eq!((m["Type"].as_str(), m["Name"].as_str()), (Some("volume"), Some("shared")), "{mounts}");
    assert!(m["Source"].as_str().unwrap().ends_with("/volumes/shared/_data"), "{mounts}");

    // In use: refused with a clear message and status 1, data untouched.
    let r = env.isula(&["volume", "rm", "shared"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("Error response from daemon: remove shared: volume is in use"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    env.isula(&["volume", "rm", "-f", "shared"]).fails(1);
    assert_eq!(env.isula(&["volume", "ls", "-q", "--filter", "dangling=false"]).ok(), "shared\n");
    // Gone with the container (rm -v keeps named volumes), then removable.
    env.isula(&["rm", "-v", "writer"]).ok();
    assert_eq!(env.isula(&["volume", "ls", "-q", "--filter", "dangling=true"]).ok(), "shared\n");
    assert_eq!(env.isula(&["run", "--rm", "-v", "shared:/in", "busybox", "cat", "/in/msg"]).ok(), "hello\n");
    assert_eq!(env.isula(&["volume", "rm", "shared"]).ok(), "shared\n");
    assert!(env.volume_names().is_empty());
}

#[test]
fn prune_removes_unused_volumes() {
    let Some(env) = Env::new() else { return };
    env.isula(&["volume", "create", "unused"]).ok();
    env.isula(&["volume", "create", "--label", "keep", "labelled"]).ok();
    // 2000 bytes in `unused`, through a container that then goes away.
    env.isula(&[
        "run",
        "--rm",
        "-v",
        "unused:/d",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/d/zeros",
        "bs=1000",
        "count=2",
    ])
    .ok();
    env.isula(&["create", "--name", "holder", "-v", "held:/d", "busybox", "true"]).ok();
    // An anonymous volume of a removed container (rm without -v keeps it).
    env.isula(&["run", "--name", "anon", "-v", "/scratch", "busybox", "true"]).ok();
    env.isula(&["rm", "anon"]).ok();
    assert_eq!(env.volume_names().len(), 4, "{:?}", env.volume_names());

    // Without -f and without a "y" answer nothing happens.
    let r = env.d.isula_in(&["volume", "prune"], Some(b"n\n"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("Are you sure you want to continue?"), "{}", r.stderr);
    assert_eq!(env.volume_names().len(), 4);

    let out = env.isula(&["volume", "prune", "-f", "--filter", "label!=keep"]).ok().to_string();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Deleted Volumes:", "{out}");
    let mut deleted: Vec<&str> = lines[1..lines.len() - 2].to_vec();
    deleted.sort();
    assert_eq!(deleted.len(), 2, "{out}");
    assert!(deleted.contains(&"unused"), "{out}");
    assert_eq!(deleted.iter().filter(|n| n.len() == 64).count(), 1, "the anonymous volume: {out}");
    assert_eq!(lines[lines.len() - 2], "", "{out}");
    assert_eq!(lines[lines.len() - 1], "Total reclaimed space: 2kB", "{out}");
    assert_eq!(env.volume_names(), vec!["held", "labelled"]);

    let r = env.d.isula_in(&["volume", "prune"], Some(b"y\n"));
    assert_eq!(r.ok(), "Deleted Volumes:\nlabelled\n\nTotal reclaimed space: 0B\n");
    assert_eq!(env.isula(&["volume", "prune", "-f"]).ok(), "Total reclaimed space: 0B\n");
    assert_eq!(env.volume_names(), vec!["held"]);
    env.isula(&["rm", "holder"]).ok();
    assert_eq!(env.isula(&["volume", "prune", "-f"]).ok(), "Deleted Volumes:\nheld\n\nTotal reclaimed space: 0B\n");
}
