//! `isula.v1.VolumeService` over the engine's volume operations.

use std::sync::Arc;

use isula_api::v1::volume_service_server::VolumeService;
use isula_api::v1::*;
use isula_core::Engine;
use isula_core::VolumeCreateOptions;
use tonic::{Request, Response, Status};

use crate::blocking::blocking;
use crate::status::{parse_opts, to_json};

/// The volume service: a handle on the shared engine.
#[derive(Clone)]
pub(crate) struct Volumes {
    engine: Arc<Engine>,
}

impl Volumes {
    /// A service over `engine`.
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        Volumes { engine }
    }
}

#[tonic::async_trait]
impl VolumeService for Volumes {
    async fn create(&self, req: Request<CreateVolumeRequest>) -> Result<Response<VolumeResponse>, Status> {
        let opts: VolumeCreateOptions = parse_opts("options_json", &req.into_inner().options_json)?;
        let e = self.engine.clone();
        let v = blocking(move || e.volumes().create(&opts)).await?;
        Ok(Response::new(VolumeResponse { volume_json: to_json(&v)? }))
    }

    async fn list(&self, req: Request<ListVolumesRequest>) -> Result<Response<ListVolumesResponse>, Status> {
        let filters = req.into_inner().filters;
        let e = self.engine.clone();
        let list = blocking(move || e.volumes().list(&filters)).await?;
        Ok(Response::new(ListVolumesResponse { volumes_json: to_json(&list)? }))
    }

    async fn inspect(&self, req: Request<VolumeRequest>) -> Result<Response<VolumeResponse>, Status> {
        let name = req.into_inner().name;
        let e = self.engine.clone();
        let v = blocking(move || e.volumes().inspect(&name)).await?;
        Ok(Response::new(VolumeResponse { volume_json: to_json(&v)? }))
    }

    async fn remove(&self, req: Request<RemoveVolumeRequest>) -> Result<Response<RemoveVolumeResponse>, Status> {
        let r = req.into_inner();
        let e = self.engine.clone();
        blocking(move || e.volumes().remove(&r.name, r.force)).await?;
        Ok(Response::new(RemoveVolumeResponse {}))
    }

    async fn prune(&self, req: Request<PruneVolumesRequest>) -> Result<Response<PruneVolumesResponse>, Status> {
        let filters = req.into_inner().filters;
        let e = self.engine.clone();
        let r = blocking(move || e.volumes().prune(&filters)).await?;
        Ok(Response::new(PruneVolumesResponse {
            volumes_deleted: r.volumes_deleted,
            space_reclaimed: r.space_reclaimed,
        }))
    }
}
