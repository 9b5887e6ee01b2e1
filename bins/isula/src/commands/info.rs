//! `isula info [--format]`: daemon-wide information.

use isula_api::v1::InfoRequest;
use isula_types::info::Info;

use crate::ctx::{parse_typed, value_of, Ctx};
use crate::error::{CliError, CmdResult};
use crate::fmt::human_size;
use crate::template::Template;

/// `isula info [OPTIONS]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Format the output using the given Go template.
    #[arg(short = 'f', long = "format", value_name = "TEMPLATE")]
    pub format: Option<String>,
}

/// Run `isula info`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let mut c = ctx.system()?;
    let r = ctx.rt.block_on(c.info(InfoRequest {}))?.into_inner();
    let info: Info = parse_typed("info_json", &r.info_json)?;
    if let Some(f) = &a.format {
        let t = Template::parse(f).map_err(CliError::engine)?;
        println!("{}", t.render(&value_of(&info)).map_err(CliError::engine)?);
        return Ok(0);
    }
    println!("Containers: {}", info.containers);
    println!(" Running: {}", info.containers_running);
    println!(" Paused: {}", info.containers_paused);
    println!(" Stopped: {}", info.containers_stopped);
    println!("Images: {}", info.images);
    println!("Server Version: {}", info.server_version);
    println!("Storage Driver: {}", info.driver);
    println!("Logging Driver: {}", info.logging_driver);
    println!("Cgroup Driver: {}", info.cgroup_driver);
    println!("Cgroup Version: {}", info.cgroup_version);
    println!("Default Runtime: {}", info.default_runtime);
    println!("Kernel Version: {}", info.kernel_version);
    println!("Operating System: {}", info.operating_system);
    println!("OSType: {}", info.os_type);
    println!("Architecture: {}", info.architecture);
    println!("CPUs: {}", info.ncpu);
    println!("Total Memory: {}", human_size(info.mem_total));
    println!("Name: {}", info.name);
    println!("Isulad Root Dir: {}", info.docker_root_dir);
    println!("Isulad State Dir: {}", info.state_dir);
    if !info.registry_mirrors.is_empty() {
        println!("Registry Mirrors:");
        for m in &info.registry_mirrors {
            println!(" {m}");
        }
    }
    if !info.insecure_registries.is_empty() {
        println!("Insecure Registries:");
        for m in &info.insecure_registries {
            println!(" {m}");
        }
    }
    // As docker info: warnings last, on stderr.
    for w in &info.warnings {
        eprintln!("WARNING: {w}");
    }
    Ok(0)
}
