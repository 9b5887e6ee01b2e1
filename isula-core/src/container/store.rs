//! The container record ([`ContainerRecord`], persisted as `<root>/containers/<id>/config.v2.json`,
//! its create options included; records of older versions keep those in `hostconfig.json`) and the in-memory [`ContainerStore`]: lookup by id, unique id prefix
//! or name, name reservation, and per-container locks.
//!
//! Locking: each [`Container`] has an *operation lock* (held for a whole lifecycle operation,
//! including runtime calls, so operations on one container are serialised) and a short *record
//! lock* (held only to read or change the record; never across a runtime call), with a condvar
//! signalled on every record change (used by `wait`). The store's index lock is only held to
//! look up, insert or remove entries. Operations on different containers run in parallel.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::options::CreateOptions;
use super::state::{State, Status};
use crate::error::{Error, Result};
use crate::sys;

/// File name of the record.
pub(crate) const RECORD_FILE: &str = "config.v2.json";
/// File name of the create options (Docker's HostConfig and more) in records written by
/// older versions; read when the record has no `HostConfig`, removed at the next save.
pub(crate) const HOSTCONFIG_FILE: &str = "hostconfig.json";

pub use isula_types::container::inspect::{ContainerConfig, MountPoint};

/// The persisted record of one container (`config.v2.json`, with `host_config` as its
/// `HostConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerRecord {
    /// 64 hex digits.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Creation time.
    pub created: crate::time::Timestamp,
    /// Image id (`sha256:…`).
    pub image: String,
    /// Executable of the init process.
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Effective configuration.
    pub config: ContainerConfig,
    /// The create options (`HostConfig` in the file, see [`ContainerRecord::save`]).
    #[serde(skip)]
    pub host_config: CreateOptions,
    /// OCI runtime name.
    pub runtime: String,
    /// Runtime state.
    pub state: State,
    /// Restarts done by the restart policy since the last user start.
    pub restart_count: u32,
    /// The mounted root filesystem (also the snapshot key is the id).
    pub rootfs: PathBuf,
    /// json-file log path (empty with log driver `none`).
    pub log_path: PathBuf,
    /// Mounts for inspect.
    pub mounts: Vec<MountPoint>,
    /// Names of the anonymous volumes created for this container (removed by `rm -v`).
    pub anonymous_volumes: Vec<String>,
}

impl ContainerRecord {
    /// The record's directory inside `containers_root`.
    pub fn dir(containers_root: &Path, id: &str) -> PathBuf {
        containers_root.join(id)
    }

    /// Write the record (one file, `config.v2.json`, the create options included) atomically
    /// and durably into `dir`, with `also_sync` (files of the container already written
    /// without a flush, such as the bundle's `config.json`) made durable in the same batch.
    /// One file per record: a container costs fewer file creations and flushes.
    pub fn save(&self, dir: &Path, also_sync: &[&Path]) -> Result<()> {
        let bytes = serde_json::to_vec(&RecordFile { rec: self, host_config: &self.host_config })
            .map_err(|e| Error::internal(format!("serialise container record: {e}")))?;
        sys::fs::atomic_write_all(&[(&dir.join(RECORD_FILE), &bytes)], also_sync)?;
        // A record of an older version had its create options beside it: now stale.
        match std::fs::remove_file(dir.join(HOSTCONFIG_FILE)) {
            Ok(()) => sys::fs::fsync_dir(dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(dir.join(HOSTCONFIG_FILE), "remove", e)),
        }
    }

    /// Read a record from `dir` (also the two-file layout of older versions).
    pub fn load(dir: &Path) -> Result<ContainerRecord> {
        let path = dir.join(RECORD_FILE);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, "read", e))?;
        let bad = |e: serde_json::Error| {
            Error::internal(format!("corrupt record: parse {}: {e}", path.display())).with_source(e)
        };
        let mut rec: ContainerRecord = serde_json::from_slice(&bytes).map_err(bad)?;
        let host: HostConfigOnly = serde_json::from_slice(&bytes).map_err(bad)?;
        rec.host_config = match host.host_config {
            Some(h) => h,
            None => sys::read_json(&dir.join(HOSTCONFIG_FILE))?,
        };
        Ok(rec)
    }
}

/// The record as written: its fields plus `HostConfig`.
#[derive(Serialize)]
struct RecordFile<'a> {
    #[serde(flatten)]
    rec: &'a ContainerRecord,
    #[serde(rename = "HostConfig")]
    host_config: &'a CreateOptions,
}

/// The `HostConfig` of a record file, if it has one (older versions wrote it apart).
#[derive(Deserialize)]
struct HostConfigOnly {
    #[serde(rename = "HostConfig", default)]
    host_config: Option<CreateOptions>,
}

/// One container in memory: its record behind locks (see the module doc).
#[derive(Debug)]
pub(crate) struct Container {
    /// The id.
    pub id: String,
    /// The record directory.
    pub dir: PathBuf,
    op: Mutex<()>,
    rec: Mutex<ContainerRecord>,
    changed: Condvar,
}

fn relock<T>(r: std::sync::LockResult<MutexGuard<'_, T>>) -> MutexGuard<'_, T> {
    r.unwrap_or_else(|p| p.into_inner())
}

impl Container {
    /// Wrap a record living in `dir`.
    pub(crate) fn new(rec: ContainerRecord, dir: PathBuf) -> Container {
        Container { id: rec.id.clone(), dir, op: Mutex::new(()), rec: Mutex::new(rec), changed: Condvar::new() }
    }

    /// Take the operation lock (serialises lifecycle operations on this container).
    pub(crate) fn lock_op(&self) -> MutexGuard<'_, ()> {
        relock(self.op.lock())
    }

    /// Take the operation lock unless another operation holds it.
    pub(crate) fn try_lock_op(&self) -> Option<MutexGuard<'_, ()>> {
        match self.op.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// A copy of the record.
    pub(crate) fn record(&self) -> ContainerRecord {
        relock(self.rec.lock()).clone()
    }

    /// Run `f` on the record under its lock (no copy); keep `f` short.
    pub(crate) fn with_record<R>(&self, f: impl FnOnce(&ContainerRecord) -> R) -> R {
        f(&relock(self.rec.lock()))
    }

    /// Current status.
    pub(crate) fn status(&self) -> Status {
        relock(self.rec.lock()).state.status
    }

    /// Change the record with `f`, persist it atomically and wake waiters. When the write
    /// fails the in-memory record is left unchanged too.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut ContainerRecord) -> R) -> Result<R> {
        let mut g = relock(self.rec.lock());
        let mut next = g.clone();
        let r = f(&mut next);
        if next != *g {
            next.save(&self.dir, &[])?;
            *g = next;
            self.changed.notify_all();
        }
        Ok(r)
    }

    /// Block until `done(record)` is true or `timeout` passes; returns the record then.
    pub(crate) fn wait_until(&self, timeout: Duration, done: impl Fn(&ContainerRecord) -> bool) -> ContainerRecord {
        let g = relock(self.rec.lock());
        let (g, _) = self.changed.wait_timeout_while(g, timeout, |r| !done(r)).unwrap_or_else(|p| p.into_inner());
        g.clone()
    }
}

#[derive(Debug, Default)]
struct Index {
    by_id: BTreeMap<String, Arc<Container>>,
    names: HashMap<String, String>,
}

/// All containers of an engine, by id and name.
#[derive(Debug)]
pub(crate) struct ContainerStore {
    root: PathBuf,
    index: RwLock<Index>,
}

impl ContainerStore {
    /// A store whose records live under `root` (`<graph>/containers`, created if missing).
    pub(crate) fn open(root: &Path) -> Result<ContainerStore> {
        sys::fs::ensure_dir(root, 0o700)?;
        Ok(ContainerStore { root: root.to_path_buf(), index: RwLock::new(Index::default()) })
    }

    /// The directory holding one sub-directory per container.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of container `id`.
    pub(crate) fn dir_of(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Reserve `name` for `id`; `Conflict` naming the holder when it is taken.
    pub(crate) fn reserve_name(&self, name: &str, id: &str) -> Result<()> {
        let mut ix = self.index.write().unwrap_or_else(|p| p.into_inner());
        match ix.names.get(name) {
            Some(holder) if holder != id => Err(Error::conflict(format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{holder}\". \
                 You have to remove (or rename) that container to be able to reuse that name."
            ))
            .with_reason(crate::Reason::NameInUse)),
            _ => {
                ix.names.insert(name.to_string(), id.to_string());
                Ok(())
            }
        }
    }

    /// Drop the reservation of `name` if `id` holds it.
    pub(crate) fn release_name(&self, name: &str, id: &str) {
        let mut ix = self.index.write().unwrap_or_else(|p| p.into_inner());
        if ix.names.get(name).map(|h| h == id).unwrap_or(false) {
            ix.names.remove(name);
        }
    }

    /// Add a container (its name must be reserved already).
    pub(crate) fn insert(&self, c: Arc<Container>) {
        let mut ix = self.index.write().unwrap_or_else(|p| p.into_inner());
        ix.by_id.insert(c.id.clone(), c);
    }

    /// Forget container `id` and its name.
    pub(crate) fn remove(&self, id: &str) {
        let mut ix = self.index.write().unwrap_or_else(|p| p.into_inner());
        ix.by_id.remove(id);
        ix.names.retain(|_, v| v != id);
    }

    /// Find by full id, name (with or without `/`) or unique id prefix.
    /// `NotFound` "No such container: x"; an ambiguous prefix is `InvalidArgument`.
    pub(crate) fn get(&self, key: &str) -> Result<Arc<Container>> {
        let ix = self.index.read().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = ix.by_id.get(key) {
            return Ok(c.clone());
        }
        let name = key.strip_prefix('/').unwrap_or(key);
        if let Some(id) = ix.names.get(name) {
            if let Some(c) = ix.by_id.get(id) {
                return Ok(c.clone());
            }
        }
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut hits = ix.by_id.range(key.to_string()..).take_while(|(k, _)| k.starts_with(key));
            if let Some((_, c)) = hits.next() {
                if hits.next().is_some() {
                    return Err(Error::invalid(format!("multiple containers found with provided prefix: {key}")));
                }
                return Ok(c.clone());
            }
        }
        Err(Error::not_found(format!("No such container: {key}")).with_reason(crate::Reason::NoSuchContainer))
    }

    /// Every container, ordered by id.
    pub(crate) fn list(&self) -> Vec<Arc<Container>> {
        self.index.read().unwrap_or_else(|p| p.into_inner()).by_id.values().cloned().collect()
    }
}

/// A random 64-hex container (or exec) id.
pub(crate) fn new_id() -> Result<String> {
    let mut b = [0u8; 32];
    let mut f = std::fs::File::open("/dev/urandom").map_err(|e| Error::io("/dev/urandom", "open", e))?;
    std::io::Read::read_exact(&mut f, &mut b).map_err(|e| Error::io("/dev/urandom", "read", e))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Validate a user-given container name (leading `/` allowed); returns it without the `/`.
pub(crate) fn check_name(name: &str) -> Result<String> {
    let n = name.strip_prefix('/').unwrap_or(name);
    if !super::parse::is_valid_name(n) {
        return Err(Error::invalid(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    Ok(n.to_string())
}

#[cfg(test)]
impl ContainerRecord {
    /// A minimal record for unit tests.
    pub(crate) fn for_test(id: &str, name: &str) -> ContainerRecord {
        ContainerRecord {
            id: id.into(),
            name: name.into(),
            created: crate::time::Timestamp::ZERO,
            image: String::new(),
            path: "sh".into(),
            args: vec![],
            config: ContainerConfig::default(),
            host_config: CreateOptions::default(),
            runtime: "runc".into(),
            state: State::default(),
            restart_count: 0,
            rootfs: PathBuf::new(),
            log_path: PathBuf::new(),
            mounts: vec![],
            anonymous_volumes: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn rec(id: &str, name: &str) -> ContainerRecord {
        ContainerRecord::for_test(id, name)
    }

    #[test]
    fn one_record_file_and_the_older_two_file_layout() {
        let t = tempfile::tempdir().unwrap();
        let mut r = rec("abc333", "three");
        r.host_config.auto_remove = true;
        r.save(t.path(), &[]).unwrap();
        assert!(!t.path().join(HOSTCONFIG_FILE).exists());
        assert_eq!(ContainerRecord::load(t.path()).unwrap(), r);
        // An older version's record: host config apart, no HostConfig in the record.
        let mut old = serde_json::to_value(&r).unwrap();
        assert!(old.get("HostConfig").is_none());
        old["Name"] = "old".into();
        std::fs::write(t.path().join(RECORD_FILE), serde_json::to_vec(&old).unwrap()).unwrap();
        std::fs::write(t.path().join(HOSTCONFIG_FILE), serde_json::to_vec(&r.host_config).unwrap()).unwrap();
        let loaded = ContainerRecord::load(t.path()).unwrap();
        assert_eq!(loaded.name, "old");
        assert!(loaded.host_config.auto_remove);
        // The next save writes one file and drops the stale one.
        loaded.save(t.path(), &[]).unwrap();
        assert!(!t.path().join(HOSTCONFIG_FILE).exists());
        assert_eq!(ContainerRecord::load(t.path()).unwrap(), loaded);
        // A record that does not parse is an error, not a default.
        std::fs::write(t.path().join(RECORD_FILE), b"{\"trunc").unwrap();
        assert!(ContainerRecord::load(t.path()).unwrap_err().to_string().contains("corrupt record"));
    }

    #[test]
    fn lookup_names_prefixes_and_persistence() {
        let t = tempfile::tempdir().unwrap();
        let s = ContainerStore::open(t.path()).unwrap();
        for (id, name) in [("abc111", "one"), ("abc222", "two")] {
            s.reserve_name(name, id).unwrap();
            std::fs::create_dir(s.dir_of(id)).unwrap();
            rec(id, name).save(&s.dir_of(id), &[]).unwrap();
            s.insert(Arc::new(Container::new(rec(id, name), s.dir_of(id))));
        }
        assert_eq!(s.get("one").unwrap().id, "abc111");
        assert_eq!(s.get("/two").unwrap().id, "abc222");
        assert_eq!(s.get("abc2").unwrap().id, "abc222");
        assert_eq!(s.get("abc").unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(s.get("zzz").unwrap_err().kind(), ErrorKind::NotFound);
        let e = s.reserve_name("one", "abc222").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert!(e.to_string().contains("abc111"), "{e}");
        let c = s.get("one").unwrap();
        c.update(|r| r.state.exit_code = 3).unwrap();
        assert_eq!(ContainerRecord::load(&c.dir).unwrap().state.exit_code, 3);
        s.remove("abc111");
        assert!(s.get("one").is_err());
        s.reserve_name("one", "abc222").unwrap();
        assert!(check_name("/ok_name").is_ok());
        assert_eq!(check_name("bad name").unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(new_id().unwrap().len(), 64);
    }
}
