//! Container networking: CNI 1.0 plugin execution ([`cni`]), network namespaces ([`netns`]),
//! managed bridge networks and container attachments ([`NetworkStore`]), published ports
//! ([`ports`]) and subnet arithmetic ([`subnet`]).

pub mod cni;
pub mod masq;
pub mod netns;
pub mod ports;
pub mod settings;
pub mod store;
pub mod subnet;
pub mod types;

pub use ports::{PortMapping, Protocol};
pub use store::{NetworkStore, NetworkStoreConfig, DEFAULT_BRIDGE};
pub use subnet::Ipv4Net;
pub use types::{AttachResult, NetworkAttachRequest, NetworkCreateOptions, NetworkFilters, NetworkInfo};
