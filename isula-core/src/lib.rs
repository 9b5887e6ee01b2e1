//! isula-core: a synchronous, embeddable container engine.
//!
//! Open an [`Engine`] on a root directory and call one blocking method per
//! operation. All behaviour of the daemon, the CLI and the C ABI lives here.
//!
//! Cargo features, all on by default: `registry` (the OCI distribution client, with
//! ureq and rustls; without it pull, push, login and logout return
//! [`ErrorKind::Unimplemented`]), `xz` and `zstd` (layers and archives in those
//! compressions; without them such a stream is refused as `Unimplemented`).
//!
//! # API layout
//!
//! Everything an embedder needs is re-exported here, at the crate root: [`Engine`] and its
//! subject views ([`Containers`], [`Images`], [`Networks`], [`Volumes`], [`Pods`]), the option and
//! result types of their operations, [`Error`]/[`ErrorKind`], [`Event`]/[`EventFilter`].
//! The modules themselves are private. [`unstable`] holds the few internals the daemon,
//! the benchmarks and the tests reach below the engine; it carries no stability promise.

mod cgroups;
mod config;
mod container;
mod content;
mod digest;
mod engine;
mod error;
mod events;
mod failpoint;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod host;
mod image;
mod layer;
mod logs;
mod network;
mod pod;
mod reference;
mod registry;
mod runtime;
mod snapshot;
// The only module of isula-core allowed to use `unsafe` (syscall wrappers, each with a SAFETY comment).
#[allow(unsafe_code)]
mod sys;
pub mod time;
pub mod unstable;
mod volume;

pub use config::{CgroupDriver, EngineConfig, RuntimeConfig, BRIDGE_NONE};
pub use digest::Digest;
pub use engine::{Containers, Engine, Images, Networks, Pods, Volumes};
pub use error::{Error, ErrorKind, Reason, Result, ResultExt};
pub use isula_types::pod::{Bandwidth, DnsConfig, PodConfig, PodInspect, PodNamespaces, PodPortMapping, PodState};
pub use oci_spec;
pub use pod::INFRA_LABEL;
pub use reference::Reference;

// Containers.
pub use cgroups::TopResult;
pub use container::archive::{CopyToOptions, PathStat};
pub use container::health::HealthState;
pub use container::options::{HealthConfig, Resources, RestartPolicy, UpdateOptions};
pub use container::{
    start_error_exit_code, ContainerConfig, ContainerInspect, ContainerRecord, ContainerSummary, CreateOptions,
    ExecOptions, ExecOutput, InspectGraphDriver, InspectState, ListOptions, MountPoint, Port, RemoveOptions, State,
    Status, WaitCondition,
};
pub use engine::{ContainerStats, Exec, STATS_INTERVAL};
pub use isula_types::stats::{BlkioEntry, BlkioStats, CpuStats, MemoryStats, PidsStats, Stats, Throttling};
pub use logs::{LogLine, LogOptions, LogStream};
pub use runtime::{AttachEvent, AttachStream};

// Images and registries.
pub use image::{
    ImageInspect, ImageSummary, ImportOptions, ListImagesOptions, LoadOptions, LoadedImage, RemoveImageOptions,
    RemovedImage,
};
#[cfg(feature = "registry")]
pub use registry::Credentials;
pub use registry::{LayerProgress, PullEvent, PullOptions, PullResult, PushEvent, PushProgress, PushResult};

// Networks and volumes.
pub use isula_types::network::{
    AttachResult, ConfigReference, EndpointSettings, Ipam, IpamConfig, Network, NetworkAttachRequest, NetworkContainer,
    NetworkCreateOptions, NetworkFilters, NetworkInfo, NetworkSettings, PortBinding, PortMapping, Protocol,
};
pub use network::Ipv4Net;
pub use volume::{Volume, VolumeCreateOptions, VolumePruneReport};

// Events.
pub use events::{next_live, Actor, Event, EventFilter, Live};
