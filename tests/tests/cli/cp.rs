//! End to end: `isula cp` follows `docker cp`'s rules for every combination of file or
//! directory source, existing or missing destination, trailing `/` or `/.`, relative or
//! absolute paths, in both directions; failures leave nothing behind.
//!
//! Build first: `cargo build -p isulad -p isula -p isulad-shim`.

use crate::cli_support;

use std::fs;
use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};

use cli_support::Daemon;

/// A daemon with busybox, a running container `cpc` holding `/tmp/f` (a file) and `/tmp/d`
/// (`x`, `sub/y`), and a local directory `l` holding `lf` (a file) and `ldir` (`a`, `s/b`).
struct Env {
    d: Daemon,
    l: PathBuf,
}

impl Env {
    fn new() -> Env {
        let d = Daemon::start();
        d.load_busybox();
        d.isula(&["run", "-d", "--name", "cpc", "busybox", "sleep", "1000"]).ok();
        let script =
            "echo -n F > /tmp/f && mkdir -p /tmp/d/sub /tmp/d2 && echo -n X > /tmp/d/x && echo -n Y > /tmp/d/sub/y";
        d.isula(&["exec", "cpc", "sh", "-c", script]).ok();
        let l = d.root.path().join("l");
        fs::create_dir_all(l.join("ldir/s")).unwrap();
        fs::write(l.join("lf"), "L").unwrap();
        fs::write(l.join("ldir/a"), "A").unwrap();
        fs::write(l.join("ldir/s/b"), "B").unwrap();
        Env { d, l }
    }

    fn cp(&self, src: &str, dest: &str) -> cli_support::Run {
        self.d.isula(&["cp", src, dest])
    }

    /// A local path under `l`, as a string.
    fn local(&self, rel: &str) -> String {
        self.l.join(rel).to_string_lossy().into_owned()
    }

    /// The content of a file in the container.
    fn cat(&self, path: &str) -> String {
        self.d.isula(&["exec", "cpc", "cat", path]).ok().to_string()
    }

    fn exists_in(&self, path: &str) -> bool {
        self.d.isula(&["exec", "cpc", "test", "-e", path]).code == 0
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.d.remove_all_containers();
    }
}

fn read(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("read {}: {e}", p.as_ref().display()))
}

#[test]
fn cp_out_follows_docker_rules() {
    let e = Env::new();
    // A file to a bare relative name: created in the working directory.
    e.d.isula_at(&e.l, &["cp", "cpc:/tmp/f", "out"]).ok();
    assert_eq!(read(e.l.join("out")), "F");
    // A relative container path starts at the container's `/`.
    e.d.isula_at(&e.l, &["cp", "cpc:tmp/f", "./out2"]).ok();
    assert_eq!(read(e.l.join("out2")), "F");
    // A file over an existing file, into an existing directory.
    e.cp("cpc:/tmp/f", &e.local("lf")).ok();
    assert_eq!(read(e.l.join("lf")), "F");
    e.cp("cpc:/tmp/f", &e.local("ldir/")).ok();
    assert_eq!(read(e.l.join("ldir/f")), "F");
    // A file to a missing directory, or under a missing parent: errors, nothing made.
    let err = e.cp("cpc:/tmp/f", &e.local("missing/")).fails(1).to_string();
    assert!(err.contains("must exist"), "{err}");
    e.cp("cpc:/tmp/f", &e.local("nodir/x")).fails(1);
    assert!(!e.l.join("missing").exists() && !e.l.join("nodir").exists());
    // A trailing `/` on a file is refused.
    e.cp("cpc:/tmp/f/", &e.local("z")).fails(1);
    assert!(!e.l.join("z").exists());
    // A directory to a missing name: created with the content.
    e.cp("cpc:/tmp/d", &e.local("newd")).ok();
    assert_eq!(read(e.l.join("newd/x")), "X");
    assert_eq!(read(e.l.join("newd/sub/y")), "Y");
    // A directory into an existing directory: under its own name; with `/.`: its content.
    fs::create_dir(e.l.join("e1")).unwrap();
    fs::create_dir(e.l.join("e2")).unwrap();
    e.cp("cpc:/tmp/d", &e.local("e1")).ok();
    assert_eq!(read(e.l.join("e1/d/sub/y")), "Y");
    e.cp("cpc:/tmp/d/.", &e.local("e2")).ok();
    assert_eq!(read(e.l.join("e2/x")), "X");
    assert!(!e.l.join("e2/d").exists());
    // A directory over a file is refused and the file stays.
    e.cp("cpc:/tmp/d", &e.local("out")).fails(1);
    assert_eq!(read(e.l.join("out")), "F");
    // Missing paths and containers say which.
    let err = e.cp("cpc:/nope", &e.local("")).fails(1).to_string();
    assert!(err.contains("Could not find the file /nope"), "{err}");
    let err = e.cp("nosuch:/tmp/f", &e.local("")).fails(1).to_string();
    assert!(err.contains("No such container"), "{err}");
}

#[test]
fn cp_in_follows_docker_rules() {
    let e = Env::new();
    // A file to a missing name, over a file, into a directory.
    e.cp(&e.local("lf"), "cpc:/tmp/new").ok();
    assert_eq!(e.cat("/tmp/new"), "L");
    e.cp(&e.local("lf"), "cpc:/tmp/f").ok();
    assert_eq!(e.cat("/tmp/f"), "L");
    e.cp(&e.local("lf"), "cpc:/tmp/d").ok();
    assert_eq!(e.cat("/tmp/d/lf"), "L");
    // Relative paths on both sides.
    e.d.isula_at(&e.l, &["cp", "lf", "cpc:tmp/rel"]).ok();
    assert_eq!(e.cat("/tmp/rel"), "L");
    // A file to a missing directory, or under a missing parent: clear errors, nothing made.
    let err = e.cp(&e.local("lf"), "cpc:/tmp/missing/").fails(1).to_string();
    assert!(err.contains("must exist"), "{err}");
    let err = e.cp(&e.local("lf"), "cpc:/missing/dir/x").fails(1).to_string();
    assert!(err.contains("Could not find the file /missing/dir"), "{err}");
    assert!(!err.contains("No such container"), "{err}");
    assert!(!e.exists_in("/tmp/missing") && !e.exists_in("/missing"));
    // A missing local source.
    let err = e.cp(&e.local("nosuch"), "cpc:/tmp/").fails(1).to_string();
    assert!(err.contains("no such file or directory") || err.contains("No such file"), "{err}");
    // A directory to a missing name, into a directory, its content with `/.`.
    e.cp(&e.local("ldir"), "cpc:/tmp/nd").ok();
    assert_eq!(e.cat("/tmp/nd/s/b"), "B");
    e.cp(&e.local("ldir"), "cpc:/tmp/d").ok();
    assert_eq!(e.cat("/tmp/d/ldir/a"), "A");
    e.cp(&format!("{}/.", e.local("ldir")), "cpc:/tmp/d2").ok();
    assert_eq!(e.cat("/tmp/d2/a"), "A");
    assert!(!e.exists_in("/tmp/d2/ldir"));
    // A directory over a file is refused and the file stays.
    e.cp(&e.local("ldir"), "cpc:/tmp/new").fails(1);
    assert_eq!(e.cat("/tmp/new"), "L");
    // Owners: the container's root by default, the file's own with `-a`.
    chown(e.l.join("lf"), Some(1234), Some(1234)).unwrap();
    e.cp(&e.local("lf"), "cpc:/tmp/own").ok();
    e.d.isula(&["cp", "-a", &e.local("lf"), "cpc:/tmp/own-a"]).ok();
    let owners = e.d.isula(&["exec", "cpc", "stat", "-c", "%u:%g", "/tmp/own", "/tmp/own-a"]).ok().to_string();
    assert_eq!(owners, "0:0\n1234:1234\n");
}
