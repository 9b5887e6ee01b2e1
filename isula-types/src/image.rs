//! Images: the option and result types of the image operations, in Docker's JSON shapes
//! (PascalCase keys, as `docker image inspect` and the Engine API's image list).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Options of `isula_core::Engine::load`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadOptions {
    /// Name the loaded image (single-image archives only), replacing the archive's names.
    pub tag: Option<String>,
}

/// One image made by `isula_core::Engine::load`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadedImage {
    /// Image id (`sha256:` config digest).
    pub id: String,
    /// Full names given to it (`docker.io/library/busybox:latest`).
    pub names: Vec<String>,
}

/// Options of `isula_core::Engine::import`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportOptions {
    /// Name for the new image.
    pub reference: Option<String>,
    /// Commit message recorded in the image history.
    pub message: Option<String>,
}

/// Options of `isula_core::Engine::images`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListImagesOptions {
    /// Show intermediate images too (there are none in this store; accepted for compatibility).
    pub all: bool,
    /// Filters `key=value`: `reference=busy*`, `dangling=true|false`, `label=k` / `label=k=v`,
    /// `before=<image>`, `since=<image>`. Filters of the same key are OR-ed, different keys AND-ed.
    pub filters: Vec<String>,
}

/// One line of `docker images`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    /// Image id (`sha256:` config digest).
    pub id: String,
    /// Familiar `repo:tag` names (`busybox:latest`).
    pub repo_tags: Vec<String>,
    /// Familiar `repo@digest` names.
    pub repo_digests: Vec<String>,
    /// Creation time from the image config, seconds since the epoch (0 if unknown).
    pub created: i64,
    /// Uncompressed size of all layers in bytes.
    pub size: u64,
    /// Labels of the image config.
    pub labels: BTreeMap<String, String>,
}

/// `docker image inspect` output (Docker field names).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    /// Image id.
    pub id: String,
    /// Familiar `repo:tag` names.
    pub repo_tags: Vec<String>,
    /// Familiar `repo@digest` names.
    pub repo_digests: Vec<String>,
    /// Creation time (RFC 3339) from the config.
    pub created: String,
    /// Author from the config.
    pub author: String,
    /// Uncompressed size in bytes.
    pub size: u64,
    /// The config's `config` object (Env, Cmd, Entrypoint, WorkingDir, Labels, …).
    pub config: serde_json::Value,
    /// CPU architecture.
    pub architecture: String,
    /// Architecture variant, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub variant: Option<String>,
    /// Operating system.
    pub os: String,
    /// Layer diff ids.
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    /// Storage driver.
    pub graph_driver: GraphDriver,
    /// Manifest digest and media type as stored.
    pub manifest: ManifestRef,
}

/// `RootFS` of [`ImageInspect`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Diff ids, bottom first.
    pub layers: Vec<String>,
}

/// `GraphDriver` of [`ImageInspect`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    /// Always `overlay2`.
    pub name: String,
    /// Driver data (empty).
    pub data: BTreeMap<String, String>,
}

/// The stored manifest of an image.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManifestRef {
    /// Manifest digest.
    pub digest: String,
    /// Manifest media type.
    pub media_type: String,
}

/// Options of `isula_core::Engine::remove_image`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveImageOptions {
    /// Remove even when referenced by several names or used by a container.
    pub force: bool,
    /// Do not delete untagged parents (accepted for compatibility; this store has no parent images).
    pub no_prune: bool,
}

/// One effect of `isula_core::Engine::remove_image`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemovedImage {
    /// A name was removed (familiar form).
    Untagged(String),
    /// The image was deleted (its id).
    Deleted(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_are_dockers() {
        let s = ImageSummary {
            id: "sha256:ab".into(),
            repo_tags: vec!["busybox:latest".into()],
            repo_digests: vec![],
            created: 7,
            size: 9,
            labels: BTreeMap::new(),
        };
        let v = serde_json::to_value(&s).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["Created", "Id", "Labels", "RepoDigests", "RepoTags", "Size"]);
        assert_eq!(serde_json::from_value::<ImageSummary>(v).unwrap(), s);
        let l = serde_json::to_value(LoadedImage { id: "sha256:ab".into(), names: vec!["x".into()] }).unwrap();
        assert_eq!(l, serde_json::json!({"Id": "sha256:ab", "Names": ["x"]}));
        let o: ListImagesOptions = serde_json::from_str(r#"{"All":true,"Filters":["dangling=true"]}"#).unwrap();
        assert!(o.all && o.filters == ["dangling=true"]);
        let r = serde_json::to_value(RemoveImageOptions { force: true, no_prune: false }).unwrap();
        assert_eq!(r, serde_json::json!({"Force": true, "NoPrune": false}));
    }
}
