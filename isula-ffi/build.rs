//! Gives libisula.so its SONAME, so programs record `libisula.so.0` as their dependency.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libisula.so.0");
    println!("cargo:rerun-if-changed=build.rs");
}
