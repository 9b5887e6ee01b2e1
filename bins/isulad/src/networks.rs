//! `isula.v1.NetworkService`: managed networks (create, list, inspect, remove) in Docker's
//! network inspect shape.

use std::sync::Arc;

use isula_api::v1::network_service_server::NetworkService;
use isula_api::v1::*;
use isula_core::Engine;
use isula_core::{NetworkCreateOptions, NetworkFilters, NetworkInfo};
use serde_json::{json, Map, Value};
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

/// Docker's network inspect object for `n`; attached containers are looked up in `engine`
/// for their name and address on this network.
pub(crate) fn docker_view(engine: &Engine, n: &NetworkInfo) -> Value {
    let mut containers = Map::new();
    for id in &n.containers {
        let Ok(c) = engine.containers().inspect(id) else { continue };
        let ep = c.network_settings.networks.get(&n.name);
        containers.insert(
            id.clone(),
            json!({
                "Name": c.name.trim_start_matches('/'),
                "EndpointID": "",
                "MacAddress": ep.map(|e| e.mac_address.clone()).unwrap_or_default(),
                "IPv4Address": ep.map(|e| format!("{}/{}", e.ip_address, e.ip_prefix_len)).unwrap_or_default(),
                "IPv6Address": "",
            }),
        );
    }
    let mut ipam_config = Map::new();
    if let Some(s) = &n.subnet {
        ipam_config.insert("Subnet".into(), json!(s));
    }
    if let Some(g) = &n.gateway {
        ipam_config.insert("Gateway".into(), json!(g));
    }
    let mut options = Map::new();
    if let Some(b) = &n.bridge {
        options.insert("com.docker.network.bridge.name".into(), json!(b));
    }
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": isula_core::time::Timestamp::from_unix_secs(n.created as i64),
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": {},
            "Config": if ipam_config.is_empty() { json!([]) } else { json!([ipam_config]) },
        },
        "Internal": n.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": options,
        "Labels": n.labels,
        "Managed": n.managed,
        "CNIVersion": n.cni_version,
        "Plugins": n.plugins,
        "ConfigFile": n.config_file,
    })
}

#[tonic::async_trait]
impl NetworkService for Networks {
    async fn create(&self, req: Request<CreateNetworkRequest>) -> Result<Response<CreateNetworkResponse>, Status> {
        let opts: NetworkCreateOptions = parse_opts("options_json", &req.into_inner().options_json)?;
        let e = self.engine.clone();
        let v = blocking(move || e.networks().create(&opts).map(|n| docker_view(&e, &n))).await?;
        Ok(Response::new(CreateNetworkResponse { network_json: to_json(&v)? }))
    }

    async fn list(&self, req: Request<ListNetworksRequest>) -> Result<Response<ListNetworksResponse>, Status> {
        let filters: NetworkFilters = parse_opts("filters_json", &req.into_inner().filters_json)?;
        let e = self.engine.clone();
        let v = blocking(move || {
            e.networks().list(&filters).map(|l| l.iter().map(|n| docker_view(&e, n)).collect::<Vec<_>>())
        })
        .await?;
        Ok(Response::new(ListNetworksResponse { networks_json: to_json(&v)? }))
    }

    async fn inspect(&self, req: Request<InspectNetworkRequest>) -> Result<Response<InspectNetworkResponse>, Status> {
        let name = req.into_inner().name;
        let e = self.engine.clone();
        let v = blocking(move || e.networks().inspect(&name).map(|n| docker_view(&e, &n))).await?;
        Ok(Response::new(InspectNetworkResponse { network_json: to_json(&v)? }))
    }

    async fn remove(&self, req: Request<RemoveNetworkRequest>) -> Result<Response<RemoveNetworkResponse>, Status> {
        let name = req.into_inner().name;
        let e = self.engine.clone();
        blocking(move || e.networks().remove(&name)).await?;
        Ok(Response::new(RemoveNetworkResponse {}))
    }
}
