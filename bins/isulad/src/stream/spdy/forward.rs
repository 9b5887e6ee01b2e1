//! Port-forward over SPDY (`portforward.k8s.io`): for each forwarded connection the client
//! opens an `error` and a `data` stream carrying the same `requestID` and `port` headers;
//! each complete pair is relayed to the pod's port on a thread of its own, and a failure is
//! written to the pair's error stream. The session lasts until the client closes it.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use isula_spdy::{Role, Session, Stream};

use crate::stream::{portforward, Ctx, STREAM_CREATION_TIMEOUT};

/// Most pairs relayed at once on one connection; more are refused.
const MAX_FORWARDS: usize = 128;
/// How often incomplete pairs are checked for their timeout.
const TICK: Duration = Duration::from_secs(1);

/// The two streams of one forwarded connection, as they arrive.
struct Pair {
    error: Option<Stream>,
    data: Option<Stream>,
    since: Instant,
}

/// Run a server-role port-forward session for pod `pod_id` over `reader` and `writer` (any
/// byte stream; the WebSocket transport tunnels SPDY this way) until the connection ends.
/// The caller closes the transport afterwards.
pub(crate) fn port_forward_session<R, W>(reader: R, writer: W, pod_id: &str, ctx: &Ctx)
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    match Session::new(reader, writer, Role::Server) {
        Ok(session) => serve(&session, pod_id, ctx),
        Err(e) => log::warn!("streaming server: cannot start a SPDY session: {e}"),
    }
}

/// Check a stream's headers as kubelet does: a port in 1..=65535 and a known type.
fn check(s: &Stream) -> Result<(u16, bool), String> {
    let port = s.headers().get("port").ok_or("\"port\" header is required")?;
    let port: u16 = port.parse().map_err(|_| format!("unable to parse {port:?} as a port"))?;
    if port == 0 {
        return Err("port \"0\" must be > 0".into());
    }
    match s.headers().get("streamtype") {
        Some("error") => Ok((port, true)),
        Some("data") => Ok((port, false)),
        Some(t) => Err(format!("invalid stream type {t:?}")),
        None => Err("\"streamType\" header is required".into()),
    }
}

/// The request a stream belongs to: its `requestID` header; clients too old to send one
/// open error and data streams back to back, so kubelet pairs stream N (error) with N + 2.
fn request_id(s: &Stream, is_error: bool) -> String {
    match s.headers().get("requestid") {
        Some(id) if !id.is_empty() => id.to_string(),
        _ if is_error => s.id().to_string(),
        _ => s.id().saturating_sub(2).to_string(),
    }
}

/// Serve port-forward requests on `session` until it closes; returns when every relay ended.
pub(super) fn serve(session: &Session, pod_id: &str, ctx: &Ctx) {
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    loop {
        workers.retain(|w| !w.is_finished());
        pairs.retain(|id, p| {
            if p.since.elapsed() < STREAM_CREATION_TIMEOUT {
                return true;
            }
            if let Some(e) = &mut p.error {
                let _ = write!(e, "timed out waiting for streams of request {id}");
            }
            false
        });
        let s = match session.accept(Some(TICK)) {
            Ok(s) => s,
            Err(isula_spdy::Error::Timeout) => continue,
            Err(_) => break,
        };
        let (_, is_error) = match check(&s) {
            Ok(v) => v,
            Err(m) => {
                log::debug!("streaming server: port-forward stream refused: {m}");
                s.reset();
                continue;
            }
        };
        let id = request_id(&s, is_error);
        let pair = pairs.entry(id.clone()).or_insert_with(|| Pair { error: None, data: None, since: Instant::now() });
        let slot = if is_error { &mut pair.error } else { &mut pair.data };
        if slot.is_some() {
            let what = if is_error { "error" } else { "data" };
            log::debug!("streaming server: port-forward request {id}: {what} stream already assigned");
            s.reset();
            continue;
        }
        *slot = Some(s);
        if pair.error.is_none() || pair.data.is_none() {
            continue;
        }
        let Some(Pair { error: Some(mut error), data: Some(data), .. }) = pairs.remove(&id) else { continue };
        if workers.len() >= MAX_FORWARDS {
            let _ = write!(error, "too many port-forward connections at once (at most {MAX_FORWARDS})");
            data.reset();
            continue;
        }
        let (engine, pod) = (ctx.engine.clone(), pod_id.to_string());
        let spawned = std::thread::Builder::new().name("stream-portfwd".into()).spawn(move || {
            let port = check(&data).map(|(p, _)| p).unwrap_or_default();
            let reset = data.reset_handle();
            let (from_client, to_client) = data.split();
            if let Err(m) = portforward::forward(&engine, &pod, port, Box::new(from_client), Box::new(to_client)) {
                log::debug!("streaming server: {m}");
                let _ = error.write_all(m.as_bytes());
            }
            // Ends forward's copy thread if it still waits for the client.
            reset.reset();
        });
        match spawned {
            Ok(w) => workers.push(w),
            Err(e) => log::warn!("streaming server: cannot start a port-forward thread: {e}"),
        }
    }
    drop(pairs);
    for w in workers {
        let _ = w.join();
    }
}
