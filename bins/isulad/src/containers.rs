//! `isula.v1.ContainerService`: every call answers UNIMPLEMENTED until the engine has the
//! container lifecycle (the messages are fixed so clients and this server slot in then).

use isula_api::v1::container_service_server::ContainerService;
use isula_api::v1::*;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// The container service (no engine support yet).
#[derive(Clone, Default)]
pub struct Containers;

fn unimplemented(what: &str) -> Status {
    Status::unimplemented(format!("container operation {what} is not implemented by this engine yet"))
}

#[tonic::async_trait]
impl ContainerService for Containers {
    type WaitStream = ReceiverStream<Result<WaitContainerResponse, Status>>;
    type LogsStream = ReceiverStream<Result<LogsResponse, Status>>;
    type ExecStream = ReceiverStream<Result<StdioResponse, Status>>;
    type AttachStream = ReceiverStream<Result<StdioResponse, Status>>;
    type StatsStream = ReceiverStream<Result<StatsResponse, Status>>;
    type ExportStream = ReceiverStream<Result<DataChunk, Status>>;
    type CopyFromStream = ReceiverStream<Result<CopyFromResponse, Status>>;

    async fn create(&self, _: Request<CreateContainerRequest>) -> Result<Response<CreateContainerResponse>, Status> {
        Err(unimplemented("create"))
    }

    async fn start(&self, _: Request<ContainerRequest>) -> Result<Response<Empty>, Status> {
        Err(unimplemented("start"))
    }

    async fn stop(&self, _: Request<StopContainerRequest>) -> Result<Response<Empty>, Status> {
        Err(unimplemented("stop"))
    }

    async fn kill(&self, _: Request<KillContainerRequest>) -> Result<Response<Empty>, Status> {
        Err(unimplemented("kill"))
    }

    async fn remove(&self, _: Request<RemoveContainerRequest>) -> Result<Response<Empty>, Status> {
        Err(unimplemented("remove"))
    }

    async fn list(&self, _: Request<ListContainersRequest>) -> Result<Response<ListContainersResponse>, Status> {
        Err(unimplemented("list"))
    }

    async fn inspect(&self, _: Request<ContainerRequest>) -> Result<Response<InspectContainerResponse>, Status> {
        Err(unimplemented("inspect"))
    }

    async fn wait(&self, _: Request<WaitContainerRequest>) -> Result<Response<Self::WaitStream>, Status> {
        Err(unimplemented("wait"))
    }

    async fn logs(&self, _: Request<LogsRequest>) -> Result<Response<Self::LogsStream>, Status> {
        Err(unimplemented("logs"))
    }

    async fn exec(&self, _: Request<Streaming<ExecRequest>>) -> Result<Response<Self::ExecStream>, Status> {
        Err(unimplemented("exec"))
    }

    async fn attach(&self, _: Request<Streaming<AttachRequest>>) -> Result<Response<Self::AttachStream>, Status> {
        Err(unimplemented("attach"))
    }

    async fn pause(&self, _: Request<ContainerRequest>) -> Result<Response<Empty>, Status> {
        Err(unimplemented("pause"))
    }

    async fn unpause(&self, _: Request<ContainerRequest>) -> Result<Response<Empty>, Status> {
        Err(unimplemented("unpause"))
    }

    async fn restart(&self, _: Request<StopContainerRequest>) -> Result<Response<Empty>, Status> {
        Err(unimplemented("restart"))
    }

    async fn rename(&self, _: Request<RenameContainerRequest>) -> Result<Response<Empty>, Status> {
        Err(unimplemented("rename"))
    }

    async fn top(&self, _: Request<TopContainerRequest>) -> Result<Response<TopContainerResponse>, Status> {
        Err(unimplemented("top"))
    }

    async fn stats(&self, _: Request<StatsRequest>) -> Result<Response<Self::StatsStream>, Status> {
        Err(unimplemented("stats"))
    }

    async fn update(&self, _: Request<UpdateContainerRequest>) -> Result<Response<UpdateContainerResponse>, Status> {
        Err(unimplemented("update"))
    }

    async fn export(&self, _: Request<ContainerRequest>) -> Result<Response<Self::ExportStream>, Status> {
        Err(unimplemented("export"))
    }

    async fn copy_from(&self, _: Request<CopyFromRequest>) -> Result<Response<Self::CopyFromStream>, Status> {
        Err(unimplemented("copy_from"))
    }

    async fn copy_to(&self, _: Request<Streaming<CopyToRequest>>) -> Result<Response<Empty>, Status> {
        Err(unimplemented("copy_to"))
    }

    async fn resize(&self, _: Request<ResizeRequest>) -> Result<Response<Empty>, Status> {
        Err(unimplemented("resize"))
    }
}
