//! Shared test support for isula's end-to-end tests; nothing here needs the internet.
//!
//! * [`images`]: real, deterministic OCI images built from the host's busybox-static
//!   (`busybox()`, `multilayer_whiteouts()`, `sized()`, `multi_platform()`, custom ones with
//!   `LayerBuilder` + `build()`), written as OCI layouts, oci-archives or `docker save` archives.
//! * [`env`]: `TestRoot` (a private graph/state pair that unmounts and removes itself) and
//!   `require()` for prerequisites (panics in CI, skips elsewhere).
//! * [`registry`]: a real `docker-registry` on 127.0.0.1 (http, TLS, basic auth) with `push()`.
//! * [`poll`]: `wait_until(timeout, what, || cond)` and friends, instead of sleep-then-assert.
//! * [`pause`]: the `isula-pause` binary (built on demand), the infra process of pods.
//! * [`net`]: `free_subnet()`, a random 10.x.y.0/24 clear of the host's routes.
//! * [`shim`]: the `isulad-shim` binary (built on demand) and the runtimes to test (runc, crun).
//!
//! ```no_run
//! use isula_tests::{env, images, registry};
//! let root = env::TestRoot::new();
//! let img = images::busybox();
//! images::write_oci_layout_dir(&img, Some("latest"), &root.path().join("layout"));
//! if registry::available(&registry::RegistryMode::Http) && env::require("skopeo") {
//!     let reg = registry::Registry::start(registry::RegistryMode::Http);
//!     let name = reg.push(&img, "busybox:latest"); // "127.0.0.1:PORT/busybox:latest"
//!     # let _ = name;
//! }
//! ```

#![warn(missing_docs)]

pub mod env;
pub mod images;
pub mod net;
pub mod pause;
pub mod poll;
pub mod registry;
pub mod shim;
