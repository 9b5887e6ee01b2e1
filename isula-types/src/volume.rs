//! Volumes: the data of `volume ls/inspect/create/prune` in Docker's shapes, list filters
//! and name validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A volume as `docker volume inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    /// Volume name.
    pub name: String,
    /// Driver (`local`).
    pub driver: String,
    /// Host path of the volume's content.
    pub mountpoint: String,
    /// Creation time (whole seconds, as Docker).
    pub created_at: crate::time::Timestamp,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// `local`.
    pub scope: String,
    /// Driver options.
    pub options: BTreeMap<String, String>,
}

/// Options of `volume create` (Docker's `VolumeCreateBody` keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeCreateOptions {
    /// Name; `None` (or empty) generates a random 64-hex name.
    pub name: Option<String>,
    /// Driver; empty means `local`, anything else is refused.
    pub driver: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Driver options (`-o`); the local driver of isula takes none.
    pub driver_opts: BTreeMap<String, String>,
}

/// Result of `volume prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumePruneReport {
    /// Names of the removed volumes.
    pub volumes_deleted: Vec<String>,
    /// Bytes of file content removed.
    pub space_reclaimed: u64,
}

/// Which volumes `volume ls` / `volume prune` keep. Values of one key are alternatives;
/// different keys must all match (Docker's filter semantics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeFilters {
    /// `name=`: substring of the name.
    pub names: Vec<String>,
    /// `label=key` or `label=key=value`.
    pub labels: Vec<String>,
    /// `label!=key` or `label!=key=value`: volumes without that label.
    pub not_labels: Vec<String>,
    /// `driver=`.
    pub drivers: Vec<String>,
    /// `dangling=true|false` (not used by any container).
    pub dangling: Option<bool>,
}

impl VolumeFilters {
    /// Parse `key=value` filters; unknown keys and bad values are `InvalidArgument`.
    pub fn parse(filters: &[String]) -> Result<VolumeFilters> {
        let mut f = VolumeFilters::default();
        for s in filters {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| Error::invalid(format!("bad format of filter (expected name=value): {s:?}")))?;
            // `label!=x` splits at the first '=' as ("label!", "x").
            match k {
                "name" => f.names.push(v.into()),
                "label" => f.labels.push(v.into()),
                "label!" => f.not_labels.push(v.into()),
                "driver" => f.drivers.push(v.into()),
                "dangling" => {
                    f.dangling = Some(match v.to_ascii_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(Error::invalid(format!("invalid filter 'dangling={v}'"))),
                    })
                }
                _ => return Err(Error::invalid(format!("invalid filter '{k}'"))),
            }
        }
        Ok(f)
    }

    /// Whether `v` passes; `in_use` says whether a container uses it.
    pub fn matches(&self, v: &Volume, in_use: bool) -> bool {
        let label = |l: &str| match l.split_once('=') {
            Some((k, val)) => v.labels.get(k).is_some_and(|x| x == val),
            None => v.labels.contains_key(l),
        };
        (self.names.is_empty() || self.names.iter().any(|n| v.name.contains(n.as_str())))
            && self.labels.iter().all(|l| label(l))
            && !self.not_labels.iter().any(|l| label(l))
            && (self.drivers.is_empty() || self.drivers.contains(&v.driver))
            && self.dangling.is_none_or(|d| d != in_use)
    }
}

/// Checks a volume name: `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (Docker's grammar).
pub fn validate_name(name: &str) -> Result<()> {
    if crate::container::parse::is_valid_name(name) {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid volume name {name:?}: must match [a-zA-Z0-9][a-zA-Z0-9_.-]+")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_are_dockers() {
        let o: VolumeCreateOptions =
            serde_json::from_str(r#"{"Name":"v1","Labels":{"a":"b"},"DriverOpts":{"o":"x"}}"#).unwrap();
        assert_eq!(o.name.as_deref(), Some("v1"));
        assert_eq!(o.labels["a"], "b");
        assert_eq!(o.driver_opts["o"], "x");
        let r =
            serde_json::to_value(VolumePruneReport { volumes_deleted: vec!["v".into()], space_reclaimed: 3 }).unwrap();
        assert_eq!(r, serde_json::json!({"VolumesDeleted": ["v"], "SpaceReclaimed": 3}));
    }

    #[test]
    fn names() {
        assert!(validate_name("data_1.v-2").is_ok());
        let e = validate_name("-x").unwrap_err();
        assert_eq!(e.to_string(), "invalid volume name \"-x\": must match [a-zA-Z0-9][a-zA-Z0-9_.-]+");
        assert!(validate_name("a").is_err());
        assert!(validate_name("a/b").is_err());
    }
}
