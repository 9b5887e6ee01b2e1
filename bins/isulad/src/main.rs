//! isulad: the isula daemon. Serves the `isula.v1` gRPC API and the Kubernetes CRI v1
//! (RuntimeService, ImageService) over the engine on unix sockets, in the foreground.
//! SIGTERM/SIGINT stop accepting, give open connections `SHUTDOWN_GRACE` to finish their calls,
//! then close them and exit 0.

mod blocking;
mod bridge;
mod containers;
mod cri;
mod deadline;
mod flags;
mod images;
mod listen;
mod logger;
mod memory;
mod networks;
mod notify;
mod status;
mod stream;
mod system;
mod volumes;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use isula_api::addr::Addr;
use isula_api::v1::container_service_server::ContainerServiceServer;
use isula_api::v1::image_service_server::ImageServiceServer;
use isula_api::v1::network_service_server::NetworkServiceServer;
use isula_api::v1::system_service_server::SystemServiceServer;
use isula_api::v1::volume_service_server::VolumeServiceServer;
use isula_core::Engine;
use tokio::sync::watch;
use tokio_stream::StreamExt as _;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::flags::Flags;
use crate::listen::{AuthorityFixed, Listener};

fn main() {
    memory::tune_allocator();
    let flags = Flags::parse();
    let code = match run(&flags) {
        Ok(()) => 0,
        Err(e) => {
            log::error!("{e}");
            eprintln!("isulad: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn run(flags: &Flags) -> Result<(), String> {
    let cfg = flags.config().map_err(|e| e.to_string())?;
    let level = logger::parse_level(&cfg.log_level).ok_or_else(|| format!("unknown log level {:?}", cfg.log_level))?;
    logger::init(level, cfg.log_file.as_deref())
        .map_err(|e| format!("cannot open log file {:?}: {e}", cfg.log_file))?;
    for w in &cfg.warnings {
        log::warn!("{w}");
    }
    let addrs = cfg.hosts.iter().map(|h| Addr::parse(h)).collect::<Result<Vec<_>, _>>()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(64)
        .thread_keep_alive(memory::BLOCKING_KEEP_ALIVE)
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let engine = Arc::new(Engine::open(cfg.clone()).map_err(|e| e.to_string())?);
    engine
        .check_runtime(&cfg.default_runtime)
        .map_err(|e| format!("default-runtime {:?}: {e}", cfg.default_runtime))?;
    if let Some(p) = &cfg.pidfile {
        isula_core::unstable::fs::atomic_write(p, format!("{}\n", std::process::id()).as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let tls = server_tls(flags)?;
    let result = rt.block_on(serve(engine, &cfg, addrs, flags.insecure_tcp, tls));
    // Blocking engine calls still running get a moment to finish (the engine's state is
    // crash-safe either way); event forwarders of dropped streams end within their poll step.
    rt.shutdown_timeout(Duration::from_secs(3));
    if let Some(p) = &cfg.pidfile {
        let _ = std::fs::remove_file(p);
    }
    if result.is_ok() {
        log::info!("isulad stopped");
    }
    result
}

/// The mutual-TLS config of TCP listeners when `--tlsverify` is given.
fn server_tls(flags: &Flags) -> Result<Option<ServerTlsConfig>, String> {
    if !flags.tlsverify {
        return Ok(None);
    }
    let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let ca = read(&flags.tlscacert)?;
    let cert = read(&flags.tlscert)?;
    let key = read(&flags.tlskey)?;
    Ok(Some(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)).client_ca_root(Certificate::from_pem(ca))))
}

/// Install SIGTERM and SIGINT handlers now; the returned future resolves when one arrives.
fn terminated() -> Result<impl std::future::Future<Output = ()>, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => log::info!("SIGTERM: shutting down"),
            _ = int.recv() => log::info!("SIGINT: shutting down"),
        }
    })
}

/// How long open connections may finish their calls after a stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

async fn serve(
    engine: Arc<Engine>,
    cfg: &isula_core::EngineConfig,
    addrs: Vec<Addr>,
    insecure_tcp: bool,
    tls: Option<ServerTlsConfig>,
) -> Result<(), String> {
    let signals = terminated()?;
    // The streaming server first: a start that fails there leaves no socket behind.
    let stream = stream::StreamServer::start(cfg, engine.clone())?;
    let mut sockets = SocketFiles(Vec::new());
    let mut listeners = Vec::new();
    for a in &addrs {
        let l = listen::bind(a, &cfg.group, insecure_tcp, tls.is_some()).await?;
        if let Listener::Unix(_, path) = &l {
            sockets.0.push(path.clone());
        }
        listeners.push(l);
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let images = ImageServiceServer::new(images::Images::new(engine.clone()));
    let system = SystemServiceServer::new(system::System::new(engine.clone()));
    let containers = ContainerServiceServer::new(containers::Containers::new(engine.clone()));
    let networks = NetworkServiceServer::new(networks::Networks::new(engine.clone()));
    let volumes = VolumeServiceServer::new(volumes::Volumes::new(engine.clone()));
    let (cri_runtime, cri_images) = cri::services(engine.clone(), cfg.clone(), stream);
    let mut servers = tokio::task::JoinSet::new();
    for l in listeners {
        let mut builder = Server::builder().layer(deadline::DeadlineLayer);
        if let (Listener::Tcp(_), Some(t)) = (&l, &tls) {
            builder = builder.tls_config(t.clone()).map_err(|e| format!("TLS configuration: {e}"))?;
        }
        let router = builder
            .add_service(images.clone())
            .add_service(system.clone())
            .add_service(containers.clone())
            .add_service(networks.clone())
            .add_service(volumes.clone())
            .add_service(cri_runtime.clone())
            .add_service(cri_images.clone());
        let mut rx = stop_rx.clone();
        let stop = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        match l {
            Listener::Unix(l, _) => {
                // Older gRPC clients send the socket path as :authority, which h2 rejects.
                let inc = tokio_stream::wrappers::UnixListenerStream::new(l).map(|c| c.map(AuthorityFixed::new));
                servers.spawn(router.serve_with_incoming_shutdown(inc, stop));
            }
            Listener::Tcp(l) => {
                let inc = tokio_stream::wrappers::TcpListenerStream::new(l);
                servers.spawn(router.serve_with_incoming_shutdown(inc, stop));
            }
        }
    }
    for a in &addrs {
        log::info!("isulad {} serving on {a}", env!("CARGO_PKG_VERSION"));
    }
    if let Err(e) = notify::notify("READY=1") {
        log::warn!("sd_notify READY=1: {e}");
    }
    let mut failure = None;
    tokio::select! {
        () = signals => {}
        Some(r) = servers.join_next() => {
            failure = Some(match r {
                Ok(Ok(())) => "a listener stopped unexpectedly".to_string(),
                Ok(Err(e)) => format!("server error: {e}"),
                Err(e) => format!("server task failed: {e}"),
            });
        }
    }
    let _ = notify::notify("STOPPING=1");
    let _ = stop_tx.send(true);
    // Graceful: running calls may finish; but a client that keeps a stream open (kubelet's
    // GetContainerEvents, `isula events`) or stops reading must not hold the daemon up.
    let drain = async {
        while let Some(r) = servers.join_next().await {
            if let Ok(Err(e)) = r {
                log::warn!("server error while stopping: {e}");
            }
        }
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        log::warn!("connections still open {}s after the stop signal: closing them", SHUTDOWN_GRACE.as_secs());
        servers.abort_all();
    }
    drop(sockets);
    failure.map_or(Ok(()), Err)
}

/// The unix socket files the daemon listens on; removed when it stops, and when a start fails
/// after some were made.
struct SocketFiles(Vec<std::path::PathBuf>);

impl Drop for SocketFiles {
    fn drop(&mut self) {
        for s in &self.0 {
            let _ = std::fs::remove_file(s);
        }
    }
}
