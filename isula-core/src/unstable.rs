//! Internals below the [`Engine`](crate::Engine) that the daemon, the benchmarks and the
//! end-to-end tests use directly. **Unstable**: not part of the supported API, may change
//! or disappear in any release; embedders should use the crate root.
//!
//! Who uses what, and why:
//! - [`fs::atomic_write`]: the daemon writes its pid and config files atomically.
//! - [`runtime`]: the OCI runtime and shim driver, exercised without an engine by the
//!   runtime/shim tests and `bench/shimbench`.
//! - [`spec`]: the default capability set and seccomp profile, for `bench/shimbench`'s bundles.
//! - [`network`]: the network store and namespace helpers, tested below the engine.
//! - [`mount`]: bind mounts for test fixtures; [`ContentStore`], [`CredentialStore`],
//!   [`backoff`], [`anonymous_volume_name`], [`follow_logs`] and [`read_logs`]: test assertions
//!   on internals.

pub use crate::container::restart::backoff;
pub use crate::container::spec::files::anonymous_volume_name;
pub use crate::content::ContentStore;
pub use crate::logs::{follow_logs, read_logs};
#[cfg(feature = "registry")]
pub use crate::registry::CredentialStore;

/// Crash points for the crash tests (feature `test-util`): the variable and every point's name.
#[cfg(feature = "test-util")]
pub mod failpoint {
    pub use crate::failpoint::{ENV, POINTS};
}

/// Atomic file writes.
pub mod fs {
    pub use crate::sys::fs::atomic_write;
}

/// Mount helpers (test fixtures).
pub mod mount {
    pub use crate::sys::mount::{bind, mounts_under, unmount};
}

/// The OCI runtime and shim driver, usable without an engine.
pub mod runtime {
    /// The in-process fake runtime for lifecycle tests without runc (feature `test-util`).
    #[cfg(any(test, feature = "test-util"))]
    pub use crate::runtime::fake::{FakeCall, FakeRuntime};
    pub use crate::runtime::shim::{is_shim_alive, read_exit, ShimHandle};
    pub use crate::runtime::{
        shim, AttachEvent, AttachStream, CreateRequest, ExecRequest, ExitStatus, LogFormat, OciRuntime, Runtime,
        RuntimeStatus, ShimLogConfig,
    };
}

/// Spec building blocks: the default capabilities and seccomp profile.
pub mod spec {
    pub use crate::container::caps::DEFAULT_CAPS;
    pub use crate::container::spec::seccomp::{default_profile, SeccompHost};
}

/// The network store and its helpers, below the engine.
pub mod network {
    pub use crate::engine::network_store_config;
    pub use crate::network::cni::exec::write_script;
    pub use crate::network::netns;
    pub use crate::network::ports::EPHEMERAL_PORTS;
    pub use crate::network::subnet::{self, host_routes};
    pub use crate::network::{NetworkStore, NetworkStoreConfig};
}
