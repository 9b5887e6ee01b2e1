//! Configured size limits of unpacking (daemon.json `storage-opts`): one per layer, and one
//! shared by all the layers a single image operation (a pull, a load, an import) unpacks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// The storage option limiting each layer's uncompressed size.
pub(crate) const LAYER_SIZE_OPT: &str = "overlay2.max-layer-size";
/// The storage option limiting the uncompressed size an image operation unpacks.
pub(crate) const IMAGE_SIZE_OPT: &str = "overlay2.max-image-size";

/// Size limits read from `storage-opts`; `None` is no limit beyond the built-in ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StorageLimits {
    /// Maximum uncompressed tar size of one layer, in bytes.
    pub max_layer_size: Option<u64>,
    /// Maximum uncompressed tar size of all the layers one image operation unpacks.
    pub max_image_size: Option<u64>,
}

impl StorageLimits {
    /// Parse `storage-opts` entries (`KEY=VALUE`). Known: the two size limits above (sizes as
    /// `10G`, `512m`, `1024`), and iSulad's `overlay2.override_kernel_check` (a boolean; there
    /// is no kernel check to override). `overlay2.size` (a per-container quota) needs project
    /// quotas and is refused, as is any other key.
    pub(crate) fn parse(opts: &[String]) -> Result<Self> {
        let mut limits = StorageLimits::default();
        for opt in opts {
            let bad = |why: String| Error::invalid(format!("daemon config key \"storage-opts\": {opt:?}: {why}"));
            let (key, value) = opt.split_once('=').ok_or_else(|| bad("expected KEY=VALUE".into()))?;
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            match key.as_str() {
                LAYER_SIZE_OPT | IMAGE_SIZE_OPT => {
                    let n = isula_types::container::parse::parse_memory_size(value).map_err(|e| bad(e.to_string()))?;
                    if n <= 0 {
                        return Err(bad("the size must be positive".into()));
                    }
                    let slot =
                        if key == LAYER_SIZE_OPT { &mut limits.max_layer_size } else { &mut limits.max_image_size };
                    *slot = Some(n as u64);
                }
                "overlay2.override_kernel_check" => {
                    if !matches!(value.to_ascii_lowercase().as_str(), "true" | "false" | "1" | "0") {
                        return Err(bad("expected true or false".into()));
                    }
                }
                "overlay2.size" | "overlay2.basesize" => {
                    return Err(bad(
                        "per-container size quotas are not supported (they need project quotas on the backing \
                         filesystem)"
                            .into(),
                    ))
                }
                _ => {
                    return Err(bad(format!(
                        "unknown storage option (supported: {LAYER_SIZE_OPT}, {IMAGE_SIZE_OPT}, \
                         overlay2.override_kernel_check)"
                    )))
                }
            }
        }
        Ok(limits)
    }

    /// A fresh budget for one image operation, when an image limit is set.
    pub(crate) fn image_budget(&self) -> Option<Arc<ImageBudget>> {
        self.max_image_size.map(|limit| Arc::new(ImageBudget { limit, used: AtomicU64::new(0) }))
    }
}

/// Bytes an image operation may still unpack, shared by the layers it unpacks in parallel.
#[derive(Debug)]
pub(crate) struct ImageBudget {
    limit: u64,
    used: AtomicU64,
}

impl ImageBudget {
    /// The limit in bytes.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    /// Count `n` more bytes; false when that passes the limit.
    pub(crate) fn charge(&self, n: u64) -> bool {
        self.used.fetch_add(n, Ordering::Relaxed).saturating_add(n) <= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_limits_and_refuses_unknown_options() {
        let l = StorageLimits::parse(&opts(&[
            "overlay2.max-layer-size=10m",
            "overlay2.max-image-size = 1G",
            "overlay2.override_kernel_check=true",
        ]))
        .unwrap();
        assert_eq!(l.max_layer_size, Some(10 << 20));
        assert_eq!(l.max_image_size, Some(1 << 30));
        assert_eq!(StorageLimits::parse(&[]).unwrap(), StorageLimits::default());
        for (bad, says) in [
            ("overlay2.size=10G", "project quotas"),
            ("overlay2.max-layer-size=lots", "unknown unit"),
            ("overlay2.max-layer-size=0", "positive"),
            ("overlay2.override_kernel_check=maybe", "true or false"),
            ("overlay2.max-layer-size", "KEY=VALUE"),
            ("zfs.fsname=x", "unknown storage option"),
        ] {
            let e = StorageLimits::parse(&opts(&[bad])).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
            assert!(e.to_string().contains(says) && e.to_string().contains("storage-opts"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_budget_is_shared() {
        let l = StorageLimits { max_layer_size: None, max_image_size: Some(100) };
        let b = l.image_budget().unwrap();
        assert!(b.charge(60));
        assert!(b.charge(40));
        assert!(!b.charge(1));
        assert!(StorageLimits::default().image_budget().is_none());
    }
}
