//! The CRI streaming server: kubelet's (and crictl's) way to exec, attach and port-forward.
//! The Exec, Attach and PortForward calls keep their request under a random single-use
//! token ([`cache`]) and return `http(s)://ADDR:PORT/{exec,attach,portforward}/<token>`; the
//! client connects there over HTTP/1.1 and upgrades to SPDY/3.1 ([`spdy`]) or WebSocket
//! ([`websocket`]). Either way the streams become [`remote::Streams`] for exec and attach
//! ([`remote`]) or data streams relayed to a pod's port ([`portforward`]).
//!
//! Everything here is synchronous: one thread accepts, each connection gets threads of its
//! own (at most [`MAX_CONNECTIONS`] connections at once), and the engine is called directly.

mod cache;
mod conn;
mod http;
mod portforward;
mod remote;
mod spdy;
mod tls;
mod websocket;

use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use isula_core::{Engine, EngineConfig};

pub(crate) use cache::{Command, Pending};
use conn::{Conn, Socket};

/// Most client connections served at once; more are answered `503`.
pub(crate) const MAX_CONNECTIONS: usize = 256;
/// How long a client may take to send its request head, and then to open its streams
/// (kubelet's and containerd's 30 s).
pub(crate) const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// What a transport needs to serve a request.
pub(crate) struct Ctx {
    /// The engine.
    pub engine: Arc<Engine>,
}

/// The running server.
pub(crate) struct StreamServer {
    cache: cache::Cache,
    base: String,
    ctx: Ctx,
    active: AtomicUsize,
    tls: Option<tls::Acceptor>,
    /// A connection with no traffic either way this long is closed (`stream-idle-timeout`).
    idle: Duration,
}

impl StreamServer {
    /// Bind `stream-server-address:stream-server-port` and serve on a thread of its own.
    pub(crate) fn start(cfg: &EngineConfig, engine: Arc<Engine>) -> Result<Arc<StreamServer>, String> {
        let ip: IpAddr = cfg
            .stream_server_address
            .parse()
            .map_err(|_| format!("stream-server-address {:?} is not an IP address", cfg.stream_server_address))?;
        let idle = cfg.stream_idle_timeout().map_err(|e| e.to_string())?;
        let tls = match (&cfg.stream_server_tls_cert, &cfg.stream_server_tls_key) {
            (Some(c), Some(k)) => Some(tls::Acceptor::from_files(c, k)?),
            _ => None,
        };
        let listener = TcpListener::bind((ip, cfg.stream_server_port))
            .map_err(|e| format!("streaming server: cannot listen on {ip}:{}: {e}", cfg.stream_server_port))?;
        let addr = listener.local_addr().map_err(|e| format!("streaming server: {e}"))?;
        // An unspecified address listens everywhere; the URLs then name loopback.
        let host = match addr.ip() {
            a if a.is_unspecified() => "127.0.0.1".to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
            IpAddr::V4(a) => a.to_string(),
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = Arc::new(StreamServer {
            cache: cache::Cache::default(),
            base: format!("{scheme}://{host}:{}", addr.port()),
            ctx: Ctx { engine },
            active: AtomicUsize::new(0),
            tls,
            idle,
        });
        let s = server.clone();
        std::thread::Builder::new()
            .name("stream-accept".into())
            .spawn(move || s.accept_loop(listener))
            .map_err(|e| format!("streaming server thread: {e}"))?;
        log::info!("CRI streaming server on {}", server.base);
        Ok(server)
    }

    /// The URL a client uses for `req` (valid once, for a minute).
    pub(crate) fn url(&self, req: Pending) -> Result<String, tonic::Status> {
        let kind = req.kind();
        match self.cache.insert(req) {
            Ok(token) => Ok(format!("{}/{kind}/{token}", self.base)),
            Err(cache::Full::TooMany) => Err(tonic::Status::resource_exhausted(format!(
                "too many streaming requests wait for their client (at most {})",
                cache::MAX_PENDING
            ))),
            Err(cache::Full::NoRandom(e)) => Err(tonic::Status::internal(e)),
        }
    }

    fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        for conn in listener.incoming() {
            let tcp = match conn {
                Ok(t) => t,
                Err(e) => {
                    log::warn!("streaming server: accept: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            let s = self.clone();
            let spawned = std::thread::Builder::new().name("stream-conn".into()).spawn(move || {
                let slot = Slot::take(&s.active);
                s.handle(tcp, slot)
            });
            if let Err(e) = spawned {
                log::warn!("streaming server: cannot start a connection thread: {e}");
            }
        }
    }

    fn handle(&self, tcp: TcpStream, slot: Slot<'_>) {
        let _ = tcp.set_nodelay(true);
        let _ = tcp.set_read_timeout(Some(STREAM_CREATION_TIMEOUT));
        let mut socket = match &self.tls {
            Some(t) => match t.wrap(tcp) {
                Ok(s) => s,
                Err(e) => return log::debug!("streaming server: TLS: {e}"),
            },
            None => Socket::Tcp(tcp),
        };
        if slot.count > MAX_CONNECTIONS {
            let _ = http::respond(&mut socket, 503, "Service Unavailable", "too many streaming connections\n");
            return;
        }
        let (head, leftover) = match http::read_head(&mut socket) {
            Ok(h) => h,
            Err(http::HeadError::Malformed(m)) => {
                let _ = http::respond(&mut socket, 400, "Bad Request", &format!("{m}\n"));
                return;
            }
            Err(http::HeadError::Io(e)) => return log::debug!("streaming server: reading a request: {e}"),
        };
        let mut parts = head.path.trim_start_matches('/').splitn(2, '/');
        let (kind, token) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if !matches!(kind, "exec" | "attach" | "portforward") || token.is_empty() || token.contains('/') {
            let _ = http::respond(&mut socket, 404, "Not Found", "no such streaming endpoint\n");
            return;
        }
        let pending = match self.cache.take(token) {
            Some(p) if p.kind() == kind => p,
            Some(_) | None => {
                let _ = http::respond(&mut socket, 404, "Not Found", "unknown, used or expired token\n");
                return;
            }
        };
        let conn = Conn { socket, leftover, idle: self.idle };
        if head.upgrades_to("websocket") {
            websocket::serve(conn, &head, pending, &self.ctx);
        } else if head.upgrades_to("SPDY/3.1") {
            spdy::serve(conn, &head, pending, &self.ctx);
        } else {
            let mut s = conn.socket;
            let _ = http::respond(&mut s, 400, "Bad Request", "streaming needs an upgrade to SPDY/3.1 or websocket\n");
        }
    }
}

/// One of the connection slots, counted while alive.
struct Slot<'a> {
    active: &'a AtomicUsize,
    /// Connections open with this one.
    count: usize,
}

impl Slot<'_> {
    fn take(active: &AtomicUsize) -> Slot<'_> {
        let count = active.fetch_add(1, Ordering::SeqCst) + 1;
        Slot { active, count }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
    }
}
