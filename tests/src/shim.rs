//! The `isulad-shim` binary the runtime and container tests run containers under, and the
//! OCI runtimes they run against.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Both runtimes every runtime/container test runs against.
pub const RUNTIMES: [&str; 2] = ["runc", "crun"];

/// The isulad-shim binary: `$ISULA_SHIM` if set, else built once per test binary with
/// `cargo build -p isulad-shim` (a no-op when fresh) and found as `target/debug/isulad-shim`
/// relative to the test executable (`target/debug/deps/<test>`).
pub fn shim_path() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        if let Some(p) = std::env::var_os("ISULA_SHIM") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("test executable path");
        let target_debug = exe.parent().and_then(Path::parent).expect("target dir of the test").to_path_buf();
        let ws = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace dir");
        let st = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "isulad-shim"])
            .current_dir(ws)
            .status()
            .expect("run cargo build -p isulad-shim");
        assert!(st.success(), "cargo build -p isulad-shim failed");
        let p = target_debug.join("isulad-shim");
        assert!(p.is_file(), "{} missing", p.display());
        p
    })
    .clone()
}
