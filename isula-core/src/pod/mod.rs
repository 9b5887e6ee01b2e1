//! Pod sandboxes: the pod record ([`record`]) and its store ([`store`]), the pod's files
//! (`hostname`, `hosts`, `resolv.conf`, [`files`]) and the read-only rootfs of the engine's
//! own infra process ([`pause`]).
//!
//! A pod is a network namespace (CNI or loopback only, or the host's), an infra container
//! holding the IPC and UTS (and shared PID) namespaces, a cgroup parent and the files above.
//! The infra container is an ordinary container of the engine (restored and monitored like
//! any other) whose id is the pod id. The operations are methods of
//! [`Engine`](crate::Engine) in `engine/pods/`.

pub(crate) mod files;
pub(crate) mod pause;
pub(crate) mod record;
pub(crate) mod store;

pub(crate) use record::PodRecord;
pub(crate) use store::PodStore;

/// Label of infra containers (and only of them): the id of the pod whose namespaces they
/// hold. Their runtime spec also carries iSulad's annotations `cri.container.type=sandbox`
/// and `cri.sandbox.id=<pod id>`.
pub const INFRA_LABEL: &str = "io.isula.pod.infra";
