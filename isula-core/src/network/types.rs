//! Plain data types of the network API, defined in `isula_types::network` (Docker's shapes)
//! and shared by the daemon, CLI and C ABI.

pub(crate) use isula_types::network::{
    AttachResult, Network, NetworkAttachRequest, NetworkContainer, NetworkCreateOptions, NetworkFilters, NetworkInfo,
};
