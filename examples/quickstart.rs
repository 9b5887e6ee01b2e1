//! Quick start: build a busybox image from the host's busybox-static, load it into a
//! fresh engine root and list the images, as `isula images` would.
//!
//! Run as root: `cargo run --release -p isula-tests --example quickstart [ROOT]`.

use std::time::Instant;

use isula_core::image::{ListImagesOptions, LoadOptions};
use isula_core::{Engine, EngineConfig};
use isula_tests::images::{self, DockerLayout};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = match std::env::args().nth(1) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("isula-quickstart-{}", std::process::id())),
    };
    let config = EngineConfig::with_dirs(base.join("root"), base.join("state"));
    let engine = Engine::open(config)?;

    let image = images::busybox();
    let archive = images::docker_archive(&[(&image, &["busybox:latest"])], DockerLayout::Legacy);
    let start = Instant::now();
    let loaded = engine.load(&mut &archive[..], &LoadOptions::default())?;
    for img in &loaded {
        println!("Loaded image: {} ({})", img.names.join(", "), img.id);
    }
    println!("load took {:.1} ms", start.elapsed().as_secs_f64() * 1000.0);

    println!("{:<40} {:<10} {:<14} {:>10}", "REPOSITORY", "TAG", "IMAGE ID", "SIZE");
    for img in engine.images(&ListImagesOptions::default())? {
        let id = img.id.to_string();
        let short = id.trim_start_matches("sha256:").get(..12).unwrap_or("").to_string();
        for name in &img.repo_tags {
            let (repo, tag) = name.rsplit_once(':').unwrap_or((name.as_str(), "<none>"));
            println!("{repo:<40} {tag:<10} {short:<14} {:>10}", human_size(img.size));
        }
    }
    drop(engine);
    if std::env::args().nth(1).is_none() {
        std::fs::remove_dir_all(&base)?;
    }
    Ok(())
}

fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.3}{}", units[i]).replace(".000", "")
}
