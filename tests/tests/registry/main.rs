//! End-to-end tests of the registry client against local registries: faults, a real
//! registry and a benchmark (one test binary; each module was a test binary of its own before).

mod registry_support;

mod bench;
mod faults;
mod mirrors;
mod real;
