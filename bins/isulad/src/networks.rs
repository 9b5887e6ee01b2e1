//! `isula.v1.NetworkService`: managed networks (create, list, inspect, remove); replies carry
//! `isula_types::network::Network`, Docker's network inspect object.

use std::sync::Arc;

use isula_api::v1::network_service_server::NetworkService;
use isula_api::v1::*;
use isula_core::Engine;
use isula_core::{NetworkCreateOptions, NetworkFilters};
use tonic::{Request, Response, Status};

use crate::blocking::blocking;
use crate::status::{parse_opts, to_json};

/// The network service: a handle on the shared engine.
#[derive(Clone)]
pub(crate) struct Networks {
    engine: Arc<Engine>,
}

impl Networks {
    /// A service over `engine`.
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        Networks { engine }
    }
}

#[tonic::async_trait]
impl NetworkService for Networks {
    async fn create(&self, req: Request<CreateNetworkRequest>) -> Result<Response<CreateNetworkResponse>, Status> {
        let opts: NetworkCreateOptions = parse_opts("options_json", &req.into_inner().options_json)?;
        let e = self.engine.clone();
        let n = blocking(move || e.networks().create(&opts)).await?;
        Ok(Response::new(CreateNetworkResponse { network_json: to_json(&n)? }))
    }

    async fn list(&self, req: Request<ListNetworksRequest>) -> Result<Response<ListNetworksResponse>, Status> {
        let filters: NetworkFilters = parse_opts("filters_json", &req.into_inner().filters_json)?;
        let e = self.engine.clone();
        let list = blocking(move || e.networks().list(&filters)).await?;
        Ok(Response::new(ListNetworksResponse { networks_json: to_json(&list)? }))
    }

    async fn inspect(&self, req: Request<InspectNetworkRequest>) -> Result<Response<InspectNetworkResponse>, Status> {
        let name = req.into_inner().name;
        let e = self.engine.clone();
        let n = blocking(move || e.networks().inspect(&name)).await?;
        Ok(Response::new(InspectNetworkResponse { network_json: to_json(&n)? }))
    }

    async fn remove(&self, req: Request<RemoveNetworkRequest>) -> Result<Response<RemoveNetworkResponse>, Status> {
        let name = req.into_inner().name;
        let e = self.engine.clone();
        blocking(move || e.networks().remove(&name)).await?;
        Ok(Response::new(RemoveNetworkResponse {}))
    }
}
