//! `isula events [--since T] [--until T] [-f k=v] [--format F]`: Docker's line format.

use isula_api::v1::EventsRequest;
use isula_types::event::{Event, EventFilter};

use crate::commands::logs::time_arg;
use crate::ctx::{parse_typed, to_json, value_of, Ctx};
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

/// The engine filter for Docker's `-f key=value` list.
fn filter_of(filters: &[String]) -> Result<EventFilter, CliError> {
    let mut f = EventFilter::default();
    for s in filters {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| CliError::engine(format!("bad format of filter (expected name=value): {s}")))?;
        let list = match k {
            "type" => &mut f.types,
            "event" => &mut f.events,
            "container" => &mut f.containers,
            "image" => &mut f.images,
            "label" => &mut f.labels,
            o => return Err(CliError::engine(format!("invalid filter '{o}'"))),
        };
        list.push(v.to_string());
    }
    Ok(f)
}

/// Docker's line: `TIME TYPE ACTION ID (k=v, ...)`.
fn line(e: &Event) -> String {
    let date = isula_types::time::Timestamp::from_unix_nanos(e.time_nano.into()).to_rfc3339_fixed();
    let attrs = e.actor.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
    format!("{date} {} {} {} ({attrs})", e.kind, e.action, e.actor.id)
}

/// Run `isula events`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let mut f = filter_of(&a.filter)?;
    if let Some(s) = &a.since {
        f.since = Some(nanos("--since", s)?);
    }
    if let Some(u) = &a.until {
        f.until = Some(nanos("--until", u)?);
        if a.since.is_none() {
            f.since = Some(0);
        }
    }
    let template = a.format.as_deref().map(Template::parse).transpose().map_err(CliError::engine)?;
    let mut c = ctx.system()?;
    ctx.rt.block_on(async {
        let mut s = c.events(EventsRequest { options_json: to_json(&f) }).await?.into_inner();
        while let Some(m) = s.message().await? {
            let e: Event = parse_typed("event_json", &m.event_json)?;
            let text = match &template {
                Some(t) => t.render(&value_of(&e)).map_err(CliError::engine)?,
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
        let f = filter_of(&["type=container".into(), "event=die".into()]).unwrap();
        assert_eq!(f.types[0], "container");
        assert_eq!(f.events[0], "die");
        assert!(filter_of(&["bogus=1".into()]).is_err());
        let e: Event = serde_json::from_str(
            r#"{"Type": "container", "Action": "start", "Actor": {"ID": "abc", "Attributes": {"name": "x"}},
            "time": 1, "timeNano": 1000000001}"#,
        )
        .unwrap();
        assert_eq!(line(&e), "1970-01-01T00:00:01.000000001Z container start abc (name=x)");
    }
}
