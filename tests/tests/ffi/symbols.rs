//! The exported symbol set of libisula.so is checked in (`isula-ffi/libisula.symbols`): each
//! symbol with its version node and its C prototype from include/isula.h. The test fails when
//! a recorded symbol disappears, changes version or changes prototype while the SONAME stays
//! the same, and when a new symbol is not recorded yet. Regenerate the list with
//! `ISULA_UPDATE_SYMBOLS=1 cargo test -p isula-tests --test ffi symbols` (refused while it
//! would drop or change a symbol under the same SONAME).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use isula_tests::env::{require, run_ok};

use crate::c::lib_dir;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn list_path() -> PathBuf {
    workspace().join("isula-ffi/libisula.symbols")
}

/// The recorded list: SONAME and `name@@VERSION` -> prototype.
struct Symbols {
    soname: String,
    symbols: BTreeMap<String, String>,
}

impl Symbols {
    fn parse(text: &str) -> Symbols {
        let mut soname = String::new();
        let mut symbols = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            if let Some(s) = line.strip_prefix("SONAME ") {
                soname = s.trim().to_string();
            } else {
                let (sym, proto) = line.split_once(' ').unwrap_or((line, ""));
                symbols.insert(sym.to_string(), proto.trim().to_string());
            }
        }
        Symbols { soname, symbols }
    }

    fn render(&self) -> String {
        let mut s = String::from(
            "# The exported symbols of libisula.so with their version nodes and C prototypes.\n\
             # Checked by tests/tests/ffi/symbols.rs; build.rs takes each symbol's node from here.\n\
             # Regenerate: ISULA_UPDATE_SYMBOLS=1 cargo test -p isula-tests --test ffi symbols\n",
        );
        s.push_str(&format!("SONAME {}\n", self.soname));
        for (sym, proto) in &self.symbols {
            s.push_str(&format!("{sym} {proto}\n"));
        }
        s
    }
}

/// Function name -> prototype (whitespace collapsed) of every function declared in the header.
fn prototypes(header: &str) -> BTreeMap<String, String> {
    let mut code = String::new();
    let mut rest = header;
    while let Some(i) = rest.find("/*") {
        code.push_str(&rest[..i]);
        rest = rest[i..].split_once("*/").map_or("", |(_, r)| r);
    }
    code.push_str(rest);
    let code: String = code
        .lines()
        .filter(|l| !l.starts_with('#') && !l.contains("extern \"C\"") && !l.starts_with('}'))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeMap::new();
    for decl in code.split(';') {
        let decl = decl.split_whitespace().collect::<Vec<_>>().join(" ");
        if decl.contains("typedef") {
            continue;
        }
        let Some((head, _)) = decl.split_once('(') else { continue };
        let name = head.rsplit([' ', '*']).next().unwrap_or_default();
        if name.starts_with("isula_") {
            out.insert(name.to_string(), decl.clone());
        }
    }
    out
}

/// The SONAME and the recorded form of every symbol the built library exports.
fn built() -> Symbols {
    let so = lib_dir().join("libisula.so");
    let dynamic = run_ok(Command::new("readelf").arg("-d").arg(&so));
    let soname = dynamic
        .lines()
        .find_map(|l| l.split_once("Library soname: [").map(|(_, r)| r.trim_end_matches(']').to_string()))
        .unwrap_or_else(|| panic!("libisula.so has no SONAME:\n{dynamic}"));
    let nm = run_ok(Command::new("nm").args(["-D", "--defined-only"]).arg(&so));
    let header = std::fs::read_to_string(workspace().join("include/isula.h")).unwrap();
    let protos = prototypes(&header);
    let mut symbols = BTreeMap::new();
    for line in nm.lines() {
        let mut f = line.split_whitespace();
        let (kind, sym) = match (f.next(), f.next(), f.next()) {
            (Some(_), Some(k), Some(s)) => (k, s),
            (Some(k), Some(s), None) => (k, s),
            _ => continue,
        };
        if kind == "A" {
            continue; // the version node definitions themselves
        }
        let name = sym.split('@').next().unwrap();
        assert!(name.starts_with("isula_"), "libisula.so exports a symbol outside the isula_ namespace: {line}");
        assert!(sym.contains("@@ISULA_"), "{sym} has no ISULA_ version node");
        let proto = protos.get(name).unwrap_or_else(|| panic!("{name} is exported but not declared in isula.h"));
        symbols.insert(sym.to_string(), proto.clone());
    }
    Symbols { soname, symbols }
}

#[test]
fn prototypes_are_read_from_the_header() {
    let h = "/** doc; with a semicolon */\ntypedef void (*isula_json_cb)(const char *json, void *user);\n\
             #ifdef __cplusplus\nextern \"C\" {\n#endif\nisula_status isula_info(const isula_engine *engine,\n    char **err);\n\
             const char *isula_version(void);\n}  // extern \"C\"\n";
    let p = prototypes(h);
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p["isula_info"], "isula_status isula_info(const isula_engine *engine, char **err)");
    assert_eq!(p["isula_version"], "const char *isula_version(void)");
}

#[test]
fn symbols_match_the_checked_in_list() {
    if !require("nm") || !require("readelf") {
        return;
    }
    let now = built();
    assert!(now.symbols.len() >= 70, "{}", now.render());
    let recorded = Symbols::parse(&std::fs::read_to_string(list_path()).unwrap_or_default());
    let same_soname = recorded.soname == now.soname;
    // Recorded symbols that are gone or differ (version node or prototype).
    let broken: Vec<String> = recorded
        .symbols
        .iter()
        .filter(|(sym, proto)| now.symbols.get(*sym) != Some(*proto))
        .map(|(sym, proto)| format!("{sym} {proto}"))
        .collect();
    let added: Vec<&String> = now.symbols.keys().filter(|s| !recorded.symbols.contains_key(*s)).collect();
    if std::env::var_os("ISULA_UPDATE_SYMBOLS").is_some() {
        assert!(
            !same_soname || broken.is_empty(),
            "refusing to record the removal or change of symbols under the same SONAME {}: {broken:#?}\n\
             (a new version node for additions; a new SONAME for removals and changes)",
            now.soname
        );
        std::fs::write(list_path(), now.render()).unwrap();
        return;
    }
    assert!(
        !same_soname || broken.is_empty(),
        "symbols of {} disappeared or changed without a new SONAME (removing or changing a symbol breaks \
         programs linked against it):\n{broken:#?}",
        now.soname
    );
    assert!(
        same_soname && added.is_empty(),
        "isula-ffi/libisula.symbols is out of date (SONAME {} -> {}, new symbols {added:?}); regenerate it with\n  \
         ISULA_UPDATE_SYMBOLS=1 cargo test -p isula-tests --test ffi symbols",
        recorded.soname,
        now.soname
    );
}
