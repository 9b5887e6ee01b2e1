//! Unit tests of spec generation against a fake rootfs (no runtime involved).

use super::*;
use crate::container::caps::{cap_mask, DEFAULT_CAPS};
use crate::container::options::{DeviceMapping, Ulimit};
use crate::ErrorKind;

pub(super) struct Fixture {
    pub dir: tempfile::TempDir,
    pub host: HostInfo,
}

impl Fixture {
    pub(super) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for d in ["rootfs/etc", "ctr", "volumes"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::write(
            dir.path().join("rootfs/etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("rootfs/etc/group"), "root:x:0:\napp:x:1000:\nwheel:x:10:app\n").unwrap();
        let mut host = HostInfo::detect(DEFAULT_CGROUP_PARENT);
        host.resolv_conf = "nameserver 127.0.0.53\nnameserver 10.9.9.9\n".into();
        host.hostname = "thehost".into();
        Fixture { dir, host }
    }
    pub(super) fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }
    pub(super) fn ctr(&self) -> PathBuf {
        self.dir.path().join("ctr")
    }
    pub(super) fn volumes(&self) -> PathBuf {
        self.dir.path().join("volumes")
    }
}

pub(super) const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn image(v: Value) -> ImageConfig {
    serde_json::from_value(v).unwrap()
}

fn build(f: &Fixture, o: &CreateOptions, img: Option<&ImageConfig>) -> Result<Value> {
    build_with(f, o, img, &NoContainers)
}

fn build_with(f: &Fixture, o: &CreateOptions, img: Option<&ImageConfig>, r: &dyn NamespaceResolver) -> Result<Value> {
    let (rootfs, ctr, vols) = (f.rootfs(), f.ctr(), f.volumes());
    let input = SpecInput {
        id: ID,
        options: o,
        image: img,
        rootfs: &rootfs,
        container_dir: &ctr,
        etc_files: true,
        volumes_root: &vols,
        host: &f.host,
        namespaces: r,
    };
    build_spec(&input).map(|s| serde_json::to_value(s).unwrap())
}

fn opts(cmd: &[&str]) -> CreateOptions {
    CreateOptions {
        image: "busybox".into(),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

#[test]
fn command_merge() {
    let img = image(json!({"Entrypoint": ["/ep"], "Cmd": ["a", "b"]}));
    let mut o = opts(&[]);
    o.cmd = None;
    assert_eq!(merge_command(&o, Some(&img)).unwrap(), vec!["/ep", "a", "b"]);
    o.cmd = Some(vec!["c".into()]);
    assert_eq!(merge_command(&o, Some(&img)).unwrap(), vec!["/ep", "c"]);
    o.entrypoint = Some(vec!["/new".into()]);
    o.cmd = None;
    assert_eq!(merge_command(&o, Some(&img)).unwrap(), vec!["/new"], "--entrypoint drops the image Cmd");
    o.entrypoint = Some(vec![]);
    o.cmd = Some(vec!["sh".into()]);
    assert_eq!(merge_command(&o, Some(&img)).unwrap(), vec!["sh"]);
    o.cmd = None;
    let e = merge_command(&o, Some(&img)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("no command specified"));
    let o = CreateOptions { image: "x".into(), ..Default::default() };
    assert!(merge_command(&o, None).is_err());
}

#[test]
fn labels_and_stop_signal() {
    let img = image(json!({"Labels": {"a": "img", "b": "img"}, "StopSignal": "SIGQUIT"}));
    let mut o = opts(&["sh"]);
    o.labels.insert("b".into(), "user".into());
    let l = merge_labels(&o, Some(&img));
    assert_eq!((l["a"].as_str(), l["b"].as_str()), ("img", "user"));
    assert_eq!(stop_signal(&o, Some(&img)).unwrap(), libc::SIGQUIT);
    assert_eq!(stop_signal(&o, None).unwrap(), libc::SIGTERM);
    o.stop_signal = Some("USR2".into());
    assert_eq!(stop_signal(&o, Some(&img)).unwrap(), libc::SIGUSR2);
}

#[test]
fn env_merge() {
    let env = merge_env(
        &["PATH=/img/bin".into(), "A=img".into(), "B=img".into()],
        &["B=user".into(), "C=user".into()],
        "h1",
        true,
        "/root",
    );
    assert_eq!(env, vec!["PATH=/img/bin", "HOSTNAME=h1", "TERM=xterm", "A=img", "B=user", "C=user", "HOME=/root"]);
    let env = merge_env(&[], &["HOME=/x".into()], "h", false, "/root");
    assert_eq!(env, vec![DEFAULT_PATH, "HOSTNAME=h", "HOME=/x"]);
}

#[test]
fn default_spec() {
    let f = Fixture::new();
    let img = image(json!({"Env": ["FOO=bar"], "WorkingDir": "/srv", "User": "app", "Volumes": {"/data": {}}}));
    let s = build(&f, &opts(&["sh"]), Some(&img)).unwrap();
    let p = &s["process"];
    assert_eq!(strs(&p["args"]), vec!["sh"]);
    assert_eq!(p["user"]["uid"], 1000);
    assert_eq!(p["user"]["gid"], 1000);
    assert_eq!(p["user"]["additionalGids"], json!([10]));
    assert_eq!(p["cwd"], "/srv");
    let env = strs(&p["env"]);
    assert!(env.contains(&"FOO=bar".to_string()) && env.contains(&"HOME=/home/app".to_string()));
    assert!(env.contains(&format!("HOSTNAME={}", &ID[..12])));
    assert_eq!(s["hostname"], &ID[..12]);
    let caps = strs(&p["capabilities"]["effective"]);
    assert_eq!(cap_mask(&caps), 0xa80425fb);
    assert_eq!(caps.len(), DEFAULT_CAPS.len());
    assert!(p["capabilities"]["inheritable"].is_null() && p["capabilities"]["ambient"].is_null());
    let nofile = p["rlimits"].as_array().unwrap().iter().find(|r| r["type"] == "RLIMIT_NOFILE").unwrap();
    assert_eq!(nofile["hard"].as_u64().unwrap(), f.host.rlimits["nofile"].1);
    let l = &s["linux"];
    assert_eq!(l["cgroupsPath"], format!("/isulad/{ID}"));
    let nss: Vec<&str> = l["namespaces"].as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap()).collect();
    assert!(["pid", "network", "ipc", "uts", "mount"].iter().all(|n| nss.contains(n)));
    assert_eq!(strs(&l["maskedPaths"]).len(), MASKED_PATHS.len());
    assert_eq!(strs(&l["readonlyPaths"]), READONLY_PATHS);
    assert_eq!(l["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
    let dsts: Vec<&str> = s["mounts"].as_array().unwrap().iter().map(|m| m["destination"].as_str().unwrap()).collect();
    assert_eq!(
        dsts,
        vec![
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm",
            "/etc/resolv.conf",
            "/etc/hostname",
            "/etc/hosts",
            "/data"
        ]
    );
    let data = s["mounts"].as_array().unwrap().last().unwrap();
    assert_eq!(
        data["source"].as_str().unwrap(),
        f.volumes().join(files::anonymous_volume_name(ID, "/data")).join("_data").to_str().unwrap()
    );
    assert_eq!(s["root"]["readonly"], false);
    let rules = l["resources"]["devices"].as_array().unwrap();
    assert_eq!(rules[0], json!({"allow": false, "access": "rwm"}));
    assert!(rules.iter().any(|r| r["major"] == 136 && r.get("minor").is_none()));
}

#[test]
fn privileged_and_caps() {
    let f = Fixture::new();
    let mut o = opts(&["sh"]);
    o.privileged = true;
    let s = build(&f, &o, None).unwrap();
    assert_eq!(strs(&s["process"]["capabilities"]["bounding"]).len(), f.host.caps.len());
    assert!(s["linux"]["maskedPaths"].is_null());
    assert!(s["linux"]["seccomp"].is_null());
    assert_eq!(s["linux"]["resources"]["devices"], json!([{"allow": true, "access": "rwm"}]));
    assert!(s["linux"]["devices"].as_array().unwrap().iter().any(|d| d["path"] == "/dev/null"));
    let sys = s["mounts"].as_array().unwrap().iter().find(|m| m["destination"] == "/sys").unwrap();
    assert!(strs(&sys["options"]).contains(&"rw".to_string()));

    let mut o = opts(&["sh"]);
    o.cap_drop = vec!["ALL".into()];
    o.cap_add = vec!["sys_admin".into()];
    let s = build(&f, &o, None).unwrap();
    assert_eq!(strs(&s["process"]["capabilities"]["effective"]), vec!["CAP_SYS_ADMIN"]);
    let allowed: Vec<String> = s["linux"]["seccomp"]["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|r| strs(&r["names"]))
        .collect();
    assert!(allowed.contains(&"mount".to_string()), "CAP_SYS_ADMIN opens mount in seccomp");
    assert!(!allowed.contains(&"chroot".to_string()), "no CAP_SYS_CHROOT: no chroot");
}

#[test]
fn options_reach_the_spec() {
    let f = Fixture::new();
    let src = f.dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let mut o = opts(&["sh"]);
    o.user = Some("1000:10".into());
    o.group_add = vec!["app".into()];
    o.working_dir = Some("/w".into());
    o.hostname = Some("box".into());
    o.domainname = Some("example.com".into());
    o.read_only = true;
    o.tty = true;
    o.env = vec!["X=1".into()];
    o.binds = vec![format!("{}:/mnt/src:ro", src.display())];
    o.tmpfs.insert("/scratch".into(), "size=1m".into());
    o.devices = vec![DeviceMapping {
        path_on_host: "/dev/zero".into(),
        path_in_container: "/dev/myzero".into(),
        cgroup_permissions: "r".into(),
    }];
    o.ulimits = vec![Ulimit { name: "nproc".into(), soft: 100, hard: 200 }];
    o.sysctls.insert("net.ipv4.ip_forward".into(), "1".into());
    o.annotations.insert("a.b".into(), "c".into());
    o.security_opt = vec!["no-new-privileges".into(), "seccomp=unconfined".into()];
    o.resources.memory = Some(64 << 20);
    o.resources.cpus = Some(1.5);
    o.resources.cpu_shares = Some(512);
    o.resources.pids_limit = Some(50);
    o.resources.oom_score_adj = Some(100);
    o.resources.shm_size = Some(1 << 20);
    o.resources.blkio_weight = Some(300);
    o.cgroup_parent = Some("mine".into());
    o.pid_mode = Some("host".into());
    let s = build(&f, &o, None).unwrap();
    let p = &s["process"];
    assert_eq!((p["user"]["uid"].as_u64(), p["user"]["gid"].as_u64()), (Some(1000), Some(10)));
    assert_eq!(p["user"]["additionalGids"], json!([1000]));
    assert_eq!(p["cwd"], "/w");
    assert_eq!(p["terminal"], true);
    assert_eq!(p["noNewPrivileges"], true);
    assert_eq!(p["oomScoreAdj"], 100);
    assert!(strs(&p["env"]).contains(&"TERM=xterm".to_string()));
    assert!(strs(&p["env"]).contains(&"X=1".to_string()));
    let nproc = p["rlimits"].as_array().unwrap().iter().find(|r| r["type"] == "RLIMIT_NPROC").unwrap();
    assert_eq!((nproc["soft"].as_u64(), nproc["hard"].as_u64()), (Some(100), Some(200)));
    assert_eq!(s["hostname"], "box");
    assert_eq!(s["linux"]["sysctl"]["kernel.domainname"], "example.com");
    assert_eq!(s["root"]["readonly"], true);
    assert_eq!(s["annotations"]["a.b"], "c");
    let l = &s["linux"];
    assert!(l["seccomp"].is_null());
    assert_eq!(l["sysctl"]["net.ipv4.ip_forward"], "1");
    assert_eq!(l["cgroupsPath"], format!("/mine/{ID}"));
    assert!(!l["namespaces"].as_array().unwrap().iter().any(|n| n["type"] == "pid"), "--pid host");
    let r = &l["resources"];
    assert_eq!(r["memory"]["limit"], 64 << 20);
    if f.host.swap_accounting {
        assert_eq!(r["memory"]["swap"], 128 << 20, "default swap = 2x memory");
    }
    assert_eq!((r["cpu"]["quota"].as_i64(), r["cpu"]["period"].as_u64()), (Some(150000), Some(100000)));
    assert_eq!(r["cpu"]["shares"], 512);
    assert_eq!(r["pids"]["limit"], 50);
    assert_eq!(r["blockIO"]["weight"], 300);
    assert!(r["devices"].as_array().unwrap().iter().any(|d| d["major"] == 1 && d["minor"] == 5 && d["access"] == "r"));
    assert!(l["devices"].as_array().unwrap().iter().any(|d| d["path"] == "/dev/myzero" && d["major"] == 1));
    let mounts = s["mounts"].as_array().unwrap();
    let b = mounts.iter().find(|m| m["destination"] == "/mnt/src").unwrap();
    assert_eq!(strs(&b["options"]), vec!["rbind", "rprivate", "ro"]);
    let t = mounts.iter().find(|m| m["destination"] == "/scratch").unwrap();
    assert_eq!(t["type"], "tmpfs");
    let shm = mounts.iter().find(|m| m["destination"] == "/dev/shm").unwrap();
    assert!(strs(&shm["options"]).contains(&"size=1048576".to_string()));
}

#[test]
fn errors_and_namespaces() {
    let f = Fixture::new();
    let mut o = opts(&["sh"]);
    o.user = Some("ghost".into());
    let e = build(&f, &o, None).unwrap_err();
    assert!(e.to_string().contains("unable to find user ghost"), "{e}");
    let mut o = opts(&["sh"]);
    o.resources.memory = Some(1024);
    assert_eq!(build(&f, &o, None).unwrap_err().kind(), ErrorKind::InvalidArgument);
    let mut o = opts(&["sh"]);
    let over = f.host.rlimits.get("nofile").map(|l| l.1).unwrap_or(1024);
    if !f.host.can_raise_rlimits && over < i64::MAX as u64 {
        o.ulimits = vec![Ulimit { name: "nofile".into(), soft: 10, hard: over as i64 + 1 }];
        let e = build(&f, &o, None).unwrap_err();
        assert!(e.to_string().contains("CAP_SYS_RESOURCE"), "{e}");
    }
    struct One;
    impl NamespaceResolver for One {
        fn container_pid(&self, id: &str) -> Result<u32> {
            if id == "other" {
                Ok(4242)
            } else {
                Err(Error::not_found(format!("no such container: {id}")))
            }
        }
    }
    let mut o = opts(&["sh"]);
    o.network_mode = Some("container:other".into());
    o.ipc_mode = Some("container:other".into());
    o.pid_mode = Some("container:other".into());
    let s = build_with(&f, &o, None, &One).unwrap();
    let nss = s["linux"]["namespaces"].as_array().unwrap();
    assert!(nss.contains(&json!({"type": "network", "path": "/proc/4242/ns/net"})));
    assert!(nss.contains(&json!({"type": "ipc", "path": "/proc/4242/ns/ipc"})));
    assert!(nss.contains(&json!({"type": "pid", "path": "/proc/4242/ns/pid"})));
    let shm = s["mounts"].as_array().unwrap().iter().find(|m| m["destination"] == "/dev/shm").unwrap();
    assert_eq!(shm["source"], "/proc/4242/root/dev/shm");
    o.network_mode = Some("container:missing".into());
    assert_eq!(build_with(&f, &o, None, &One).unwrap_err().kind(), ErrorKind::NotFound);
    let mut o = opts(&["sh"]);
    o.network_mode = Some("host".into());
    o.uts_mode = Some("host".into());
    let s = build(&f, &o, None).unwrap();
    assert!(s["hostname"].is_null());
    assert!(strs(&s["process"]["env"]).contains(&"HOSTNAME=thehost".to_string()));
    let profile = f.dir.path().join("p.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let mut o = opts(&["sh"]);
    o.security_opt = vec![format!("seccomp={}", profile.display())];
    let s = build(&f, &o, None).unwrap();
    assert_eq!(s["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
    std::fs::write(&profile, "{bad").unwrap();
    assert_eq!(build(&f, &o, None).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

fn rootfs_of(f: &Fixture) -> PathBuf {
    f.rootfs()
}

#[test]
fn prepare_writes_files() {
    let f = Fixture::new();
    let mut o = opts(&["sh"]);
    o.user = Some("app".into());
    o.working_dir = Some("/home/app/work".into());
    o.binds = vec!["named:/n".into(), "/etc/skel-like".into(), "fresh:/empty:nocopy".into()];
    std::fs::create_dir_all(rootfs_of(&f).join("etc/skel-like")).unwrap();
    std::fs::write(rootfs_of(&f).join("etc/skel-like/profile"), "from image").unwrap();
    std::fs::create_dir_all(rootfs_of(&f).join("empty")).unwrap();
    std::fs::write(rootfs_of(&f).join("empty/x"), "not copied").unwrap();
    o.extra_hosts = vec!["db:1.2.3.4".into()];
    let (rootfs, ctr, vols) = (f.rootfs(), f.ctr(), f.volumes());
    let input = SpecInput {
        id: ID,
        options: &o,
        image: None,
        rootfs: &rootfs,
        container_dir: &ctr,
        etc_files: true,
        volumes_root: &vols,
        host: &f.host,
        namespaces: &NoContainers,
    };
    let spec = build_spec(&input).unwrap();
    prepare_container(&input, &spec).unwrap();
    assert_eq!(std::fs::read_to_string(ctr.join("hostname")).unwrap(), format!("{}\n", &ID[..12]));
    assert!(std::fs::read_to_string(ctr.join("hosts")).unwrap().contains("1.2.3.4\tdb"));
    assert_eq!(std::fs::read_to_string(ctr.join("resolv.conf")).unwrap(), "nameserver 10.9.9.9\n");
    assert!(vols.join("named/_data").is_dir());
    let anon = vols.join(files::anonymous_volume_name(ID, "/etc/skel-like")).join("_data");
    assert_eq!(std::fs::read_to_string(anon.join("profile")).unwrap(), "from image", "copy-up");
    assert!(!vols.join("fresh/_data/x").exists(), "nocopy");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(rootfs.join("home/app/work")).unwrap().uid(), 1000);
    let cfg = write_bundle_config(f.dir.path(), &spec).unwrap();
    let back: Spec = crate::sys::fs::read_json(&cfg).unwrap();
    assert_eq!(back, spec);
}

#[test]
fn proc_limits_parse() {
    let s = "Limit                     Soft Limit           Hard Limit           Units     \n\
             Max cpu time              unlimited            unlimited            seconds   \n\
             Max open files            1024                 524288               files     \n";
    let l = parse_proc_limits(s);
    assert_eq!(l["nofile"], (1024, 524288));
    assert_eq!(l["cpu"], (u64::MAX, u64::MAX));
}

#[test]
fn apparmor_and_selinux_options_work_or_are_refused() {
    let f = Fixture::new();
    let with = |opt: &str| {
        let mut o = opts(&["true"]);
        o.security_opt = vec![opt.to_string()];
        build(&f, &o, None)
    };
    // What holds trivially without the LSM is accepted everywhere.
    assert!(with("label=disable").is_ok());
    let s = with("apparmor=unconfined").unwrap();
    if apparmor_enabled() {
        assert_eq!(s["process"]["apparmorProfile"], "unconfined");
        let s = with("apparmor=docker-default").unwrap();
        assert_eq!(s["process"]["apparmorProfile"], "docker-default");
    } else {
        assert!(s["process"].get("apparmorProfile").is_none());
        let e = with("apparmor=docker-default").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("AppArmor is not enabled"), "{e}");
    }
    let e = with("label=type:svirt_lxc_net_t").unwrap_err();
    assert!(e.to_string().contains("SELinux"), "{e}");
}

#[test]
fn systemd_driver_cgroups_paths() {
    let mut f = Fixture::new();
    f.host.cgroup_parent = "system.slice".into();
    f.host.systemd_cgroup = true;
    let s = build(&f, &opts(&["true"]), None).unwrap();
    assert_eq!(s["linux"]["cgroupsPath"], format!("system.slice:isula:{ID}"));
    let o = CreateOptions { cgroup_parent: Some("kubepods-besteffort-pod1.slice".into()), ..opts(&["true"]) };
    let s = build(&f, &o, None).unwrap();
    assert_eq!(s["linux"]["cgroupsPath"], format!("kubepods-besteffort-pod1.slice:isula:{ID}"));
    let o = CreateOptions { cgroup_parent: Some("/isulad".into()), ..opts(&["true"]) };
    let e = build(&f, &o, None).unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("slice"), "{e}");
    let h = HostInfo::detect_systemd("/isulad");
    assert_eq!((h.cgroup_parent.as_str(), h.systemd_cgroup), ("system.slice", true));
    assert_eq!(HostInfo::detect_systemd("machine.slice").cgroup_parent, "machine.slice");
}
