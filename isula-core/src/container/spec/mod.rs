//! OCI runtime spec generation: image config + [`CreateOptions`] → `oci_spec::runtime::Spec`,
//! with Docker's defaults and semantics.
//!
//! The lifecycle calls, in order: [`CreateOptions::validate`] (also done by [`build_spec`]),
//! [`build_spec`], [`prepare_container`] (writes hosts/resolv.conf/hostname, creates volumes
//! and the working directory), then [`write_bundle_config`].

pub(crate) mod devices;
pub(crate) mod files;
pub(crate) mod hugepages;
pub(crate) mod mounts;
pub(crate) mod paths;
pub(crate) mod propagation;
pub(crate) mod rootfs;
pub(crate) mod seccomp;
pub(crate) mod user;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::image::Config as ImageConfig;
use oci_spec::runtime::Spec;
use serde_json::{json, Value};

use crate::container::caps::{compute_caps, host_caps};
use crate::container::options::CreateOptions;
use crate::container::parse::{
    parse_add_host, parse_namespace_mode, parse_security_opt, parse_signal, ModeKind, NamespaceMode, SecurityOpt,
};
use crate::container::validate::Validate;
use crate::{Error, Result};

use self::files::{HOSTNAME_FILE, HOSTS_FILE, RESOLV_FILE};
use self::seccomp::SeccompHost;

/// Docker's default `PATH`.
pub(crate) const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Default parent cgroup of containers.
#[cfg(test)]
pub(crate) const DEFAULT_CGROUP_PARENT: &str = "/isulad";

/// Paths hidden from non-privileged containers.
pub(crate) const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths read-only in non-privileged containers.
pub(crate) const READONLY_PATHS: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// Maps `container:<id>` namespace modes to the process whose namespaces are joined.
/// Provided by the lifecycle code (it knows running containers).
pub(crate) trait NamespaceResolver {
    /// The host pid of the init process of running container `id_or_name`
    /// (NotFound / FailedPrecondition when it does not exist or is not running).
    fn container_pid(&self, id_or_name: &str) -> Result<u32>;
}

/// A resolver that knows no containers (every `container:<id>` mode fails with NotFound).
#[cfg(test)]
pub(crate) struct NoContainers;

#[cfg(test)]
impl NamespaceResolver for NoContainers {
    fn container_pid(&self, id_or_name: &str) -> Result<u32> {
        Err(Error::not_found(format!("no such container: {id_or_name}")).with_reason(crate::Reason::NoSuchContainer))
    }
}

/// Facts about the host the spec is built for. [`HostInfo::detect`] reads them once.
#[derive(Debug, Clone)]
pub(crate) struct HostInfo {
    /// Unified cgroup v2 hierarchy (else v1 or hybrid).
    pub cgroup_v2: bool,
    /// Parent cgroup for containers without `--cgroup-parent` (e.g. `/isulad`; a slice
    /// such as `system.slice` with the systemd driver).
    pub cgroup_parent: String,
    /// The systemd cgroup driver is in use: cgroups paths are `slice:isula:<id>`.
    pub systemd_cgroup: bool,
    /// The memory cgroup accounts swap (`memory.memsw.*` on v1).
    pub swap_accounting: bool,
    /// Capabilities the kernel knows (what "all" means).
    pub caps: Vec<String>,
    /// The engine's own resource limits by `--ulimit` name: (soft, hard), `u64::MAX` = unlimited.
    pub rlimits: BTreeMap<String, (u64, u64)>,
    /// The engine holds CAP_SYS_RESOURCE (may set hard limits above its own).
    pub can_raise_rlimits: bool,
    /// Architecture and kernel version for seccomp.
    pub seccomp: SeccompHost,
    /// The kernel supports seccomp filters.
    pub seccomp_supported: bool,
    /// The host's hostname (for `--network host` / `--uts host`).
    pub hostname: String,
    /// Content of the host's /etc/resolv.conf.
    pub resolv_conf: String,
    /// Content of the host's /etc/hosts (used with `--network host`).
    pub etc_hosts: String,
}

fn limits_name(desc: &str) -> Option<&'static str> {
    Some(match desc {
        "Max cpu time" => "cpu",
        "Max file size" => "fsize",
        "Max data size" => "data",
        "Max stack size" => "stack",
        "Max core file size" => "core",
        "Max resident set" => "rss",
        "Max processes" => "nproc",
        "Max open files" => "nofile",
        "Max locked memory" => "memlock",
        "Max address space" => "as",
        "Max file locks" => "locks",
        "Max pending signals" => "sigpending",
        "Max msgqueue size" => "msgqueue",
        "Max nice priority" => "nice",
        "Max realtime priority" => "rtprio",
        "Max realtime timeout" => "rttime",
        _ => return None,
    })
}

/// Parses `/proc/<pid>/limits` into `--ulimit` name → (soft, hard).
pub(crate) fn parse_proc_limits(s: &str) -> BTreeMap<String, (u64, u64)> {
    let val = |v: &str| if v == "unlimited" { Some(u64::MAX) } else { v.parse().ok() };
    let mut out = BTreeMap::new();
    for line in s.lines().skip(1) {
        if line.len() < 26 {
            continue;
        }
        let (desc, rest) = line.split_at(26);
        let mut w = rest.split_whitespace();
        if let (Some(name), Some(soft), Some(hard)) = (limits_name(desc.trim()), w.next(), w.next()) {
            if let (Some(s), Some(h)) = (val(soft), val(hard)) {
                out.insert(name.to_string(), (s, h));
            }
        }
    }
    out
}

impl HostInfo {
    /// Reads the host facts for the systemd cgroup driver: `cgroup_parent` when it is a slice
    /// name, else `system.slice`, is the default slice.
    pub(crate) fn detect_systemd(cgroup_parent: &str) -> Self {
        let slice = if crate::cgroups::systemd::is_slice_name(cgroup_parent) {
            cgroup_parent
        } else {
            crate::cgroups::systemd::DEFAULT_SLICE
        };
        HostInfo { systemd_cgroup: true, ..HostInfo::detect(slice) }
    }

    /// Reads the host facts; `cgroup_parent` is the engine's default parent cgroup.
    pub(crate) fn detect(cgroup_parent: &str) -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let status = read("/proc/self/status");
        let cap_eff = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0);
        HostInfo {
            cgroup_v2: crate::host::cgroup_v2(),
            cgroup_parent: cgroup_parent.to_string(),
            systemd_cgroup: false,
            swap_accounting: crate::host::swap_accounting(),
            caps: host_caps(),
            rlimits: parse_proc_limits(&read("/proc/self/limits")),
            can_raise_rlimits: cap_eff & (1 << 24) != 0,
            seccomp: SeccompHost::detect(),
            seccomp_supported: status.lines().any(|l| l.starts_with("Seccomp:")),
            hostname: crate::host::hostname(),
            resolv_conf: read("/etc/resolv.conf"),
            etc_hosts: read("/etc/hosts"),
        }
    }
}

/// Everything [`build_spec`] needs.
pub(crate) struct SpecInput<'a> {
    /// Container id (64 hex digits).
    pub id: &'a str,
    /// The user's options.
    pub options: &'a CreateOptions,
    /// The image's runtime config (`config` of the image configuration), if any.
    pub image: Option<&'a ImageConfig>,
    /// The container's root filesystem (mounted), used for `/etc/passwd` and `/etc/group`.
    pub rootfs: &'a Path,
    /// The container directory holding `hosts`, `resolv.conf` and `hostname`.
    pub container_dir: &'a Path,
    /// Whether [`prepare_container`] writes those three files: false for a pod's containers,
    /// which bind-mount the pod's copies instead.
    pub etc_files: bool,
    /// Root of named volumes (`<root>/volumes`).
    pub volumes_root: &'a Path,
    /// Host facts.
    pub host: &'a HostInfo,
    /// Resolves `container:<id>` namespace modes.
    pub namespaces: &'a dyn NamespaceResolver,
}

/// The four namespace modes of a container's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Modes {
    /// `--pid`.
    pub pid: NamespaceMode,
    /// `--ipc`.
    pub ipc: NamespaceMode,
    /// `--uts`.
    pub uts: NamespaceMode,
    /// `--network`.
    pub net: NamespaceMode,
}

/// Parses the namespace modes of `o`.
pub(crate) fn modes(o: &CreateOptions) -> Result<Modes> {
    let m = |k, v: &Option<String>| parse_namespace_mode(k, v.as_deref().unwrap_or(""));
    Ok(Modes {
        pid: m(ModeKind::Pid, &o.pid_mode)?,
        ipc: m(ModeKind::Ipc, &o.ipc_mode)?,
        uts: m(ModeKind::Uts, &o.uts_mode)?,
        net: m(ModeKind::Network, &o.network_mode)?,
    })
}

fn image_list(v: Option<&Vec<String>>) -> Vec<String> {
    v.cloned().unwrap_or_default()
}

/// Merges entrypoint and command as Docker does: `--entrypoint` replaces the image's
/// Entrypoint and drops the image's Cmd (an empty one resets both); a given command
/// replaces the image's Cmd. No command at all is InvalidArgument "no command specified".
pub(crate) fn merge_command(o: &CreateOptions, image: Option<&ImageConfig>) -> Result<Vec<String>> {
    let img_entry = image_list(image.and_then(|i| i.entrypoint().as_ref()));
    let img_cmd = image_list(image.and_then(|i| i.cmd().as_ref()));
    let user_cmd = o.cmd.as_ref().filter(|c| !c.is_empty());
    let (entry, cmd) = match &o.entrypoint {
        Some(e) => (e.clone(), user_cmd.cloned().unwrap_or_default()),
        None => (img_entry, user_cmd.cloned().unwrap_or(img_cmd)),
    };
    let args: Vec<String> = entry.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(Error::invalid("no command specified"));
    }
    Ok(args)
}

fn env_key(e: &str) -> &str {
    e.split('=').next().unwrap_or(e)
}

fn replace_or_append(env: &mut Vec<String>, add: &[String]) {
    for e in add {
        match env.iter_mut().find(|x| env_key(x) == env_key(e)) {
            Some(x) => *x = e.clone(),
            None => env.push(e.clone()),
        }
    }
}

/// The process environment: `PATH` (Docker's default), `HOSTNAME`, `TERM=xterm` with a tty,
/// overridden by the image's Env, overridden by the user's; `HOME` added when unset.
pub(crate) fn merge_env(
    image_env: &[String],
    user_env: &[String],
    hostname: &str,
    tty: bool,
    home: &str,
) -> Vec<String> {
    let mut env = vec![DEFAULT_PATH.to_string(), format!("HOSTNAME={hostname}")];
    if tty {
        env.push("TERM=xterm".into());
    }
    replace_or_append(&mut env, image_env);
    replace_or_append(&mut env, user_env);
    if !env.iter().any(|e| env_key(e) == "HOME") {
        env.push(format!("HOME={home}"));
    }
    env
}

/// The container's hostname: `--hostname`, else the host's with host network/uts, else the
/// first 12 characters of the id.
pub(crate) fn effective_hostname(o: &CreateOptions, m: &Modes, id: &str, host: &HostInfo) -> String {
    if let Some(h) = o.hostname.as_ref().filter(|h| !h.is_empty()) {
        return h.clone();
    }
    if m.net == NamespaceMode::Host || m.uts == NamespaceMode::Host {
        return host.hostname.clone();
    }
    id.chars().take(12).collect()
}

/// The signal that stops the container: `--stop-signal`, else the image's StopSignal, else SIGTERM.
pub(crate) fn stop_signal(o: &CreateOptions, image: Option<&ImageConfig>) -> Result<i32> {
    match o.stop_signal.as_ref().or(image.and_then(|i| i.stop_signal().as_ref())) {
        Some(s) if !s.is_empty() => Ok(parse_signal(s)?),
        _ => Ok(libc::SIGTERM),
    }
}

/// The container's labels: the image's Labels overridden by the user's.
pub(crate) fn merge_labels(o: &CreateOptions, image: Option<&ImageConfig>) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> =
        image.and_then(|i| i.labels().clone()).unwrap_or_default().into_iter().collect();
    labels.extend(o.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels
}

/// The working directory: `--workdir`, else the image's WorkingDir, else `/`.
pub(crate) fn effective_workdir(o: &CreateOptions, image: Option<&ImageConfig>) -> String {
    o.working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| image.and_then(|i| i.working_dir().clone()).filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".into())
}

/// The cgroups path: `<cgroup-parent>/<id>` (cgroupfs driver, on v1 and v2), or
/// `<slice>:isula:<id>` with the systemd driver, where a `--cgroup-parent` must be a slice name.
pub(crate) fn cgroups_path(o: &CreateOptions, host: &HostInfo, id: &str) -> Result<String> {
    let parent = o.cgroup_parent.as_deref().filter(|p| !p.is_empty()).unwrap_or(&host.cgroup_parent);
    if host.systemd_cgroup {
        return crate::cgroups::systemd::container_path(parent, id).map_err(|e| {
            e.context(format!("--cgroup-parent {parent:?}: the systemd cgroup driver needs a slice name"))
        });
    }
    let parent = parent.trim_end_matches('/');
    let parent = if parent.starts_with('/') || parent.is_empty() { parent.to_string() } else { format!("/{parent}") };
    Ok(format!("{parent}/{id}"))
}

fn ns(kind: &str, mode: &NamespaceMode, resolver: &dyn NamespaceResolver) -> Result<Option<Value>> {
    Ok(match mode {
        NamespaceMode::Host => None,
        NamespaceMode::Container(c) => {
            let pid = resolver.container_pid(c)?;
            let file = match kind {
                "network" => "net",
                k => k,
            };
            Some(json!({ "type": kind, "path": format!("/proc/{pid}/ns/{file}") }))
        }
        _ => Some(json!({ "type": kind })),
    })
}

fn limit(v: i64) -> u64 {
    if v < 0 {
        u64::MAX
    } else {
        v as u64
    }
}

fn rlimits(o: &CreateOptions, host: &HostInfo) -> Result<Vec<Value>> {
    let mut list: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    if let Some(n) = host.rlimits.get("nofile") {
        list.insert("nofile".into(), *n);
    }
    for u in &o.ulimits {
        let (soft, hard) = (limit(u.soft), limit(u.hard));
        if let Some((_, own_hard)) = host.rlimits.get(&u.name) {
            if hard > *own_hard && !host.can_raise_rlimits {
                return Err(Error::invalid(format!(
                    "invalid --ulimit {}={}:{}: hard limit exceeds the engine's own hard limit {} (raising it needs CAP_SYS_RESOURCE)",
                    u.name, u.soft, u.hard, own_hard
                )));
            }
        }
        list.insert(u.name.clone(), (soft, hard));
    }
    Ok(list
        .into_iter()
        .map(|(n, (s, h))| json!({ "type": format!("RLIMIT_{}", n.to_ascii_uppercase()), "soft": s, "hard": h }))
        .collect())
}

fn resources(o: &CreateOptions, host: &HostInfo, device_rules: Vec<Value>) -> Value {
    let r = &o.resources;
    let mut res = json!({ "devices": device_rules });
    let mut mem = serde_json::Map::new();
    if let Some(m) = r.memory.filter(|m| *m > 0) {
        mem.insert("limit".into(), json!(m));
        if host.swap_accounting {
            match r.memory_swap {
                Some(-1) => {
                    mem.insert("swap".into(), json!(-1));
                }
                Some(s) if s > 0 => {
                    mem.insert("swap".into(), json!(s));
                }
                _ => {
                    mem.insert("swap".into(), json!(m.saturating_mul(2)));
                }
            }
        }
    }
    if let Some(v) = r.memory_reservation.filter(|v| *v > 0) {
        mem.insert("reservation".into(), json!(v));
    }
    if r.oom_kill_disable {
        mem.insert("disableOOMKiller".into(), json!(true));
    }
    if !mem.is_empty() {
        res["memory"] = Value::Object(mem);
    }
    let mut cpu = serde_json::Map::new();
    if let Some(s) = r.cpu_shares.filter(|s| *s > 0) {
        cpu.insert("shares".into(), json!(s));
    }
    if let Some(c) = r.cpus.filter(|c| *c > 0.0) {
        cpu.insert("period".into(), json!(100_000u64));
        cpu.insert("quota".into(), json!((c * 100_000.0).round() as i64));
    } else {
        if let Some(p) = r.cpu_period.filter(|p| *p > 0) {
            cpu.insert("period".into(), json!(p));
        }
        if let Some(q) = r.cpu_quota.filter(|q| *q != 0) {
            cpu.insert("quota".into(), json!(q));
        }
    }
    if let Some(c) = r.cpuset_cpus.as_ref().filter(|c| !c.is_empty()) {
        cpu.insert("cpus".into(), json!(c));
    }
    if let Some(c) = r.cpuset_mems.as_ref().filter(|c| !c.is_empty()) {
        cpu.insert("mems".into(), json!(c));
    }
    if !cpu.is_empty() {
        res["cpu"] = Value::Object(cpu);
    }
    if let Some(p) = r.pids_limit.filter(|p| *p != 0) {
        res["pids"] = json!({ "limit": if p < 0 { -1 } else { p } });
    }
    if let Some(w) = r.blkio_weight.filter(|w| *w > 0) {
        res["blockIO"] = json!({ "weight": w });
    }
    res
}

/// What `--security-opt` asks of the process.
struct Security {
    no_new_privileges: bool,
    /// `None`: unconfined; `Some("")`: the default profile; else a profile path.
    seccomp: Option<String>,
    /// An AppArmor profile to run under (only on hosts with AppArmor).
    apparmor: Option<String>,
}

/// Whether the kernel has AppArmor enabled.
fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.trim() == "Y")
}

/// Whether SELinux is enabled (its filesystem is mounted).
fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Security options of `o`. An AppArmor profile or SELinux label the host cannot apply is
/// refused (`apparmor=unconfined` and `label=disable` hold trivially without them), never
/// silently ignored.
fn security(o: &CreateOptions) -> Result<Security> {
    let mut s = Security { no_new_privileges: false, seccomp: Some(String::new()), apparmor: None };
    for opt in &o.security_opt {
        match parse_security_opt(opt)? {
            SecurityOpt::NoNewPrivileges(v) => s.no_new_privileges = v,
            SecurityOpt::SeccompUnconfined => s.seccomp = None,
            SecurityOpt::SeccompProfile(p) => s.seccomp = Some(p),
            SecurityOpt::AppArmor(p) if apparmor_enabled() => s.apparmor = Some(p),
            SecurityOpt::AppArmor(p) if p == "unconfined" => s.apparmor = None,
            SecurityOpt::AppArmor(p) => {
                return Err(Error::invalid(format!(
                    "--security-opt apparmor={p}: AppArmor is not enabled on this host"
                )))
            }
            SecurityOpt::Label(l) if l == "disable" => {}
            SecurityOpt::Label(l) if selinux_enabled() => {
                return Err(Error::unimplemented(format!("--security-opt label={l}: SELinux labels are not supported")))
            }
            SecurityOpt::Label(l) => {
                return Err(Error::invalid(format!("--security-opt label={l}: SELinux is not enabled on this host")))
            }
        }
    }
    Ok(s)
}

fn etc_files(dir: &Path) -> [(&'static str, PathBuf); 3] {
    [
        ("/etc/resolv.conf", dir.join(RESOLV_FILE)),
        ("/etc/hostname", dir.join(HOSTNAME_FILE)),
        ("/etc/hosts", dir.join(HOSTS_FILE)),
    ]
}

/// Builds the OCI runtime spec of a container (validating the options first).
/// Reads the rootfs's /etc/passwd and /etc/group, `--device` nodes and a custom seccomp
/// profile; writes nothing (see [`prepare_container`]).
pub(crate) fn build_spec(input: &SpecInput) -> Result<Spec> {
    let o = input.options;
    o.validate()?;
    if !o.resources.hugepage_limits.is_empty() {
        hugepages::check_limits(&o.resources.hugepage_limits)?;
    }
    let img = input.image;
    let host = input.host;
    let m = modes(o)?;
    let args = merge_command(o, img)?;
    let user_spec = o.user.clone().filter(|u| !u.is_empty()).or_else(|| img.and_then(|i| i.user().clone()));
    // Containers of a pod (CRI) merge the image's groups as Kubernetes does.
    let image_groups = if o.strict_supplemental_groups {
        user::ImageGroups::Never
    } else if o.pod.is_some() {
        user::ImageGroups::Always
    } else {
        user::ImageGroups::UnlessGroupGiven
    };
    let user = user::resolve_user_with(input.rootfs, user_spec.as_deref().unwrap_or(""), &o.group_add, image_groups)?;
    let hostname = effective_hostname(o, &m, input.id, host);
    let image_env = image_list(img.and_then(|i| i.env().as_ref()));
    let env = merge_env(&image_env, &o.env, &hostname, o.tty, &user.home);
    let caps = compute_caps(o.privileged, &o.cap_add, &o.cap_drop, &host.caps)?;
    let sec = security(o)?;
    let (nnp, seccomp_opt) = (sec.no_new_privileges, sec.seccomp);

    let mut process = json!({
        "terminal": o.tty,
        "user": { "uid": user.uid, "gid": user.gid },
        "args": args,
        "env": env,
        "cwd": effective_workdir(o, img),
        "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
        "rlimits": rlimits(o, host)?,
        "noNewPrivileges": nnp,
    });
    if !user.additional_gids.is_empty() {
        process["user"]["additionalGids"] = json!(user.additional_gids);
    }
    if let Some(adj) = o.resources.oom_score_adj {
        process["oomScoreAdj"] = json!(adj);
    }
    if let Some(p) = &sec.apparmor {
        process["apparmorProfile"] = json!(p);
    }

    // mounts
    let image_volumes: Vec<String> = img.and_then(|i| i.volumes().clone()).unwrap_or_default();
    let user_mounts = mounts::user_mounts(o, input.id, &image_volumes, input.volumes_root)?;
    let files = etc_files(input.container_dir);
    let files: Vec<(&str, &Path)> = files.iter().map(|(d, p)| (*d, p.as_path())).collect();
    let mut defaults = mounts::default_mounts(o.privileged, o.resources.shm_size, &m.ipc);
    if let NamespaceMode::Container(c) = &m.ipc {
        // Share the other container's /dev/shm through its root as seen from the host.
        let pid = input.namespaces.container_pid(c)?;
        if let Some(shm) = defaults.iter_mut().find(|d| d.destination == "/dev/shm") {
            *shm = mounts::PlannedMount {
                destination: "/dev/shm".into(),
                kind: "bind".into(),
                source: format!("/proc/{pid}/root/dev/shm"),
                options: vec!["rbind".into(), "rprivate".into()],
                volume: None,
                copy_up: false,
            };
        }
    }
    let table = mounts::mount_table(defaults, &files, user_mounts);
    let mount_values: Vec<Value> = table.iter().map(mounts::PlannedMount::to_oci).collect();
    let rootfs_propagation = propagation::rootfs_propagation(&table)?;

    // devices
    let mut linux_devices = Vec::new();
    let rules = if o.privileged {
        for d in devices::host_devices() {
            linux_devices.push(devices::oci_device(&d, &d.path));
        }
        vec![devices::cgroup_rule(true, "a", None, None, "rwm")]
    } else {
        let mut rules = devices::default_cgroup_rules();
        for dm in &o.devices {
            let d = devices::host_device(Path::new(&dm.path_on_host))?;
            linux_devices.push(devices::oci_device(&d, &dm.path_in_container));
            rules.push(devices::cgroup_rule(
                true,
                &d.kind.to_string(),
                Some(d.major),
                Some(d.minor),
                &dm.cgroup_permissions,
            ));
        }
        rules
    };

    // namespaces
    let mut namespaces = Vec::new();
    for (kind, mode) in [("pid", &m.pid), ("network", &m.net), ("ipc", &m.ipc), ("uts", &m.uts)] {
        if let Some(v) = ns(kind, mode, input.namespaces)? {
            namespaces.push(v);
        }
    }
    namespaces.push(json!({ "type": "mount" }));
    if host.cgroup_v2 {
        namespaces.push(json!({ "type": "cgroup" }));
    }

    let mut linux = json!({
        "namespaces": namespaces,
        "devices": linux_devices,
        "resources": resources(o, host, rules),
        "cgroupsPath": cgroups_path(o, host, input.id)?,
        "sysctl": o.sysctls,
    });
    if !o.resources.hugepage_limits.is_empty() {
        linux["resources"]["hugepageLimits"] = hugepages::limits_json(&o.resources.hugepage_limits);
    }
    if let Some(p) = rootfs_propagation {
        linux["rootfsPropagation"] = json!(p);
    }
    if !o.privileged {
        let (masked, readonly) = paths::masked_and_readonly(o)?;
        linux["maskedPaths"] = masked;
        linux["readonlyPaths"] = readonly;
        if let (Some(p), true) = (seccomp_opt, host.seccomp_supported) {
            let profile = if p.is_empty() {
                seccomp::parse_profile(seccomp::DEFAULT_PROFILE)?
            } else {
                let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, "read seccomp profile", e))?;
                seccomp::parse_profile(&text).map_err(|e| e.context(format!("--security-opt seccomp={p}")))?
            };
            let s = seccomp::convert(&profile, &caps, &host.seccomp)?;
            linux["seccomp"] = serde_json::to_value(s).map_err(|e| Error::internal(format!("seccomp: {e}")))?;
        }
    }

    let mut spec = json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": { "path": input.rootfs, "readonly": o.read_only },
        "mounts": mount_values,
        "linux": linux,
        "annotations": o.annotations,
    });
    if m.uts != NamespaceMode::Host {
        spec["hostname"] = json!(hostname);
        if let Some(d) = o.domainname.as_ref().filter(|d| !d.is_empty()) {
            // As Docker: through the sysctl, which every runtime applies (runc < 1.2 ignores `domainname`).
            if spec["linux"]["sysctl"].get("kernel.domainname").is_none() {
                spec["linux"]["sysctl"]["kernel.domainname"] = json!(d);
            }
        }
    }
    serde_json::from_value(spec).map_err(|e| Error::internal(format!("generated an invalid OCI spec: {e}")))
}

/// Writes what the spec refers to, inside the container dir, the volumes root and the rootfs:
/// `hosts`, `resolv.conf` and `hostname` files (with `etc_files`), volume data directories,
/// and the working directory (owned by the process user). New volumes get the image's
/// content at their destination (unless `nocopy`). Call after [`build_spec`] succeeded.
pub(crate) fn prepare_container(input: &SpecInput, spec: &Spec) -> Result<()> {
    let o = input.options;
    let m = modes(o)?;
    let hostname = effective_hostname(o, &m, input.id, input.host);
    let domain = o.domainname.clone().unwrap_or_default();
    let extra: Vec<(String, String)> =
        o.extra_hosts.iter().map(|h| parse_add_host(h)).collect::<isula_types::Result<_>>()?;
    let dir = input.container_dir;
    if input.etc_files {
        let private_net = m.net != NamespaceMode::Host;
        let base_hosts = (!private_net).then_some(input.host.etc_hosts.as_str());
        files::write_hosts(dir, &hostname, &domain, None, &extra, base_hosts)?;
        files::write_resolv_conf(dir, &input.host.resolv_conf, &o.dns, &o.dns_search, &o.dns_options, private_net)?;
        files::write_hostname(dir, &hostname)?;
    }
    let image_volumes: Vec<String> = input.image.and_then(|i| i.volumes().clone()).unwrap_or_default();
    for pm in mounts::user_mounts(o, input.id, &image_volumes, input.volumes_root)? {
        if let Some(v) = &pm.volume {
            let (data, created) = files::ensure_volume(input.volumes_root, v)?;
            if created && pm.copy_up {
                let src = rootfs::secure_join(input.rootfs, &pm.destination)?;
                files::copy_tree(&src, &data).map_err(|e| e.context(format!("copy image content into volume {v}")))?;
            }
        }
    }
    if let Some(p) = spec.process() {
        rootfs::ensure_workdir(input.rootfs, p.cwd().to_string_lossy().as_ref(), p.user().uid(), p.user().gid())?;
    }
    Ok(())
}

/// Writes `bundle/config.json` atomically, compact and unflushed (see
/// [`files::container_files`]: the caller flushes it with the container record).
pub(crate) fn write_bundle_config(bundle: &Path, spec: &Spec) -> Result<PathBuf> {
    let p = bundle.join("config.json");
    let data = serde_json::to_vec(spec).map_err(|e| Error::internal(format!("serialise {}: {e}", p.display())))?;
    crate::sys::fs::replace_file(&p, &data, 0o644)?;
    Ok(p)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod runtime_tests;
