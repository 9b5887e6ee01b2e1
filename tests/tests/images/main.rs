//! End-to-end tests of the image store: load, save, tag, remove, bad archives and a
//! performance check (one test binary; each module was a test binary of its own before).

mod images_common;

mod bad;
mod crash;
mod load;
mod ops;
mod perf;
