//! Fuzz target bodies: each `pub fn NAME(data: &[u8])` feeds arbitrary bytes to one of isula's
//! real parsers and panics only when the parser misbehaves (a panic inside it, an invariant
//! of its result broken, a write outside its scratch directory). The cargo-fuzz harnesses in
//! `fuzz/fuzz_targets/` call them under libFuzzer (nightly); `tests/replay.rs` replays every
//! file of `fuzz/corpus/<target>/` and `fuzz/artifacts/<target>/` through them on stable, so
//! CI needs no nightly.

mod archive;
mod cni;
mod cri_log;
mod daemon_config;
mod layer;
mod manifest;
mod reference;
mod shim_proto;
mod spdy;
mod template;
mod websocket;

pub use archive::archive;
pub use cni::cni;
pub use cri_log::cri_log;
pub use daemon_config::daemon_config;
pub use layer::layer;
pub use manifest::manifest;
pub use reference::reference;
pub use shim_proto::shim_proto;
pub use spdy::spdy;
pub use template::template;
pub use websocket::websocket;

/// A target body.
pub type Target = fn(&[u8]);

/// Every target by name, as the corpus directories and the harnesses are named.
pub const TARGETS: &[(&str, Target)] = &[
    ("reference", reference),
    ("manifest", manifest),
    ("archive", archive),
    ("layer", layer),
    ("daemon_config", daemon_config),
    ("cni", cni),
    ("template", template),
    ("shim_proto", shim_proto),
    ("cri_log", cri_log),
    ("spdy", spdy),
    ("websocket", websocket),
];

/// A scratch directory removed when dropped: on /dev/shm when there is one (fuzzing writes
/// a lot of small files), else in the temporary directory.
fn scratch() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let b = tempfile::Builder::new().prefix("isula-fuzz-").tempdir_in(shm);
    b.or_else(|_| tempfile::tempdir()).expect("create a scratch directory")
}
