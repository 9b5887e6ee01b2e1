//! The `isulad-shim` binary the runtime and container tests run containers under, and the
//! OCI runtimes they run against.

use std::path::PathBuf;
use std::sync::OnceLock;

/// Both runtimes every runtime/container test runs against.
pub const RUNTIMES: [&str; 2] = ["runc", "crun"];

/// The isulad-shim binary: `$ISULA_SHIM` if set, else built once per test binary with
/// `cargo build -p isulad-shim` (a no-op when fresh) and found as `target/debug/isulad-shim`
/// relative to the test executable (`target/debug/deps/<test>`).
pub fn shim_path() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| crate::env::workspace_binary("ISULA_SHIM", "isulad-shim")).clone()
}
