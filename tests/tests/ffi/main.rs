//! Tests of the C ABI (`isula-ffi`): called from Rust, from C, and the embedding example
//! (one test binary; each module was a test binary of its own before).

mod abi;
mod c;
mod embed;
