//! libisula: the C ABI over [`isula_core`].
//!
//! Built as `libisula.so` (SONAME `libisula.so.0`) and `libisula.a`; the C declarations are in
//! `include/isula.h`, generated from this crate by cbindgen (the ABI rules are at its top, see
//! `cbindgen.toml`). Every export runs behind [`boundary::guard`]: errors become an
//! [`isula_status`] plus an optional message, panics become `ISULA_INTERNAL`.
//!
//! The pointer contract of every `unsafe extern "C"` function is stated in its doc comment
//! (which cbindgen copies into the header), so the crate allows `missing_safety_doc`.

// The C ABI: raw pointers from C on every export, so `unsafe` is allowed crate-wide.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

// The promise that no panic crosses into C rests on catch_unwind, which needs unwinding.
#[cfg(panic = "abort")]
compile_error!("isula-ffi must be built with panic = \"unwind\" (catch_unwind keeps panics out of C)");

mod boundary;

// Declaration order is the order of the header (cbindgen keeps it): keep the blank lines,
// they stop rustfmt from sorting the modules.
pub mod status;

pub mod engine;

pub mod images;

pub mod containers;

pub mod events;

pub mod streams;

pub mod transfer;

pub mod networks;

pub mod volumes;

pub mod pods;

pub use containers::*;
pub use engine::*;
pub use events::*;
pub use images::*;
pub use networks::*;
pub use pods::*;
pub use status::*;
pub use streams::*;
pub use transfer::*;
pub use volumes::*;
