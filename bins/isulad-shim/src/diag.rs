//! The shim's own diagnostics: lines appended to `shim.log` in its state dir. The file is
//! made by the first line, so a shim with nothing to report creates none (one file fewer per
//! container and per exec). The engine shows its last lines when a shim fails to report.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use isula_shim_proto::proto::SHIM_LOG;

static PATH: OnceLock<PathBuf> = OnceLock::new();

/// Send diagnostics, panics included, to `shim.log` in `state_dir` from now on.
pub(crate) fn init(state_dir: &Path) {
    let path = std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.to_path_buf()).join(SHIM_LOG);
    let _ = PATH.set(path);
    std::panic::set_hook(Box::new(|info| line(format_args!("{info}"))));
}

/// Append the line `isulad-shim: ARGS` (best effort; to stderr before [`init`]).
pub(crate) fn line(args: fmt::Arguments<'_>) {
    let text = format!("isulad-shim: {args}\n");
    match PATH.get() {
        Some(p) => {
            if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(p) {
                let _ = f.write_all(text.as_bytes());
            }
        }
        None => {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }
}

/// `diag!("…", args)`: one line of diagnostics (see [`line`]).
macro_rules! diag {
    ($($t:tt)*) => { $crate::diag::line(format_args!($($t)*)) };
}
pub(crate) use diag;
