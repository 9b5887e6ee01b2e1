//! Network configuration lists (`*.conflist`) and single configurations (`*.conf`, `*.json`)
//! as defined by the CNI specification, loaded from files or directories.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// CNI versions whose configurations and results this runtime understands.
pub(crate) const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0"];

/// A parsed network configuration list: the network's name and version plus its plugin chain.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfigList {
    /// Network name (unique on the host).
    pub name: String,
    /// `cniVersion` of the list; injected into every plugin's configuration.
    pub cni_version: String,
    /// `disableCheck`: CHECK is skipped when true.
    pub disable_check: bool,
    /// The plugin configurations, in execution order for ADD.
    pub plugins: Vec<Map<String, Value>>,
    /// The file it was loaded from, if any.
    pub source: Option<PathBuf>,
}

impl NetworkConfigList {
    /// Parses a configuration list, or a single plugin configuration (wrapped into a one-plugin list).
    /// `origin` names the source in errors.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self> {
        let bad = |why: String| Error::invalid(format!("CNI configuration {origin}: {why}"));
        let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let Value::Object(top) = v else { return Err(bad("not a JSON object".into())) };
        let name = match top.get("name") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(bad("missing or empty \"name\"".into())),
        };
        if !valid_network_name(&name) {
            return Err(bad(format!("network name {name:?} may contain only letters, digits, '_', '.' and '-'")));
        }
        let cni_version = match top.get("cniVersion") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(bad("missing \"cniVersion\"".into())),
        };
        if !SUPPORTED_VERSIONS.contains(&cni_version.as_str()) {
            return Err(bad(format!(
                "unsupported cniVersion {cni_version:?} (supported: {})",
                SUPPORTED_VERSIONS.join(", ")
            )));
        }
        let disable_check = matches!(top.get("disableCheck"), Some(Value::Bool(true)));
        let plugins: Vec<Map<String, Value>> = match top.get("plugins") {
            Some(Value::Array(list)) => {
                let mut out = Vec::new();
                for (i, p) in list.iter().enumerate() {
                    match p {
                        Value::Object(m) => out.push(m.clone()),
                        _ => return Err(bad(format!("plugins[{i}] is not an object"))),
                    }
                }
                out
            }
            Some(_) => return Err(bad("\"plugins\" is not an array".into())),
            None => vec![top.clone()],
        };
        if plugins.is_empty() {
            return Err(bad("\"plugins\" is empty".into()));
        }
        for (i, p) in plugins.iter().enumerate() {
            match p.get("type") {
                Some(Value::String(t)) if !t.is_empty() && !t.contains('/') => {}
                _ => return Err(bad(format!("plugins[{i}] has no valid \"type\""))),
            }
        }
        Ok(NetworkConfigList { name, cni_version, disable_check, plugins, source: None })
    }

    /// Loads a file; errors are `InvalidArgument` naming the file and the reason.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read CNI configuration", e))?;
        let mut list = Self::parse(&bytes, &path.display().to_string())?;
        list.source = Some(path.to_path_buf());
        Ok(list)
    }

    /// The plugin type names in order.
    pub fn plugin_types(&self) -> Vec<String> {
        self.plugins.iter().filter_map(|p| p.get("type").and_then(Value::as_str).map(str::to_string)).collect()
    }

    /// The list as conflist JSON (what is stored in the result cache).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("cniVersion".into(), Value::String(self.cni_version.clone()));
        m.insert("name".into(), Value::String(self.name.clone()));
        if self.disable_check {
            m.insert("disableCheck".into(), Value::Bool(true));
        }
        m.insert("plugins".into(), Value::Array(self.plugins.iter().cloned().map(Value::Object).collect()));
        Value::Object(m)
    }

    /// The stdin configuration for plugin `index`: its own keys plus the list's `name` and
    /// `cniVersion`, `prevResult` when given, and `runtimeConfig` holding those of
    /// `capability_args` that the plugin declares in its `capabilities`.
    pub fn plugin_stdin(
        &self,
        index: usize,
        prev_result: Option<&Value>,
        capability_args: &Map<String, Value>,
    ) -> Value {
        let mut conf = self.plugins[index].clone();
        conf.insert("name".into(), Value::String(self.name.clone()));
        conf.insert("cniVersion".into(), Value::String(self.cni_version.clone()));
        if let Some(prev) = prev_result {
            conf.insert("prevResult".into(), prev.clone());
        } else {
            conf.remove("prevResult");
        }
        let mut rt = Map::new();
        if let Some(Value::Object(caps)) = self.plugins[index].get("capabilities") {
            for (k, enabled) in caps {
                if enabled == &Value::Bool(true) {
                    if let Some(v) = capability_args.get(k) {
                        rt.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        if !rt.is_empty() {
            conf.insert("runtimeConfig".into(), Value::Object(rt));
        }
        Value::Object(conf)
    }
}

/// True for names usable as network names (and as file names).
pub(crate) fn valid_network_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && name.len() <= 128
}

/// True when `a` is at least version `b` (dotted numeric comparison).
pub(crate) fn version_at_least(a: &str, b: &str) -> bool {
    let parse = |s: &str| s.split('.').map(|p| p.parse::<u32>().unwrap_or(0)).collect::<Vec<_>>();
    parse(a) >= parse(b)
}

/// Loads every `*.conflist`, `*.conf` and `*.json` file of `dir`, sorted by file name.
/// A missing directory gives an empty list; a malformed file is an `InvalidArgument` error
/// naming the file and the reason; two files defining one network name are an error too.
pub(crate) fn load_dir(dir: &Path) -> Result<Vec<NetworkConfigList>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, "read CNI configuration directory", e)),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("conflist" | "conf" | "json")))
        .collect();
    files.sort();
    let mut out: Vec<NetworkConfigList> = Vec::new();
    for f in files {
        let list = NetworkConfigList::load(&f)?;
        if let Some(other) = out.iter().find(|o| o.name == list.name) {
            return Err(Error::invalid(format!(
                "CNI configuration {}: network {:?} is already defined by {}",
                f.display(),
                list.name,
                other.source.as_deref().unwrap_or(Path::new("?")).display()
            )));
        }
        out.push(list);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conflist_and_single_conf() {
        let l = NetworkConfigList::parse(
            br#"{"cniVersion":"1.0.0","name":"n1","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}"#,
            "t",
        )
        .unwrap();
        assert_eq!(l.plugin_types(), vec!["bridge", "portmap"]);
        let caps = json!({"portMappings":[{"hostPort":1}], "ips":["10.0.0.2/24"]});
        let s = l.plugin_stdin(1, Some(&json!({"cniVersion":"1.0.0"})), caps.as_object().unwrap());
        assert_eq!(s["name"], "n1");
        assert_eq!(s["cniVersion"], "1.0.0");
        assert_eq!(s["prevResult"]["cniVersion"], "1.0.0");
        assert_eq!(s["runtimeConfig"], json!({"portMappings":[{"hostPort":1}]}));
        let s0 = l.plugin_stdin(0, None, caps.as_object().unwrap());
        assert!(s0.get("runtimeConfig").is_none() && s0.get("prevResult").is_none());

        let single = NetworkConfigList::parse(br#"{"cniVersion":"0.4.0","name":"x","type":"bridge"}"#, "t").unwrap();
        assert_eq!(single.plugins.len(), 1);
    }

    #[test]
    fn malformed_configs_say_why() {
        for (text, why) in [
            ("{", "invalid JSON"),
            ("[]", "not a JSON object"),
            (r#"{"cniVersion":"1.0.0","plugins":[]}"#, "name"),
            (r#"{"name":"a","plugins":[{"type":"x"}]}"#, "cniVersion"),
            (r#"{"name":"a","cniVersion":"0.2.0","type":"x"}"#, "unsupported cniVersion"),
            (r#"{"name":"a","cniVersion":"1.0.0","plugins":[]}"#, "empty"),
            (r#"{"name":"a","cniVersion":"1.0.0","plugins":[{"x":1}]}"#, "type"),
            (r#"{"name":"a b","cniVersion":"1.0.0","type":"x"}"#, "network name"),
        ] {
            let e = NetworkConfigList::parse(text.as_bytes(), "/etc/f.conflist").unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
            assert!(e.to_string().contains("/etc/f.conflist") && e.to_string().contains(why), "{e}");
        }
    }

    #[test]
    fn load_dir_sorted_and_strict() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("20-b.conf"), r#"{"cniVersion":"1.0.0","name":"b","type":"bridge"}"#).unwrap();
        std::fs::write(d.path().join("10-a.conflist"), r#"{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"x"}]}"#)
            .unwrap();
        std::fs::write(d.path().join("README"), "ignored").unwrap();
        let l = load_dir(d.path()).unwrap();
        assert_eq!(l.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
        std::fs::write(d.path().join("30-bad.json"), "{nope").unwrap();
        let e = load_dir(d.path()).unwrap_err();
        assert!(e.to_string().contains("30-bad.json") && e.to_string().contains("invalid JSON"), "{e}");
        assert!(load_dir(&d.path().join("missing")).unwrap().is_empty());
        assert!(version_at_least("1.0.0", "0.4.0") && !version_at_least("0.3.1", "0.4.0"));
    }
}
