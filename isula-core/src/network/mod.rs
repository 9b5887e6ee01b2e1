//! Container networking: CNI 1.0 plugin execution ([`cni`]), network namespaces ([`netns`]),
//! managed bridge networks and container attachments ([`NetworkStore`]), published ports
//! ([`ports`]) and subnet arithmetic ([`subnet`]).

pub(crate) mod cni;
pub(crate) mod masq;
pub mod netns;
pub(crate) mod ports;
pub(crate) mod settings;
pub(crate) mod store;
pub mod subnet;
pub(crate) mod types;

pub use store::{NetworkStore, NetworkStoreConfig, BRIDGE_NONE};
pub(crate) use store::{DEFAULT_BRIDGE, DEFAULT_NETWORK, DEFAULT_SUBNET_LEN, DEFAULT_SUBNET_POOL};
pub use subnet::Ipv4Net;
pub(crate) use types::{
    AttachResult, Network, NetworkAttachRequest, NetworkContainer, NetworkCreateOptions, NetworkFilters, NetworkInfo,
};
