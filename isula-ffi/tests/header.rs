//! include/isula.h must be exactly what cbindgen generates from this crate.
//! Regenerate it with `ISULA_UPDATE_HEADER=1 cargo test -p isula-ffi --test header`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn generate() -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen failed to generate the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("header is UTF-8")
}

fn header_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/isula.h")
}

/// A unified diff of the two texts (via diff(1) when available, else both texts).
fn diff(old: &str, new: &str) -> String {
    let dir = std::env::temp_dir().join(format!("isula-header-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("checked-in.h"), dir.join("generated.h"));
    std::fs::write(&a, old).unwrap();
    std::fs::write(&b, new).unwrap();
    let out = Command::new("diff").arg("-u").arg(&a).arg(&b).output();
    let _ = std::fs::remove_dir_all(&dir);
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(_) => format!("--- checked in\n{old}\n+++ generated\n{new}"),
    }
}

#[test]
fn checked_in_header_matches_generated() {
    let generated = generate();
    let path = header_path();
    if std::env::var_os("ISULA_UPDATE_HEADER").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        panic!(
            "include/isula.h is out of date with isula-ffi/src; regenerate it with\n  ISULA_UPDATE_HEADER=1 cargo test -p isula-ffi --test header\n{}",
            diff(&checked_in, &generated)
        );
    }
}

#[test]
fn header_states_the_abi() {
    let h = generate();
    for needle in [
        "typedef struct isula_engine isula_engine;",
        "ISULA_OK = 0,",
        "ISULA_INTERNAL = 9",
        "isula_status isula_engine_open(const char *config_json,",
        "void isula_engine_close(isula_engine *engine);",
        "void isula_string_free(char *s);",
        "typedef void (*isula_json_cb)(const char *json, void *user);",
        "ABI rules",
    ] {
        assert!(h.contains(needle), "generated header lacks {needle:?}:\n{h}");
    }
    // every exported function states ownership of its pointer parameters
    let mut checked = 0;
    for piece in h.split("/**").skip(1) {
        let (doc, decl) = piece.split_once("*/").expect("closed comment");
        let decl = decl.split(';').next().unwrap_or_default();
        if !decl.contains("typedef") && decl.split_once('(').is_some_and(|(_, params)| params.contains('*')) {
            checked += 1;
            let owns = doc.contains("borrowed") || doc.contains("owned, taken");
            assert!(owns, "no ownership stated for:{decl}\n(doc: {doc})");
        }
    }
    assert!(checked >= 20, "only {checked} functions with pointer parameters found");
}
