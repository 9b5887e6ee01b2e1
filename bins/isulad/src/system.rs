//! `isula.v1.SystemService`: version, info and the engine's event stream.

use std::sync::Arc;

use isula_api::v1::system_service_server::SystemService;
use isula_api::v1::*;
use isula_core::Engine;
use isula_core::ListImagesOptions;
use isula_core::{Event, EventFilter};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::blocking::blocking;
use crate::status::{parse_opts, to_json};

/// The system service.
#[derive(Clone)]
pub(crate) struct System {
    engine: Arc<Engine>,
}

impl System {
    /// A service over `engine`.
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
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

fn now_nanos() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// Send past events, then live ones, until the client goes away or `until` passes.
fn forward_events(
    filter: &EventFilter,
    history: Vec<Event>,
    live: std::sync::mpsc::Receiver<Event>,
    tx: tokio::sync::mpsc::Sender<Result<EventsResponse, Status>>,
) {
    let send = |e: &Event| match serde_json::to_string(e) {
        Ok(j) => tx.blocking_send(Ok(EventsResponse { event_json: j })).is_ok(),
        Err(_) => true,
    };
    let mut last = 0;
    for e in &history {
        last = last.max(e.time_nano);
        if !send(e) {
            return;
        }
    }
    loop {
        if filter.until.is_some_and(|u| now_nanos() > u) || tx.is_closed() {
            return;
        }
        match live.recv_timeout(std::time::Duration::from_millis(500)) {
            Ok(e) => {
                // History and the live feed may overlap at the seam.
                if e.time_nano <= last && history.iter().any(|h| h == &e) {
                    continue;
                }
                if filter.until.is_some_and(|u| e.time_nano > u) {
                    return;
                }
                if !send(&e) {
                    return;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        }
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
        let images = blocking(move || engine.images().list(&ListImagesOptions::default())).await?;
        let engine = self.engine.clone();
        let all = isula_core::ListOptions { all: true, ..Default::default() };
        let containers = blocking(move || engine.containers().list(&all)).await?;
        let count = |st: &str| containers.iter().filter(|c| c.state == st).count();
        let (running, paused) = (count("running"), count("paused"));
        let c = self.engine.config();
        let info = serde_json::json!({
            "ID": "",
            "Containers": containers.len(),
            "ContainersRunning": running,
            "ContainersPaused": paused,
            "ContainersStopped": containers.len() - running - paused,
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

    async fn events(&self, r: Request<EventsRequest>) -> Result<Response<Self::EventsStream>, Status> {
        let filter: EventFilter = parse_opts("options_json", &r.into_inner().options_json)?;
        let (history, live) = self.engine.events(&filter);
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::task::spawn_blocking(move || forward_events(&filter, history, live, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
