//! The runtime side of CNI (specification 1.0.0; 0.3.x and 0.4.0 configurations too):
//! configuration lists, plugin execution, the result cache and ADD / CHECK / DEL of a whole list.
//!
//! ADD runs the plugins in order, each receiving the previous plugin's result as `prevResult`;
//! a failed ADD is undone with DEL before the error is returned. DEL runs in reverse order with
//! the configuration and result cached at ADD time, tolerates a namespace that is gone and
//! succeeds when nothing is attached.

pub(crate) mod cache;
pub(crate) mod config;
pub(crate) mod exec;
pub(crate) mod result;

use std::path::PathBuf;

use serde_json::{Map, Value};

pub(crate) use cache::{CacheEntry, ResultCache};
pub(crate) use config::NetworkConfigList;
pub(crate) use exec::{CniCommand, InvokeArgs, PluginExec};
pub(crate) use result::CniResult;

use crate::error::{Error, Result};

/// The per-attachment runtime parameters.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConf {
    /// Container id (`CNI_CONTAINERID`).
    pub container_id: String,
    /// Network namespace path (`CNI_NETNS`).
    pub netns: PathBuf,
    /// Interface name inside the container (`CNI_IFNAME`).
    pub ifname: String,
    /// `CNI_ARGS` pairs.
    pub args: Vec<(String, String)>,
    /// Capability arguments (e.g. `portMappings`, `ips`), given to plugins that declare them.
    pub capability_args: Map<String, Value>,
}

/// Runs configuration lists against containers, keeping the result cache.
#[derive(Debug, Clone)]
pub struct Cni {
    exec: PluginExec,
    cache: ResultCache,
}

impl Cni {
    /// A runtime using `exec` for plugins and `cache` for results.
    pub fn new(exec: PluginExec, cache: ResultCache) -> Self {
        Cni { exec, cache }
    }

    /// The plugin executor.
    pub fn exec(&self) -> &PluginExec {
        &self.exec
    }

    /// The result cache.
    pub fn cache(&self) -> &ResultCache {
        &self.cache
    }

    fn invoke_args(rt: &RuntimeConf, netns: String) -> InvokeArgs {
        InvokeArgs { container_id: rt.container_id.clone(), netns, ifname: rt.ifname.clone(), args: rt.args.clone() }
    }

    /// ADD: attaches the container to the network; returns the final result (raw JSON).
    /// Every plugin must exist before anything runs; on failure the list is deleted again.
    pub fn add(&self, list: &NetworkConfigList, rt: &RuntimeConf) -> Result<Value> {
        for t in list.plugin_types() {
            self.exec.find(&t).map_err(|e| e.context(format!("network {}", list.name)))?;
        }
        let mut entry = CacheEntry {
            kind: cache::CACHE_KIND.into(),
            container_id: rt.container_id.clone(),
            network_name: list.name.clone(),
            if_name: rt.ifname.clone(),
            config: list.to_json(),
            cni_args: rt.args.clone(),
            capability_args: rt.capability_args.clone(),
            result: None,
        };
        // Record the attempt first: a crash mid-ADD still leaves what DEL needs.
        self.cache.put(&entry)?;
        let args = Self::invoke_args(rt, rt.netns.display().to_string());
        let mut prev: Option<Value> = None;
        for (i, t) in list.plugin_types().iter().enumerate() {
            let stdin = list.plugin_stdin(i, prev.as_ref(), &rt.capability_args).to_string();
            let res = self.exec.run(&list.name, t, CniCommand::Add, &args, stdin.as_bytes()).and_then(|out| {
                let v: Value = serde_json::from_slice(&out).map_err(|e| {
                    Error::internal(format!("network {}: CNI plugin {t} ADD printed an invalid result: {e}", list.name))
                })?;
                if !v.is_object() {
                    return Err(Error::internal(format!(
                        "network {}: CNI plugin {t} ADD result is not an object",
                        list.name
                    )));
                }
                Ok(v)
            });
            match res {
                Ok(v) => prev = Some(v),
                Err(e) => {
                    if let Err(de) = self.del(Some(list), &list.name, rt) {
                        log::warn!("cleanup after failed ADD on network {}: {de}", list.name);
                        return Err(e.context(format!("(cleanup DEL also failed: {de})")));
                    }
                    return Err(e);
                }
            }
        }
        let result = prev.unwrap_or(Value::Null);
        entry.result = Some(result.clone());
        self.cache.put(&entry)?;
        Ok(result)
    }

    /// CHECK: verifies an attachment (needs cniVersion ≥ 0.4.0 and a cached result; skipped when
    /// the list sets `disableCheck`).
    pub fn check(&self, list: &NetworkConfigList, rt: &RuntimeConf) -> Result<()> {
        if list.disable_check {
            return Ok(());
        }
        if !config::version_at_least(&list.cni_version, "0.4.0") {
            return Err(Error::unimplemented(format!(
                "network {}: CHECK needs cniVersion 0.4.0 or later (has {})",
                list.name, list.cni_version
            )));
        }
        let entry = self.cache.get(&list.name, &rt.container_id, &rt.ifname)?.ok_or_else(|| {
            Error::not_found(format!(
                "network {}: container {} is not attached on {}",
                list.name, rt.container_id, rt.ifname
            ))
        })?;
        let prev =
            entry.result.ok_or_else(|| Error::precondition(format!("network {}: ADD did not complete", list.name)))?;
        let args = Self::invoke_args(rt, rt.netns.display().to_string());
        for (i, t) in list.plugin_types().iter().enumerate() {
            let stdin = list.plugin_stdin(i, Some(&prev), &entry.capability_args).to_string();
            self.exec.run(&list.name, t, CniCommand::Check, &args, stdin.as_bytes())?;
        }
        Ok(())
    }

    /// DEL: detaches in reverse plugin order using the cached configuration, arguments and result
    /// when there is a cache entry, else `list`. Succeeds when there is nothing to delete and
    /// passes an empty `CNI_NETNS` when the namespace no longer exists. Removes the cache entry.
    pub fn del(&self, list: Option<&NetworkConfigList>, network: &str, rt: &RuntimeConf) -> Result<()> {
        let cached = self.cache.get(network, &rt.container_id, &rt.ifname)?;
        let (list, args_pairs, caps, prev) = match &cached {
            Some(e) => {
                let l = NetworkConfigList::parse(e.config.to_string().as_bytes(), "cached configuration")?;
                (l, e.cni_args.clone(), e.capability_args.clone(), e.result.clone())
            }
            None => match list {
                Some(l) => (l.clone(), rt.args.clone(), rt.capability_args.clone(), None),
                None => return Ok(()),
            },
        };
        let prev = prev.filter(|_| config::version_at_least(&list.cni_version, "0.4.0"));
        let ns_gone = !super::netns::is_netns(&rt.netns);
        let netns = if ns_gone { String::new() } else { rt.netns.display().to_string() };
        let args =
            InvokeArgs { container_id: rt.container_id.clone(), netns, ifname: rt.ifname.clone(), args: args_pairs };
        let types = list.plugin_types();
        for i in (0..types.len()).rev() {
            let stdin = list.plugin_stdin(i, prev.as_ref(), &caps).to_string();
            self.exec.run(&list.name, &types[i], CniCommand::Del, &args, stdin.as_bytes())?;
        }
        if ns_gone {
            // The bridge plugin finds its masquerade rules through the namespace's addresses.
            let masq = list.plugins.iter().any(|p| {
                p.get("type").and_then(Value::as_str) == Some("bridge") && p.get("ipMasq") == Some(&Value::Bool(true))
            });
            if masq {
                super::masq::teardown_ipmasq(&list.name, &rt.container_id)
                    .map_err(|e| e.context(format!("network {}: remove masquerade rules", list.name)))?;
            }
        }
        self.cache.remove(network, &rt.container_id, &rt.ifname)
    }
}
