//! Embedding isula from Rust: the same flow as the C examples, through `isula_core` directly.
//!
//! Opens an engine on a private root, loads busybox from an archive, lists, inspects and tags
//! it, runs `echo hello` in a container (create, start, wait, logs, remove), then removes the
//! image.
//!
//! usage: cargo run -p isula-tests --example embed -- ARCHIVE DIR
//!   ARCHIVE  a `docker save` or OCI archive holding busybox:latest
//!   DIR      an empty directory for the engine's root (DIR/root) and state (DIR/state)

use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;

use isula_core::LogOptions;
use isula_core::{CreateOptions, RemoveOptions, WaitCondition};
use isula_core::{Engine, EngineConfig, Result};
use isula_core::{ListImagesOptions, LoadOptions, RemoveImageOptions};

fn run(archive: PathBuf, dir: PathBuf) -> Result<()> {
    let mut config = EngineConfig::with_dirs(dir.join("root"), dir.join("state"));
    // The container needs no network: no default bridge network (Docker's `-b none`).
    config.bridge = "none".into();
    let engine = Engine::open(config)?;

    let mut f = File::open(&archive).map_err(|e| isula_core::Error::io(&archive, "open image archive", e))?;
    let loaded = engine.images().load(&mut f, &LoadOptions::default())?;
    for img in &loaded {
        println!("loaded: {} {:?}", img.id, img.names);
    }

    for img in engine.images().list(&ListImagesOptions::default())? {
        println!("image: {} {:?} {} bytes", img.id, img.repo_tags, img.size);
    }
    let inspect = engine.images().inspect("busybox:latest")?;
    println!("inspect: {} {}/{}", inspect.id, inspect.os, inspect.architecture);

    engine.images().tag("busybox:latest", "example/busybox:v1")?;
    let filtered = engine
        .images()
        .list(&ListImagesOptions { filters: vec!["reference=example/*".into()], ..Default::default() })?;
    println!("filtered: {:?}", filtered.iter().map(|i| &i.repo_tags).collect::<Vec<_>>());

    let id = engine.containers().create(&CreateOptions {
        image: "busybox:latest".into(),
        cmd: Some(vec!["echo".into(), "hello".into()]),
        ..Default::default()
    })?;
    engine.containers().start(&id)?;
    let code = engine.containers().wait(&id, WaitCondition::NotRunning)?;
    let mut logs = String::new();
    engine.containers().logs(&id, &LogOptions::default(), &mut |line| {
        logs.push_str(&line.log);
        true
    })?;
    engine.containers().remove(&id, &RemoveOptions::default())?;
    println!("container {}: exit code {code}, logs {logs:?}", &id[..12]);

    for name in ["example/busybox:v1", "busybox:latest"] {
        let removed = engine.images().remove(name, &RemoveImageOptions::default())?;
        println!("removed: {removed:?}");
    }
    println!("images left: {}", engine.images().list(&ListImagesOptions::default())?.len());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: {} ARCHIVE DIR", args[0]);
        return ExitCode::from(2);
    }
    match run(PathBuf::from(&args[1]), PathBuf::from(&args[2])) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error ({}): {e}", e.kind());
            ExitCode::FAILURE
        }
    }
}
