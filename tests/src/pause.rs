//! The `isula-pause` binary pod tests run as the infra process.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The isula-pause binary: `$ISULA_PAUSE` if set, else built once per test binary with
/// `cargo build -p isula-pause` (a no-op when fresh) and found as `target/debug/isula-pause`
/// relative to the test executable.
pub fn pause_path() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| crate::env::workspace_binary("ISULA_PAUSE", "isula-pause")).clone()
}
