//! `load`'s docker-archive `manifest.json` and OCI layout `index.json`: the fuzzed document is
//! packed into an otherwise valid archive (a config, a layer, an OCI manifest, a symlink) and
//! read by the real archive reader into a scratch directory.
//!
//! In the document, `@CONFIG@`, `@LAYER@` and `@MANIFEST@` stand for the hex digests of the
//! archive's blobs and `@CSIZE@`, `@LSIZE@`, `@MSIZE@` for their sizes, so that seeds can name
//! them and the fuzzer can keep them while mutating the rest.

use std::sync::OnceLock;

use isula_core::fuzzing;
use sha2::{Digest as _, Sha256};

struct Blobs {
    layer: Vec<u8>,
    config: Vec<u8>,
    manifest: Vec<u8>,
    hex: [String; 3],
}

fn hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn blobs() -> &'static Blobs {
    static B: OnceLock<Blobs> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "etc/hello", &b"hi\n"[..]).expect("layer tar");
        let layer = b.into_inner().expect("layer tar");
        let lhex = hex(&layer);
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{"Labels":{{"a":"b"}}}},"rootfs":{{"type":"layers","diff_ids":["sha256:{lhex}"]}}}}"#
        )
        .into_bytes();
        let chex = hex(&config);
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{chex}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:{lhex}","size":{}}}]}}"#,
            config.len(),
            layer.len()
        )
        .into_bytes();
        let mhex = hex(&manifest);
        Blobs { layer, config, manifest, hex: [chex, lhex, mhex] }
    })
}

fn substitute(doc: &[u8], b: &Blobs) -> Vec<u8> {
    let mut s = String::from_utf8_lossy(doc).into_owned();
    for (k, v) in [
        ("@CONFIG@", b.hex[0].clone()),
        ("@LAYER@", b.hex[1].clone()),
        ("@MANIFEST@", b.hex[2].clone()),
        ("@CSIZE@", b.config.len().to_string()),
        ("@LSIZE@", b.layer.len().to_string()),
        ("@MSIZE@", b.manifest.len().to_string()),
    ] {
        s = s.replace(k, &v);
    }
    s.into_bytes()
}

fn file(t: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    t.append_data(&mut h, path, data).expect("archive tar");
}

/// First byte: bit 0 chooses docker-archive (`manifest.json`) or OCI layout (`index.json`);
/// the rest is that document.
pub fn archive(data: &[u8]) {
    let Some((&sel, doc)) = data.split_first() else { return };
    let b = blobs();
    let doc = substitute(doc, b);
    let mut t = tar::Builder::new(Vec::new());
    let [c, l, m] = &b.hex;
    if sel & 1 == 0 {
        file(&mut t, "manifest.json", &doc);
        file(&mut t, &format!("{c}.json"), &b.config);
        file(&mut t, &format!("{l}/layer.tar"), &b.layer);
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        t.append_link(&mut h, "link/layer.tar", format!("../{l}/layer.tar")).expect("archive tar");
    } else {
        file(&mut t, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        file(&mut t, "index.json", &doc);
    }
    file(&mut t, &format!("blobs/sha256/{c}"), &b.config);
    file(&mut t, &format!("blobs/sha256/{l}"), &b.layer);
    file(&mut t, &format!("blobs/sha256/{m}"), &b.manifest);
    let tarball = t.into_inner().expect("archive tar");
    let scratch = crate::scratch();
    if let Ok(names) = fuzzing::read_archive(&mut &tarball[..], scratch.path()) {
        for n in names {
            let r = isula_core::Reference::parse(&n).unwrap_or_else(|e| panic!("loaded name {n:?}: {e}"));
            assert_eq!(r.to_string(), n, "loaded name {n:?} is not normalised");
        }
    }
}
