//! Inputs and outputs of the container operations (`ps`, `rm`, `wait`, `exec`, `logs`) in
//! Docker's JSON shapes; `inspect` is in [`super::inspect`].

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Options of `rm`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RemoveOptions {
    /// Kill a running container first.
    pub force: bool,
    /// Also remove the container's anonymous volumes.
    pub volumes: bool,
}

/// Options of `ps`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListOptions {
    /// Include stopped containers.
    pub all: bool,
    /// `key=value` filters: `id`, `name`, `label` (`k` or `k=v`), `status`, `ancestor`.
    pub filters: Vec<String>,
    /// Only the `n` most recently created (implies `all`); 0 = no limit.
    pub last: usize,
}

/// One port of a `ps` line (Docker's `types.Port`).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Port {
    /// Host address of a published port (`0.0.0.0` for all IPv4 addresses, `::` for all IPv6).
    #[serde(rename = "IP", default, skip_serializing_if = "String::is_empty")]
    pub ip: String,
    /// Port inside the container.
    pub private_port: u16,
    /// Host port; 0 when not published.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub public_port: u16,
    /// `tcp` or `udp`.
    #[serde(rename = "Type")]
    pub kind: String,
}

fn is_zero(p: &u16) -> bool {
    *p == 0
}

impl std::fmt::Display for Port {
    /// Docker's `ps` form: `0.0.0.0:8080->80/tcp`, `:::8080->80/tcp`, or `80/tcp` when not published.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.public_port == 0 {
            write!(f, "{}/{}", self.private_port, self.kind)
        } else {
            write!(f, "{}:{}->{}/{}", self.ip, self.public_port, self.private_port, self.kind)
        }
    }
}

/// The `PORTS` column of `ps`: each port in Docker's form, sorted, joined by `, `.
pub fn display_ports(ports: &[Port]) -> String {
    let mut p: Vec<&Port> = ports.iter().collect();
    p.sort_by(|a, b| {
        (a.private_port, &a.kind, a.ip.contains(':'), &a.ip, a.public_port).cmp(&(
            b.private_port,
            &b.kind,
            b.ip.contains(':'),
            &b.ip,
            b.public_port,
        ))
    });
    p.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
}

/// One line of `ps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    /// Full id.
    pub id: String,
    /// Names, each with a leading `/`.
    pub names: Vec<String>,
    /// Image as the user named it.
    pub image: String,
    /// Image id.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// Command line (path and arguments joined by spaces).
    pub command: String,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// Published ports.
    #[serde(default)]
    pub ports: Vec<Port>,
    /// `created`, `running`, `exited`, …
    pub state: String,
    /// Human status: `Up 3 minutes`, `Exited (0) 2 minutes ago`, `Created`.
    pub status: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Pod sandbox the container belongs to (empty for a plain container; not in Docker's
    /// shape, so left out of the JSON when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod: String,
}

/// What `wait` waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitCondition {
    /// Until the container is not running (returns at once when it is not).
    #[default]
    NotRunning,
    /// Until the next exit.
    NextExit,
    /// Until it is removed.
    Removed,
}

/// Options of `exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecOptions {
    /// The command (required).
    pub cmd: Vec<String>,
    /// Extra environment `KEY=VALUE` (over the container's).
    pub env: Vec<String>,
    /// User (`name`, `uid`, `uid:gid`); the container's by default.
    pub user: Option<String>,
    /// Working directory; the container's by default.
    pub working_dir: Option<String>,
    /// A pty.
    pub tty: bool,
    /// Do not attach: the process runs on its own (its output goes nowhere).
    pub detach: bool,
    /// Keep stdin open for the attach stream.
    pub attach_stdin: bool,
    /// The pty's size `[height, width]` when the process starts (Docker's `ConsoleSize`);
    /// with `tty` only.
    pub console_size: Option<[u16; 2]>,
}

/// Output of an exec collected to the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit code (128 + signal when killed).
    pub exit_code: i32,
    /// Everything written to stdout (or the pty).
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
}

/// What `cp` knows about a path in a container (Docker's container path stat, keys
/// `name`, `size`, `mode`, `mtime`, `linkTarget`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathStat {
    /// Base name of the path (`.` for the root).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// For a symlink, the absolute path it resolves to inside the container
    /// (what `cp -L` copies); empty otherwise.
    pub link_target: String,
}

impl PathStat {
    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        const S_IFMT: u32 = 0o170000;
        const S_IFDIR: u32 = 0o040000;
        self.mode & S_IFMT == S_IFDIR
    }
}

/// Options of `logs`: the one shape the engine, the daemon, the CLI and the C ABI use.
/// Times travel as RFC 3339 strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogOptions {
    /// Only entries at or after this time.
    #[serde(with = "opt_time")]
    pub since: Option<SystemTime>,
    /// Only entries at or before this time.
    #[serde(with = "opt_time")]
    pub until: Option<SystemTime>,
    /// Only the last `n` matching entries (before following).
    pub tail: Option<usize>,
    /// Prefix each line with its time when rendering.
    pub timestamps: bool,
    /// Keep reading new entries until the container stops (or the reader goes away).
    pub follow: bool,
    /// Include stdout.
    pub stdout: bool,
    /// Include stderr.
    pub stderr: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            since: None,
            until: None,
            tail: None,
            timestamps: false,
            follow: false,
            stdout: true,
            stderr: true,
        }
    }
}

/// A `logs` time given as RFC 3339 or (fractional) seconds since the epoch, as
/// [`LogOptions`] reads `Since`/`Until`; `None` when it is neither.
pub fn parse_log_time(s: &str) -> Option<SystemTime> {
    opt_time::parse(s)
}

/// `Option<SystemTime>` written as an RFC 3339 string (or null); read from RFC 3339 or from
/// seconds since the epoch, as a number or a string (fractions allowed).
mod opt_time {
    use std::time::{Duration, SystemTime};

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::time::{parse_rfc3339, Timestamp};

    pub(super) fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        t.map(Timestamp::from).serialize(s)
    }

    /// A time in either accepted form.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Secs(f64),
        Text(String),
    }

    fn secs(s: f64) -> Option<SystemTime> {
        (s.is_finite() && s >= 0.0).then(|| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(s))
    }

    /// RFC 3339 or (fractional) seconds since the epoch; `None` for anything else.
    pub(super) fn parse(t: &str) -> Option<SystemTime> {
        match t.parse::<f64>() {
            Ok(s) => secs(s),
            Err(_) => parse_rfc3339(t).filter(|t| t.unix_nanos() >= 0).map(SystemTime::from),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        let t = match Option::<Repr>::deserialize(d)? {
            None => return Ok(None),
            Some(Repr::Secs(s)) => secs(s),
            Some(Repr::Text(t)) => parse(&t),
        };
        t.map(Some).ok_or_else(|| D::Error::custom("Since and Until must be RFC 3339 or seconds since the epoch"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summary_keys_are_dockers() {
        let s = ContainerSummary {
            id: "abc".into(),
            names: vec!["/web".into()],
            image: "busybox".into(),
            image_id: "sha256:1".into(),
            command: "sh".into(),
            created: 5,
            ports: vec![Port { ip: "0.0.0.0".into(), private_port: 80, public_port: 8080, kind: "tcp".into() }],
            state: "running".into(),
            status: "Up 1 second".into(),
            labels: BTreeMap::new(),
            pod: String::new(),
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["Id"], "abc");
        assert_eq!(v["ImageID"], "sha256:1");
        assert_eq!(v["Ports"], json!([{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]));
        let back: ContainerSummary = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
        let o: ListOptions = serde_json::from_str(r#"{"All":true,"Filters":["name=x"],"Last":2}"#).unwrap();
        assert_eq!(o, ListOptions { all: true, filters: vec!["name=x".into()], last: 2 });
        let r: RemoveOptions = serde_json::from_str(r#"{"Force":true,"Volumes":true}"#).unwrap();
        assert!(r.force && r.volumes);
        let e: ExecOptions = serde_json::from_str(r#"{"Cmd":["ls"],"WorkingDir":"/","AttachStdin":true}"#).unwrap();
        assert_eq!(e.cmd, ["ls"]);
        assert_eq!(e.working_dir.as_deref(), Some("/"));
        assert!(e.attach_stdin);
        assert_eq!(serde_json::to_value(WaitCondition::NextExit).unwrap(), "next-exit");
        let st = PathStat { name: "d".into(), size: 0, mode: 0o040755, mtime: 1, link_target: String::new() };
        assert!(st.is_dir());
        assert_eq!(
            serde_json::to_value(&st).unwrap(),
            json!({"name": "d", "size": 0, "mode": 0o040755, "mtime": 1, "linkTarget": ""})
        );
    }

    #[test]
    fn ports_print_like_docker() {
        let p = |ip: &str, public, private, kind: &str| Port {
            ip: ip.into(),
            private_port: private,
            public_port: public,
            kind: kind.into(),
        };
        let ports = vec![p("::", 8080, 80, "tcp"), p("0.0.0.0", 8080, 80, "tcp"), p("", 0, 53, "udp")];
        assert_eq!(display_ports(&ports), "53/udp, 0.0.0.0:8080->80/tcp, :::8080->80/tcp");
        assert_eq!(display_ports(&[]), "");
        let v = serde_json::to_value(p("", 0, 53, "udp")).unwrap();
        assert_eq!(v, json!({"PrivatePort": 53, "Type": "udp"}));
    }

    #[test]
    fn log_options_one_shape() {
        let o: LogOptions =
            serde_json::from_str(r#"{"Since":"1970-01-01T00:00:01Z","Tail":3,"Follow":true,"Timestamps":true}"#)
                .unwrap();
        assert_eq!(o.since, Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1)));
        assert_eq!(o.until, None);
        assert_eq!(o.tail, Some(3));
        assert!(o.follow && o.timestamps && o.stdout && o.stderr);
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["Since"], "1970-01-01T00:00:01Z");
        assert_eq!(v["Until"], json!(null));
        assert_eq!(serde_json::from_value::<LogOptions>(v).unwrap(), o);
        let secs: LogOptions = serde_json::from_str(r#"{"Since":1.5,"Until":"2","Stdout":false}"#).unwrap();
        assert_eq!(secs.since, Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1500)));
        assert_eq!(secs.until, Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(2)));
        assert!(!secs.stdout && secs.stderr);
        assert!(serde_json::from_str::<LogOptions>(r#"{"Since":-1}"#).is_err());
        assert!(serde_json::from_str::<LogOptions>(r#"{"Until":"yesterday"}"#).is_err());
    }
}
