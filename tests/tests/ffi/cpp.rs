//! The C++ wrapper (include/isula.hpp): examples/cpp/run_container.cpp compiled with
//! `g++ -std=c++17 -Wall -Wextra -Werror` against the installed headers and library, run on a
//! real engine root, normally and under valgrind (no definitely-lost bytes).

use std::path::PathBuf;

use isula_tests::env::{require, TestRoot};

use crate::c::{assert_no_definite_leaks, busybox_archive, prerequisites, text, workspace, Installed};

fn compile(inst: &Installed) -> PathBuf {
    let out = inst.dir.path().join("run_container_cpp");
    inst.compile_with("g++", "-std=c++17", &workspace().join("examples/cpp/run_container.cpp"), &out);
    out
}

fn cpp_example(valgrind: bool) {
    if !prerequisites(valgrind) || !require("g++") {
        return;
    }
    let inst = Installed::new();
    assert!(inst.prefix().join("include/isula.hpp").is_file(), "install-ffi.sh did not install isula.hpp");
    let archive = busybox_archive(inst.dir.path());
    let prog = compile(&inst);
    let root = TestRoot::new();
    let o = inst.run(&prog, &[&archive, root.path()], valgrind);
    let (out, err) = text(&o);
    assert!(o.status.success(), "run_container.cpp failed ({}):\n{out}\n{err}", o.status);
    if valgrind {
        assert_no_definite_leaks(&err);
    }
    assert_eq!(root.unmount_all(), 0, "mounts left behind");
    assert!(out.contains("loaded: [{\"Id\":\"sha256:"), "{out}");
    assert!(out.contains("log entries: 3+, after stop: none"), "{out}");
    assert!(out.contains("exec: 5 hi cpp\n"), "{out}");
    assert!(out.contains("error: not_found no_such_container"), "{out}");
    assert!(out.contains("left: []"), "{out}");
}

#[test]
fn cpp_wrapper_example() {
    cpp_example(false);
}

#[test]
fn cpp_wrapper_example_under_valgrind() {
    cpp_example(true);
}
