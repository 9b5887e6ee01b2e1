//! The `isula-pause` binary pod tests run as the infra process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The isula-pause binary: `$ISULA_PAUSE` if set, else built once per test binary with
/// `cargo build -p isula-pause` (a no-op when fresh) and found as `target/debug/isula-pause`
/// relative to the test executable.
pub fn pause_path() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        if let Some(p) = std::env::var_os("ISULA_PAUSE") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("test executable path");
        let target_debug = exe.parent().and_then(Path::parent).expect("target dir of the test").to_path_buf();
        let ws = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace dir");
        let st = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "isula-pause"])
            .current_dir(ws)
            .status()
            .expect("run cargo build -p isula-pause");
        assert!(st.success(), "cargo build -p isula-pause failed");
        let p = target_debug.join("isula-pause");
        assert!(p.is_file(), "{} missing", p.display());
        p
    })
    .clone()
}
