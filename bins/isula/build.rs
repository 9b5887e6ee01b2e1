//! Links the CLI statically against glibc, as a static PIE so it keeps ASLR (see
//! bins/static_glibc.rs).
//!
//! Why: every `isula` command is a new process, and its start-up is most of a quick
//! command's time (`isula version`, `isula ps`). Without the dynamic loader there are no
//! ld.so, libgcc_s, libm and libc to find, map and bind.

#[path = "../static_glibc.rs"]
mod static_glibc;

fn main() {
    static_glibc::link(true);
}
