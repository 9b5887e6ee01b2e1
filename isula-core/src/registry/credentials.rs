//! Saved registry credentials: `<root>/auth.json`, mode 0600, in Docker's
//! `config.json` shape (`{"auths": {"<host>": {"auth": base64("user:password")}}}`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sys::{self, FileLock};

/// A user name and password (or identity token). `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token; never logged.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

/// Standard base64 (RFC 4648): writes padding, reads it padded or not (as Docker's
/// `auth.json` entries come either way).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl Credentials {
    /// The `Authorization` header value for Basic auth.
    pub fn basic_header(&self) -> String {
        format!("Basic {}", BASE64.encode(format!("{}:{}", self.username, self.password).as_bytes()))
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: String,
}

/// The credentials file of one engine root.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    path: PathBuf,
}

/// The key credentials are saved under: the registry host[:port], with
/// Docker Hub's aliases folded to `docker.io` and any scheme or path dropped.
pub(crate) fn normalize_server(server: &str) -> Result<String> {
    let s = server.trim();
    let s = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).unwrap_or(s);
    let host = s.split('/').next().unwrap_or("").to_ascii_lowercase();
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '@') {
        return Err(Error::invalid(format!("invalid registry server {server:?}")));
    }
    Ok(match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io".into(),
        _ => host,
    })
}

impl CredentialStore {
    /// The store at `<root>/auth.json`.
    pub fn new(root: &Path) -> Self {
        CredentialStore { path: root.join("auth.json") }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<AuthFile> {
        if !self.path.exists() {
            return Ok(AuthFile::default());
        }
        sys::fs::read_json(&self.path)
    }

    fn write(&self, file: &AuthFile) -> Result<()> {
        let data =
            serde_json::to_vec_pretty(file).map_err(|e| Error::internal(format!("serialise credentials: {e}")))?;
        sys::fs::atomic_write_mode(&self.path, &data, 0o600)
    }

    fn lock(&self) -> Result<FileLock> {
        FileLock::lock(&self.path.with_file_name("auth.json.lock"))
    }

    /// Saved credentials for `server`, if any.
    pub fn get(&self, server: &str) -> Result<Option<Credentials>> {
        let key = normalize_server(server)?;
        let file = self.read()?;
        let Some(entry) = file.auths.get(&key) else {
            return Ok(None);
        };
        let raw = BASE64.decode(entry.auth.trim()).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| {
            Error::invalid(format!("{}: credentials for {key} are not valid base64", self.path.display()))
        })?;
        let (user, pass) = raw
            .split_once(':')
            .ok_or_else(|| Error::invalid(format!("{}: credentials for {key} lack a ':'", self.path.display())))?;
        Ok(Some(Credentials { username: user.into(), password: pass.into() }))
    }

    /// Save (replace) the credentials for `server`.
    pub fn set(&self, server: &str, creds: &Credentials) -> Result<()> {
        let key = normalize_server(server)?;
        let _lock = self.lock()?;
        let mut file = self.read()?;
        let auth = BASE64.encode(format!("{}:{}", creds.username, creds.password).as_bytes());
        file.auths.insert(key, AuthEntry { auth });
        self.write(&file)
    }

    /// Forget the credentials for `server`; `NotFound` when none were saved.
    pub fn remove(&self, server: &str) -> Result<()> {
        let key = normalize_server(server)?;
        let _lock = self.lock()?;
        let mut file = self.read()?;
        if file.auths.remove(&key).is_none() {
            return Err(Error::not_found(format!("not logged in to {key}")));
        }
        self.write(&file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn set_get_remove_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let s = CredentialStore::new(dir.path());
        assert_eq!(s.get("example.com:5000").unwrap(), None);
        let c = Credentials { username: "u".into(), password: "p:w".into() };
        s.set("https://Example.com:5000/v2/", &c).unwrap();
        assert_eq!(s.get("example.com:5000").unwrap(), Some(c.clone()));
        let mode = std::fs::metadata(s.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!format!("{c:?}").contains("p:w"));
        s.set("index.docker.io", &c).unwrap();
        assert!(s.get("docker.io").unwrap().is_some());
        s.remove("example.com:5000").unwrap();
        assert_eq!(s.get("example.com:5000").unwrap(), None);
        assert_eq!(s.remove("example.com:5000").unwrap_err().kind(), crate::ErrorKind::NotFound);
        assert_eq!(normalize_server("").unwrap_err().kind(), crate::ErrorKind::InvalidArgument);
    }

    #[test]
    fn base64_round_trips_rfc4648_vectors_padded_or_not() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(BASE64.encode(plain.as_bytes()), enc);
            assert_eq!(BASE64.decode(enc).unwrap(), plain.as_bytes());
            assert_eq!(BASE64.decode(enc.trim_end_matches('=')).unwrap(), plain.as_bytes());
        }
        assert_eq!(BASE64.decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert!(BASE64.decode("a*b").is_err());
    }
}
