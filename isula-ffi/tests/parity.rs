//! Every public operation of `isula_core::Engine` and its views has a C export, or is a
//! commented exception in `isula-ffi/parity.txt`; every export named there exists.
//!
//! The operations are read from the source (`isula-core/src/engine/**/*.rs`): each `pub fn`
//! directly inside an `impl Engine` or `impl <View><'_>` block, except blocks behind a
//! `#[cfg(...)]` that names `test` (the `test-util` hooks, unit tests).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const VIEWS: [&str; 6] = ["Engine", "Containers", "Images", "Networks", "Volumes", "Pods"];

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `View::name` of every public operation in one source file.
fn operations_in(src: &str) -> Vec<String> {
    let mut ops = Vec::new();
    let mut current: Option<&str> = None;
    let mut prev = "";
    for line in src.lines() {
        if let Some(rest) = line.strip_prefix("impl ") {
            let ty = rest.split(['<', ' ', '{']).next().unwrap_or_default();
            let gated = prev.starts_with("#[cfg(") && prev.contains("test");
            current = VIEWS.iter().copied().find(|v| *v == ty).filter(|_| !gated);
        } else if line == "}" {
            current = None;
        } else if let (Some(view), Some(rest)) = (current, line.strip_prefix("    pub fn ")) {
            let gated = prev.trim_start().starts_with("#[cfg(") && prev.contains("test");
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !gated {
                ops.push(format!("{view}::{name}"));
            }
        }
        if !line.trim().is_empty() && !line.trim_start().starts_with("///") {
            prev = line;
        }
    }
    ops
}

fn source_operations() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&crate_dir().join("../isula-core/src/engine"), &mut files);
    files.iter().flat_map(|f| operations_in(&std::fs::read_to_string(f).unwrap())).collect()
}

/// operation -> exports (empty for an exception).
fn table() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(crate_dir().join("parity.txt")).unwrap();
    let mut t = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        let op = words.next().unwrap().to_string();
        let exports: Vec<String> = words.filter(|w| *w != "-").map(String::from).collect();
        assert!(t.insert(op.clone(), exports).is_none(), "{op} is listed twice in parity.txt");
    }
    t
}

/// The names of the `extern "C"` functions of this crate.
fn exports() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&crate_dir().join("src"), &mut files);
    let mut names = BTreeSet::new();
    for f in files {
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            if let Some((_, rest)) = line.split_once("extern \"C\" fn ") {
                names.insert(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
            }
        }
    }
    names
}

#[test]
fn the_parser_sees_views_and_skips_gated_blocks() {
    let src = "impl Containers<'_> {\n    /// doc\n    pub fn start(&self) {}\n    fn private(&self) {}\n}\n\
               #[cfg(any(test, feature = \"test-util\"))]\nimpl Engine {\n    pub fn hook_for_test(&self) {}\n}\n\
               impl Engine {\n    pub(crate) fn inner(&self) {}\n    #[cfg(feature = \"test-util\")]\n    pub fn seam(&self) {}\n\
               \n    pub fn info(&self) {}\n}\nimpl Other {\n    pub fn x() {}\n}\n";
    assert_eq!(operations_in(src), ["Containers::start", "Engine::info"]);
}

#[test]
fn every_engine_operation_has_a_c_export_or_a_stated_exception() {
    let ops = source_operations();
    assert!(ops.len() >= 60, "only {} operations found: {ops:?}", ops.len());
    assert!(ops.contains("Containers::pause") && ops.contains("Pods::run"), "{ops:?}");
    let table = table();
    let missing: Vec<&String> = ops.iter().filter(|o| !table.contains_key(*o)).collect();
    assert!(
        missing.is_empty(),
        "public Engine operations without a C export (add one, or a commented exception, in isula-ffi/parity.txt): {missing:?}"
    );
    let stale: Vec<&String> = table.keys().filter(|o| !ops.contains(*o)).collect();
    assert!(stale.is_empty(), "isula-ffi/parity.txt names operations that no longer exist: {stale:?}");
    let exports = exports();
    for (op, names) in &table {
        for n in names {
            assert!(exports.contains(n), "parity.txt maps {op} to {n}, which libisula does not export");
        }
    }
    let exceptions = table.values().filter(|v| v.is_empty()).count();
    assert!(exceptions <= 12, "the exception list should stay short ({exceptions})");
}
