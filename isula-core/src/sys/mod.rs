//! Operating-system primitives: the only module allowed to use `unsafe`.
//!
//! Everything else in the crate reaches the kernel through these small wrappers.

pub mod fs;
pub mod lock;
pub mod mount;
pub mod openat;
pub mod process;
pub mod xattr;

pub use fs::{atomic_write_json, fsync_dir, read_json};
pub use lock::FileLock;
