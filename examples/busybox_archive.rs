//! Writes a busybox image, built from the host's busybox-static, as a docker-archive
//! (`docker save` format) to the path given: `busybox_archive OUT.tar [NAME:TAG]`.
//! The quick start loads it with `isula load`, so nothing comes from the internet.

use isula_tests::images::{self, DockerLayout};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: busybox_archive OUT.tar [NAME:TAG]");
        std::process::exit(2);
    };
    let name = args.next().unwrap_or_else(|| "busybox:latest".to_string());
    let image = images::busybox();
    std::fs::write(&out, images::docker_archive(&[(&image, &[name.as_str()])], DockerLayout::Legacy))?;
    println!("wrote {out} ({name}, image id {})", image.id());
    Ok(())
}
