//! `isula info [--format]`: daemon-wide information.

use isula_api::v1::InfoRequest;
use serde_json::Value;

use crate::ctx::{parse_reply, Ctx};
use crate::error::{CliError, CmdResult};
use crate::fmt::human_size;
use crate::template::{plain, Template};

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
    let info = parse_reply("info_json", &r.info_json)?;
    if let Some(f) = &a.format {
        let t = Template::parse(f).map_err(CliError::engine)?;
        println!("{}", t.render(&info).map_err(CliError::engine)?);
        return Ok(0);
    }
    let s = |k: &str| plain(info.get(k).unwrap_or(&Value::Null));
    println!("Containers: {}", s("Containers"));
    println!(" Running: {}", s("ContainersRunning"));
    println!(" Paused: {}", s("ContainersPaused"));
    println!(" Stopped: {}", s("ContainersStopped"));
    println!("Images: {}", s("Images"));
    println!("Server Version: {}", s("ServerVersion"));
    println!("Storage Driver: {}", s("Driver"));
    println!("Logging Driver: {}", s("LoggingDriver"));
    println!("Cgroup Version: {}", s("CgroupVersion"));
    println!("Default Runtime: {}", s("DefaultRuntime"));
    println!("Kernel Version: {}", s("KernelVersion"));
    println!("Operating System: {}", s("OperatingSystem"));
    println!("OSType: {}", s("OSType"));
    println!("Architecture: {}", s("Architecture"));
    println!("CPUs: {}", s("NCPU"));
    println!("Total Memory: {}", human_size(info["MemTotal"].as_u64().unwrap_or(0)));
    println!("Name: {}", s("Name"));
    println!("Isulad Root Dir: {}", s("DockerRootDir"));
    println!("Isulad State Dir: {}", s("StateDir"));
    let list = |k: &str| info[k].as_array().cloned().unwrap_or_default();
    if !list("RegistryMirrors").is_empty() {
        println!("Registry Mirrors:");
        for m in list("RegistryMirrors") {
            println!(" {}", plain(&m));
        }
    }
    if !list("InsecureRegistries").is_empty() {
        println!("Insecure Registries:");
        for m in list("InsecureRegistries") {
            println!(" {}", plain(&m));
        }
    }
    Ok(0)
}
