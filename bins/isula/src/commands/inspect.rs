//! `isula inspect [-f FORMAT] NAME...`: a JSON array like Docker's, or one template line per object.

use isula_api::v1::InspectImageRequest;
use serde_json::Value;

use crate::ctx::{parse_reply, Ctx};
use crate::error::{CliError, CmdResult};
use crate::template::Template;

/// `isula inspect [OPTIONS] NAME|ID [NAME|ID...]`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Format the output using the given Go template.
    #[arg(short = 'f', long = "format", value_name = "TEMPLATE")]
    pub format: Option<String>,
    /// Return JSON for the specified type (only `image` for now).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Objects to inspect.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// Pretty JSON with 4-space indentation, as Docker prints.
pub fn pretty(v: &Value) -> String {
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
pub fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    if let Some(k) = a.kind.as_deref() {
        if k != "image" {
            return Err(CliError::engine(format!(
                "\"{k}\" is not a valid value for --type (only \"image\" is supported yet)"
            )));
        }
    }
    let template = a.format.as_deref().map(Template::parse).transpose().map_err(CliError::engine)?;
    let mut c = ctx.images()?;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in &a.names {
        match ctx.rt.block_on(c.inspect(InspectImageRequest { name: name.clone() })) {
            Ok(r) => found.push(parse_reply("inspect_json", &r.into_inner().inspect_json)?),
            Err(s) if s.code() == tonic::Code::NotFound => errors.push(format!("Error: No such object: {name}")),
            Err(s) => {
                let e = CliError::daemon(&s);
                if e.code != 1 {
                    return Err(e);
                }
                errors.push(e.msg);
            }
        }
    }
    match &template {
        Some(t) => {
            for v in &found {
                println!("{}", t.render(v).map_err(CliError::engine)?);
            }
        }
        None => println!("{}", pretty(&Value::Array(found))),
    }
    for e in &errors {
        eprintln!("{e}");
    }
    Ok(i32::from(!errors.is_empty()))
}
