//! `isula.v1.SystemService`: version, info and the engine's event stream.

use std::sync::Arc;

use isula_api::v1::system_service_server::SystemService;
use isula_api::v1::*;
use isula_core::Engine;
use isula_core::{next_live, Live};
use isula_core::{Event, EventFilter};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::blocking::{blocking, spawn_stream};
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

/// Send past events, then live ones, until the client goes away or `until` passes (the bus
/// delivers each event once, history or live, and nothing after `until`).
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
    for e in &history {
        if !send(e) {
            return;
        }
    }
    while !tx.is_closed() {
        match next_live(&live, filter, std::time::Duration::from_millis(500)) {
            Live::Event(e) => {
                if !send(&e) {
                    return;
                }
            }
            Live::Idle => {}
            Live::End => return,
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
            kernel_version: isula_core::host::kernel_release(),
            rust_version: option_env!("ISULA_RUSTC_VERSION").unwrap_or("").into(),
        }))
    }

    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let engine = self.engine.clone();
        let info = blocking(move || engine.info()).await?;
        Ok(Response::new(InfoResponse { info_json: to_json(&info)? }))
    }

    async fn events(&self, r: Request<EventsRequest>) -> Result<Response<Self::EventsStream>, Status> {
        let filter: EventFilter = parse_opts("options_json", &r.into_inner().options_json)?;
        let (history, live) = self.engine.events(&filter);
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        spawn_stream("events", move || forward_events(&filter, history, live, tx))?;
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
