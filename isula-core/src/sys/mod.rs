//! Operating-system primitives: the only module allowed to use `unsafe`.
//!
//! Everything else in the crate reaches the kernel through these small wrappers.

pub(crate) mod fs;
pub(crate) mod lock;
pub(crate) mod mount;
pub(crate) mod netif;
pub(crate) mod openat;
pub(crate) mod process;
pub(crate) mod xattr;

pub(crate) use fs::{atomic_write_json, fsync_dir, read_json};
pub(crate) use lock::FileLock;
