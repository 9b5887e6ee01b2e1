//! Static linking against glibc for the build scripts of isula-pause, isulad-shim and isula
//! (included by each with `#[path]`).
//!
//! rustc links std's native libraries (`-lgcc_s -lc …`) in dynamic mode unless the whole build
//! uses `+crt-static`, which cargo cannot set for one package. So the build script puts a
//! directory first in the library search path where those names resolve to static archives
//! only (`libgcc_s.a` is libgcc_eh.a), and links with `-static -no-pie` or `-static-pie`.

use std::path::{Path, PathBuf};

fn find(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Link the package's binaries statically against glibc: `-static-pie` when `pie`, else
/// `-static -no-pie`.
pub(crate) fn link(pie: bool) {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../static_glibc.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let dir = out.join("static-libs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create static-libs dir");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let ask = |arg: &str| -> Option<PathBuf> {
        let o = std::process::Command::new(&cc).arg(arg).output().ok()?;
        let s = String::from_utf8(o.stdout).ok()?;
        let p = PathBuf::from(s.trim());
        p.is_absolute().then_some(p)
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    for lib in ["libc.a", "libgcc_eh.a"] {
        if let Some(p) = ask(&format!("-print-file-name={lib}")) {
            if let Some(d) = p.parent() {
                dirs.push(d.to_path_buf());
            }
        }
    }
    let link = |name: &str, target: &Path| {
        let l = dir.join(name);
        std::os::unix::fs::symlink(target, &l).expect("symlink static archive");
    };
    for (name, real) in [
        ("libc.a", "libc.a"),
        ("libm.a", "libm.a"),
        ("libpthread.a", "libpthread.a"),
        ("librt.a", "librt.a"),
        ("libdl.a", "libdl.a"),
        ("libutil.a", "libutil.a"),
        ("libgcc_s.a", "libgcc_eh.a"),
    ] {
        if let Some(p) = find(real, &dirs) {
            link(name, &p);
        }
    }
    println!("cargo:rustc-link-search=native={}", dir.display());
    if pie {
        println!("cargo:rustc-link-arg-bins=-static-pie");
    } else {
        println!("cargo:rustc-link-arg-bins=-static");
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
