//! docker-archive writer (`docker save` format): `manifest.json`, `repositories`,
//! `<config-hex>.json` and `<diff-id-hex>/layer.tar` (uncompressed) per layer.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};

use serde::Serialize;

use crate::content::ContentStore;
use crate::digest::HashingReader;
use crate::error::{Error, Result};
use crate::image::manifest::{self, Compression};
use crate::image::store::ImageRecord;
use crate::reference::Reference;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// Write `images` (record and the names to record for it) as one docker-archive.
pub(crate) fn write(
    content: &ContentStore,
    images: &[(ImageRecord, Vec<Reference>)],
    out: &mut dyn Write,
) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut entries = Vec::new();
    let mut repos: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut written: BTreeSet<String> = BTreeSet::new();
    let mtime = 0u64;
    for (rec, names) in images {
        let config_name = format!("{}.json", rec.id.hex());
        if written.insert(config_name.clone()) {
            let data = content.read(&rec.id, super::MAX_JSON)?;
            append(&mut tar, &config_name, &mut &data[..], data.len() as u64, mtime)?;
        }
        let mut layer_paths = Vec::new();
        for (desc, diff_id) in rec.layers.iter().zip(&rec.diff_ids) {
            let dir = diff_id.hex().to_string();
            let path = format!("{dir}/layer.tar");
            if written.insert(path.clone()) {
                append(&mut tar, &format!("{dir}/VERSION"), &mut &b"1.0"[..], 3, mtime)?;
                let json = serde_json::to_vec(&serde_json::json!({ "id": dir }))?;
                append(&mut tar, &format!("{dir}/json"), &mut &json[..], json.len() as u64, mtime)?;
                write_layer(content, &mut tar, &desc.digest, diff_id, &path, mtime)?;
            }
            layer_paths.push(path);
        }
        let top = rec.diff_ids.last().map(|d| d.hex().to_string()).unwrap_or_default();
        for n in names {
            if let Some(t) = n.tag() {
                repos.entry(n.familiar_repository()).or_default().insert(t.to_string(), top.clone());
            }
        }
        entries.push(Entry {
            config: config_name,
            repo_tags: names.iter().filter(|n| n.tag().is_some()).map(|n| n.familiar()).collect(),
            layers: layer_paths,
        });
    }
    let m = serde_json::to_vec(&entries)?;
    append(&mut tar, "manifest.json", &mut &m[..], m.len() as u64, mtime)?;
    if !repos.is_empty() {
        let r = serde_json::to_vec(&repos)?;
        append(&mut tar, "repositories", &mut &r[..], r.len() as u64, mtime)?;
    }
    tar.finish().map_err(|e| Error::io("archive", "finish", e))?;
    Ok(())
}

fn append(tar: &mut tar::Builder<&mut dyn Write>, path: &str, r: &mut dyn Read, size: u64, mtime: u64) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    tar.append_data(&mut h, path, r).map_err(|e| Error::io(path, "write archive entry", e))
}

/// Write a layer uncompressed: compressed blobs are decompressed twice (size, then data) so
/// nothing is held in memory or spilled to disk; the result is checked against the diff id.
fn write_layer(
    content: &ContentStore,
    tar: &mut tar::Builder<&mut dyn Write>,
    blob: &crate::Digest,
    diff_id: &crate::Digest,
    path: &str,
    mtime: u64,
) -> Result<()> {
    let open = || -> Result<Box<dyn Read>> {
        let (head, r) = manifest::peek(content.open_blob(blob)?, 512)?;
        manifest::sniff_compression(&head)?;
        crate::layer::decompress(r)
    };
    let (head, _) = manifest::peek(content.open_blob(blob)?, 512)?;
    let size = if manifest::sniff_compression(&head)? == Compression::None {
        content.size(blob)?
    } else {
        io::copy(&mut open()?, &mut io::sink()).map_err(|e| Error::io(content.path(blob), "decompress", e))?
    };
    let mut hr = HashingReader::new(open()?);
    append(tar, path, &mut hr, size, mtime)?;
    let (got, _) = hr.finish()?;
    if &got != diff_id {
        return Err(Error::internal(format!("stored layer {blob} does not match diff id {diff_id} (got {got})")));
    }
    Ok(())
}
