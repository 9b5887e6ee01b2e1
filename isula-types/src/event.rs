//! Engine events in Docker's `/events` shape (Type, Action, Actor{ID, Attributes}, time,
//! timeNano) and the filter a subscriber gives. The bus that delivers them is the engine's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Who an event is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Actor {
    /// Container id or image id/reference.
    #[serde(rename = "ID")]
    pub id: String,
    /// `name`, `image`, container labels, `exitCode`, `signal`, …
    pub attributes: BTreeMap<String, String>,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `container` or `image`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `create`, `start`, `die`, `pull`, …
    #[serde(rename = "Action")]
    pub action: String,
    /// The object.
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// Seconds since the epoch.
    pub time: i64,
    /// Nanoseconds since the epoch.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl Event {
    /// A new event stamped now.
    pub fn new(kind: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) -> Event {
        let nanos = crate::time::now().unix_nanos() as i64;
        Event {
            kind: kind.into(),
            action: action.into(),
            actor: Actor { id: id.into(), attributes },
            time: nanos / 1_000_000_000,
            time_nano: nanos,
        }
    }
}

/// Which events a subscriber wants; empty lists match everything. Values within one
/// list are alternatives (OR); different lists must all match (AND), as Docker's filters.
///
/// The JSON keys are Docker's: the lists are the keys of the Engine API's `filters` object
/// of `GET /events` (`{"type":[..],"event":[..],"container":[..],"image":[..],"label":[..]}`,
/// lowercase and singular, as `isula events -f type=container` spells them), and `since` and
/// `until` are its query parameters (here in nanoseconds since the epoch).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventFilter {
    /// Event types (`container`, `image`).
    #[serde(rename = "type")]
    pub types: Vec<String>,
    /// Actions (`start`, `die`, …; `exec_start` also matches `exec_start: sh` style actions).
    #[serde(rename = "event")]
    pub events: Vec<String>,
    /// Container ids, id prefixes or names.
    #[serde(rename = "container")]
    pub containers: Vec<String>,
    /// Image names or ids (matched against the `image` attribute or the actor of image events).
    #[serde(rename = "image")]
    pub images: Vec<String>,
    /// `key` or `key=value` labels of the actor.
    #[serde(rename = "label")]
    pub labels: Vec<String>,
    /// History from this time on (nanoseconds since the epoch); `None` = no history.
    pub since: Option<i64>,
    /// History up to this time (nanoseconds since the epoch).
    pub until: Option<i64>,
}

impl EventFilter {
    /// Whether `e` passes the type/action/container/image/label filters (not the times).
    pub fn matches(&self, e: &Event) -> bool {
        let any = |list: &[String], f: &dyn Fn(&str) -> bool| list.is_empty() || list.iter().any(|v| f(v));
        let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str).unwrap_or("");
        any(&self.types, &|t| t == e.kind)
            && any(&self.events, &|a| e.action == a || e.action.starts_with(&format!("{a}:")))
            && any(&self.containers, &|c| {
                e.kind == "container" && (e.actor.id.starts_with(c) || attr("name") == c.trim_start_matches('/'))
            })
            && any(&self.images, &|i| {
                attr("image") == i || (e.kind == "image" && (e.actor.id == i || attr("name") == i))
            })
            && any(&self.labels, &|l| match l.split_once('=') {
                Some((k, v)) => e.actor.attributes.get(k).map(|x| x == v).unwrap_or(false),
                None => e.actor.attributes.contains_key(l),
            })
    }

    /// Whether `e` lies within `since`/`until` (both inclusive).
    pub fn in_time(&self, e: &Event) -> bool {
        self.since.map(|s| e.time_nano >= s).unwrap_or(true) && self.until.map(|u| e.time_nano <= u).unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_dockers() {
        let e = Event {
            kind: "container".into(),
            action: "start".into(),
            actor: Actor { id: "abc".into(), attributes: BTreeMap::from([("name".into(), "x".into())]) },
            time: 1,
            time_nano: 1_000_000_001,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"Type": "container", "Action": "start", "Actor": {"ID": "abc", "Attributes": {"name": "x"}},
                "time": 1, "timeNano": 1_000_000_001i64})
        );
        let f = EventFilter { since: Some(1_000_000_001), until: Some(1_000_000_001), ..Default::default() };
        assert!(f.matches(&e) && f.in_time(&e));
        assert!(!EventFilter { types: vec!["image".into()], ..Default::default() }.matches(&e));
        // Docker's filter keys.
        let f: EventFilter =
            serde_json::from_str(r#"{"type":["container"],"event":["start"],"container":["x"],"label":["name=x"]}"#)
                .unwrap();
        assert!(f.matches(&e) && f.types == ["container"] && f.containers == ["x"]);
        let keys: Vec<String> = serde_json::to_value(&f).unwrap().as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["container", "event", "image", "label", "since", "type", "until"]);
        // A key that is not Docker's (say the plural `types`) is refused, not ignored.
        assert!(serde_json::from_str::<EventFilter>(r#"{"types":["image"]}"#).is_err());
    }
}
