//! Real OCI images built from the host's busybox-static, without any network.
//!
//! Every builder is deterministic (fixed mtimes, fixed compression levels), so the same call
//! gives the same digests in every run. Layouts on disk and archives: [`write_oci_layout_dir`],
//! [`oci_archive`], [`docker_archive`].

mod archive;
mod index;
mod layer;
#[cfg(test)]
mod tests;

use std::io::{Read, Write};
use std::sync::OnceLock;

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

pub use archive::{
    docker_archive, normalize_name, oci_archive, write_oci_layout_dir, DockerLayout, IMAGE_NAME, REF_NAME,
};
pub use index::{multi_platform, write_oci_layout_dir_index, BuiltIndex, Platform};
pub use layer::{busybox_applets, raw_tar, read_tar, LayerBuilder, TarEntry, MTIME, SYMLINK_APPLETS};

/// Path of the static busybox binary the images are made of (Debian's busybox-static).
pub const BUSYBOX: &str = "/bin/busybox";
/// `created` timestamp written in configs and history (matches [`MTIME`]).
pub const CREATED: &str = "2024-01-01T00:00:00Z";
/// `PATH` set in the image config's `Env`.
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// OCI media type of an image manifest.
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI media type of an image index.
pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI media type of an image config.
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI media type of an uncompressed layer.
pub const MEDIA_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI media type of a gzip layer.
pub const MEDIA_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI media type of a zstd layer.
pub const MEDIA_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(data)))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A content-addressed blob: its bytes, digest and media type.
#[derive(Clone, PartialEq, Eq)]
pub struct Blob {
    /// `sha256:<hex>` of `data`.
    pub digest: String,
    /// OCI media type.
    pub media_type: String,
    /// The bytes as stored (compressed for compressed layers).
    pub data: Vec<u8>,
}

impl Blob {
    /// A blob of `data` with its digest computed.
    pub fn new(media_type: &str, data: Vec<u8>) -> Blob {
        Blob { digest: sha256_digest(&data), media_type: media_type.to_string(), data }
    }

    /// The hex part of the digest.
    pub fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }

    /// An OCI descriptor (`mediaType`, `digest`, `size`) for this blob.
    pub fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size()})
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} {} bytes {})", self.digest, self.data.len(), self.media_type)
    }
}

/// A complete single-platform OCI image.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    /// OCI image config JSON.
    pub config: Blob,
    /// Layer blobs as stored (uncompressed, gzip or zstd).
    pub layers: Vec<Blob>,
    /// `sha256:<hex>` of each uncompressed layer tar (the config's `rootfs.diff_ids`).
    pub diff_ids: Vec<String>,
    /// OCI image manifest JSON referencing `config` and `layers`.
    pub manifest: Blob,
}

impl BuiltImage {
    /// The image id as engines report it: the config digest.
    pub fn id(&self) -> &str {
        &self.config.digest
    }

    /// The parsed config JSON.
    pub fn config_json(&self) -> Value {
        serde_json::from_slice(&self.config.data).expect("image config is JSON")
    }

    /// The uncompressed tar of layer `i`.
    pub fn layer_tar(&self, i: usize) -> Vec<u8> {
        decompress(&self.layers[i])
    }

    /// Every blob of the image: config, layers, manifest.
    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        std::iter::once(&self.config).chain(self.layers.iter()).chain(std::iter::once(&self.manifest))
    }
}

/// Layer compression used by the builders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar (`…layer.v1.tar`).
    None,
    /// gzip, level 6 (`…layer.v1.tar+gzip`).
    Gzip,
    /// zstd, level 3 (`…layer.v1.tar+zstd`).
    Zstd,
}

impl Compression {
    /// The OCI layer media type for this compression.
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::None => MEDIA_LAYER_TAR,
            Compression::Gzip => MEDIA_LAYER_GZIP,
            Compression::Zstd => MEDIA_LAYER_ZSTD,
        }
    }
}

/// Compress a layer tar deterministically (gzip header mtime 0; fixed levels).
pub fn compress(tar: &[u8], c: Compression) -> Vec<u8> {
    compress_level(tar, c, false)
}

fn compress_level(tar: &[u8], c: Compression, fast: bool) -> Vec<u8> {
    match c {
        Compression::None => tar.to_vec(),
        Compression::Gzip => {
            let level = if fast { flate2::Compression::fast() } else { flate2::Compression::new(6) };
            let mut e = flate2::GzBuilder::new().mtime(0).write(Vec::new(), level);
            e.write_all(tar).expect("gzip layer");
            e.finish().expect("gzip layer")
        }
        Compression::Zstd => zstd::encode_all(tar, if fast { 1 } else { 3 }).expect("zstd layer"),
    }
}

/// The uncompressed bytes of a layer blob (by its media type; docker media types included).
pub fn decompress(layer: &Blob) -> Vec<u8> {
    let mut out = Vec::new();
    if layer.media_type.ends_with("gzip") {
        flate2::read::GzDecoder::new(&layer.data[..]).read_to_end(&mut out).expect("gunzip layer");
    } else if layer.media_type.ends_with("zstd") {
        out = zstd::decode_all(&layer.data[..]).expect("unzstd layer");
    } else {
        out = layer.data.clone();
    }
    out
}

/// OCI architecture name of the host (`amd64`, `arm64`, …).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The default image config (before `rootfs`/`history` are filled): host arch, linux, `Cmd ["sh"]`, `Env PATH`.
pub fn default_config() -> Value {
    json!({
        "created": CREATED,
        "architecture": host_arch(),
        "os": "linux",
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
    })
}

/// Build an image from uncompressed layer tars: `edit` may change the default config
/// ([`default_config`]) before `rootfs.diff_ids` and one `history` entry per layer are filled in.
pub fn build(layer_tars: &[Vec<u8>], compression: Compression, edit: impl FnOnce(&mut Value)) -> BuiltImage {
    build_inner(layer_tars, compression, false, edit)
}

fn build_inner(
    layer_tars: &[Vec<u8>],
    compression: Compression,
    fast: bool,
    edit: impl FnOnce(&mut Value),
) -> BuiltImage {
    let mut config = default_config();
    edit(&mut config);
    let diff_ids: Vec<String> = layer_tars.iter().map(|t| sha256_digest(t)).collect();
    let layers: Vec<Blob> =
        layer_tars.iter().map(|t| Blob::new(compression.media_type(), compress_level(t, compression, fast))).collect();
    config["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
    if config.get("history").is_none() {
        let history: Vec<Value> = (0..layer_tars.len())
            .map(|i| json!({"created": CREATED, "created_by": format!("isula-tests layer {i}")}))
            .collect();
        config["history"] = Value::Array(history);
    }
    let config = Blob::new(MEDIA_CONFIG, serde_json::to_vec(&config).expect("config JSON"));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": config.descriptor(),
        "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
    });
    let manifest = Blob::new(MEDIA_MANIFEST, serde_json::to_vec(&manifest).expect("manifest JSON"));
    BuiltImage { config, layers, diff_ids, manifest }
}

/// The busybox root filesystem as one uncompressed tar (cached; identical in every call):
/// `/bin/busybox`; one entry per applet of `busybox --list` in `/bin` (hard links to
/// `bin/busybox`, except [`SYMLINK_APPLETS`] which are symlinks to `busybox`), so `/bin/sh` exists;
/// `/etc/passwd` (root 0, app 1000 with home `/home/app`, nobody 65534), `/etc/group`
/// (root, app 1000, nogroup 65534); directories `/tmp` (1777), `/root` (0700), `/home/app`
/// (owned 1000:1000), `/proc`, `/sys`, `/dev`, `/usr/bin`, `/usr/sbin`, `/sbin`, `/var`.
/// No `/etc/hostname`, `/etc/hosts` or `/etc/resolv.conf`: the runtime provides them.
pub fn busybox_layer_tar() -> Vec<u8> {
    static TAR: OnceLock<Vec<u8>> = OnceLock::new();
    TAR.get_or_init(|| {
        let mut b = LayerBuilder::new();
        layer::add_busybox_rootfs(&mut b);
        b.finish()
    })
    .clone()
}

/// The busybox image: one gzip layer ([`busybox_layer_tar`]), `Cmd ["sh"]`.
pub fn busybox() -> BuiltImage {
    busybox_with(Compression::Gzip)
}

/// The busybox image with its single layer stored with `compression`. The config (and so the
/// image id) is the same for every compression; layer and manifest digests differ.
pub fn busybox_with(compression: Compression) -> BuiltImage {
    build(&[busybox_layer_tar()], compression, |_| {})
}

/// The busybox image plus one extra layer (`extra`, an uncompressed tar, e.g. from
/// [`LayerBuilder`]) and a config edited by `edit`; gzip layers.
pub fn busybox_plus(extra: Option<Vec<u8>>, edit: impl FnOnce(&mut Value)) -> BuiltImage {
    let mut tars = vec![busybox_layer_tar()];
    tars.extend(extra);
    build(&tars, Compression::Gzip, edit)
}

/// A three-layer gzip image for whiteout handling:
///
/// * layer 0: the busybox rootfs plus `/etc/removed-file` ("removed\n"), `/data/a` ("a\n"),
///   `/data/b` ("b\n"), `/data/keep` ("keep\n").
/// * layer 1: `etc/.wh.removed-file` (deletes `/etc/removed-file`), `data/.wh..wh..opq`
///   (opaque: hides a, b and keep from layer 0) and a new `/data/c` ("c\n").
/// * layer 2: a file `/layer3` ("layer3\n").
///
/// Unpacked result: no `/etc/removed-file`; `/data` holds exactly `c`; `/layer3` exists;
/// no `.wh.*` names anywhere.
pub fn multilayer_whiteouts() -> BuiltImage {
    let mut l0 = LayerBuilder::new();
    layer::add_busybox_rootfs(&mut l0);
    l0.file("etc/removed-file", 0o644, b"removed\n");
    l0.dir("data", 0o755);
    l0.file("data/a", 0o644, b"a\n").file("data/b", 0o644, b"b\n").file("data/keep", 0o644, b"keep\n");
    let mut l1 = LayerBuilder::new();
    l1.dir("etc", 0o755).whiteout("etc/removed-file");
    l1.dir("data", 0o755).opaque("data").file("data/c", 0o644, b"c\n");
    let mut l2 = LayerBuilder::new();
    l2.file("layer3", 0o644, b"layer3\n");
    build(&[l0.finish(), l1.finish(), l2.finish()], Compression::Gzip, |_| {})
}

/// Size of each pseudo-random file made by [`sized`].
pub const SIZED_FILE_BYTES: usize = 4 << 20;

/// Deterministic, incompressible bytes (splitmix64 stream seeded with `seed`).
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Busybox plus `total_bytes` of pseudo-random (incompressible) file data spread evenly over
/// `layers` layers (at least 1; layer 0 also holds the busybox rootfs). Layer `i` holds files
/// `/data/layer<i>/file<j>` of at most [`SIZED_FILE_BYTES`]. Layers are gzip (fastest level).
pub fn sized(total_bytes: usize, layers: usize) -> BuiltImage {
    sized_with(total_bytes, layers, Compression::Gzip)
}

/// [`sized`] with the layers stored with `compression` (gzip and zstd at their fastest level).
pub fn sized_with(total_bytes: usize, layers: usize, compression: Compression) -> BuiltImage {
    let n = layers.max(1);
    let mut tars = Vec::with_capacity(n);
    for i in 0..n {
        let share = total_bytes / n + usize::from(i < total_bytes % n);
        let mut b = LayerBuilder::new();
        if i == 0 {
            layer::add_busybox_rootfs(&mut b);
        }
        b.dir("data", 0o755).dir(&format!("data/layer{i}"), 0o755);
        let mut left = share;
        let mut j = 0;
        while left > 0 {
            let len = left.min(SIZED_FILE_BYTES);
            let seed = ((i as u64) << 32) | j as u64;
            b.file(&format!("data/layer{i}/file{j}"), 0o644, &pseudo_random(len, seed));
            left -= len;
            j += 1;
        }
        tars.push(b.finish());
    }
    build_inner(&tars, compression, true, |_| {})
}
