//! Progress and outcome of `pull` and `push` ([`PullEvent`], [`PushEvent`], their results),
//! as the engine reports them, the daemon streams them and the CLI and C ABI read them; and
//! the wire options of a pull request.
//!
//! The JSON shape is serde's default for enums: `{"Layer":{"digest":…,"progress":"Waiting"}}`,
//! `{"Layer":{…,"progress":{"Downloading":{"current":1,"total":2}}}}`.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// Options of a pull as the daemon receives them (`options_json` of `PullRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PullRequestOptions {
    /// `os/arch[/variant]` to pull from a multi-platform image; the host's by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Parallel layer downloads; the daemon's configuration by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_downloads: Option<usize>,
}

/// Progress of one layer (or the config) during a pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayerProgress {
    /// Queued behind other downloads.
    Waiting,
    /// Bytes received so far out of `total`.
    Downloading {
        /// Bytes in the store so far (including resumed data).
        current: u64,
        /// The blob's size.
        total: u64,
    },
    /// Download complete, checking digest and size.
    Verifying,
    /// Being unpacked into a layer.
    Extracting,
    /// Finished.
    Done,
    /// Already in the store: nothing downloaded.
    AlreadyExists,
}

/// An event of a pull, for progress display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PullEvent {
    /// The reference resolved to this manifest (or index) digest.
    Resolved {
        /// The normalised reference being pulled.
        reference: String,
        /// Digest of what the registry served for it.
        digest: Digest,
    },
    /// Progress of one layer.
    Layer {
        /// The layer's digest.
        digest: Digest,
        /// Its progress.
        progress: LayerProgress,
    },
}

/// The outcome of a pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResult {
    /// Image id.
    pub id: String,
    /// The normalised reference pulled.
    pub reference: String,
    /// Digest of the manifest (or index) the reference resolved to (the repo digest).
    pub digest: Digest,
}

/// Progress of one blob during a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PushProgress {
    /// About to be checked.
    Preparing,
    /// Bytes sent so far out of `total`.
    Pushing {
        /// Bytes sent.
        current: u64,
        /// Blob size.
        total: u64,
    },
    /// The registry already had it.
    AlreadyExists,
    /// Mounted from another repository of the same registry.
    Mounted {
        /// The source repository.
        from: String,
    },
    /// Sent.
    Pushed,
}

/// An event of a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PushEvent {
    /// Progress of one blob (config or layer).
    Blob {
        /// The blob's digest.
        digest: Digest,
        /// Its progress.
        progress: PushProgress,
    },
}

/// The outcome of a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResult {
    /// Digest of the manifest as pushed.
    pub digest: Digest,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shapes() {
        let d = Digest::of(b"x");
        let ev = PullEvent::Layer { digest: d.clone(), progress: LayerProgress::Downloading { current: 1, total: 2 } };
        let j = serde_json::to_value(&ev).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"Layer": {"digest": d.to_string(), "progress": {"Downloading": {"current": 1, "total": 2}}}})
        );
        assert_eq!(serde_json::from_value::<PullEvent>(j).unwrap(), ev);
        let w = serde_json::to_value(PullEvent::Layer { digest: d.clone(), progress: LayerProgress::Waiting }).unwrap();
        assert_eq!(w["Layer"]["progress"], "Waiting");
        let p = PushEvent::Blob { digest: d, progress: PushProgress::Mounted { from: "lib/a".into() } };
        assert_eq!(serde_json::from_str::<PushEvent>(&serde_json::to_string(&p).unwrap()).unwrap(), p);
        assert_eq!(serde_json::to_string(&PullRequestOptions::default()).unwrap(), "{}");
        let o: PullRequestOptions = serde_json::from_str(r#"{"platform":"linux/arm64"}"#).unwrap();
        assert_eq!(o.platform.as_deref(), Some("linux/arm64"));
        assert!(serde_json::from_str::<PullRequestOptions>(r#"{"bogus":1}"#).is_err());
    }
}
