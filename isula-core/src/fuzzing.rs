//! Entry points for the fuzz targets (`fuzz/targets`, crate `isula-fuzz-targets`): thin
//! wrappers that hand arbitrary input to internal parsers exactly as the engine does. Only
//! with the `fuzzing` feature; not part of the API.

use std::io::Read;
use std::path::Path;

use crate::error::Result;
use crate::image::manifest::{chain_ids, ImageConfig};

/// A manifest or index as the registry client receives it: media type from `content_type`
/// or the document, schema 1 refused, parsed; an index then has its entry for the host
/// platform selected. Returns the media type.
#[cfg(feature = "registry")]
pub fn registry_manifest(data: &[u8], content_type: Option<&str>) -> Result<String> {
    use crate::registry::manifest::{self, Manifest, Platform};
    let (media_type, m) = manifest::parse(data, content_type, "fuzz")?;
    match &m {
        Manifest::Image(im) => {
            assert_eq!(im.schema_version, 2, "manifest accepted with schemaVersion {}", im.schema_version);
        }
        Manifest::Index(ix) => {
            assert_eq!(ix.schema_version, 2, "index accepted with schemaVersion {}", ix.schema_version);
            let _ = manifest::select(ix, &Platform::host(), "fuzz");
            let _ = manifest::select(ix, &Platform::parse("linux/arm/v7")?, "fuzz");
        }
    }
    Ok(media_type)
}

/// An image config blob as pull and load check it; returns its chain ids' count.
pub fn image_config(data: &[u8]) -> Result<usize> {
    let c = ImageConfig::parse(data)?;
    let _ = (c.labels(), c.created_unix());
    Ok(chain_ids(&c.rootfs.diff_ids).len())
}

/// A platform string as `--platform` gives it.
#[cfg(feature = "registry")]
pub fn platform(s: &str) -> Result<String> {
    Ok(crate::registry::manifest::Platform::parse(s)?.to_string())
}

/// `load`'s reader: unpack a docker-archive or OCI layout from `reader` into `scratch` and
/// read its images (every layer fully verified). Returns the images' names.
pub fn read_archive(reader: &mut dyn Read, scratch: &Path) -> Result<Vec<String>> {
    let images = crate::image::archive::read_archive(reader, scratch, &|_| true)?;
    Ok(images.iter().flat_map(|i| i.names.iter().map(|n| n.to_string())).collect())
}

/// Apply a (possibly compressed) layer tar onto the directory `dest`, as the snapshotter
/// does. Returns the diff id.
pub fn apply_layer(reader: &mut dyn Read, dest: &Path) -> Result<String> {
    let opts = crate::layer::ApplyOptions::default();
    Ok(crate::layer::apply_layer_with(reader, dest, &opts)?.diff_id.to_string())
}

/// A CNI plugin's ADD result, read as attach reads it: the addresses, gateway and MAC of
/// `ifname`.
pub fn cni_result(data: &[u8], ifname: &str) -> Result<(Vec<String>, Option<String>, Option<String>)> {
    let v: serde_json::Value =
        serde_json::from_slice(data).map_err(|e| crate::Error::invalid(format!("not JSON: {e}")))?;
    let parsed = crate::network::cni::CniResult::from_value(&v)?;
    let ips = parsed.ips_of(ifname);
    Ok((
        ips.iter().map(|i| i.address.clone()).collect(),
        ips.iter().find_map(|i| i.gateway.clone()),
        parsed.sandbox_interface(ifname).and_then(|(_, i)| i.mac.clone()),
    ))
}

/// A CNI configuration list (or single plugin configuration) file; returns its plugin types.
pub fn cni_conflist(data: &[u8]) -> Result<Vec<String>> {
    Ok(crate::network::cni::NetworkConfigList::parse(data, "fuzz")?.plugin_types())
}

/// The container log reader (json-file or CRI format) over the file at `path`.
pub fn read_logs(path: &Path, opts: &crate::LogOptions, sink: &mut dyn FnMut(crate::LogLine) -> bool) -> Result<()> {
    crate::logs::read_logs(path, opts, sink)
}
