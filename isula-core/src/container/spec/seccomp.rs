//! Seccomp: Docker-format profiles (the built-in default and `seccomp=<file>`) converted to
//! the OCI form for the running host (architecture, kernel) and the container's capabilities.

use oci_spec::runtime::LinuxSeccomp;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{Error, Result};

/// The built-in default profile (Docker's semantics: deny with EPERM, allow-list of
/// syscalls, some gated by capabilities, architectures or kernel versions).
pub(crate) const DEFAULT_PROFILE: &str = include_str!("seccomp_default.json");

/// A seccomp profile in Docker's JSON format.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct DockerProfile {
    /// Action for syscalls no rule matches.
    pub default_action: String,
    /// errno returned by the default action when it is SCMP_ACT_ERRNO.
    pub default_errno_ret: Option<u32>,
    /// Old-style flat list of architectures.
    pub architectures: Vec<String>,
    /// Native architecture → its sub-architectures.
    pub arch_map: Vec<ArchMap>,
    /// Seccomp flags (`SECCOMP_FILTER_FLAG_*`).
    pub flags: Vec<String>,
    /// Path of the seccomp agent socket for SCMP_ACT_NOTIFY.
    pub listener_path: Option<String>,
    /// Opaque data for the seccomp agent.
    pub listener_metadata: Option<String>,
    /// Rules.
    pub syscalls: Vec<DockerSyscall>,
}

/// One `archMap` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ArchMap {
    /// Native architecture (`SCMP_ARCH_X86_64`).
    pub architecture: String,
    /// Compatible architectures handled by the same filter.
    pub sub_architectures: Vec<String>,
}

/// One rule of a Docker profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct DockerSyscall {
    /// Single syscall name (old format).
    pub name: Option<String>,
    /// Syscall names.
    pub names: Vec<String>,
    /// Action (`SCMP_ACT_ALLOW`, …).
    pub action: String,
    /// errno for SCMP_ACT_ERRNO.
    pub errno_ret: Option<u32>,
    /// Argument conditions (passed through to OCI).
    pub args: Vec<Value>,
    /// Conditions that must all hold for the rule to apply.
    pub includes: Filter,
    /// Conditions any of which disables the rule.
    pub excludes: Filter,
}

/// Rule conditions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Filter {
    /// Capabilities (`CAP_SYS_ADMIN`).
    pub caps: Vec<String>,
    /// Architectures in Go naming (`amd64`, `arm64`, `x86`, …).
    pub arches: Vec<String>,
    /// Minimum kernel version (`4.8`).
    pub min_kernel: Option<String>,
}

/// The facts about the host a profile is specialised for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompHost {
    /// Native architecture in libseccomp naming (`SCMP_ARCH_X86_64`).
    pub scmp_arch: String,
    /// Architecture in Go naming, as used by profile conditions (`amd64`).
    pub arch: String,
    /// Kernel version (major, minor).
    pub kernel: (u32, u32),
}

impl SeccompHost {
    /// The running host.
    pub fn detect() -> Self {
        let (scmp, go) = match std::env::consts::ARCH {
            "x86_64" => ("SCMP_ARCH_X86_64", "amd64"),
            "x86" => ("SCMP_ARCH_X86", "x86"),
            "aarch64" => ("SCMP_ARCH_AARCH64", "arm64"),
            "arm" => ("SCMP_ARCH_ARM", "arm"),
            "s390x" => ("SCMP_ARCH_S390X", "s390x"),
            "powerpc64" => ("SCMP_ARCH_PPC64LE", "ppc64le"),
            "riscv64" => ("SCMP_ARCH_RISCV64", "riscv64"),
            "mips64" => ("SCMP_ARCH_MIPS64", "mips64"),
            other => ("SCMP_ARCH_NATIVE", other),
        };
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| parse_kernel(&s)).unwrap_or((0, 0));
        SeccompHost { scmp_arch: scmp.into(), arch: go.into(), kernel }
    }
}

/// Parses a kernel release like `6.1.0-18-amd64` into (6, 1).
pub(crate) fn parse_kernel(s: &str) -> (u32, u32) {
    let mut it = s.trim().split(|c: char| !c.is_ascii_digit());
    let major = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    let minor = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    (major, minor)
}

fn arch_matches(list: &[String], arch: &str) -> bool {
    list.iter().any(|a| a == arch || (arch == "x86" && a == "386") || (arch == "amd64" && a == "x86_64"))
}

/// Converts a Docker-format profile to OCI for `host`, keeping only the rules whose
/// conditions hold for a container with capabilities `caps`.
pub(crate) fn convert(profile: &DockerProfile, caps: &[String], host: &SeccompHost) -> Result<LinuxSeccomp> {
    let mut arches: Vec<String> = Vec::new();
    if profile.arch_map.is_empty() {
        arches = profile.architectures.clone();
    } else {
        for m in profile.arch_map.iter().filter(|m| m.architecture == host.scmp_arch) {
            arches.push(m.architecture.clone());
            arches.extend(m.sub_architectures.iter().cloned());
        }
    }
    let kernel_at_least = |v: &str| parse_kernel(v) <= host.kernel;
    let mut syscalls = Vec::new();
    for r in &profile.syscalls {
        let inc = &r.includes;
        if !inc.caps.iter().all(|c| caps.contains(c)) {
            continue;
        }
        if !inc.arches.is_empty() && !arch_matches(&inc.arches, &host.arch) {
            continue;
        }
        if inc.min_kernel.as_deref().is_some_and(|v| !kernel_at_least(v)) {
            continue;
        }
        let exc = &r.excludes;
        if exc.caps.iter().any(|c| caps.contains(c)) || arch_matches(&exc.arches, &host.arch) {
            continue;
        }
        if exc.min_kernel.as_deref().is_some_and(kernel_at_least) {
            continue;
        }
        let mut names = r.names.clone();
        if let Some(n) = &r.name {
            names.push(n.clone());
        }
        if names.is_empty() {
            return Err(Error::invalid("seccomp profile: a rule has no syscall names"));
        }
        let mut s = json!({ "names": names, "action": r.action });
        if let Some(e) = r.errno_ret {
            s["errnoRet"] = json!(e);
        }
        if !r.args.is_empty() {
            s["args"] = json!(r.args);
        }
        syscalls.push(s);
    }
    let mut v = json!({ "defaultAction": profile.default_action, "syscalls": syscalls });
    if !arches.is_empty() {
        v["architectures"] = json!(arches);
    }
    if let Some(e) = profile.default_errno_ret {
        v["defaultErrnoRet"] = json!(e);
    }
    if !profile.flags.is_empty() {
        v["flags"] = json!(profile.flags);
    }
    if let Some(p) = &profile.listener_path {
        v["listenerPath"] = json!(p);
    }
    if let Some(m) = &profile.listener_metadata {
        v["listenerMetadata"] = json!(m);
    }
    serde_json::from_value(v).map_err(|e| Error::invalid(format!("invalid seccomp profile: {e}")))
}

/// Parses a Docker-format profile from JSON text.
pub(crate) fn parse_profile(json: &str) -> Result<DockerProfile> {
    let p: DockerProfile =
        serde_json::from_str(json).map_err(|e| Error::invalid(format!("invalid seccomp profile: {e}")))?;
    if p.default_action.is_empty() {
        return Err(Error::invalid("invalid seccomp profile: defaultAction is missing"));
    }
    Ok(p)
}

/// The default profile specialised for `caps` on `host`.
pub fn default_profile(caps: &[String], host: &SeccompHost) -> Result<LinuxSeccomp> {
    convert(&parse_profile(DEFAULT_PROFILE)?, caps, host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::caps::DEFAULT_CAPS;

    fn host() -> SeccompHost {
        SeccompHost { scmp_arch: "SCMP_ARCH_X86_64".into(), arch: "amd64".into(), kernel: (6, 1) }
    }

    fn allowed(s: &LinuxSeccomp) -> Vec<String> {
        use oci_spec::runtime::LinuxSeccompAction as A;
        s.syscalls()
            .iter()
            .flatten()
            .filter(|r| r.action() == A::ScmpActAllow && r.args().is_none())
            .flat_map(|r| r.names().clone())
            .collect()
    }

    #[test]
    fn default_profile_follows_caps_and_arch() {
        let caps: Vec<String> = DEFAULT_CAPS.iter().map(|s| s.to_string()).collect();
        let s = default_profile(&caps, &host()).unwrap();
        assert_eq!(s.default_errno_ret(), Some(1));
        let arches: Vec<String> = s
            .architectures()
            .iter()
            .flatten()
            .map(|a| serde_json::to_value(a).unwrap().as_str().unwrap().to_string())
            .collect();
        assert_eq!(arches, vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
        let a = allowed(&s);
        for n in ["read", "write", "execve", "arch_prctl", "chroot", "ptrace"] {
            assert!(a.contains(&n.to_string()), "{n} allowed");
        }
        for n in ["mount", "unshare", "setns", "reboot", "init_module", "keyctl", "s390_runtime_instr", "set_tls"] {
            assert!(!a.contains(&n.to_string()), "{n} must not be allowed");
        }
        let mut with_admin = caps.clone();
        with_admin.push("CAP_SYS_ADMIN".into());
        let a = allowed(&default_profile(&with_admin, &host()).unwrap());
        assert!(a.contains(&"mount".to_string()) && a.contains(&"unshare".to_string()));
        let no_chroot: Vec<String> = caps.iter().filter(|c| *c != "CAP_SYS_CHROOT").cloned().collect();
        assert!(!allowed(&default_profile(&no_chroot, &host()).unwrap()).contains(&"chroot".to_string()));
        let old = SeccompHost { kernel: (4, 4), ..host() };
        assert!(!allowed(&default_profile(&caps, &old).unwrap()).contains(&"ptrace".to_string()));
        let arm = SeccompHost { scmp_arch: "SCMP_ARCH_AARCH64".into(), arch: "arm64".into(), kernel: (6, 1) };
        let a = allowed(&default_profile(&caps, &arm).unwrap());
        assert!(a.contains(&"set_tls".to_string()) && !a.contains(&"arch_prctl".to_string()));
    }

    #[test]
    fn custom_profiles() {
        let p = parse_profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
               "syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO","errnoRet":13},
                           {"names":["chmod"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":511,"op":"SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap();
        let s = convert(&p, &[], &host()).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_ALLOW");
        assert_eq!(v["syscalls"][0]["names"][0], "mkdir");
        assert_eq!(v["syscalls"][0]["errnoRet"], 13);
        assert_eq!(v["syscalls"][1]["args"][0]["value"], 511);
        assert!(parse_profile("{}").is_err());
        assert!(parse_profile("not json").is_err());
        let bad = parse_profile(r#"{"defaultAction":"SCMP_ACT_BOGUS"}"#).unwrap();
        assert_eq!(convert(&bad, &[], &host()).unwrap_err().kind(), crate::ErrorKind::InvalidArgument);
        assert_eq!(parse_kernel("6.1.0-18-amd64"), (6, 1));
        assert_eq!(parse_kernel("4.19"), (4, 19));
    }
}
