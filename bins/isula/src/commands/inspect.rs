//! `isula inspect [-f FORMAT] NAME...`: a JSON array like Docker's, or one template line per object.

use isula_api::v1::{ContainerRequest, InspectImageRequest};
use isula_types::container::inspect::ContainerInspect;
use isula_types::image::ImageInspect;
use serde_json::Value;

use crate::ctx::{parse_typed, Ctx};
use crate::error::{CliError, CmdResult};
use crate::template::Template;

/// `isula inspect [OPTIONS] NAME|ID [NAME|ID...]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Format the output using the given Go template.
    #[arg(short = 'f', long = "format", value_name = "TEMPLATE")]
    pub format: Option<String>,
    /// Return JSON for the specified type (`container` or `image`).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Objects to inspect.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// Pretty JSON with 4-space indentation, as Docker prints.
pub(crate) fn pretty(v: &Value) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let f = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, f);
    if v.serialize(&mut ser).is_err() {
        return v.to_string();
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Run `isula inspect`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let kind = a.kind.as_deref().unwrap_or("");
    if !matches!(kind, "" | "container" | "image") {
        return Err(CliError::engine(format!("\"{kind}\" is not a valid value for --type")));
    }
    let template = a.format.as_deref().map(Template::parse).transpose().map_err(CliError::engine)?;
    let mut images = ctx.images()?;
    let mut containers = ctx.containers()?;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in &a.names {
        let mut reply = None;
        if kind != "image" {
            match ctx.rt.block_on(containers.inspect(ContainerRequest { id: name.clone() })) {
                Ok(r) => reply = Some(typed_value::<ContainerInspect>(&r.into_inner().inspect_json)?),
                Err(s) if s.code() == tonic::Code::NotFound => {}
                Err(s) => return Err(CliError::daemon(&s)),
            }
        }
        if reply.is_none() && kind != "container" {
            match ctx.rt.block_on(images.inspect(InspectImageRequest { name: name.clone() })) {
                Ok(r) => reply = Some(typed_value::<ImageInspect>(&r.into_inner().inspect_json)?),
                Err(s) if s.code() == tonic::Code::NotFound => {}
                Err(s) => {
                    let e = CliError::daemon(&s);
                    if e.code != 1 {
                        return Err(e);
                    }
                    errors.push(e.msg);
                    continue;
                }
            }
        }
        match reply {
            Some(v) => found.push(v),
            None => errors.push(match kind {
                "container" => format!("Error: No such container: {name}"),
                "image" => format!("Error: No such image: {name}"),
                _ => format!("Error: No such object: {name}"),
            }),
        }
    }
    print_inspected(found, &errors, template.as_ref())
}

/// An inspect reply read into its shared type `T`, then made the JSON value that the output
/// and `--format` templates work on.
fn typed_value<T: serde::de::DeserializeOwned + serde::Serialize>(json: &str) -> Result<Value, CliError> {
    let t: T = parse_typed("inspect_json", json)?;
    Ok(crate::ctx::value_of(&t))
}

/// `inspect` of one kind of object (volumes, networks): `get` fetches each name's JSON; a
/// failure with status 1 (not found, refused) is printed after the output, any other stops
/// at once.
pub(crate) fn inspect_each<T: serde::Serialize>(
    ctx: &mut Ctx,
    names: &[String],
    format: Option<&str>,
    mut get: impl FnMut(&mut Ctx, &str) -> Result<T, CliError>,
) -> CmdResult {
    let template = format.map(Template::parse).transpose().map_err(CliError::engine)?;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        match get(ctx, name) {
            Ok(v) => found.push(crate::ctx::value_of(&v)),
            Err(e) if e.code == 1 => errors.push(e.msg),
            Err(e) => return Err(e),
        }
    }
    print_inspected(found, &errors, template.as_ref())
}

/// Print inspected objects Docker's way: a JSON array, or the template once per object; then
/// the errors (unknown names) on stderr. Status 1 when any name was not found.
fn print_inspected(found: Vec<Value>, errors: &[String], template: Option<&Template>) -> CmdResult {
    match template {
        Some(t) => {
            for v in &found {
                println!("{}", t.render(v).map_err(CliError::engine)?);
            }
        }
        None => println!("{}", pretty(&Value::Array(found))),
    }
    for e in errors {
        eprintln!("{e}");
    }
    Ok(i32::from(!errors.is_empty()))
}
