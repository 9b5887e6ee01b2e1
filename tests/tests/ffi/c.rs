//! The C API end to end: libisula built and installed with scripts/install-ffi.sh into a temp
//! prefix, the C examples and the bad-input program compiled with plain gcc (and once through
//! pkg-config, shared and static), run against a real engine root, and run again under
//! valgrind expecting no definitely-lost bytes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use isula_tests::env::{require, require_root, run_ok, TestRoot};
use isula_tests::images;

/// The workspace root.
pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Build libisula (same profile and target dir as this test) once; return the directory
/// holding libisula.so and libisula.a.
pub(crate) fn lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // this executable is <target>/<profile>/deps/ffi-<hash>
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap();
        let profile = profile_dir.file_name().unwrap().to_str().unwrap().to_string();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace())
            .args(["build", "-p", "isula-ffi", "-p", "isulad-shim", "--target-dir"])
            .arg(target_dir);
        if profile == "release" {
            cmd.arg("--release");
        }
        run_ok(&mut cmd);
        for f in ["libisula.so", "libisula.a"] {
            assert!(profile_dir.join(f).is_file(), "{f} not built in {}", profile_dir.display());
        }
        profile_dir
    })
}

/// The native libraries of libisula.a as rustc reports them (what install-ffi.sh records in
/// isula.pc's Libs.private), asked once per test binary: the script would ask for every install.
pub(crate) fn native_static_libs() -> &'static str {
    static LIBS: OnceLock<String> = OnceLock::new();
    LIBS.get_or_init(|| {
        let profile_dir = lib_dir();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace())
            .args(["rustc", "-p", "isula-ffi", "--lib", "--crate-type", "staticlib", "--target-dir"])
            .arg(profile_dir.parent().unwrap());
        if profile_dir.ends_with("release") {
            cmd.arg("--release");
        }
        let o = cmd.args(["--", "--print", "native-static-libs"]).output().unwrap();
        let text = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "cargo rustc failed:\n{text}");
        text.lines()
            .filter_map(|l| l.split_once("native-static-libs:").map(|(_, r)| r.trim().to_string()))
            .next_back()
            .unwrap_or_else(|| panic!("rustc printed no native-static-libs:\n{text}"))
    })
}

/// A temp prefix with libisula installed by scripts/install-ffi.sh (removed on drop).
pub(crate) struct Installed {
    pub(crate) dir: tempfile::TempDir,
}

impl Installed {
    pub(crate) fn new() -> Installed {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("prefix");
        run_ok(
            Command::new(workspace().join("scripts/install-ffi.sh"))
                .arg(&prefix)
                .env("ISULA_LIB_DIR", lib_dir())
                .env("ISULA_NATIVE_LIBS", native_static_libs()),
        );
        Installed { dir }
    }

    pub(crate) fn prefix(&self) -> PathBuf {
        self.dir.path().join("prefix")
    }

    /// Compile one C file against the installed header and shared library with plain gcc.
    pub(crate) fn compile(&self, src: &Path) -> PathBuf {
        let out = self.dir.path().join(src.file_stem().unwrap());
        self.compile_with("gcc", "-std=c11", src, &out);
        out
    }

    /// Compile `src` with `compiler` (C or C++, standard `std`) against the installed header
    /// and shared library into `out`, warnings as errors.
    pub(crate) fn compile_with(&self, compiler: &str, std: &str, src: &Path, out: &Path) {
        let p = self.prefix();
        run_ok(
            Command::new(compiler)
                .args([std, "-Wall", "-Wextra", "-Werror", "-g", "-o"])
                .arg(out)
                .arg(format!("-I{}", p.join("include").display()))
                .arg(src)
                .arg(format!("-L{}", p.join("lib").display()))
                .args(["-lisula", "-lpthread"]),
        );
    }

    /// Run a compiled program with the installed library on LD_LIBRARY_PATH.
    pub(crate) fn run(&self, prog: &Path, args: &[&Path], valgrind: bool) -> Output {
        let mut cmd = if valgrind {
            let mut c = Command::new("valgrind");
            c.args([
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
                "--error-exitcode=9",
                "--show-leak-kinds=definite",
            ])
            .arg(format!("--suppressions={}", workspace().join("isula-ffi/tests/valgrind.supp").display()))
            .arg(prog);
            c
        } else {
            Command::new(prog)
        };
        // isulad-shim (built beside libisula) must be on PATH for containers
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![lib_dir().to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        cmd.args(args)
            .env("LD_LIBRARY_PATH", self.prefix().join("lib"))
            .env("PATH", std::env::join_paths(dirs).unwrap())
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", prog.display()))
    }
}

pub(crate) fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

pub(crate) fn assert_no_definite_leaks(stderr: &str) {
    assert!(
        stderr.contains("definitely lost: 0 bytes") || stderr.contains("All heap blocks were freed"),
        "valgrind found definite leaks:\n{stderr}"
    );
}

/// Run `prog ARCHIVE ROOT` on a fresh engine root; assert it succeeded; return stdout.
fn run_example(inst: &Installed, prog: &Path, archive: &Path, valgrind: bool) -> String {
    let root = TestRoot::new();
    let o = inst.run(prog, &[archive, root.path()], valgrind);
    let (out, err) = text(&o);
    if valgrind && err.contains("unhandled amd64-linux syscall: 437") && err.contains("os error 38") {
        panic!(
            "valgrind does not emulate openat2 (syscall 437), so layer application in isula-core \
             failed with ENOSYS; isula-core/src/sys/openat.rs needs a fallback for ENOSYS (also \
             hit on kernels before 5.6 and under seccomp filters):\n{out}\n{err}"
        );
    }
    assert!(
        o.status.success(),
        "{} {}failed ({}):\nstdout:\n{out}\nstderr:\n{err}",
        prog.display(),
        if valgrind { "under valgrind " } else { "" },
        o.status
    );
    if valgrind {
        assert_no_definite_leaks(&err);
    }
    assert_eq!(root.unmount_all(), 0, "the program left mounts behind");
    out
}

/// The busybox test image as a `docker save` archive in `dir`.
pub(crate) fn busybox_archive(dir: &Path) -> PathBuf {
    let data = images::docker_archive(&[(&images::busybox(), &["busybox:latest"])], images::DockerLayout::Blobs);
    let p = dir.join("busybox.tar");
    std::fs::write(&p, data).unwrap();
    p
}

pub(crate) fn prerequisites(valgrind: bool) -> bool {
    require_root() && require("gcc") && (!valgrind || require("valgrind"))
}

fn example(name: &str) -> PathBuf {
    workspace().join("examples/c").join(name)
}

#[test]
fn library_has_soname_and_install_layout() {
    if !prerequisites(false) || !require("readelf") || !require("nm") {
        return;
    }
    let inst = Installed::new();
    let lib = inst.prefix().join("lib");
    let dynamic = run_ok(Command::new("readelf").arg("-d").arg(lib.join("libisula.so.0")));
    assert!(dynamic.contains("Library soname: [libisula.so.0]"), "{dynamic}");
    assert_eq!(std::fs::read_link(lib.join("libisula.so")).unwrap(), Path::new("libisula.so.0"));
    assert!(lib.join("libisula.a").is_file());
    let header = std::fs::read_to_string(inst.prefix().join("include/isula.h")).unwrap();
    assert_eq!(header, std::fs::read_to_string(workspace().join("include/isula.h")).unwrap());
    let pc = std::fs::read_to_string(lib.join("pkgconfig/isula.pc")).unwrap();
    assert!(pc.contains(&format!("prefix={}", inst.prefix().display())), "{pc}");
    assert!(pc.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))), "{pc}");
    // Libs.private is rustc's static link line, not fixed text
    assert!(pc.contains(&format!("Libs.private: {}\n", native_static_libs())), "{pc}");
    assert!(native_static_libs().contains("-lpthread") || native_static_libs().contains("-lc"), "{pc}");
    let syms = run_ok(Command::new("nm").args(["-D", "--defined-only"]).arg(lib.join("libisula.so.0")));
    // every function declared in the header is exported
    let declared: Vec<&str> = header
        .lines()
        .filter_map(|l| {
            let name = l.split('(').next()?.rsplit([' ', '*']).next()?;
            (name.starts_with("isula_") && l.contains('(') && !l.contains("typedef")).then_some(name)
        })
        .collect();
    assert!(declared.len() >= 25, "{declared:?}");
    for f in &declared {
        assert!(
            syms.lines().any(|l| l.ends_with(&format!(" T {f}@@ISULA_1.0"))),
            "{f} is declared in isula.h but not exported"
        );
    }
    // a program records the SONAME, not the unversioned name
    let prog = inst.compile(&example("list_images.c"));
    let needed = run_ok(Command::new("readelf").arg("-d").arg(&prog));
    assert!(needed.contains("Shared library: [libisula.so.0]"), "{needed}");
}

fn check_list_images(out: &str, img: &images::BuiltImage) {
    let id = img.id().to_string();
    let id = if id.starts_with("sha256:") { id } else { format!("sha256:{id}") };
    assert!(out.starts_with(&format!("libisula {}\n", env!("CARGO_PKG_VERSION"))), "{out}");
    assert!(
        out.contains(&format!("loaded: [{{\"Id\":\"{id}\",\"Names\":[\"docker.io/library/busybox:latest\"]}}]")),
        "{out}"
    );
    let listed: Vec<&str> = out.lines().filter(|l| l.starts_with("images: ")).collect();
    assert_eq!(listed.len(), 2, "{out}");
    assert!(listed[0].starts_with("images: 1 ") && listed[0].contains(&id), "{out}");
    assert!(listed[0].contains("\"busybox:latest\""), "{out}");
    assert_eq!(listed[1], "images: 0 []", "{out}");
    assert!(out.contains(&format!("inspect: {{\"Id\":\"{id}\"")), "{out}");
    assert!(out.contains("filtered: 1 ") && out.contains("\"example/busybox:v1\""), "{out}");
    assert!(out.contains("inspect missing: not_found (") && out.contains("no-such-image"), "{out}");
    assert!(out.contains("removed: [{\"Untagged\":\"example/busybox:v1\"}]"), "{out}");
    assert!(out.contains(&format!("{{\"Deleted\":\"{id}\"}}")), "{out}");
}

#[test]
fn c_list_images() {
    if !prerequisites(false) {
        return;
    }
    let inst = Installed::new();
    let archive = busybox_archive(inst.dir.path());
    let prog = inst.compile(&example("list_images.c"));
    let out = run_example(&inst, &prog, &archive, false);
    check_list_images(&out, &images::busybox());
}

#[test]
fn c_list_images_under_valgrind() {
    if !prerequisites(true) {
        return;
    }
    let inst = Installed::new();
    let archive = busybox_archive(inst.dir.path());
    let prog = inst.compile(&example("list_images.c"));
    let out = run_example(&inst, &prog, &archive, true);
    check_list_images(&out, &images::busybox());
}

fn check_run_container(out: &str) {
    assert!(out.contains("loaded: [{\"Id\":\"sha256:"), "{out}");
    assert!(out.contains("created: "), "{out}");
    assert!(out.contains("exit code: 0"), "{out}");
    assert!(out.contains("\"Stream\":\"stdout\""), "{out}");
    assert!(out.contains("\"Log\":\"hello\\n\""), "{out}");
    assert!(out.contains("container removed"), "{out}");
    assert!(out.contains("image removed"), "{out}");
}

fn check_events(out: &str) {
    assert!(out.contains("image removed"), "{out}");
    assert!(out.contains("subscribed"), "{out}");
    assert!(out.contains("container ran: exit code 0"), "{out}");
    let actions: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("event: "))
        .filter_map(|l| l.split("\"Action\":\"").nth(1)?.split('"').next())
        .collect();
    for a in ["create", "start", "die", "destroy"] {
        assert!(actions.contains(&a), "no {a} event in {actions:?}:\n{out}");
    }
    assert!(out.contains(&format!("events received: {}", actions.len())), "{out}");
}

#[test]
fn c_run_container_and_events() {
    if !prerequisites(false) {
        return;
    }
    let inst = Installed::new();
    let archive = busybox_archive(inst.dir.path());
    let prog = inst.compile(&example("run_container.c"));
    check_run_container(&run_example(&inst, &prog, &archive, false));
    let prog = inst.compile(&example("events.c"));
    check_events(&run_example(&inst, &prog, &archive, false));
}

#[test]
fn c_run_container_and_events_under_valgrind() {
    if !prerequisites(true) {
        return;
    }
    let inst = Installed::new();
    let archive = busybox_archive(inst.dir.path());
    let prog = inst.compile(&example("run_container.c"));
    check_run_container(&run_example(&inst, &prog, &archive, true));
    let prog = inst.compile(&example("events.c"));
    check_events(&run_example(&inst, &prog, &archive, true));
}

fn bad_input(valgrind: bool) {
    if !prerequisites(valgrind) {
        return;
    }
    let inst = Installed::new();
    let prog = inst.compile(&workspace().join("isula-ffi/tests/c/bad_input.c"));
    let root = TestRoot::new();
    let junk = inst.dir.path().join("junk.tar");
    std::fs::write(&junk, b"this is not a tar archive, just text\n".repeat(40)).unwrap();
    let o = inst.run(&prog, &[root.path(), &junk], valgrind);
    let (out, err) = text(&o);
    assert!(o.status.success(), "bad_input failed ({}):\n{out}\nstderr:\n{err}", o.status);
    assert!(out.contains("0 failure(s)") && !out.contains("FAIL"), "{out}");
    assert!(out.lines().filter(|l| l.starts_with("ok: ")).count() >= 40, "{out}");
    if valgrind {
        assert_no_definite_leaks(&err);
    }
}

#[test]
fn c_bad_input() {
    bad_input(false);
}

#[test]
fn c_bad_input_under_valgrind() {
    bad_input(true);
}

#[test]
fn pkg_config_compiles_shared_and_static_programs() {
    if !prerequisites(false) || !require("pkg-config") || !require("readelf") {
        return;
    }
    let inst = Installed::new();
    let pc_path = inst.prefix().join("lib/pkgconfig");
    let pkg_config =
        |args: &[&str]| run_ok(Command::new("pkg-config").args(args).arg("isula").env("PKG_CONFIG_PATH", &pc_path));
    let flags = pkg_config(&["--cflags", "--libs"]);
    let flags: Vec<&str> = flags.split_whitespace().collect();
    assert!(flags.contains(&"-lisula"), "{flags:?}");
    let archive = busybox_archive(inst.dir.path());

    let prog = inst.dir.path().join("list_images_pc");
    run_ok(Command::new("gcc").arg("-o").arg(&prog).arg(example("list_images.c")).args(&flags));
    check_list_images(&run_example(&inst, &prog, &archive, false), &images::busybox());

    // static: libisula.a plus the private libs; no libisula.so needed at run time
    let libs = pkg_config(&["--static", "--libs-only-l"]);
    let libs: Vec<&str> = libs.split_whitespace().filter(|f| *f != "-lisula").collect();
    let cflags = pkg_config(&["--cflags"]);
    let sprog = inst.dir.path().join("list_images_static");
    run_ok(
        Command::new("gcc")
            .arg("-o")
            .arg(&sprog)
            .args(cflags.split_whitespace())
            .arg(example("list_images.c"))
            .arg(inst.prefix().join("lib/libisula.a"))
            .args(&libs),
    );
    let needed = run_ok(Command::new("readelf").arg("-d").arg(&sprog));
    assert!(!needed.contains("libisula"), "{needed}");
    let root = TestRoot::new();
    let o = Command::new(&sprog).arg(&archive).arg(root.path()).output().unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    check_list_images(&out, &images::busybox());
}

fn pull_flow(valgrind: bool) {
    use isula_tests::registry::{available, Registry, RegistryMode};
    if !prerequisites(valgrind) || !available(&RegistryMode::Http) || !require("skopeo") {
        return;
    }
    let reg = Registry::start(RegistryMode::Http);
    let img = images::busybox();
    let reference = reg.push(&img, "ffi/busybox:1");
    let inst = Installed::new();
    let prog = inst.compile(&example("pull.c"));
    let root = TestRoot::new();
    let addr = reg.addr();
    let o = inst.run(&prog, &[Path::new(&reference), root.path(), Path::new(&addr)], valgrind);
    let (out, err) = text(&o);
    if valgrind && err.contains("unhandled amd64-linux syscall: 437") && err.contains("os error 38") {
        panic!("valgrind does not emulate openat2 (syscall 437); isula-core/src/sys/openat.rs needs an ENOSYS fallback:\n{out}\n{err}");
    }
    assert!(o.status.success(), "pull failed ({}):\n{out}\n{err}", o.status);
    assert!(out.contains(&format!("pulled: {{\"id\":\"{}\"", img.id())), "{out}");
    assert!(out.contains(&format!("\"reference\":\"{reference}\"")), "{out}");
    assert!(out.contains(&format!("\"digest\":\"{}\"", img.manifest.digest)), "{out}");
    assert!(out.contains("progress: {\"Resolved\":"), "{out}");
    assert!(out.contains("progress: {\"Layer\":{\"digest\":"), "{out}");
    assert!(out.contains("progress events: ") && out.contains("layers done: 1"), "{out}");
    assert!(out.contains(&format!("{{\"Deleted\":\"{}\"}}", img.id())), "{out}");
    if valgrind {
        assert_no_definite_leaks(&err);
    }
}

#[test]
fn c_pull_with_progress() {
    pull_flow(false);
}

#[test]
fn c_pull_with_progress_under_valgrind() {
    pull_flow(true);
}

fn container_calls(valgrind: bool) {
    if !prerequisites(valgrind) {
        return;
    }
    let inst = Installed::new();
    let archive = busybox_archive(inst.dir.path());
    let prog = inst.compile(&workspace().join("isula-ffi/tests/c/containers.c"));
    let out = run_example(&inst, &prog, &archive, valgrind);
    assert!(!out.contains("FAIL"), "{out}");
    let id = out.lines().find_map(|l| l.strip_prefix("created: ")).unwrap_or_else(|| panic!("no id:\n{out}"));
    let line = |p: &str| {
        out.lines().find_map(|l| l.strip_prefix(p)).unwrap_or_else(|| panic!("no {p} line:\n{out}")).to_string()
    };
    let list: serde_json::Value = serde_json::from_str(&line("list: ")).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert!(list.to_string().contains(id), "{list}");
    let inspect: serde_json::Value = serde_json::from_str(&line("inspect: ")).unwrap();
    assert_eq!(inspect["Id"], id, "{inspect}");
    assert_eq!(inspect["State"]["Running"], true, "{inspect}");
    let exec: serde_json::Value = serde_json::from_str(&line("exec: ")).unwrap();
    assert_eq!(exec, serde_json::json!({"ExitCode": 3, "Stdout": "out\n", "Stderr": "err\n"}));
    assert!(line("wait 100ms: ").starts_with("unavailable -1 (timed out"), "{out}");
    assert_eq!(line("exit code: "), "137", "{out}");
    assert_eq!(line("wait timeout exit code: "), "137", "{out}");
    assert!(!line("kill stopped: ").starts_with("ok"), "{out}");
    assert_eq!(line("inspect removed: "), "not_found", "{out}");
    assert_eq!(line("list all: "), "[]", "{out}");
}

#[test]
fn c_container_calls() {
    container_calls(false);
}

#[test]
fn c_container_calls_under_valgrind() {
    container_calls(true);
}
