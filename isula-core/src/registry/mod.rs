//! OCI distribution client: ping, Basic and Bearer authentication, mirrors and
//! insecure registries, manifests and indexes with platform selection, blob
//! streaming into the content store with resume, and push.
//!
//! Everything is synchronous (`ureq` with rustls). The [`Engine`](crate::Engine)
//! methods `pull`, `push`, `login` and `logout` drive it.
//!
//! Certificates: a registry `host:port` served with a private CA is trusted when its
//! CA is in `<dir>/<host:port>/*.crt` for `dir` in `<graph>/certs.d`, then
//! `/etc/isulad/certs.d` (the first directory holding certificates for the host wins,
//! and replaces the public roots for that host).
//!
//! Mirrors: a containerd-style `<dir>/<host>/hosts.toml` (or `<dir>/_default/hosts.toml`) in
//! the same directories lists the hosts tried for that registry, with their capabilities
//! (see the `hosts` module); without one, `registry-mirrors` apply to docker.io. The image
//! keeps the reference it was pulled by.

//!
//! The client needs the `registry` feature (default-on; it brings ureq and rustls). Without
//! it only the option, progress and result types below exist, and the engine's registry
//! methods return `Unimplemented`.

#[cfg(feature = "registry")]
pub(crate) mod blobs;
#[cfg(feature = "registry")]
pub(crate) mod challenge;
#[cfg(feature = "registry")]
pub(crate) mod claims;
#[cfg(feature = "registry")]
pub(crate) mod credentials;
#[cfg(feature = "registry")]
pub(crate) mod hosts;
#[cfg(feature = "registry")]
pub(crate) mod manifest;
#[cfg(feature = "registry")]
pub(crate) mod pull;
#[cfg(feature = "registry")]
pub(crate) mod push;
#[cfg(feature = "registry")]
pub(crate) mod session;
#[cfg(feature = "registry")]
pub(crate) mod stream;
#[cfg(feature = "registry")]
pub(crate) mod transport;

#[cfg(feature = "registry")]
pub use credentials::{CredentialStore, Credentials};
pub use isula_types::progress::{LayerProgress, PullEvent, PullResult, PushEvent, PushProgress, PushResult};
#[cfg(feature = "registry")]
pub(crate) use transport::{RegistryOptions, Transport};

/// Options of [`Engine::pull`](crate::Engine::pull).
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// `os/arch[/variant]` to pull from a multi-platform image; the host's by default.
    pub platform: Option<String>,
    /// Parallel layer downloads; `max-concurrent-downloads` of the config (3) by default.
    pub max_concurrent_downloads: Option<usize>,
    /// Per-read (and connect) timeout; the transport's default (60 s read, 15 s connect) when unset.
    pub timeout: Option<std::time::Duration>,
    /// Credentials for this pull only (the CRI's PullImage `auth`); unset: the ones saved for
    /// the registry with [`Engine::login`](crate::Engine::login), if any.
    #[cfg(feature = "registry")]
    pub credentials: Option<Credentials>,
}
