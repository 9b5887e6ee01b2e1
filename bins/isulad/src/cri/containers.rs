//! CreateContainer, StartContainer, StopContainer, RemoveContainer, ListContainers,
//! ContainerStatus, UpdateContainerResources and ReopenContainerLog.

use std::collections::HashMap;
use std::path::Path;

use isula_core::{ContainerInspect, Engine, ListOptions, RemoveOptions, UpdateOptions};
use k8s_cri::v1 as cri;
use tonic::Status;

use super::container_config::{create_options, cri_propagation, cri_resources, resources};
use super::images::{find, image_ref};
use super::meta::{self, ignore_not_found, nanos, require_id, CriMeta};
use super::Shared;
use crate::blocking::blocking;

/// The CRI state of an engine status string (`created`, `running`, `exited`, …).
pub(crate) fn state(status: &str) -> cri::ContainerState {
    match status {
        "created" => cri::ContainerState::ContainerCreated,
        "running" | "paused" | "restarting" => cri::ContainerState::ContainerRunning,
        "exited" | "dead" | "removing" => cri::ContainerState::ContainerExited,
        _ => cri::ContainerState::ContainerUnknown,
    }
}

/// Create the missing host directories of bind mounts (as containerd does) and resolve
/// symlinks; returns the host paths in mount order.
fn prepare_host_paths(c: &cri::ContainerConfig) -> isula_core::Result<Vec<String>> {
    let mut out = Vec::new();
    for m in &c.mounts {
        let p = Path::new(&m.host_path);
        if m.host_path.is_empty() || !p.is_absolute() {
            // Rejected with a clear message by the mapping.
            out.push(m.host_path.clone());
            continue;
        }
        if std::fs::symlink_metadata(p).is_err() {
            std::fs::create_dir_all(p).map_err(|e| isula_core::Error::io(p, "create mount source", e))?;
        }
        let real = std::fs::canonicalize(p).map_err(|e| isula_core::Error::io(p, "resolve mount source", e))?;
        out.push(real.to_string_lossy().into_owned());
    }
    Ok(out)
}

/// CreateContainer in a pod.
pub(crate) async fn create(
    shared: &Shared,
    r: cri::CreateContainerRequest,
) -> Result<cri::CreateContainerResponse, Status> {
    require_id("pod sandbox", &r.pod_sandbox_id)?;
    let config = r.config.ok_or_else(|| Status::invalid_argument("CreateContainer needs a config"))?;
    let engine = shared.engine.clone();
    let pod = {
        let (engine, id) = (engine.clone(), r.pod_sandbox_id.clone());
        blocking(move || engine.pods().inspect(&id)).await?
    };
    // Validate (the config, the image) before touching the host.
    let image = create_options(&pod, &config, &[])?.image;
    let cfg = config.clone();
    let e2 = engine.clone();
    let paths = blocking(move || {
        if find(&e2, &image)?.is_none() {
            return Err(isula_core::Error::not_found(format!("No such image: {image}")));
        }
        prepare_host_paths(&cfg)
    })
    .await?;
    let opts = create_options(&pod, &config, &paths)?;
    let log_path = opts.log_config.config.get("path").cloned();
    let id = blocking(move || {
        if let Some(dir) = log_path.as_deref().and_then(|p| Path::new(p).parent()) {
            std::fs::create_dir_all(dir).map_err(|e| isula_core::Error::io(dir, "create log directory", e))?;
        }
        engine.containers().create(&opts)
    })
    .await?;
    Ok(cri::CreateContainerResponse { container_id: id })
}

/// StartContainer.
pub(crate) async fn start(shared: &Shared, id: String) -> Result<(), Status> {
    require_id("container", &id)?;
    let engine = shared.engine.clone();
    blocking(move || engine.containers().start(&id)).await
}

/// StopContainer: the stop signal, SIGKILL after `timeout` seconds; an unknown or stopped
/// container is a success.
pub(crate) async fn stop(shared: &Shared, id: String, timeout: i64) -> Result<(), Status> {
    require_id("container", &id)?;
    let engine = shared.engine.clone();
    ignore_not_found(blocking(move || engine.containers().stop(&id, Some(timeout.max(0)))).await)
}

/// RemoveContainer (killed if running); an unknown container is a success.
pub(crate) async fn remove(shared: &Shared, id: String) -> Result<(), Status> {
    require_id("container", &id)?;
    let engine = shared.engine.clone();
    ignore_not_found(
        blocking(move || {
            crate::memory::trim_after(|| engine.containers().remove(&id, &RemoveOptions { force: true, volumes: true }))
        })
        .await,
    )
}

/// The user of a running process from `/proc/<pid>/status` (uid, gid, supplementary groups).
fn process_user(pid: i32) -> Option<cri::ContainerUser> {
    if pid <= 0 {
        return None;
    }
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |k: &str| -> Vec<i64> {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.split_whitespace().filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default()
    };
    let (uid, gid) = (*field("Uid:").first()?, *field("Gid:").first()?);
    Some(cri::ContainerUser {
        linux: Some(cri::LinuxContainerUser { uid, gid, supplemental_groups: field("Groups:") }),
    })
}

/// The CRI identity of an inspected container; `NotFound` when it is not a CRI container.
fn cri_meta(i: &ContainerInspect) -> isula_core::Result<CriMeta> {
    meta::decode(&i.host_config.labels)
        .ok_or_else(|| isula_core::Error::not_found(format!("container {} is not a CRI container", i.id)))
}

/// The CRI status of container `id` (blocking).
pub(crate) fn container_status(
    engine: &Engine,
    id: &str,
) -> isula_core::Result<(cri::ContainerStatus, ContainerInspect)> {
    let i = engine.containers().inspect(id)?;
    let m = cri_meta(&i)?;
    let st = &i.state;
    let state = state(&st.status);
    let (reason, exit_code) = match state {
        cri::ContainerState::ContainerExited if st.oom_killed => ("OOMKilled", st.exit_code),
        cri::ContainerState::ContainerExited if st.exit_code == 0 => ("Completed", 0),
        cri::ContainerState::ContainerExited => ("Error", st.exit_code),
        _ => ("", 0),
    };
    let image_ref = find(engine, &i.image)?.map(|img| image_ref(&img)).unwrap_or_else(|| i.image.clone());
    let mounts = i
        .host_config
        .mounts
        .iter()
        .map(|mo| cri::Mount {
            container_path: mo.target.clone(),
            host_path: mo.source.clone(),
            readonly: mo.read_only,
            propagation: cri_propagation(mo.propagation.as_deref()),
            ..Default::default()
        })
        .collect();
    let finished_at = if state == cri::ContainerState::ContainerExited { nanos(st.finished_at) } else { 0 };
    let started_at = nanos(st.started_at);
    let status = cri::ContainerStatus {
        id: i.id.clone(),
        metadata: Some(m.metadata.clone()),
        state: state as i32,
        created_at: nanos(i.created),
        started_at,
        finished_at,
        exit_code,
        image: Some(cri::ImageSpec { image: m.image.clone(), ..Default::default() }),
        image_ref,
        reason: reason.into(),
        message: st.error.clone(),
        labels: m.labels.clone(),
        annotations: m.annotations.clone(),
        mounts,
        log_path: m.log_path.clone(),
        resources: Some(cri::ContainerResources {
            linux: Some(cri_resources(&i.host_config.resources)),
            windows: None,
        }),
        image_id: i.image.clone(),
        user: if state == cri::ContainerState::ContainerRunning { process_user(st.pid) } else { None },
    };
    Ok((status, i))
}

/// ContainerStatus; with `verbose` the engine's inspect (pid, sandbox id, spec parts) in
/// `info["info"]`.
pub(crate) async fn status(
    shared: &Shared,
    r: cri::ContainerStatusRequest,
) -> Result<cri::ContainerStatusResponse, Status> {
    require_id("container", &r.container_id)?;
    let engine = shared.engine.clone();
    let id = r.container_id.clone();
    let (status, i) = blocking(move || container_status(&engine, &id)).await?;
    let mut info = HashMap::new();
    if r.verbose {
        let v = serde_json::json!({
            "pid": i.state.pid,
            "sandboxID": i.host_config.pod,
            "runtime": i.runtime,
            "config": i.config,
            "hostConfig": i.host_config,
            "mounts": i.mounts,
        });
        info.insert("info".to_string(), v.to_string());
    }
    Ok(cri::ContainerStatusResponse { status: Some(status), info })
}

/// Whether container `c` passes `f`.
pub(crate) fn selected(c: &cri::Container, f: &cri::ContainerFilter) -> bool {
    (f.id.is_empty() || c.id.starts_with(&f.id))
        && (f.pod_sandbox_id.is_empty() || c.pod_sandbox_id.starts_with(&f.pod_sandbox_id))
        && f.state.as_ref().is_none_or(|s| s.state == c.state)
        && meta::selects(&f.label_selector, &c.labels)
}

/// Every CRI container of the engine (blocking).
pub(crate) fn all_containers(engine: &Engine) -> isula_core::Result<Vec<cri::Container>> {
    let opts = ListOptions { all: true, filters: vec![format!("label={}=container", meta::KIND)], last: 0 };
    let mut refs: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for s in engine.containers().list(&opts)? {
        let Some(m) = meta::decode(&s.labels) else { continue };
        let image_ref = match refs.get(&s.image_id) {
            Some(r) => r.clone(),
            None => {
                let r = find(engine, &s.image_id)?.map(|i| image_ref(&i)).unwrap_or_else(|| s.image_id.clone());
                refs.insert(s.image_id.clone(), r.clone());
                r
            }
        };
        out.push(cri::Container {
            id: s.id.clone(),
            pod_sandbox_id: m.pod.clone(),
            metadata: Some(m.metadata.clone()),
            image: Some(cri::ImageSpec { image: m.image.clone(), ..Default::default() }),
            image_ref,
            state: state(&s.state) as i32,
            created_at: s.created.saturating_mul(1_000_000_000),
            labels: m.labels,
            annotations: m.annotations,
            image_id: s.image_id.clone(),
        });
    }
    Ok(out)
}

/// ListContainers with the filter's id prefix, state, pod id and label selector.
pub(crate) async fn list(
    shared: &Shared,
    r: cri::ListContainersRequest,
) -> Result<cri::ListContainersResponse, Status> {
    let engine = shared.engine.clone();
    let all = blocking(move || all_containers(&engine)).await?;
    let f = r.filter.unwrap_or_default();
    Ok(cri::ListContainersResponse { containers: all.into_iter().filter(|c| selected(c, &f)).collect() })
}

/// UpdateContainerResources: the given limits, live and persisted.
pub(crate) async fn update_resources(shared: &Shared, r: cri::UpdateContainerResourcesRequest) -> Result<(), Status> {
    require_id("container", &r.container_id)?;
    let Some(linux) = &r.linux else { return Ok(()) };
    let opts = UpdateOptions { resources: resources(linux)?, ..Default::default() };
    let engine = shared.engine.clone();
    blocking(move || engine.containers().update(&r.container_id, &opts)).await
}

/// ReopenContainerLog (after kubelet moved the log file away).
pub(crate) async fn reopen_log(shared: &Shared, id: String) -> Result<(), Status> {
    require_id("container", &id)?;
    let engine = shared.engine.clone();
    blocking(move || {
        let i = engine.containers().inspect(&id)?;
        if i.state.status != "running" {
            return Err(isula_core::Error::precondition(format!("container {} is not running", i.id)));
        }
        engine.containers().reopen_log(&i.id)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_filters() {
        assert_eq!(state("created"), cri::ContainerState::ContainerCreated);
        assert_eq!(state("paused"), cri::ContainerState::ContainerRunning);
        assert_eq!(state("exited"), cri::ContainerState::ContainerExited);
        assert_eq!(state("weird"), cri::ContainerState::ContainerUnknown);
        let c = cri::Container {
            id: "abcdef".into(),
            pod_sandbox_id: "p123".into(),
            state: cri::ContainerState::ContainerRunning as i32,
            labels: HashMap::from([("a".into(), "1".into())]),
            ..Default::default()
        };
        assert!(selected(&c, &cri::ContainerFilter::default()));
        assert!(selected(
            &c,
            &cri::ContainerFilter { id: "abc".into(), pod_sandbox_id: "p1".into(), ..Default::default() }
        ));
        assert!(!selected(&c, &cri::ContainerFilter { pod_sandbox_id: "p2".into(), ..Default::default() }));
        let exited = cri::ContainerStateValue { state: cri::ContainerState::ContainerExited as i32 };
        assert!(!selected(&c, &cri::ContainerFilter { state: Some(exited), ..Default::default() }));
        let sel = HashMap::from([("a".into(), "2".into())]);
        assert!(!selected(&c, &cri::ContainerFilter { label_selector: sel, ..Default::default() }));
    }

    #[test]
    fn user_of_a_process() {
        let u = process_user(std::process::id() as i32).unwrap().linux.unwrap();
        // Our own uid, as the owner of /proc/self.
        let me = std::fs::metadata("/proc/self").unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(u.uid, me.uid() as i64);
        assert!(process_user(0).is_none());
    }

    #[test]
    fn host_paths_are_created_and_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let c = cri::ContainerConfig {
            mounts: vec![
                cri::Mount { host_path: dir.path().join("link").to_string_lossy().into(), ..Default::default() },
                cri::Mount { host_path: dir.path().join("new/sub").to_string_lossy().into(), ..Default::default() },
            ],
            ..Default::default()
        };
        let p = prepare_host_paths(&c).unwrap();
        assert_eq!(p[0], std::fs::canonicalize(&real).unwrap().to_string_lossy());
        assert!(dir.path().join("new/sub").is_dir());
    }
}
