//! `isula.v1.SystemService`: version, info; events answer UNIMPLEMENTED until the engine has an event bus.

use std::sync::Arc;

use isula_api::v1::system_service_server::SystemService;
use isula_api::v1::*;
use isula_core::engine::ListImagesOptions;
use isula_core::Engine;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::blocking::blocking;
use crate::status::to_json;

/// The system service.
#[derive(Clone)]
pub struct System {
    engine: Arc<Engine>,
}

impl System {
    /// A service over `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        System { engine }
    }
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// `PRETTY_NAME` of /etc/os-release.
fn os_name() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

fn mem_total() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn cgroup_version() -> &'static str {
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "2"
    } else {
        "1"
    }
}

#[tonic::async_trait]
impl SystemService for System {
    type EventsStream = ReceiverStream<Result<EventsResponse, Status>>;

    async fn version(&self, _: Request<VersionRequest>) -> Result<Response<VersionResponse>, Status> {
        Ok(Response::new(VersionResponse {
            version: env!("CARGO_PKG_VERSION").into(),
            api_version: isula_api::API_VERSION.into(),
            git_commit: option_env!("ISULA_GIT_COMMIT").unwrap_or("unknown").into(),
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            kernel_version: read_trim("/proc/sys/kernel/osrelease"),
            rust_version: option_env!("ISULA_RUSTC_VERSION").unwrap_or("").into(),
        }))
    }

    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let engine = self.engine.clone();
        let images = blocking(move || engine.images(&ListImagesOptions::default())).await?;
        let c = self.engine.config();
        let info = serde_json::json!({
            "ID": "",
            "Containers": 0,
            "ContainersRunning": 0,
            "ContainersPaused": 0,
            "ContainersStopped": 0,
            "Images": images.len(),
            "Driver": c.storage_driver,
            "DockerRootDir": c.graph,
            "StateDir": c.state,
            "LoggingDriver": c.container_log.driver,
            "CgroupVersion": cgroup_version(),
            "DefaultRuntime": c.default_runtime,
            "Runtimes": c.runtimes.keys().chain(std::iter::once(&c.default_runtime)).collect::<std::collections::BTreeSet<_>>(),
            "RegistryMirrors": c.registry_mirrors,
            "InsecureRegistries": c.insecure_registries,
            "KernelVersion": read_trim("/proc/sys/kernel/osrelease"),
            "OperatingSystem": os_name(),
            "OSType": std::env::consts::OS,
            "Architecture": std::env::consts::ARCH,
            "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "MemTotal": mem_total(),
            "Name": read_trim("/proc/sys/kernel/hostname"),
            "ServerVersion": env!("CARGO_PKG_VERSION"),
        });
        Ok(Response::new(InfoResponse { info_json: to_json(&info)? }))
    }

    async fn events(&self, _: Request<EventsRequest>) -> Result<Response<Self::EventsStream>, Status> {
        Err(Status::unimplemented("events are not implemented by this engine yet"))
    }
}
