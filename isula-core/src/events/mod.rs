//! The event bus: operations publish [`Event`]s; subscribers get a channel of the
//! events matching their [`EventFilter`], and a bounded history serves `since`/`until`.
//!
//! Event shapes follow Docker's `/events` (Type, Action, Actor{ID, Attributes}, time,
//! timeNano; plus the legacy `status`, `id`, `from`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// How many past events the bus keeps for `since`.
pub(crate) const HISTORY_SIZE: usize = 1000;

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
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0);
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventFilter {
    /// Event types (`container`, `image`).
    pub types: Vec<String>,
    /// Actions (`start`, `die`, …; `exec_start` also matches `exec_start: sh` style actions).
    pub events: Vec<String>,
    /// Container ids, id prefixes or names.
    pub containers: Vec<String>,
    /// Image names or ids (matched against the `image` attribute or the actor of image events).
    pub images: Vec<String>,
    /// `key` or `key=value` labels of the actor.
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

    fn in_time(&self, e: &Event) -> bool {
        self.since.map(|s| e.time_nano >= s).unwrap_or(true) && self.until.map(|u| e.time_nano <= u).unwrap_or(true)
    }
}

/// Publish/subscribe hub with a bounded history. `Send + Sync`.
#[derive(Debug, Default)]
pub(crate) struct EventBus {
    history: Mutex<VecDeque<Event>>,
    subscribers: Mutex<Vec<(EventFilter, Sender<Event>)>>,
}

impl EventBus {
    /// An empty bus.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Record `e` in the history and send it to every matching subscriber
    /// (subscribers whose receiver is gone are dropped).
    pub(crate) fn publish(&self, e: Event) {
        {
            let mut h = self.history.lock().unwrap_or_else(|p| p.into_inner());
            if h.len() >= HISTORY_SIZE {
                h.pop_front();
            }
            h.push_back(e.clone());
        }
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|(f, tx)| !f.matches(&e) || tx.send(e.clone()).is_ok());
    }

    /// Shorthand: publish an event of `kind`/`action` about `id`.
    pub(crate) fn emit(&self, kind: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) {
        self.publish(Event::new(kind, action, id, attributes));
    }

    /// The past events matching `filter` within `since..=until` (none without `since`),
    /// and a receiver of future matching events (none when `until` is in the past).
    pub(crate) fn subscribe(&self, filter: &EventFilter) -> (Vec<Event>, Receiver<Event>) {
        let (tx, rx) = channel();
        // Hold the subscriber lock while copying the history so no event is missed or doubled.
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        let past: Vec<Event> = if filter.since.is_some() {
            let h = self.history.lock().unwrap_or_else(|p| p.into_inner());
            h.iter().filter(|e| filter.matches(e) && filter.in_time(e)).cloned().collect()
        } else {
            Vec::new()
        };
        let now = Event::new("", "", "", BTreeMap::new()).time_nano;
        if filter.until.map(|u| u > now).unwrap_or(true) {
            subs.push((filter.clone(), tx));
        }
        (past, rx)
    }

    /// Number of live subscriptions (for tests and diagnostics).
    #[cfg(test)]
    pub(crate) fn subscriber_count(&self) -> usize {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn filters_and_history() {
        let bus = EventBus::new();
        let start = Event::new("", "", "", BTreeMap::new()).time_nano;
        bus.emit("container", "start", "abc123", attrs(&[("name", "web"), ("image", "busybox"), ("tier", "x")]));
        bus.emit("image", "pull", "sha256:1", attrs(&[("name", "busybox")]));
        let (past, rx) = bus.subscribe(&EventFilter { since: Some(start), ..Default::default() });
        assert_eq!(past.len(), 2);
        let f = EventFilter { containers: vec!["web".into()], since: Some(start), ..Default::default() };
        assert_eq!(bus.subscribe(&f).0.len(), 1);
        let f = EventFilter { labels: vec!["tier=x".into()], since: Some(start), ..Default::default() };
        assert_eq!(bus.subscribe(&f).0.len(), 1);
        let f = EventFilter { labels: vec!["tier=y".into()], since: Some(start), ..Default::default() };
        assert_eq!(bus.subscribe(&f).0.len(), 0);
        let f = EventFilter { types: vec!["image".into()], events: vec!["pull".into()], ..Default::default() };
        let (none, rx2) = bus.subscribe(&f);
        assert!(none.is_empty());
        bus.emit("container", "die", "abc123", attrs(&[("exitCode", "0")]));
        bus.emit("image", "pull", "sha256:2", BTreeMap::new());
        assert_eq!(rx.try_recv().unwrap().action, "die");
        assert_eq!(rx2.try_recv().unwrap().actor.id, "sha256:2");
        assert!(rx2.try_recv().is_err());
        drop(rx);
        bus.emit("container", "stop", "abc123", BTreeMap::new());
        // five subscriptions; the dropped receiver of the first goes when an event matches it
        assert_eq!(bus.subscriber_count(), 4);
    }

    #[test]
    fn history_is_bounded() {
        let bus = EventBus::new();
        for i in 0..HISTORY_SIZE + 10 {
            bus.emit("container", "start", &i.to_string(), BTreeMap::new());
        }
        let (past, _rx) = bus.subscribe(&EventFilter { since: Some(0), ..Default::default() });
        assert_eq!(past.len(), HISTORY_SIZE);
        assert_eq!(past[0].actor.id, "10");
    }
}
