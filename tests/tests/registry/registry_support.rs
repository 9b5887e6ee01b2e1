//! Shared by the registry_* tests: an in-test HTTP registry (std TcpListener + threads on
//! 127.0.0.1) with hooks for fault injection, a request log, and engine helpers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use isula_core::{Engine, EngineConfig};
use isula_tests::images::BuiltImage;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Req {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// What the server does with a request.
pub(crate) enum Action {
    /// Answer with status, headers and body.
    Respond(u16, Vec<(String, String)>, Vec<u8>),
    /// Send status and headers (with the full Content-Length), then only `n` body bytes, then close.
    Cut(u16, Vec<(String, String)>, Vec<u8>, usize),
    /// Like `Cut`, but keep the connection open after `n` bytes until the client goes away
    /// (or 60 s pass): a transfer stalled mid-blob.
    Stall(u16, Vec<(String, String)>, Vec<u8>, usize),
    /// Wait, then do the inner action.
    Delay(Duration, Box<Action>),
    /// Close the connection without answering.
    Drop,
}

pub(crate) fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Action {
    Action::Respond(status, headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), body.into())
}

type Handler = dyn Fn(&Req) -> Action + Send + Sync;

/// A registry served from memory on 127.0.0.1; dropping it stops the listener thread.
pub(crate) struct FakeRegistry {
    pub addr: String,
    pub log: Arc<Mutex<Vec<Req>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl FakeRegistry {
    /// Serve with `handler`.
    pub(crate) fn start(handler: impl Fn(&Req) -> Action + Send + Sync + 'static) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (log2, stop2) = (log.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (h, l) = (handler.clone(), log2.clone());
                // Connections are short (Connection: close), so threads end quickly.
                std::thread::spawn(move || serve_conn(conn, &*h, &l));
            }
        });
        FakeRegistry { addr, log, stop, accept: Some(accept) }
    }

    /// Requests seen so far.
    pub(crate) fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve_conn(conn: TcpStream, handler: &Handler, log: &Mutex<Vec<Req>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    // A TLS ClientHello (the https attempt on an insecure registry): refuse like a plain http server.
    let mut first = [0u8; 1];
    if conn.peek(&mut first).map(|n| n == 1 && first[0] == 0x16).unwrap_or(true) {
        let _ = conn.shutdown(Shutdown::Both);
        return;
    }
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let req = Req { method, path, query, headers, body };
    log.lock().unwrap().push(req.clone());
    let mut action = handler(&req);
    let mut conn = conn;
    loop {
        match action {
            Action::Delay(d, inner) => {
                std::thread::sleep(d);
                action = *inner;
            }
            Action::Drop => {
                let _ = conn.shutdown(Shutdown::Both);
                return;
            }
            Action::Respond(status, hdrs, body) => {
                let n = body.len();
                write_resp(&mut conn, status, &hdrs, &body, n, req.method == "HEAD");
                return;
            }
            Action::Cut(status, hdrs, body, n) => {
                write_resp(&mut conn, status, &hdrs, &body, n, false);
                let _ = conn.shutdown(Shutdown::Both);
                return;
            }
            Action::Stall(status, hdrs, body, n) => {
                write_resp(&mut conn, status, &hdrs, &body, n, false);
                // Returns when the client closes its end (EOF or reset) or the timeout expires.
                let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
                let _ = conn.read(&mut [0u8; 1]);
                return;
            }
        }
    }
}

fn write_resp(conn: &mut TcpStream, status: u16, hdrs: &[(String, String)], body: &[u8], n: usize, head: bool) {
    let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    if !hdrs.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-length")) {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in hdrs {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let _ = conn.write_all(out.as_bytes());
    if !head {
        let _ = conn.write_all(&body[..n.min(body.len())]);
    }
    let _ = conn.flush();
}

/// Manifests (by tag and digest) and blobs of one or more images.
#[derive(Clone, Default)]
pub(crate) struct Content {
    pub manifests: HashMap<String, (String, Vec<u8>)>,
    pub blobs: HashMap<String, Vec<u8>>,
}

impl Content {
    /// Content serving `img` as `<repo>:<tag>` (and by digest).
    pub(crate) fn image(img: &BuiltImage, tag: &str) -> Content {
        let mut c = Content::default();
        c.add_image(img, tag);
        c
    }

    pub(crate) fn add_image(&mut self, img: &BuiltImage, tag: &str) {
        let mt = img.manifest.media_type.clone();
        self.manifests.insert(tag.into(), (mt.clone(), img.manifest.data.clone()));
        self.manifests.insert(img.manifest.digest.clone(), (mt, img.manifest.data.clone()));
        for b in img.blobs() {
            self.blobs.insert(b.digest.clone(), b.data.clone());
        }
    }

    pub(crate) fn add_manifest(&mut self, tag: &str, media_type: &str, data: Vec<u8>) -> String {
        let d = isula_tests::images::sha256_digest(&data);
        self.manifests.insert(tag.into(), (media_type.into(), data.clone()));
        self.manifests.insert(d.clone(), (media_type.into(), data));
        d
    }

    /// Answer `req` like a registry for any repository: `/v2/`, manifests, blobs (with Range).
    pub(crate) fn serve(&self, req: &Req) -> Action {
        if req.path == "/v2/" {
            return respond(200, &[("Docker-Distribution-Api-Version", "registry/2.0")], "{}");
        }
        let p = req.path.trim_start_matches("/v2/");
        if let Some((_, r)) = p.rsplit_once("/manifests/") {
            return match self.manifests.get(r) {
                Some((mt, data)) => {
                    let d = isula_tests::images::sha256_digest(data);
                    respond(200, &[("Content-Type", mt), ("Docker-Content-Digest", &d)], data.clone())
                }
                None => respond(404, &[], r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#),
            };
        }
        if let Some((_, d)) = p.rsplit_once("/blobs/") {
            let Some(data) = self.blobs.get(d) else {
                return respond(404, &[], r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#);
            };
            return serve_blob(req, data);
        }
        respond(404, &[], "")
    }
}

/// Serve `data`, honouring `Range: bytes=N-`.
pub(crate) fn serve_blob(req: &Req, data: &[u8]) -> Action {
    if let Some(r) = req.header("range") {
        let start: usize = r.trim_start_matches("bytes=").trim_end_matches('-').parse().unwrap_or(0);
        let range = format!("bytes {start}-{}/{}", data.len() - 1, data.len());
        return respond(
            206,
            &[("Content-Range", &range), ("Content-Type", "application/octet-stream")],
            data[start..].to_vec(),
        );
    }
    respond(200, &[("Content-Type", "application/octet-stream")], data.to_vec())
}

/// An engine on `root` configured to reach `insecure` over http.
pub(crate) fn engine(root: &isula_tests::env::TestRoot, insecure: &[&str]) -> Engine {
    let mut cfg: EngineConfig = root.config();
    cfg.insecure_registries = insecure.iter().map(|s| s.to_string()).collect();
    Engine::open(cfg).unwrap()
}

/// Committed blobs, partial ingests and image names of an engine (for "store unchanged" checks).
pub(crate) fn store_state(e: &Engine) -> (Vec<String>, Vec<(String, u64)>, Vec<String>) {
    let blobs = e.content().list().unwrap().iter().map(|d| d.to_string()).collect();
    let partial = e.content().partial_ingests().unwrap();
    let images = e.images().list(&Default::default()).unwrap().into_iter().map(|i| format!("{:?}", i)).collect();
    (blobs, partial, images)
}

/// Pull with default options, collecting events.
pub(crate) fn pull(e: &Engine, r: &str) -> isula_core::Result<isula_core::PullResult> {
    e.images().pull(r, &Default::default(), &mut |_| {})
}

/// Pull `reference` (a `{addr}` in it is replaced by the server's address) from `srv` into
/// a fresh engine: the pull must fail with `kind` and `text` in its message, and leave the
/// store as it was. The error, for further checks.
pub(crate) fn pull_is_refused(srv: &FakeRegistry, reference: &str, kind: isula_core::ErrorKind, text: &str) -> String {
    let root = isula_tests::env::TestRoot::new();
    let e = engine(&root, &[&srv.addr]);
    let before = store_state(&e);
    let err = pull(&e, &reference.replace("{addr}", &srv.addr)).unwrap_err();
    assert_eq!(err.kind(), kind, "{err}");
    assert!(err.to_string().contains(text), "{err}");
    assert_eq!(store_state(&e), before, "the failed pull changed the store: {err}");
    err.to_string()
}

/// A writable in-memory registry: [`Content::serve`] plus uploads (POST, PATCH, PUT ?digest=),
/// cross-repository mounts (all repositories share blobs here) and manifest PUTs.
#[derive(Clone, Default)]
pub(crate) struct Writable {
    pub content: Arc<Mutex<Content>>,
    uploads: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    next: Arc<std::sync::atomic::AtomicUsize>,
}

impl Writable {
    pub(crate) fn serve(&self, req: &Req) -> Action {
        let p = req.path.trim_start_matches("/v2/").to_string();
        if req.method == "POST" && p.ends_with("/blobs/uploads/") {
            let repo = p.trim_end_matches("/blobs/uploads/").to_string();
            if let Some(d) = query_param(&req.query, "mount") {
                if self.content.lock().unwrap().blobs.contains_key(&d) {
                    let loc = format!("/v2/{repo}/blobs/{d}");
                    return respond(201, &[("Location", &loc), ("Docker-Content-Digest", &d)], "");
                }
            }
            let id = format!("u{}", self.next.fetch_add(1, Ordering::SeqCst));
            self.uploads.lock().unwrap().insert(id.clone(), Vec::new());
            // A relative Location, as some registries send.
            let loc = format!("/v2/{repo}/blobs/uploads/{id}?state=x");
            return respond(202, &[("Location", &loc), ("Range", "0-0")], "");
        }
        if let Some((repo, id)) = p.split_once("/blobs/uploads/") {
            let mut ups = self.uploads.lock().unwrap();
            let Some(buf) = ups.get_mut(id) else {
                return respond(404, &[], "");
            };
            buf.extend_from_slice(&req.body);
            let loc = format!("/v2/{repo}/blobs/uploads/{id}?state=y");
            if req.method == "PATCH" {
                let range = format!("0-{}", buf.len().saturating_sub(1));
                return respond(202, &[("Location", &loc), ("Range", &range)], "");
            }
            if req.method == "PUT" {
                let want = query_param(&req.query, "digest").unwrap_or_default();
                let data = ups.remove(id).unwrap();
                if isula_tests::images::sha256_digest(&data) != want {
                    return respond(400, &[], r#"{"errors":[{"code":"DIGEST_INVALID"}]}"#);
                }
                self.content.lock().unwrap().blobs.insert(want.clone(), data);
                return respond(201, &[("Docker-Content-Digest", &want)], "");
            }
        }
        if req.method == "PUT" {
            if let Some((_, tag)) = p.rsplit_once("/manifests/") {
                let mt = req.header("content-type").unwrap_or("").to_string();
                let d = self.content.lock().unwrap().add_manifest(tag, &mt, req.body.clone());
                return respond(201, &[("Docker-Content-Digest", &d)], "");
            }
        }
        let c = self.content.lock().unwrap().clone();
        c.serve(req)
    }
}

/// A query parameter, percent-decoded for `%3A` only (digests).
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.replace("%3A", ":"))
    })
}
