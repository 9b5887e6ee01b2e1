//! Blob and manifest transfer: manifests fetched with a size limit and verified,
//! blobs streamed into the [`ContentStore`] with resume (`Range`) and verification,
//! blobs uploaded (monolithic or chunked) and mounted across repositories.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use ureq::http::Method;

use super::manifest::{self, Descriptor, Manifest, MAX_MANIFEST_SIZE};
use super::session::{header, ReqBody, Session};
use super::transport::{is_transient_io, status_error};
use super::LayerProgress;
use crate::content::ContentStore;
use crate::digest::Digest;
use crate::error::{Error, Result};

/// A manifest as fetched: its bytes, media type, digest and parsed form.
#[derive(Debug, Clone)]
pub(crate) struct FetchedManifest {
    /// The exact bytes served (what the digest covers).
    pub bytes: Vec<u8>,
    /// Its media type.
    pub media_type: String,
    /// sha256 of `bytes`.
    pub digest: Digest,
    /// The parsed document.
    pub manifest: Manifest,
}

/// GET `manifests/<reference>` (a tag or a digest), refusing more than 4 MiB and,
/// for a digest reference, content that does not match it.
pub(crate) fn fetch_manifest(s: &Session, reference: &str) -> Result<FetchedManifest> {
    let url = s.url(&format!("manifests/{reference}"));
    let what = format!("{}: manifest {}:{reference}", s.registry_name(), s.repository());
    let resp = s
        .send(Method::GET, &url, &[("Accept", manifest::accept_header())], ReqBody::Empty)
        .map_err(|e| e.context(format!("manifest {reference}")))?;
    if resp.status().as_u16() != 200 {
        return Err(status_error(&what, resp));
    }
    let content_type = header(&resp, "content-type");
    if let Some(len) = resp.body().content_length() {
        if len > MAX_MANIFEST_SIZE {
            return Err(too_big(&what, len));
        }
    }
    let mut bytes = Vec::new();
    resp.into_body()
        .into_reader()
        .take(MAX_MANIFEST_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::unavailable(format!("{what}: read: {e}")))?;
    if bytes.len() as u64 > MAX_MANIFEST_SIZE {
        return Err(too_big(&what, bytes.len() as u64));
    }
    let digest = Digest::of(&bytes);
    if reference.contains(':') {
        let want = Digest::parse(reference)?;
        if want != digest {
            return Err(Error::invalid(format!("{what}: content digest mismatch: got {digest}")));
        }
    }
    let (media_type, manifest) = manifest::parse(&bytes, content_type.as_deref(), &what)?;
    Ok(FetchedManifest { bytes, media_type, digest, manifest })
}

fn too_big(what: &str, len: u64) -> Error {
    Error::invalid(format!("{what}: manifest of {len} bytes exceeds the {MAX_MANIFEST_SIZE}-byte limit"))
}

/// Download blob `desc` into `store`, resuming a partial ingest with `Range`. Returns
/// true when this call committed it, false when the store already had it (possibly
/// because a concurrent pull just finished it: the ingest lock makes us wait for it).
pub(crate) fn fetch_blob(
    s: &Session,
    store: &ContentStore,
    desc: &Descriptor,
    retries: u32,
    cancel: &AtomicBool,
    events: &dyn Fn(LayerProgress),
) -> Result<bool> {
    let d = &desc.digest;
    if store.contains(d) {
        events(LayerProgress::AlreadyExists);
        return Ok(false);
    }
    let mut ing = store.ingest(d.hex())?;
    if store.contains(d) {
        ing.abort();
        events(LayerProgress::AlreadyExists);
        return Ok(false);
    }
    if ing.offset() > desc.size {
        ing.reset()?;
    }
    let url = s.url(&format!("blobs/{d}"));
    let what = format!("{}: blob {d} of {}", s.registry_name(), s.repository());
    let mut attempt = 0;
    let mut buf = vec![0u8; 256 * 1024];
    while ing.offset() < desc.size {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::unavailable(format!("{what}: cancelled")).with_reason(crate::Reason::Cancelled));
        }
        let offset = ing.offset();
        let mut headers = Vec::new();
        if offset > 0 {
            headers.push(("Range", format!("bytes={offset}-")));
            log::debug!("{what}: resuming at byte {offset}");
        }
        let resp = s.send(Method::GET, &url, &headers, ReqBody::Empty)?;
        match resp.status().as_u16() {
            200 if offset > 0 => ing.reset()?,
            200 => {}
            206 => {
                let range = header(&resp, "content-range").unwrap_or_default();
                if !range.trim().starts_with(&format!("bytes {offset}-")) {
                    return Err(Error::invalid(format!(
                        "{what}: asked for bytes from {offset}, got Content-Range {range:?}"
                    )));
                }
            }
            416 => {
                ing.reset()?;
                continue;
            }
            _ => return Err(status_error(&what, resp)),
        }
        let start = ing.offset();
        if let Some(len) = resp.body().content_length() {
            if start + len != desc.size {
                if start == 0 {
                    ing.abort();
                }
                return Err(Error::invalid(format!(
                    "{what}: server sends {} bytes, the manifest says {}",
                    start + len,
                    desc.size
                )));
            }
        }
        let mut reader = resp.into_body().into_reader();
        let mut last_event = 0u64;
        let failure = loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::unavailable(format!("{what}: cancelled")).with_reason(crate::Reason::Cancelled));
            }
            match reader.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => {
                    if ing.offset() + n as u64 > desc.size {
                        ing.abort();
                        return Err(Error::invalid(format!("{what}: more data than the {} bytes expected", desc.size)));
                    }
                    ing.write_all(&buf[..n]).map_err(|e| Error::io(store.path(d), "write blob", e))?;
                    if ing.offset() - last_event >= 1 << 20 || ing.offset() == desc.size {
                        last_event = ing.offset();
                        events(LayerProgress::Downloading { current: ing.offset(), total: desc.size });
                    }
                }
                Err(e) => break Some(e),
            }
        };
        if ing.offset() >= desc.size {
            break;
        }
        let reason = match failure {
            Some(e) if !is_transient_io(&e) && e.kind() != std::io::ErrorKind::Other => {
                return Err(Error::unavailable(format!("{what}: read failed at byte {}: {e}", ing.offset())));
            }
            Some(e) => format!("{e}"),
            None => "connection closed early".into(),
        };
        if attempt >= retries {
            return Err(Error::unavailable(format!(
                "{what}: download interrupted at byte {} of {} ({reason}); the partial data is kept and the next pull resumes it",
                ing.offset(),
                desc.size
            )));
        }
        attempt += 1;
        log::info!("{what}: interrupted at byte {} ({reason}), resuming", ing.offset());
    }
    events(LayerProgress::Verifying);
    ing.commit(Some(d), Some(desc.size)).map_err(|e| e.context(&what))?;
    crate::failpoint::hit("image.pull.after-blob-commit");
    Ok(true)
}

/// True when the registry already has blob `d` in the session's repository.
pub(crate) fn blob_exists(s: &Session, d: &Digest) -> Result<bool> {
    let url = s.url(&format!("blobs/{d}"));
    let resp = s.send(Method::HEAD, &url, &[], ReqBody::Empty)?;
    match resp.status().as_u16() {
        200 => Ok(true),
        404 => Ok(false),
        _ => Err(status_error(&format!("{}: HEAD blob {d}", s.registry_name()), resp)),
    }
}

/// How an upload of a blob ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Uploaded {
    /// Mounted from another repository of the registry, nothing sent.
    Mounted,
    /// Sent.
    Pushed,
}

/// Blobs larger than this go up in chunks (`PATCH`), smaller ones in one `PUT`.
pub(crate) const CHUNKED_THRESHOLD: u64 = 32 << 20;
/// Chunk size of chunked uploads.
pub(crate) const CHUNK_SIZE: u64 = 16 << 20;

/// Upload blob `desc` from `store`, trying a cross-repository mount from `mount_from` first.
pub(crate) fn upload_blob(
    s: &Session,
    store: &ContentStore,
    desc: &Descriptor,
    mount_from: Option<&str>,
    progress: &mut dyn FnMut(u64),
) -> Result<Uploaded> {
    let d = &desc.digest;
    let what = format!("{}: upload blob {d} to {}", s.registry_name(), s.repository());
    let start_url = match mount_from {
        Some(from) => s.url(&format!("blobs/uploads/?mount={d}&from={from}")),
        None => s.url("blobs/uploads/"),
    };
    let resp = s.expect("start upload", Method::POST, &start_url, &[], ReqBody::Empty, &[201, 202])?;
    if resp.status().as_u16() == 201 {
        return Ok(Uploaded::Mounted);
    }
    let mut location = location(s, &header(&resp, "location"), &what)?;
    let mut file = store.open_blob(d)?;
    let size = desc.size;
    if size <= CHUNKED_THRESHOLD {
        let url = with_digest(&location, d);
        let mut reader = ProgressReader { inner: &mut file, done: 0, total: size, progress };
        s.expect(
            "upload blob",
            Method::PUT,
            &url,
            &[("Content-Type", "application/octet-stream".into())],
            ReqBody::Reader(&mut reader, size),
            &[201],
        )?;
        return Ok(Uploaded::Pushed);
    }
    let mut sent = 0u64;
    while sent < size {
        let n = CHUNK_SIZE.min(size - sent);
        let mut chunk = (&mut file).take(n);
        let resp = s.expect(
            "upload chunk",
            Method::PATCH,
            &location,
            &[
                ("Content-Type", "application/octet-stream".into()),
                ("Content-Range", format!("{sent}-{}", sent + n - 1)),
            ],
            ReqBody::Reader(&mut chunk, n),
            &[202],
        )?;
        location = location_or(s, &header(&resp, "location"), &location, &what)?;
        sent += n;
        progress(sent);
    }
    s.expect("finish upload", Method::PUT, &with_digest(&location, d), &[], ReqBody::Empty, &[201])?;
    Ok(Uploaded::Pushed)
}

/// PUT a manifest under `reference` (tag or digest) with its media type; returns the digest.
pub(crate) fn put_manifest(s: &Session, reference: &str, media_type: &str, bytes: &[u8]) -> Result<Digest> {
    let url = s.url(&format!("manifests/{reference}"));
    let resp = s.expect(
        &format!("put manifest {}:{reference}", s.repository()),
        Method::PUT,
        &url,
        &[("Content-Type", media_type.to_string())],
        ReqBody::Bytes(bytes),
        &[200, 201],
    )?;
    let d = Digest::of(bytes);
    if let Some(h) = header(&resp, "docker-content-digest") {
        if h != d.to_string() {
            return Err(Error::invalid(format!("{}: registry reports digest {h} for manifest {d}", s.registry_name())));
        }
    }
    Ok(d)
}

fn location(s: &Session, loc: &Option<String>, what: &str) -> Result<String> {
    let loc = loc.as_deref().ok_or_else(|| Error::invalid(format!("{what}: upload response has no Location")))?;
    Ok(absolute(s, loc))
}

fn location_or(s: &Session, loc: &Option<String>, prev: &str, _what: &str) -> Result<String> {
    Ok(loc.as_deref().map(|l| absolute(s, l)).unwrap_or_else(|| prev.to_string()))
}

fn absolute(s: &Session, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        loc.to_string()
    } else if loc.starts_with('/') {
        format!("{}{loc}", s.endpoint().base)
    } else {
        format!("{}/{loc}", s.endpoint().base)
    }
}

fn with_digest(location: &str, d: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={d}")
}

struct ProgressReader<'a, R> {
    inner: R,
    done: u64,
    total: u64,
    progress: &'a mut dyn FnMut(u64),
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let before = self.done >> 20;
        self.done += n as u64;
        if n > 0 && (self.done >> 20 != before || self.done == self.total) {
            (self.progress)(self.done);
        }
        Ok(n)
    }
}
