//! `isula.v1.ImageService` over the engine's image and registry operations.

use std::sync::Arc;

use isula_api::v1::image_service_server::ImageService;
use isula_api::v1::*;
use isula_core::Engine;
use isula_core::PullOptions;
use isula_core::{ImportOptions, ListImagesOptions, LoadOptions, RemoveImageOptions};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::blocking::blocking;
use crate::bridge::{ChunkWriter, StreamReader};
use crate::memory::release_free_heap;
use crate::status::{parse_opts, status, to_json};

/// The image service: a handle on the shared engine.
#[derive(Clone)]
pub(crate) struct Images {
    engine: Arc<Engine>,
}

impl Images {
    /// A service over `engine`.
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        Images { engine }
    }
}

/// Wire form of pull options (`options_json` of `PullRequest`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct PullOpts {
    platform: Option<String>,
    max_concurrent_downloads: Option<usize>,
}

type Stream<T> = ReceiverStream<Result<T, Status>>;

/// Forward the rest of a client stream of byte chunks into a blocking reader's channel.
fn forward<M: Send + 'static>(
    mut stream: Streaming<M>,
    tx: mpsc::Sender<Result<Vec<u8>, String>>,
    data: fn(M) -> Vec<u8>,
) {
    tokio::spawn(async move {
        loop {
            let item = match stream.message().await {
                Ok(Some(m)) => Ok(data(m)),
                Ok(None) => break,
                Err(e) => Err(e.message().to_string()),
            };
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
}

#[tonic::async_trait]
impl ImageService for Images {
    type PullStream = Stream<PullResponse>;
    type PushStream = Stream<PushResponse>;
    type SaveStream = Stream<DataChunk>;

    async fn pull(&self, req: Request<PullRequest>) -> Result<Response<Self::PullStream>, Status> {
        let req = req.into_inner();
        let o: PullOpts = parse_opts("options_json", &req.options_json)?;
        let opts = PullOptions {
            platform: o.platform,
            max_concurrent_downloads: o.max_concurrent_downloads,
            ..Default::default()
        };
        let (tx, rx) = mpsc::channel(64);
        let engine = self.engine.clone();
        log::info!("pull {}", req.reference);
        tokio::task::spawn_blocking(move || {
            let ptx = tx.clone();
            let mut progress = |ev: isula_core::PullEvent| {
                if let Ok(j) = serde_json::to_string(&ev) {
                    // A client that went away does not stop the pull.
                    let _ = ptx.blocking_send(Ok(PullResponse { event_json: j, result_json: String::new() }));
                }
            };
            let msg = match engine.images().pull(&req.reference, &opts, &mut progress) {
                Ok(r) => to_json(&r).map(|j| PullResponse { event_json: String::new(), result_json: j }),
                Err(e) => {
                    log::warn!("pull {}: {e}", req.reference);
                    Err(status(&e))
                }
            };
            let _ = tx.blocking_send(msg);
            release_free_heap();
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn push(&self, req: Request<PushRequest>) -> Result<Response<Self::PushStream>, Status> {
        let req = req.into_inner();
        let (tx, rx) = mpsc::channel(64);
        let engine = self.engine.clone();
        log::info!("push {}", req.reference);
        tokio::task::spawn_blocking(move || {
            let ptx = tx.clone();
            let mut progress = |ev: isula_core::PushEvent| {
                if let Ok(j) = serde_json::to_string(&ev) {
                    let _ = ptx.blocking_send(Ok(PushResponse { event_json: j, result_json: String::new() }));
                }
            };
            let msg = match engine.images().push(&req.reference, &mut progress) {
                Ok(r) => to_json(&r).map(|j| PushResponse { event_json: String::new(), result_json: j }),
                Err(e) => {
                    log::warn!("push {}: {e}", req.reference);
                    Err(status(&e))
                }
            };
            let _ = tx.blocking_send(msg);
            release_free_heap();
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn load(&self, req: Request<Streaming<LoadRequest>>) -> Result<Response<LoadResponse>, Status> {
        let mut stream = req.into_inner();
        let first = stream.message().await?.unwrap_or_default();
        let opts: LoadOptions = parse_opts("options_json", &first.options_json)?;
        let (mut reader, tx) = StreamReader::new();
        if !first.data.is_empty() {
            let _ = tx.send(Ok(first.data)).await;
        }
        forward(stream, tx, |m: LoadRequest| m.data);
        let engine = self.engine.clone();
        let loaded = blocking(move || engine.images().load(&mut reader, &opts)).await;
        release_free_heap();
        let loaded = loaded?;
        for l in &loaded {
            log::info!("loaded image {} {:?}", l.id, l.names);
        }
        Ok(Response::new(LoadResponse { images_json: to_json(&loaded)? }))
    }

    async fn save(&self, req: Request<SaveRequest>) -> Result<Response<Self::SaveStream>, Status> {
        let names = req.into_inner().names;
        let (tx, rx) = mpsc::channel(4);
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || {
            let mut w = ChunkWriter::new(tx.clone(), |data| DataChunk { data });
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let r = engine.images().save(&refs, &mut w).and_then(|()| {
                std::io::Write::flush(&mut w).map_err(|e| isula_core::Error::unavailable(format!("save: {e}")))
            });
            if let Err(e) = r {
                log::warn!("save {names:?}: {e}");
                let _ = tx.blocking_send(Err(status(&e)));
            }
            release_free_heap();
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn import(&self, req: Request<Streaming<ImportRequest>>) -> Result<Response<ImportResponse>, Status> {
        let mut stream = req.into_inner();
        let first = stream.message().await?.unwrap_or_default();
        let opts: ImportOptions = parse_opts("options_json", &first.options_json)?;
        let (mut reader, tx) = StreamReader::new();
        if !first.data.is_empty() {
            let _ = tx.send(Ok(first.data)).await;
        }
        forward(stream, tx, |m: ImportRequest| m.data);
        let engine = self.engine.clone();
        let id = blocking(move || engine.images().import(&mut reader, &opts)).await;
        release_free_heap();
        let id = id?;
        log::info!("imported image {id}");
        Ok(Response::new(ImportResponse { id: id.to_string() }))
    }

    async fn tag(&self, req: Request<TagRequest>) -> Result<Response<TagResponse>, Status> {
        let r = req.into_inner();
        let engine = self.engine.clone();
        blocking(move || engine.images().tag(&r.source, &r.target)).await?;
        Ok(Response::new(TagResponse {}))
    }

    async fn list(&self, req: Request<ListImagesRequest>) -> Result<Response<ListImagesResponse>, Status> {
        let opts: ListImagesOptions = parse_opts("options_json", &req.into_inner().options_json)?;
        let engine = self.engine.clone();
        let list = blocking(move || engine.images().list(&opts)).await?;
        Ok(Response::new(ListImagesResponse { images_json: to_json(&list)? }))
    }

    async fn inspect(&self, req: Request<InspectImageRequest>) -> Result<Response<InspectImageResponse>, Status> {
        let name = req.into_inner().name;
        let engine = self.engine.clone();
        let i = blocking(move || engine.images().inspect(&name)).await?;
        Ok(Response::new(InspectImageResponse { inspect_json: to_json(&i)? }))
    }

    async fn remove(&self, req: Request<RemoveImageRequest>) -> Result<Response<RemoveImageResponse>, Status> {
        let r = req.into_inner();
        let opts: RemoveImageOptions = parse_opts("options_json", &r.options_json)?;
        let engine = self.engine.clone();
        let removed = blocking(move || engine.images().remove(&r.name, &opts)).await?;
        Ok(Response::new(RemoveImageResponse { removed_json: to_json(&removed)? }))
    }

    async fn login(&self, req: Request<LoginRequest>) -> Result<Response<LoginResponse>, Status> {
        let r = req.into_inner();
        let engine = self.engine.clone();
        blocking(move || engine.login(&r.server, &r.username, &r.password)).await?;
        Ok(Response::new(LoginResponse { status: "Login Succeeded".into() }))
    }

    async fn logout(&self, req: Request<LogoutRequest>) -> Result<Response<LogoutResponse>, Status> {
        let r = req.into_inner();
        let engine = self.engine.clone();
        blocking(move || engine.logout(&r.server)).await?;
        Ok(Response::new(LogoutResponse {}))
    }
}
