//! Figures, not assertions on speed (run with `--ignored --nocapture`): pull throughput of a
//! ~100 MB multi-layer image from a local docker-registry against `skopeo copy` of the same
//! image, and the time to resume a pull cut at 50%.

use crate::registry_support;

use std::process::Command;
use std::time::Instant;

use isula_core::LoadOptions;
use isula_tests::env::{run_ok, TestRoot};
use isula_tests::images;
use isula_tests::registry::{self, Registry, RegistryMode};
use registry_support::*;

fn mb_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

#[test]
#[ignore = "measurement; prints figures"]
fn pull_throughput_and_resume_time() {
    let mode = RegistryMode::Http;
    if !registry::available(&mode) || !isula_tests::env::require("skopeo") {
        return;
    }
    let reg = Registry::start(mode);
    let img = images::sized(100 << 20, 4);
    let bytes: u64 = img.layers.iter().map(|l| l.data.len() as u64).sum::<u64>() + img.config.data.len() as u64;
    let name = format!("{}/bench/img:1", reg.addr());

    let a = TestRoot::new();
    let src = engine(&a, &[&reg.addr()]);
    let archive = images::oci_archive(&img, Some("x"));
    src.images().load(&mut &archive[..], &LoadOptions { tag: Some(name.clone()) }).unwrap();
    let t = Instant::now();
    src.images().push(&name, &mut |_| {}).unwrap();
    let push_s = t.elapsed().as_secs_f64();

    // Our pull. Layers unpack while they download, so "until the first Extracting event" (which
    // comes after the last layer is unpacked) is no longer a download-only figure.
    let b = TestRoot::new();
    let dst = engine(&b, &[&reg.addr()]);
    let t = Instant::now();
    let mut first_extract = None;
    dst.images()
        .pull(&name, &Default::default(), &mut |ev| {
            if first_extract.is_none()
                && matches!(ev, isula_core::PullEvent::Layer { progress: isula_core::LayerProgress::Extracting, .. })
            {
                first_extract = Some(t.elapsed().as_secs_f64());
            }
        })
        .unwrap();
    let pull_s = t.elapsed().as_secs_f64();
    let download_s = first_extract.unwrap_or(pull_s);

    // skopeo copy of the same image to an OCI layout.
    let out = tempfile::tempdir().unwrap();
    let t = Instant::now();
    run_ok(
        Command::new("skopeo")
            .args(["copy", "--quiet", "--src-tls-verify=false"])
            .arg(format!("docker://{name}"))
            .arg(format!("oci:{}:x", out.path().display())),
    );
    let skopeo_s = t.elapsed().as_secs_f64();

    // Resume: cut every layer at 50% (in-test registry), then pull from the real one.
    let c = TestRoot::new();
    let content = Content::image(&img, "1");
    let cutter = FakeRegistry::start(move |req| {
        if req.path.contains("/blobs/") && req.method == "GET" {
            let d = req.path.rsplit('/').next().unwrap().to_string();
            let data = content.blobs[&d].clone();
            if data.len() > 1 << 20 {
                let half = data.len() / 2;
                return Action::Cut(200, vec![], data, half);
            }
        }
        content.serve(req)
    });
    let e = engine(&c, &[&reg.addr(), &cutter.addr]);
    let _ = pull(&e, &format!("{}/bench/img:1", cutter.addr)).unwrap_err();
    let partial: u64 = e.content().partial_ingests().unwrap().iter().map(|(_, n)| n).sum();
    let t = Instant::now();
    let mut resume_download = None;
    e.images()
        .pull(&name, &Default::default(), &mut |ev| {
            if resume_download.is_none()
                && matches!(ev, isula_core::PullEvent::Layer { progress: isula_core::LayerProgress::Extracting, .. })
            {
                resume_download = Some(t.elapsed().as_secs_f64());
            }
        })
        .unwrap();
    let resume_s = t.elapsed().as_secs_f64();

    println!("image: {} layers, {:.1} MB compressed", img.layers.len(), bytes as f64 / 1e6);
    println!("isula push:                 {push_s:.2} s  ({:.0} MB/s)", mb_s(bytes, push_s));
    println!("isula pull, layers unpacked: {download_s:.2} s  ({:.0} MB/s)", mb_s(bytes, download_s));
    println!("isula pull, registered:      {pull_s:.2} s  ({:.0} MB/s)", mb_s(bytes, pull_s));
    println!("skopeo copy docker:// oci:  {skopeo_s:.2} s  ({:.0} MB/s)", mb_s(bytes, skopeo_s));
    println!(
        "resume after a cut at 50% ({:.1} MB kept, {:.1} MB left): download {:.2} s, total {resume_s:.2} s",
        partial as f64 / 1e6,
        (bytes - partial) as f64 / 1e6,
        resume_download.unwrap_or(resume_s)
    );
}
