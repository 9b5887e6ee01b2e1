//! Tests of the C ABI (`isula-ffi`): called from Rust, from C and C++, the embedding example,
//! and the checked-in symbol list (one test binary; each module was a test binary of its own
//! before).

mod abi;
mod c;
mod cpp;
mod embed;
mod streams;
mod symbols;
