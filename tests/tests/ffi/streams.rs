//! isula-ffi/tests/c/operations.c: every export beyond the basic lifecycle, from C, on real
//! runc and overlay: streams stopped midway (log follow, stats), attach and a streamed exec
//! with stdin, copy and export through files and callbacks, networks, volumes, pods, and the
//! engine closed while streams are open. Run normally and under valgrind.

use isula_tests::env::TestRoot;

use crate::c::{assert_no_definite_leaks, busybox_archive, prerequisites, text, workspace, Installed};

fn operations(valgrind: bool) {
    if !prerequisites(valgrind) {
        return;
    }
    let inst = Installed::new();
    let archive = busybox_archive(inst.dir.path());
    let prog = inst.compile(&workspace().join("isula-ffi/tests/c/operations.c"));
    let root = TestRoot::new();
    let pause = isula_tests::pause::pause_path();
    let o = inst.run(&prog, &[&archive, root.path(), &pause], valgrind);
    let (out, err) = text(&o);
    assert!(
        o.status.success() && out.contains("0 failure(s)") && !out.contains("FAIL"),
        "operations failed ({}):\n{out}\nstderr:\n{}",
        o.status,
        err.lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>().join("\n")
    );
    if valgrind {
        assert_no_definite_leaks(&err);
    }
    assert_eq!(root.unmount_all(), 0, "mounts left behind:\n{out}");
    eprintln!("{out}"); // shown when a check below fails
    check(&out);
}

/// The value printed after `prefix` on its own line.
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("no `{prefix}` line:\n{out}"))
}

fn json(out: &str, prefix: &str) -> serde_json::Value {
    serde_json::from_str(line(out, prefix)).unwrap_or_else(|e| panic!("`{prefix}` is not JSON ({e}):\n{out}"))
}

fn check(out: &str) {
    let id = line(out, "run: ");
    assert_eq!(id.len(), 64, "{out}");
    // streams stopped midway deliver nothing after the close
    assert!(line(out, "logs follow stopped: ").starts_with("ok ("), "{out}");
    assert!(line(out, "logs follow stopped: ").contains("tick "), "{out}");
    assert!(line(out, "stats stream stopped: ").starts_with("ok ("), "{out}");
    let stats = json(out, "stats: ");
    assert_eq!(stats["id"], id, "{stats}");
    assert!(stats["stats"]["pids"]["current"].as_u64().unwrap_or(0) >= 1, "{stats}");
    assert_eq!(line(out, "resize NULL stream: "), "invalid_argument");
    let top = json(out, "top: ");
    assert!(top.to_string().contains("tick") || top.to_string().contains("sh"), "{top}");
    assert_eq!(json(out, "top args: ")["titles"], serde_json::json!(["PID", "COMMAND"]));
    assert_eq!(line(out, "paused: "), "yes");
    assert_eq!(line(out, "pause again: "), "failed_precondition");
    assert_eq!(line(out, "unpause running: "), "failed_precondition");
    assert_eq!(line(out, "updated: "), "yes");
    assert_eq!(line(out, "update bad json: "), "invalid_argument");
    assert_eq!(line(out, "inspect old name: "), "not_found no_such_container");
    assert_eq!(line(out, "record named: "), "yes");
    assert_eq!(line(out, "health: "), "null");
    assert_eq!(line(out, "restarted running: "), "yes");
    // streamed exec: stdin in, both outputs and the exit code out
    assert_eq!(line(out, "exec stream: "), "code 4 stdout got:hello");
    assert_eq!(line(out, "exec stream stderr: "), "to-stderr");
    assert_eq!(line(out, "attach echo: "), "ping");
    assert_eq!(line(out, "attach resize: "), "invalid_argument");
    assert_eq!(line(out, "attach wait 100ms: "), "unavailable");
    assert_eq!(line(out, "attach exit: "), "0");
    // files
    let stat = json(out, "stat path: ");
    assert_eq!((stat["name"].as_str(), stat["size"].as_u64()), (Some("data.txt"), Some(8)), "{stat}");
    assert_eq!(line(out, "stat missing: "), "not_found no_such_path");
    assert_eq!(json(out, "copy from stat: ")["name"], "data.txt");
    assert!(line(out, "copy from stream bytes: ").parse::<usize>().unwrap() >= 1024, "{out}");
    let copied = json(out, "copied back: ");
    assert_eq!(copied["Stdout"], "payload\npayload\n1:2\n", "{copied}");
    assert_ne!(line(out, "copy to missing dir: "), "ok");
    assert_eq!(line(out, "export file: "), "ok");
    assert_eq!(line(out, "export stream: "), "ok");
    assert_ne!(line(out, "export aborted: "), "ok");
    let follow = line(out, "follow to the end: ");
    assert!(follow.starts_with("3 entries") && follow.contains("three"), "{follow}");
    // networks and volumes
    assert_eq!(json(out, "network create: ")["Name"], "ffi-net");
    assert_eq!(line(out, "network create again: "), "already_exists");
    let nets = json(out, "network list: ");
    assert_eq!(nets.as_array().map(Vec::len), Some(1), "{nets}");
    assert_eq!(json(out, "network inspect: ")["Labels"]["t"], "ffi");
    assert_eq!(line(out, "network inspect removed: "), "not_found no_such_network");
    assert_eq!(json(out, "volume create: ")["Name"], "ffi-vol");
    assert_eq!(json(out, "volume list: ").as_array().map(Vec::len), Some(1));
    assert_eq!(json(out, "volume prune: ")["VolumesDeleted"], serde_json::json!(["ffi-vol"]));
    assert_eq!(line(out, "volume inspect pruned: "), "not_found no_such_volume");
    assert_eq!(line(out, "volume remove missing: "), "not_found no_such_volume");
    assert_eq!(line(out, "volume remove missing forced: "), "ok");
    assert_eq!(line(out, "volume list bad: "), "invalid_argument");
    // pods
    let pod = line(out, "pod run: ");
    assert_eq!(line(out, "pod run again: "), "already_exists");
    assert_eq!(json(out, "pod inspect: ")["Id"], pod);
    assert_eq!(json(out, "pod list: ").as_array().map(Vec::len), Some(1));
    assert!(json(out, "pod stats: ").is_object());
    assert_eq!(line(out, "pod connect closed port: "), "unavailable");
    assert_eq!(line(out, "pod connect fd: "), "-1");
    assert!(line(out, "pod inspect removed: ").starts_with("not_found"), "{out}");
    // engine-wide calls
    assert!(json(out, "config: ")["graph"].as_str().unwrap().ends_with("/root"), "{out}");
    assert_eq!(line(out, "check no runtime: "), "not_found");
    assert_ne!(line(out, "login unreachable: "), "ok");
    assert!(!line(out, "push unknown image: ").starts_with("ok"), "{out}");
    // the engine closed under open streams: they are cancelled, and the root is free again
    assert_eq!(line(out, "closed engine, callbacks after: "), "none");
    assert_eq!(line(out, "follow after close: "), "failed_precondition cancelled");
    assert_eq!(line(out, "stats after close: "), "failed_precondition cancelled");
    assert_eq!(line(out, "exec after close: "), "failed_precondition cancelled");
    assert_eq!(line(out, "write after close: "), "failed_precondition");
    assert_eq!(line(out, "reopen: "), "ok");
    assert_eq!(line(out, "left: "), "ffi-app2");
    assert_eq!(line(out, "list all: "), "[]");
}

#[test]
fn c_operations() {
    operations(false);
}

#[test]
fn c_operations_under_valgrind() {
    operations(true);
}
