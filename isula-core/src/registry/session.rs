//! An authenticated conversation with one registry endpoint about one repository:
//! the `/v2/` ping, Basic and Bearer authentication (tokens cached per scope until
//! they expire), and requests that re-authenticate once on a 401.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use ureq::http::{Method, Request, Response};
use ureq::{Agent, Body, SendBody};

use super::challenge::{self, Challenge};
use super::credentials::Credentials;
use super::transport::{pct, status_error, Endpoint, Transport};
use crate::error::{Error, Result};

/// Tokens by realm, service, scopes and user, with their expiry. Process-wide so
/// consecutive pulls and pushes reuse them.
fn token_cache() -> &'static Mutex<HashMap<String, (String, Instant)>> {
    static CACHE: OnceLock<Mutex<HashMap<String, (String, Instant)>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The body of a request.
pub(crate) enum ReqBody<'a> {
    /// No body.
    Empty,
    /// A body in memory (replayable: retried and re-authenticated).
    Bytes(&'a [u8]),
    /// A streamed body of known length (sent once).
    Reader(&'a mut dyn Read, u64),
}

/// A session with one endpoint for one repository and a set of scopes.
pub(crate) struct Session<'t> {
    transport: &'t Transport,
    endpoint: Endpoint,
    agent: Agent,
    repository: String,
    scopes: Vec<String>,
    creds: Option<Credentials>,
    auth: Mutex<Option<String>>,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("endpoint", &self.endpoint.base).field("repository", &self.repository).finish()
    }
}

impl<'t> Session<'t> {
    /// Open a session: ping `/v2/` on `endpoint` and authenticate for `scopes`
    /// (e.g. `repository:library/busybox:pull`) when the registry challenges.
    pub(crate) fn open(
        transport: &'t Transport,
        endpoint: Endpoint,
        repository: &str,
        scopes: Vec<String>,
        creds: Option<Credentials>,
    ) -> Result<Self> {
        let agent = transport.agent(&endpoint)?;
        let s = Session {
            transport,
            endpoint,
            agent,
            repository: repository.to_string(),
            scopes,
            creds,
            auth: Mutex::new(None),
        };
        s.ping()?;
        Ok(s)
    }

    /// The endpoint in use.
    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The repository path (`library/busybox`).
    pub(crate) fn repository(&self) -> &str {
        &self.repository
    }

    /// `<base><api path>/<repository>/<rest>` (`https://host/v2/library/busybox/…`).
    pub(crate) fn url(&self, rest: &str) -> String {
        format!("{}/{}/{}", self.endpoint.api(), self.repository, rest)
    }

    /// A name for the registry in messages.
    pub(crate) fn registry_name(&self) -> String {
        if self.endpoint.mirror {
            format!("{} (mirror {})", self.endpoint.registry, self.endpoint.api())
        } else {
            format!("registry {}", self.endpoint.base)
        }
    }

    fn ping(&self) -> Result<()> {
        let url = format!("{}/", self.endpoint.api());
        let what = format!("{}: ping {url}", self.registry_name());
        // With a fallback (https before http), a failure moves on at once.
        let retries = if self.endpoint.has_fallback { 0 } else { self.transport.options().retries };
        let resp = self.transport.with_retries(&what, retries, || self.agent.get(&url).call())?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            401 => {
                let header = header(&resp, "www-authenticate").unwrap_or_default();
                self.authenticate(&header, &[], false).map_err(|e| e.context(&what))
            }
            404 => Err(Error::unavailable(format!("{what}: HTTP 404: not a registry (no /v2/ API)"))),
            _ => Err(status_error(&what, resp)),
        }
    }

    /// Answer a challenge: set the Basic header, or fetch (or reuse) a Bearer token.
    fn authenticate(&self, header: &str, extra_scopes: &[String], force: bool) -> Result<()> {
        let challenges = challenge::parse(header);
        let pick = challenges
            .iter()
            .find(|c| c.scheme == "bearer")
            .or_else(|| challenges.iter().find(|c| c.scheme == "basic"));
        let value = match pick {
            Some(c) if c.scheme == "bearer" => {
                format!("Bearer {}", self.token(c, extra_scopes, force)?)
            }
            Some(_) => match &self.creds {
                Some(creds) => creds.basic_header(),
                None => return Err(self.login_required()),
            },
            None => return Err(Error::permission(format!("unsupported authentication challenge {header:?}"))),
        };
        *self.auth.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        Ok(())
    }

    fn login_required(&self) -> Error {
        Error::permission(format!(
            "{} requires authentication: log in with `isula login {}`",
            self.registry_name(),
            self.endpoint.registry
        ))
    }

    fn token(&self, ch: &Challenge, extra_scopes: &[String], force: bool) -> Result<String> {
        let realm = ch
            .param("realm")
            .ok_or_else(|| Error::invalid(format!("{}: Bearer challenge without realm", self.registry_name())))?;
        let mut scopes: Vec<String> = self.scopes.clone();
        scopes.extend(extra_scopes.iter().cloned());
        if let Some(s) = ch.param("scope") {
            scopes.extend(s.split(' ').map(String::from));
        }
        scopes.sort();
        scopes.dedup();
        let service = ch.param("service").unwrap_or("");
        let user = self.creds.as_ref().map(|c| c.username.as_str()).unwrap_or("");
        let key = format!("{realm}|{service}|{}|{user}", scopes.join(" "));
        if !force {
            let cache = token_cache().lock().unwrap_or_else(|e| e.into_inner());
            if let Some((tok, until)) = cache.get(&key) {
                if Instant::now() < *until {
                    return Ok(tok.clone());
                }
            }
        }
        let mut url = realm.to_string();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        let mut add = |k: &str, v: &str| {
            url.push(sep);
            url.push_str(k);
            url.push('=');
            url.push_str(&pct(v));
            sep = '&';
        };
        if !service.is_empty() {
            add("service", service);
        }
        for s in &scopes {
            add("scope", s);
        }
        if !user.is_empty() {
            add("account", user);
        }
        let what = format!("{}: token from {realm}", self.registry_name());
        let resp = self.transport.with_retry(&what, || {
            let mut req = self.agent.get(&url);
            if let Some(c) = &self.creds {
                req = req.header("Authorization", c.basic_header());
            }
            req.call()
        })?;
        match resp.status().as_u16() {
            200 => {}
            401 | 403 => {
                let who = if user.is_empty() { "anonymous access".to_string() } else { format!("user {user:?}") };
                return Err(Error::permission(format!(
                    "{what}: HTTP {}: authentication failed for {who}",
                    resp.status().as_u16()
                )));
            }
            _ => return Err(status_error(&what, resp)),
        }
        let mut body = Vec::new();
        resp.into_body()
            .into_reader()
            .take(1 << 20)
            .read_to_end(&mut body)
            .map_err(|e| Error::unavailable(format!("{what}: read response: {e}")))?;
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| Error::invalid(format!("{what}: invalid token response: {e}")))?;
        let tok = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::invalid(format!("{what}: token response has no token")))?
            .to_string();
        let ttl = v.get("expires_in").and_then(|e| e.as_u64()).unwrap_or(60).max(60);
        let until = Instant::now() + Duration::from_secs(ttl.saturating_sub(10));
        token_cache().lock().unwrap_or_else(|e| e.into_inner()).insert(key, (tok.clone(), until));
        Ok(tok)
    }

    /// Send a request, retrying transient failures and re-authenticating once on a 401.
    /// The response is returned whatever its status; see [`Session::expect`].
    pub(crate) fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: ReqBody<'_>,
    ) -> Result<Response<Body>> {
        let what = format!("{}: {method} {url}", self.registry_name());
        let replayable: Option<&[u8]> = match &body {
            ReqBody::Empty => Some(&[]),
            ReqBody::Bytes(b) => Some(b),
            ReqBody::Reader(..) => None,
        };
        let Some(bytes) = replayable else {
            let ReqBody::Reader(r, len) = body else { unreachable!() };
            let auth = self.current_auth();
            let mut req = build_request(&method, url, headers, auth.as_deref(), SendBody::from_reader(r), &what)?;
            req.headers_mut().insert("content-length", len.into());
            return self.agent.run(req).map_err(|e| super::transport::transport_error(&what, e));
        };
        let with_len = !bytes.is_empty() || matches!(method, Method::POST | Method::PUT | Method::PATCH);
        let mut reauthed = false;
        loop {
            let auth = self.current_auth();
            let resp = self.transport.with_retry(&what, || {
                let mut req = build_request(&method, url, headers, auth.as_deref(), bytes, &what)
                    .map_err(|_| ureq::Error::BadUri(url.into()))?;
                if with_len {
                    req.headers_mut().insert("content-length", bytes.len().into());
                }
                self.agent.run(req)
            })?;
            if resp.status().as_u16() != 401 || reauthed {
                return Ok(resp);
            }
            let header = header(&resp, "www-authenticate").unwrap_or_default();
            if header.is_empty() {
                return Ok(resp);
            }
            if auth.is_none() && self.creds.is_none() && challenge::parse(&header).iter().all(|c| c.scheme == "basic") {
                return Err(self.login_required().context(&what));
            }
            self.authenticate(&header, &[], true).map_err(|e| e.context(&what))?;
            reauthed = true;
        }
    }

    fn current_auth(&self) -> Option<String> {
        self.auth.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// [`Session::send`], turning a status outside `ok` into an error naming `what`.
    pub(crate) fn expect(
        &self,
        what: &str,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: ReqBody<'_>,
        ok: &[u16],
    ) -> Result<Response<Body>> {
        let resp = self.send(method, url, headers, body)?;
        if ok.contains(&resp.status().as_u16()) {
            Ok(resp)
        } else {
            Err(status_error(&format!("{}: {what}", self.registry_name()), resp))
        }
    }

    /// Check that the session is authorised (used by login): `GET /v2/` must answer 200.
    pub(crate) fn check_access(&self) -> Result<()> {
        let url = format!("{}/", self.endpoint.api());
        self.expect("check credentials", Method::GET, &url, &[], ReqBody::Empty, &[200]).map(|_| ())
    }
}

fn build_request<B>(
    method: &Method,
    url: &str,
    headers: &[(&str, String)],
    auth: Option<&str>,
    body: B,
    what: &str,
) -> Result<Request<B>> {
    let mut r = Request::builder().method(method.clone()).uri(url);
    for (k, v) in headers {
        r = r.header(*k, v.as_str());
    }
    if let Some(a) = auth {
        r = r.header("Authorization", a);
    }
    r.body(body).map_err(|e| Error::invalid(format!("{what}: bad request: {e}")))
}

/// A response header as a string.
pub(crate) fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(String::from)
}
