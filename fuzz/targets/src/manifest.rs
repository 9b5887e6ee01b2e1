//! Manifests and indexes (OCI and Docker schema 2) as the registry client parses and
//! checks them, image config blobs, and `--platform` strings.

use isula_core::fuzzing;

const CONTENT_TYPES: [Option<&str>; 8] = [
    None,
    Some("application/vnd.oci.image.manifest.v1+json"),
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
    Some("application/vnd.docker.distribution.manifest.list.v2+json"),
    Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
];

/// First byte: which Content-Type header came with the document (and, above 0x7f, that the
/// rest is an image config instead); the rest: the document.
pub fn manifest(data: &[u8]) {
    let Some((&sel, doc)) = data.split_first() else { return };
    if sel & 0x80 != 0 {
        let _ = fuzzing::image_config(doc);
        if let Ok(s) = std::str::from_utf8(doc) {
            if let Ok(p) = fuzzing::platform(s) {
                let again = fuzzing::platform(&p).unwrap_or_else(|e| panic!("platform {s:?} → {p:?}: {e}"));
                assert_eq!(again, p, "platform {s:?} does not normalise stably");
            }
        }
        return;
    }
    let ct = CONTENT_TYPES[usize::from(sel) % CONTENT_TYPES.len()];
    if let Ok(mt) = fuzzing::registry_manifest(doc, ct) {
        assert!(!mt.contains("distribution.manifest.v1"), "schema 1 accepted as {mt}");
    }
}
