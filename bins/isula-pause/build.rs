//! Links the pause program statically against glibc, `-static -no-pie` (see
//! bins/static_glibc.rs).

#[path = "../static_glibc.rs"]
mod static_glibc;

fn main() {
    static_glibc::link(false);
}
