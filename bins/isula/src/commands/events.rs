//! `isula events [--since T] [--until T] [-f k=v] [--format F]`: Docker's line format.

use isula_api::v1::EventsRequest;
use serde_json::{json, Value};

use crate::commands::logs::time_arg;
use crate::ctx::{parse_reply, Ctx};
use crate::error::{CliError, CmdResult};
use crate::template::Template;

/// `isula events [OPTIONS]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Show all events created since timestamp.
    #[arg(long = "since")]
    pub since: Option<String>,
    /// Stream events until this timestamp.
    #[arg(long = "until")]
    pub until: Option<String>,
    /// Filter output based on conditions provided (type, event, container, image, label).
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Format the output using the given Go template.
    #[arg(long = "format")]
    pub format: Option<String>,
}

/// Nanoseconds since the epoch of a `--since`/`--until` value.
fn nanos(flag: &str, s: &str) -> Result<i64, CliError> {
    let t = time_arg(flag, s)?;
    if let Ok(f) = t.parse::<f64>() {
        return Ok((f * 1e9) as i64);
    }
    isula_types::time::parse_rfc3339(&t)
        .map(|t| t.unix_nanos() as i64)
        .ok_or_else(|| CliError::engine(format!("invalid value for {flag}: {s:?}")))
}

/// The engine filter JSON for Docker's `-f key=value` list.
fn filter_json(filters: &[String]) -> Result<Value, CliError> {
    let mut f = json!({"types": [], "events": [], "containers": [], "images": [], "labels": []});
    for s in filters {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| CliError::engine(format!("bad format of filter (expected name=value): {s}")))?;
        let key = match k {
            "type" => "types",
            "event" => "events",
            "container" => "containers",
            "image" => "images",
            "label" => "labels",
            o => return Err(CliError::engine(format!("invalid filter '{o}'"))),
        };
        f[key].as_array_mut().expect("list").push(json!(v));
    }
    Ok(f)
}

/// Docker's line: `TIME TYPE ACTION ID (k=v, ...)`.
fn line(e: &Value) -> String {
    let ns = e["timeNano"].as_i64().unwrap_or(0);
    let date = isula_types::time::Timestamp::from_unix_nanos(ns.into()).to_rfc3339_fixed();
    let attrs = e["Actor"]["Attributes"]
        .as_object()
        .map(|o| o.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    format!(
        "{date} {} {} {} ({attrs})",
        e["Type"].as_str().unwrap_or(""),
        e["Action"].as_str().unwrap_or(""),
        e["Actor"]["ID"].as_str().unwrap_or("")
    )
}

/// Run `isula events`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let mut f = filter_json(&a.filter)?;
    if let Some(s) = &a.since {
        f["since"] = json!(nanos("--since", s)?);
    }
    if let Some(u) = &a.until {
        f["until"] = json!(nanos("--until", u)?);
        if a.since.is_none() {
            f["since"] = json!(0);
        }
    }
    let template = a.format.as_deref().map(Template::parse).transpose().map_err(CliError::engine)?;
    let mut c = ctx.system()?;
    ctx.rt.block_on(async {
        let mut s = c.events(EventsRequest { options_json: f.to_string() }).await?.into_inner();
        while let Some(m) = s.message().await? {
            let e = parse_reply("event_json", &m.event_json)?;
            let text = match &template {
                Some(t) => t.render(&e).map_err(CliError::engine)?,
                None => line(&e),
            };
            println!("{text}");
        }
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_filters_and_lines() {
        assert_eq!(nanos("--since", "1970-01-01T00:00:01.5Z").unwrap(), 1_500_000_000);
        assert_eq!(nanos("--since", "1970-01-01T01:00:00+01:00").unwrap(), 0);
        assert!(nanos("--since", "1970-01-01T01:00:00+0100").is_err());
        let f = filter_json(&["type=container".into(), "event=die".into()]).unwrap();
        assert_eq!(f["types"][0], "container");
        assert!(filter_json(&["bogus=1".into()]).is_err());
        let e = json!({"Type": "container", "Action": "start", "Actor": {"ID": "abc", "Attributes": {"name": "x"}},
            "timeNano": 1_000_000_001i64});
        assert_eq!(line(&e), "1970-01-01T00:00:01.000000001Z container start abc (name=x)");
    }
}
