//! The image reference parser (`isula_core::Reference`).

use isula_core::Reference;

/// Parses `data` as an image reference; an accepted one must print back to a reference that
/// parses to the same value, and stay within its documented limits.
pub fn reference(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    for named in [false, true] {
        let parsed = if named { Reference::parse_named(s) } else { Reference::parse(s) };
        let Ok(r) = parsed else { continue };
        let printed = r.to_string();
        let again =
            Reference::parse_named(&printed).unwrap_or_else(|e| panic!("{s:?} → {printed:?} does not parse: {e}"));
        assert_eq!(again, r, "{s:?} → {printed:?} parses differently");
        // As in Docker, `docker.io/a.b/c` is familiar `a.b/c`, which names the registry a.b:
        // the familiar form is for display; only there may it not read back.
        let first = r.path().split('/').next().unwrap_or_default();
        let hub_path_like_domain = r.domain() == "docker.io" && (first.contains(['.', ':']) || first == "localhost");
        if !hub_path_like_domain {
            let familiar = r.familiar();
            let back = Reference::parse_named(&familiar).unwrap_or_else(|e| panic!("{s:?} familiar {familiar:?}: {e}"));
            assert_eq!(back, r, "{s:?} familiar {familiar:?} parses differently");
        }
        assert!(!r.domain().is_empty() && !r.path().is_empty(), "{s:?} → empty domain or path");
        if !named {
            assert!(!r.is_name_only(), "{s:?}: parse left the reference name-only");
        }
    }
}
