//! End-to-end volume management through `Engine` (as root, real runtimes): create, list,
//! inspect, remove and prune; volumes used by containers are refused; named volumes keep
//! their data across container removal; anonymous volumes go with `remove(.., volumes)`.

use crate::containers_common;

use std::path::Path;

use containers_common::*;
use isula_core::unstable::anonymous_volume_name;
use isula_core::ErrorKind;
use isula_core::EventFilter;
use isula_core::LogOptions;
use isula_core::VolumeCreateOptions;
use isula_core::{RemoveOptions, WaitCondition};

fn logs_text(env: &Env, id: &str) -> String {
    let mut s = String::new();
    env.e()
        .containers()
        .logs(id, &LogOptions::default(), &mut |l| {
            s.push_str(&l.log);
            true
        })
        .unwrap();
    s
}

fn named(name: &str) -> VolumeCreateOptions {
    VolumeCreateOptions { name: Some(name.into()), ..Default::default() }
}

fn names(env: &Env, filters: &[&str]) -> Vec<String> {
    let f: Vec<String> = filters.iter().map(|s| s.to_string()).collect();
    env.e().volumes().list(&f).unwrap().into_iter().map(|v| v.name).collect()
}

/// Entries of `<root>/volumes` (to see that nothing was left or added).
fn volume_dir_entries(env: &Env) -> Vec<String> {
    let dir = env.root.path().join("root").join("volumes");
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Run `cmd` in busybox with `binds`, wait for it to exit 0, return its id.
fn run_with(env: &Env, binds: &[&str], cmd: &[&str]) -> String {
    let mut o = env.opts(cmd);
    o.binds = binds.iter().map(|s| s.to_string()).collect();
    let id = env.e().containers().run(&o).unwrap();
    assert_eq!(
        env.e().containers().wait(&id, WaitCondition::NotRunning).unwrap(),
        0,
        "{cmd:?}: {}",
        logs_text(env, &id)
    );
    id
}

#[test]
fn create_list_inspect_remove() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("runc");
    let e = env.e();
    assert_eq!(env.root.path().join("root"), e.root());
    let (_, events) = e.events(&EventFilter { types: vec!["volume".into()], ..Default::default() });
    let mut o = named("data");
    o.labels.insert("env".into(), "prod".into());
    o.driver = "local".into();
    let v = e.volumes().create(&o).unwrap();
    assert_eq!((v.name.as_str(), v.driver.as_str(), v.scope.as_str()), ("data", "local", "local"));
    assert_eq!(Path::new(&v.mountpoint), e.root().join("volumes/data/_data"));
    assert!(Path::new(&v.mountpoint).is_dir());
    assert!(e.root().join("volumes/data/volume.json").is_file());
    let created = v.created_at.to_string();
    assert!(created.ends_with('Z') && created.starts_with("20"), "{created}");
    assert_eq!(v.labels.get("env").map(String::as_str), Some("prod"));
    // Creating an existing name returns the existing volume (its labels are unchanged).
    std::fs::write(Path::new(&v.mountpoint).join("f"), "kept").unwrap();
    let again = e.volumes().create(&named("data")).unwrap();
    assert_eq!(again, v);
    assert_eq!(std::fs::read_to_string(Path::new(&v.mountpoint).join("f")).unwrap(), "kept");
    // A generated name.
    let anon = e.volumes().create(&VolumeCreateOptions::default()).unwrap();
    assert_eq!(anon.name.len(), 64);
    assert!(anon.name.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(e.volumes().inspect(&anon.name).unwrap(), anon);

    let mut all = vec!["data".to_string(), anon.name.clone()];
    all.sort();
    assert_eq!(names(&env, &[]), all);
    assert_eq!(names(&env, &["name=dat"]), vec!["data"]);
    assert_eq!(names(&env, &["label=env=prod"]), vec!["data"]);
    assert_eq!(names(&env, &["label=env=dev"]), Vec::<String>::new());
    assert_eq!(names(&env, &["label!=env"]), vec![anon.name.clone()]);
    assert_eq!(names(&env, &["dangling=true"]), all);
    assert!(names(&env, &["dangling=false"]).is_empty());
    assert_eq!(e.volumes().list(&["bogus=1".into()]).unwrap_err().kind(), ErrorKind::InvalidArgument);

    e.volumes().remove("data", false).unwrap();
    assert_eq!(e.volumes().inspect("data").unwrap_err().kind(), ErrorKind::NotFound);
    let err = e.volumes().remove("data", false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("no such volume: data"), "{err}");
    e.volumes().remove("data", true).unwrap();
    e.volumes().remove(&anon.name, false).unwrap();
    assert!(names(&env, &[]).is_empty());
    assert!(volume_dir_entries(&env).is_empty(), "{:?}", volume_dir_entries(&env));

    let evs: Vec<(String, String)> = events.try_iter().map(|ev| (ev.action, ev.actor.id)).collect();
    assert_eq!(
        evs,
        vec![
            ("create".to_string(), "data".to_string()),
            ("create".to_string(), anon.name.clone()),
            ("destroy".to_string(), "data".to_string()),
            ("destroy".to_string(), anon.name.clone()),
        ]
    );
}

#[test]
fn bad_input_changes_nothing() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("runc");
    let e = env.e();
    e.volumes().create(&named("keep")).unwrap();
    let before = volume_dir_entries(&env);
    for bad in ["a", "../x", "/abs", "a b", "-x", "x/y", ".hidden"] {
        let err = e.volumes().create(&named(bad)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad}: {err}");
        assert_eq!(e.volumes().remove(bad, false).unwrap_err().kind(), ErrorKind::InvalidArgument, "{bad}");
        assert_eq!(e.volumes().inspect(bad).unwrap_err().kind(), ErrorKind::InvalidArgument, "{bad}");
    }
    let mut o = named("other");
    o.driver = "nfs".into();
    let err = e.volumes().create(&o).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("nfs"), "{err}");
    for (k, v, msg) in [("type", "tmpfs", "not supported"), ("colour", "red", "invalid option key")] {
        let mut o = named("other");
        o.driver_opts.insert(k.into(), v.into());
        let err = e.volumes().create(&o).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains(msg), "{err}");
    }
    assert_eq!(e.volumes().prune(&["dangling=false".into()]).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(e.volumes().prune(&["what=ever".into()]).unwrap_err().kind(), ErrorKind::InvalidArgument);
    // A bad `-v` volume name fails the container create, and makes no volume.
    let mut c = env.opts(&["true"]);
    c.binds = vec!["bad name:/data".into()];
    assert_eq!(e.containers().create(&c).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(volume_dir_entries(&env), before);
    assert_eq!(names(&env, &[]), vec!["keep"]);
}

#[test]
fn named_volume_in_use_is_refused_and_keeps_data() {
    if !prerequisites() {
        return;
    }
    for rt in RUNTIMES {
        let env = Env::new(rt);
        let e = env.e();
        // `-v shared:/data` makes the volume implicitly.
        let writer = run_with(&env, &["shared:/data"], &["sh", "-c", "echo hello-from-writer > /data/msg"]);
        assert_eq!(names(&env, &[]), vec!["shared"], "{rt}");
        assert_eq!(names(&env, &["dangling=false"]), vec!["shared"], "{rt}");
        let v = e.volumes().inspect("shared").unwrap();
        assert_eq!(v.driver, "local");
        // In use by an exited container: refused, with and without force, and not pruned.
        for force in [false, true] {
            let err = e.volumes().remove("shared", force).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Conflict, "{rt}: {err}");
            assert!(err.to_string().contains("volume is in use") && err.to_string().contains(&writer), "{err}");
        }
        let report = e.volumes().prune(&[]).unwrap();
        assert!(report.volumes_deleted.is_empty(), "{rt}: {report:?}");
        // Removing the container, even with its volumes, keeps a named volume and its data.
        e.containers().remove(&writer, &RemoveOptions { force: false, volumes: true }).unwrap();
        assert_eq!(names(&env, &["dangling=true"]), vec!["shared"], "{rt}");
        let reader = run_with(&env, &["shared:/in:ro"], &["cat", "/in/msg"]);
        assert_eq!(logs_text(&env, &reader), "hello-from-writer\n", "{rt}");
        // A running user is refused too.
        let mut o = env.opts(&["sleep", "60"]);
        o.binds = vec!["shared:/data".into()];
        let running = e.containers().run(&o).unwrap();
        assert_eq!(e.volumes().remove("shared", false).unwrap_err().kind(), ErrorKind::Conflict);
        e.containers().remove(&running, &RemoveOptions { force: true, volumes: false }).unwrap();
        e.containers().remove(&reader, &RemoveOptions::default()).unwrap();
        e.volumes().remove("shared", false).unwrap();
        assert!(names(&env, &[]).is_empty(), "{rt}");
        assert!(volume_dir_entries(&env).is_empty(), "{rt}: {:?}", volume_dir_entries(&env));
    }
}

#[test]
fn anonymous_volumes_listed_and_removed_on_request() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("crun");
    let e = env.e();
    let (_, events) = e.events(&EventFilter { types: vec!["volume".into()], ..Default::default() });
    let first = run_with(&env, &["/scratch"], &["sh", "-c", "echo 12345 > /scratch/f"]);
    let anon1 = anonymous_volume_name(&first, "/scratch");
    assert_eq!(names(&env, &[]), vec![anon1.clone()]);
    let mp = e.volumes().inspect(&anon1).unwrap().mountpoint;
    assert_eq!(std::fs::read_to_string(Path::new(&mp).join("f")).unwrap(), "12345\n");
    assert_eq!(e.volumes().remove(&anon1, false).unwrap_err().kind(), ErrorKind::Conflict);
    // Without `volumes` the anonymous volume stays (dangling), and prune takes it.
    e.containers().remove(&first, &RemoveOptions { force: false, volumes: false }).unwrap();
    assert_eq!(names(&env, &["dangling=true"]), vec![anon1.clone()]);
    let second = run_with(&env, &["/scratch"], &["sh", "-c", "echo x > /scratch/f"]);
    let anon2 = anonymous_volume_name(&second, "/scratch");
    let report = e.volumes().prune(&[]).unwrap();
    assert_eq!(report.volumes_deleted, vec![anon1.clone()]);
    assert_eq!(report.space_reclaimed, 6);
    assert_eq!(names(&env, &[]), vec![anon2.clone()]);
    // With `volumes` it goes with the container.
    e.containers().remove(&second, &RemoveOptions { force: false, volumes: true }).unwrap();
    assert!(names(&env, &[]).is_empty());
    // Volumes made and removed along with containers are announced too.
    let evs: Vec<(String, String)> = events.try_iter().map(|ev| (ev.action, ev.actor.id)).collect();
    let want = [("create", &anon1), ("create", &anon2), ("destroy", &anon1), ("destroy", &anon2)];
    let want: Vec<(String, String)> = want.iter().map(|(a, n)| (a.to_string(), n.to_string())).collect();
    assert_eq!(evs, want);
    assert!(volume_dir_entries(&env).is_empty(), "{:?}", volume_dir_entries(&env));
}

#[test]
fn prune_only_unused_with_filters() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("runc");
    let e = env.e();
    let a = e.volumes().create(&named("prune-a")).unwrap();
    std::fs::write(Path::new(&a.mountpoint).join("blob"), vec![7u8; 1000]).unwrap();
    std::fs::create_dir(Path::new(&a.mountpoint).join("sub")).unwrap();
    std::fs::write(Path::new(&a.mountpoint).join("sub/more"), vec![7u8; 24]).unwrap();
    let mut keep = named("prune-keep");
    keep.labels.insert("keep".into(), "yes".into());
    e.volumes().create(&keep).unwrap();
    e.volumes().create(&named("prune-used")).unwrap();
    // Used by a created (never started) container.
    let mut o = env.opts(&["true"]);
    o.binds = vec!["prune-used:/data".into()];
    let user = e.containers().create(&o).unwrap();
    let (_, events) = e.events(&EventFilter { types: vec!["volume".into()], ..Default::default() });

    let r = e.volumes().prune(&["label!=keep".into()]).unwrap();
    assert_eq!(r.volumes_deleted, vec!["prune-a"]);
    assert_eq!(r.space_reclaimed, 1024);
    assert_eq!(names(&env, &[]), vec!["prune-keep", "prune-used"]);
    let r = e.volumes().prune(&[]).unwrap();
    assert_eq!(r.volumes_deleted, vec!["prune-keep"]);
    assert_eq!(r.space_reclaimed, 0);
    assert_eq!(names(&env, &[]), vec!["prune-used"]);
    let destroyed: Vec<String> = events.try_iter().filter(|ev| ev.action == "destroy").map(|ev| ev.actor.id).collect();
    assert_eq!(destroyed, vec!["prune-a", "prune-keep"]);
    e.containers().remove(&user, &RemoveOptions::default()).unwrap();
    assert_eq!(e.volumes().prune(&[]).unwrap().volumes_deleted, vec!["prune-used"]);
    assert!(volume_dir_entries(&env).is_empty(), "{:?}", volume_dir_entries(&env));
}

#[test]
fn volumes_survive_reopen() {
    if !prerequisites() {
        return;
    }
    let mut env = Env::new("runc");
    let mut o = named("persist");
    o.labels.insert("k".into(), "v".into());
    let v = env.e().volumes().create(&o).unwrap();
    // A half-made volume from a crash is cleaned at open.
    let junk = env.e().root().join("volumes").join(".tmp-half-1-1");
    std::fs::create_dir_all(junk.join("_data")).unwrap();
    env.reopen();
    assert!(!junk.exists());
    assert_eq!(env.e().volumes().inspect("persist").unwrap(), v);
    env.e().volumes().remove("persist", false).unwrap();
}

#[test]
fn concurrent_create_and_remove_keep_volumes_consistent() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("runc");
    let e = env.e();
    let (_, events) = e.events(&EventFilter { types: vec!["volume".into()], ..Default::default() });
    // Four creators of one name: one volume, one event, the same answer for all.
    let made: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4).map(|_| s.spawn(|| e.volumes().create(&named("race")).unwrap())).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(made.iter().all(|v| *v == made[0]));
    assert_eq!(events.try_iter().filter(|ev| ev.action == "create").count(), 1);
    // Container creation racing volume removal: whatever the order, a container that
    // exists has its volume, and removal never deletes a volume a container records.
    for _ in 0..3 {
        let created = std::thread::scope(|s| {
            let remover = s.spawn(|| e.volumes().remove("race", false));
            let mut o = env.opts(&["true"]);
            o.binds = vec!["race:/data".into()];
            let id = e.containers().create(&o).unwrap();
            let removed = remover.join().unwrap();
            if let Err(err) = &removed {
                assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
            }
            id
        });
        assert!(e.volumes().inspect("race").is_ok(), "the container's volume must exist");
        e.containers().start(&created).unwrap();
        assert_eq!(e.containers().wait(&created, WaitCondition::NotRunning).unwrap(), 0);
        e.containers().remove(&created, &RemoveOptions::default()).unwrap();
    }
    e.volumes().remove("race", false).unwrap();
}
