//! examples/embed.rs (the Rust embedding example) builds and runs the image flow on a real root.

use std::path::{Path, PathBuf};
use std::process::Command;

use isula_tests::env::{require_root, run_ok, TestRoot};
use isula_tests::images;

/// Build the example with the same profile and target dir as this test; its path.
fn build_example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "-p", "isula-tests", "--example", "embed", "-p", "isulad-shim", "--target-dir"])
        .arg(profile_dir.parent().unwrap());
    if profile_dir.ends_with("release") {
        cmd.arg("--release");
    }
    run_ok(&mut cmd);
    profile_dir.join("examples/embed")
}

#[test]
fn embed_example_runs_the_image_flow() {
    if !require_root() {
        return;
    }
    let prog = build_example();
    let root = TestRoot::new();
    let img = images::busybox();
    let archive = root.path().join("busybox.tar");
    std::fs::write(&archive, images::docker_archive(&[(&img, &["busybox:latest"])], images::DockerLayout::Legacy))
        .unwrap();
    // the example uses DIR/root and DIR/state: the TestRoot's own layout
    let engine_dir = root.path().to_path_buf();
    // isulad-shim is built beside the example's directory
    let shim_dir = prog.parent().unwrap().parent().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![shim_dir.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    let out =
        run_ok(Command::new(&prog).arg(&archive).arg(&engine_dir).env("PATH", std::env::join_paths(dirs).unwrap()));
    let id = img.id();
    assert!(out.contains(&format!("loaded: {id} [\"docker.io/library/busybox:latest\"]")), "{out}");
    assert!(out.contains(&format!("image: {id} [\"busybox:latest\"]")), "{out}");
    assert!(out.contains(&format!("inspect: {id} linux/")), "{out}");
    assert!(out.contains("filtered: [[\"busybox:latest\", \"example/busybox:v1\"]]"), "{out}");
    assert!(out.contains(": exit code 0, logs \"hello\\n\""), "{out}");
    assert!(out.contains(&format!("Deleted(\"{id}\")")), "{out}");
    assert!(out.ends_with("images left: 0\n"), "{out}");

    // bad input: a missing archive is a clear error and a failure exit
    let o = Command::new(&prog).arg(root.path().join("missing.tar")).arg(&engine_dir).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not_found") && err.contains("missing.tar"), "{err}");
}
