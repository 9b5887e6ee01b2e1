//! Container list (`ps`) and the `Status` column.

use crate::container::state::{State, Status};
use crate::container::store::ContainerRecord;
use crate::container::types::{ContainerSummary, ListOptions, Port};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::time::{human_duration, now, Timestamp};

impl Engine {
    // ------------------------------------------------------------------ list / inspect

    /// [`Containers::list`]: see there.
    pub(crate) fn list(&self, opts: &ListOptions) -> Result<Vec<ContainerSummary>> {
        let mut filters: Vec<(String, String)> = Vec::new();
        for f in &opts.filters {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| Error::invalid(format!("bad format of filter (expected name=value): {f}")))?;
            match k {
                "id" | "name" | "label" | "ancestor" => {}
                "status" => {
                    Status::parse(v)?;
                }
                _ => return Err(Error::invalid(format!("invalid filter '{k}'"))),
            }
            filters.push((k.to_string(), v.to_string()));
        }
        let ancestors: Vec<String> = filters
            .iter()
            .filter(|(k, _)| k == "ancestor")
            .map(|(_, v)| self.resolve_image(v).map(|i| i.id.to_string()).unwrap_or_else(|_| v.clone()))
            .collect();
        let all = opts.all || opts.last > 0 || filters.iter().any(|(k, _)| k == "status");
        let keep = |r: &ContainerRecord| {
            let group = |key: &str, f: &dyn Fn(&str) -> bool| {
                let mut vals = filters.iter().filter(|(k, _)| k == key).map(|(_, v)| v).peekable();
                vals.peek().is_none() || vals.any(|v| f(v))
            };
            (all || r.state.status.is_active())
                && group("id", &|v| r.id.starts_with(v))
                && group("name", &|v| r.name.contains(v.trim_start_matches('/')))
                && group("status", &|v| r.state.status.as_str() == v)
                && group("ancestor", &|_| ancestors.iter().any(|a| *a == r.image || *a == r.config.image))
                && filters.iter().filter(|(k, _)| k == "label").all(|(_, v)| match v.split_once('=') {
                    Some((lk, lv)) => r.config.labels.get(lk).map(|x| x == lv).unwrap_or(false),
                    None => r.config.labels.contains_key(v.as_str()),
                })
        };
        // One pass over the network attachments for all containers; the summaries are made
        // under each record's lock, without copying whole records (a node may hold thousands).
        let mut attachments = self.inner.networks.attachments_by_container();
        let now = now();
        let mut rows: Vec<(Timestamp, ContainerSummary)> = self
            .inner
            .containers
            .list()
            .iter()
            .filter_map(|c| {
                c.with_record(|r| {
                    keep(r).then(|| {
                        let ports = published_ports(attachments.remove(&r.id).unwrap_or_default());
                        (r.created, summary(r, now, ports))
                    })
                })
            })
            .collect();
        rows.sort_by(|(ta, a), (tb, b)| tb.cmp(ta).then_with(|| a.id.cmp(&b.id)));
        if opts.last > 0 {
            rows.truncate(opts.last);
        }
        Ok(rows.into_iter().map(|(_, s)| s).collect())
    }
}

/// The ports a container publishes on its networks (host address `0.0.0.0` when it binds
/// every address), Docker's `Ports` of `ps`.
fn published_ports(attachments: Vec<crate::network::AttachResult>) -> Vec<Port> {
    let mut ports: Vec<Port> = attachments
        .iter()
        .flat_map(|a| a.port_mappings.iter())
        .map(|p| Port {
            ip: p.host_ip.map(|i| i.to_string()).unwrap_or_else(|| "0.0.0.0".into()),
            private_port: p.container_port,
            public_port: p.host_port,
            kind: p.protocol.as_str().into(),
        })
        .collect();
    ports.sort();
    ports.dedup();
    ports
}

/// The `Status` column of `ps`.
pub(super) fn status_text(s: &State, now: Timestamp) -> String {
    match s.status {
        Status::Created => "Created".into(),
        Status::Running => format!("Up {}", human_duration(now.since(s.started_at))),
        Status::Paused => format!("Up {} (Paused)", human_duration(now.since(s.started_at))),
        Status::Restarting => {
            format!("Restarting ({}) {} ago", s.exit_code, human_duration(now.since(s.finished_at)))
        }
        Status::Exited if s.finished_at.is_zero() => "Created".into(),
        Status::Exited => format!("Exited ({}) {} ago", s.exit_code, human_duration(now.since(s.finished_at))),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

fn summary(r: &ContainerRecord, now: Timestamp, ports: Vec<Port>) -> ContainerSummary {
    let mut command = r.path.clone();
    for a in &r.args {
        command.push(' ');
        command.push_str(a);
    }
    ContainerSummary {
        id: r.id.clone(),
        names: vec![format!("/{}", r.name)],
        image: r.config.image.clone(),
        image_id: r.image.clone(),
        command,
        created: r.created.unix_secs(),
        ports,
        state: r.state.status.as_str().into(),
        status: status_text(&r.state, now),
        labels: r.config.labels.clone(),
        pod: r.host_config.pod.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339;
    use std::time::Duration;

    #[test]
    fn human_status() {
        assert_eq!(human_duration(Duration::from_millis(10)), "Less than a second");
        assert_eq!(human_duration(Duration::from_secs(3)), "3 seconds");
        assert_eq!(human_duration(Duration::from_secs(70)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(180)), "3 minutes");
        assert_eq!(human_duration(Duration::from_secs(3 * 3600)), "3 hours");
        assert_eq!(human_duration(Duration::from_secs(3 * 86400)), "3 days");
        let now = parse_rfc3339("2024-01-01T00:10:00Z").unwrap();
        let st = State {
            status: Status::Exited,
            exit_code: 3,
            finished_at: parse_rfc3339("2024-01-01T00:08:00Z").unwrap(),
            started_at: parse_rfc3339("2024-01-01T00:07:00Z").unwrap(),
            ..State::default()
        };
        assert_eq!(status_text(&st, now), "Exited (3) 2 minutes ago");
        let run = State { status: Status::Running, ..st.clone() };
        assert_eq!(status_text(&run, now), "Up 3 minutes");
        assert_eq!(status_text(&State::default(), now), "Created");
    }
}
