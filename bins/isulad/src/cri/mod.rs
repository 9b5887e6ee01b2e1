//! The Kubernetes CRI v1 server: `runtime.v1.RuntimeService` and `runtime.v1.ImageService`,
//! served on the same listeners as `isula.v1` and translated to the engine here, one file
//! per area. Core calls run on blocking threads ([`crate::blocking`]); engine errors become
//! statuses with the daemon's mapping ([`crate::status`]).
//!
//! CRI objects are engine objects: a pod sandbox is an engine pod (`engine.pods()`), a CRI
//! container an engine container created in that pod. What the CRI gave and must get back
//! exactly (metadata, labels, annotations, the image as requested, the log path) is kept in
//! reserved labels of the container ([`meta`]), stripped on output.

mod container_config;
mod containers;
mod events;
mod exec;
mod images;
mod meta;
mod pods;
mod runtime;
mod stats;
mod stream;

use std::sync::Arc;

use isula_core::{Engine, EngineConfig};
use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_server::{ImageService, ImageServiceServer};
use k8s_cri::v1::runtime_service_server::{RuntimeService, RuntimeServiceServer};
use tonic::{Request, Response, Status};

/// State shared by both CRI services: the engine and the daemon's effective configuration.
pub(crate) struct Shared {
    /// The engine.
    pub engine: Arc<Engine>,
    /// The effective daemon configuration (for Status, the runtime handlers and `crictl info`).
    pub config: EngineConfig,
    /// The pod CIDR kubelet last gave with UpdateRuntimeConfig (shown by `crictl info`).
    pub pod_cidr: std::sync::Mutex<String>,
    /// The streaming server behind Exec, Attach and PortForward.
    pub stream: Arc<crate::stream::StreamServer>,
}

/// `runtime.v1.RuntimeService`.
#[derive(Clone)]
pub(crate) struct Runtime {
    shared: Arc<Shared>,
}

/// `runtime.v1.ImageService`.
#[derive(Clone)]
pub(crate) struct Images {
    shared: Arc<Shared>,
}

/// Both CRI services over `engine`, ready to add to a tonic router.
pub(crate) fn services(
    engine: Arc<Engine>,
    config: EngineConfig,
    stream: Arc<crate::stream::StreamServer>,
) -> (RuntimeServiceServer<Runtime>, ImageServiceServer<Images>) {
    let shared = Arc::new(Shared { engine, config, pod_cidr: std::sync::Mutex::new(String::new()), stream });
    (RuntimeServiceServer::new(Runtime { shared: shared.clone() }), ImageServiceServer::new(Images { shared }))
}

type Rpc<T> = Result<Response<T>, Status>;

/// Wrap a reply.
fn ok<T>(v: T) -> Rpc<T> {
    Ok(Response::new(v))
}

/// `UNIMPLEMENTED` naming the call and why.
fn unimplemented(what: &str, why: &str) -> Status {
    Status::unimplemented(format!("{what} is not implemented: {why}"))
}

#[tonic::async_trait]
impl RuntimeService for Runtime {
    type GetContainerEventsStream = events::EventStream;

    async fn version(&self, r: Request<cri::VersionRequest>) -> Rpc<cri::VersionResponse> {
        ok(runtime::version(&r.into_inner()))
    }

    async fn run_pod_sandbox(&self, r: Request<cri::RunPodSandboxRequest>) -> Rpc<cri::RunPodSandboxResponse> {
        ok(pods::run(&self.shared, r.into_inner()).await?)
    }

    async fn stop_pod_sandbox(&self, r: Request<cri::StopPodSandboxRequest>) -> Rpc<cri::StopPodSandboxResponse> {
        pods::stop(&self.shared, r.into_inner().pod_sandbox_id).await?;
        ok(cri::StopPodSandboxResponse {})
    }

    async fn remove_pod_sandbox(&self, r: Request<cri::RemovePodSandboxRequest>) -> Rpc<cri::RemovePodSandboxResponse> {
        pods::remove(&self.shared, r.into_inner().pod_sandbox_id).await?;
        ok(cri::RemovePodSandboxResponse {})
    }

    async fn pod_sandbox_status(&self, r: Request<cri::PodSandboxStatusRequest>) -> Rpc<cri::PodSandboxStatusResponse> {
        ok(pods::status(&self.shared, r.into_inner()).await?)
    }

    async fn list_pod_sandbox(&self, r: Request<cri::ListPodSandboxRequest>) -> Rpc<cri::ListPodSandboxResponse> {
        ok(pods::list(&self.shared, r.into_inner()).await?)
    }

    async fn create_container(&self, r: Request<cri::CreateContainerRequest>) -> Rpc<cri::CreateContainerResponse> {
        ok(containers::create(&self.shared, r.into_inner()).await?)
    }

    async fn start_container(&self, r: Request<cri::StartContainerRequest>) -> Rpc<cri::StartContainerResponse> {
        containers::start(&self.shared, r.into_inner().container_id).await?;
        ok(cri::StartContainerResponse {})
    }

    async fn stop_container(&self, r: Request<cri::StopContainerRequest>) -> Rpc<cri::StopContainerResponse> {
        let r = r.into_inner();
        containers::stop(&self.shared, r.container_id, r.timeout).await?;
        ok(cri::StopContainerResponse {})
    }

    async fn remove_container(&self, r: Request<cri::RemoveContainerRequest>) -> Rpc<cri::RemoveContainerResponse> {
        containers::remove(&self.shared, r.into_inner().container_id).await?;
        ok(cri::RemoveContainerResponse {})
    }

    async fn list_containers(&self, r: Request<cri::ListContainersRequest>) -> Rpc<cri::ListContainersResponse> {
        ok(containers::list(&self.shared, r.into_inner()).await?)
    }

    async fn container_status(&self, r: Request<cri::ContainerStatusRequest>) -> Rpc<cri::ContainerStatusResponse> {
        ok(containers::status(&self.shared, r.into_inner()).await?)
    }

    async fn update_container_resources(
        &self,
        r: Request<cri::UpdateContainerResourcesRequest>,
    ) -> Rpc<cri::UpdateContainerResourcesResponse> {
        containers::update_resources(&self.shared, r.into_inner()).await?;
        ok(cri::UpdateContainerResourcesResponse {})
    }

    async fn reopen_container_log(
        &self,
        r: Request<cri::ReopenContainerLogRequest>,
    ) -> Rpc<cri::ReopenContainerLogResponse> {
        containers::reopen_log(&self.shared, r.into_inner().container_id).await?;
        ok(cri::ReopenContainerLogResponse {})
    }

    async fn exec_sync(&self, r: Request<cri::ExecSyncRequest>) -> Rpc<cri::ExecSyncResponse> {
        ok(exec::exec_sync(&self.shared, r.into_inner()).await?)
    }

    async fn exec(&self, r: Request<cri::ExecRequest>) -> Rpc<cri::ExecResponse> {
        ok(stream::exec(&self.shared, r.into_inner()).await?)
    }

    async fn attach(&self, r: Request<cri::AttachRequest>) -> Rpc<cri::AttachResponse> {
        ok(stream::attach(&self.shared, r.into_inner()).await?)
    }

    async fn port_forward(&self, r: Request<cri::PortForwardRequest>) -> Rpc<cri::PortForwardResponse> {
        ok(stream::port_forward(&self.shared, r.into_inner()).await?)
    }

    async fn container_stats(&self, r: Request<cri::ContainerStatsRequest>) -> Rpc<cri::ContainerStatsResponse> {
        ok(stats::container(&self.shared, r.into_inner().container_id).await?)
    }

    async fn list_container_stats(
        &self,
        r: Request<cri::ListContainerStatsRequest>,
    ) -> Rpc<cri::ListContainerStatsResponse> {
        ok(stats::list_containers(&self.shared, r.into_inner()).await?)
    }

    async fn pod_sandbox_stats(&self, r: Request<cri::PodSandboxStatsRequest>) -> Rpc<cri::PodSandboxStatsResponse> {
        ok(stats::pod(&self.shared, r.into_inner().pod_sandbox_id).await?)
    }

    async fn list_pod_sandbox_stats(
        &self,
        r: Request<cri::ListPodSandboxStatsRequest>,
    ) -> Rpc<cri::ListPodSandboxStatsResponse> {
        ok(stats::list_pods(&self.shared, r.into_inner()).await?)
    }

    async fn update_runtime_config(
        &self,
        r: Request<cri::UpdateRuntimeConfigRequest>,
    ) -> Rpc<cri::UpdateRuntimeConfigResponse> {
        runtime::update_config(&self.shared, r.into_inner());
        ok(cri::UpdateRuntimeConfigResponse {})
    }

    async fn status(&self, r: Request<cri::StatusRequest>) -> Rpc<cri::StatusResponse> {
        ok(runtime::status(&self.shared, r.into_inner())?)
    }

    async fn checkpoint_container(
        &self,
        _: Request<cri::CheckpointContainerRequest>,
    ) -> Rpc<cri::CheckpointContainerResponse> {
        Err(unimplemented("CheckpointContainer", "container checkpoints are not supported"))
    }

    async fn get_container_events(&self, _: Request<cri::GetEventsRequest>) -> Rpc<Self::GetContainerEventsStream> {
        ok(events::subscribe(&self.shared))
    }

    async fn list_metric_descriptors(
        &self,
        _: Request<cri::ListMetricDescriptorsRequest>,
    ) -> Rpc<cri::ListMetricDescriptorsResponse> {
        Err(unimplemented("ListMetricDescriptors", "pod metrics are not supported (use the stats calls)"))
    }

    async fn list_pod_sandbox_metrics(
        &self,
        _: Request<cri::ListPodSandboxMetricsRequest>,
    ) -> Rpc<cri::ListPodSandboxMetricsResponse> {
        Err(unimplemented("ListPodSandboxMetrics", "pod metrics are not supported (use the stats calls)"))
    }

    async fn runtime_config(&self, _: Request<cri::RuntimeConfigRequest>) -> Rpc<cri::RuntimeConfigResponse> {
        ok(runtime::runtime_config(&self.shared.config))
    }
}

#[tonic::async_trait]
impl ImageService for Images {
    async fn list_images(&self, r: Request<cri::ListImagesRequest>) -> Rpc<cri::ListImagesResponse> {
        ok(images::list(&self.shared, r.into_inner()).await?)
    }

    async fn image_status(&self, r: Request<cri::ImageStatusRequest>) -> Rpc<cri::ImageStatusResponse> {
        ok(images::status(&self.shared, r.into_inner()).await?)
    }

    async fn pull_image(&self, r: Request<cri::PullImageRequest>) -> Rpc<cri::PullImageResponse> {
        ok(images::pull(&self.shared, r.into_inner()).await?)
    }

    async fn remove_image(&self, r: Request<cri::RemoveImageRequest>) -> Rpc<cri::RemoveImageResponse> {
        images::remove(&self.shared, r.into_inner()).await?;
        ok(cri::RemoveImageResponse {})
    }

    async fn image_fs_info(&self, _: Request<cri::ImageFsInfoRequest>) -> Rpc<cri::ImageFsInfoResponse> {
        ok(images::fs_info(&self.shared).await?)
    }
}
