//! The event bus: operations publish [`Event`]s; subscribers get a channel of the
//! events matching their [`EventFilter`], and a bounded history serves `since`/`until`.
//!
//! Event shapes follow Docker's `/events` (Type, Action, Actor{ID, Attributes}, time,
//! timeNano; plus the legacy `status`, `id`, `from`).

mod history;

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::time::Duration;

pub use isula_types::event::{Actor, Event, EventFilter};

#[cfg(test)]
use history::HISTORY_SIZE;

/// The bus's state: history and subscribers under one lock, so that an event is recorded
/// and delivered in one critical section and a subscription copies the history and joins the
/// live feed in another: each subscriber meets every event exactly once, in publish order.
#[derive(Debug, Default)]
struct Hub {
    history: history::History,
    subscribers: Vec<(EventFilter, Sender<Event>)>,
}

/// Publish/subscribe hub with a bounded history. `Send + Sync`.
#[derive(Debug, Default)]
pub(crate) struct EventBus {
    hub: Mutex<Hub>,
}

/// What [`next_live`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// The next live event.
    Event(Event),
    /// Nothing arrived within the timeout; the subscription goes on.
    Idle,
    /// The subscription is over: its `until` has passed or the bus is gone.
    End,
}

/// Wait up to `timeout` for the next live event of a subscription made with `filter`
/// (the receiver from [`EventBus::subscribe`]). Ends the subscription once `until` has
/// passed, even when no event comes (the bus itself stops delivering after `until`).
pub fn next_live(live: &Receiver<Event>, filter: &EventFilter, timeout: Duration) -> Live {
    let mut wait = timeout;
    if let Some(until) = filter.until {
        let left = until.saturating_sub(now_nanos());
        if left < 0 {
            return Live::End;
        }
        wait = wait.min(Duration::from_nanos(left as u64));
    }
    match live.recv_timeout(wait) {
        Ok(e) => Live::Event(e),
        Err(RecvTimeoutError::Timeout) if filter.until.is_some_and(|u| now_nanos() > u) => Live::End,
        Err(RecvTimeoutError::Timeout) => Live::Idle,
        Err(RecvTimeoutError::Disconnected) => Live::End,
    }
}

/// Now, in the unit of `Event::time_nano` (the clock `Event::new` stamps events with).
fn now_nanos() -> i64 {
    crate::time::now().unix_nanos() as i64
}

impl EventBus {
    /// An empty bus.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn hub(&self) -> std::sync::MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record `e` in the history and send it to every matching subscriber, in one critical
    /// section. Subscribers whose receiver is gone, or whose `until` is before `e`, are
    /// dropped (their receiver then reports the end).
    pub(crate) fn publish(&self, e: Event) {
        let mut hub = self.hub();
        hub.history.push(&e);
        hub.subscribers.retain(|(f, tx)| {
            if f.until.is_some_and(|u| e.time_nano > u) {
                return false;
            }
            !(f.matches(&e) && f.in_time(&e)) || tx.send(e.clone()).is_ok()
        });
    }

    /// Shorthand: publish an event of `kind`/`action` about `id`.
    pub(crate) fn emit(&self, kind: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) {
        self.publish(Event::new(kind, action, id, attributes));
    }

    /// The past events matching `filter` within `since..=until` (none without `since`),
    /// and a receiver of future matching events up to `until` (none when `until` is in the
    /// past). History and live feed meet exactly once: no event is missed or doubled.
    pub(crate) fn subscribe(&self, filter: &EventFilter) -> (Vec<Event>, Receiver<Event>) {
        let (tx, rx) = channel();
        let mut hub = self.hub();
        let past: Vec<Event> = if filter.since.is_some() {
            hub.history.select(|e| filter.matches(e) && filter.in_time(e))
        } else {
            Vec::new()
        };
        if filter.until.map(|u| u > now_nanos()).unwrap_or(true) {
            hub.subscribers.push((filter.clone(), tx));
        }
        (past, rx)
    }

    /// Number of live subscriptions (for tests and diagnostics).
    #[cfg(test)]
    pub(crate) fn subscriber_count(&self) -> usize {
        self.hub().subscribers.len()
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

    /// Publishers and `since` subscribers race; every subscription must see each event
    /// exactly once (history or live, never both, never neither), in publish order.
    #[test]
    fn since_subscribers_see_every_event_exactly_once_in_order() {
        use std::sync::Arc;
        const PUBLISHERS: usize = 4;
        const PER_PUBLISHER: usize = 200;
        const SUBSCRIBERS: usize = 4;
        const SUBSCRIPTIONS: usize = 100;
        const { assert!(PUBLISHERS * PER_PUBLISHER <= HISTORY_SIZE) };
        let bus = Arc::new(EventBus::new());
        let mut subscribers = Vec::new();
        for _ in 0..SUBSCRIBERS {
            let bus = bus.clone();
            subscribers.push(std::thread::spawn(move || {
                let filter = EventFilter { since: Some(0), ..Default::default() };
                (0..SUBSCRIPTIONS).map(|_| bus.subscribe(&filter)).collect::<Vec<_>>()
            }));
        }
        let mut publishers = Vec::new();
        for p in 0..PUBLISHERS {
            let bus = bus.clone();
            publishers.push(std::thread::spawn(move || {
                for i in 0..PER_PUBLISHER {
                    bus.emit("container", "start", &format!("{p}-{i}"), BTreeMap::new());
                }
            }));
        }
        for t in publishers {
            t.join().unwrap();
        }
        let all: Vec<String> = bus
            .subscribe(&EventFilter { since: Some(0), ..Default::default() })
            .0
            .into_iter()
            .map(|e| e.actor.id)
            .collect();
        assert_eq!(all.len(), PUBLISHERS * PER_PUBLISHER);
        for t in subscribers {
            for (past, live) in t.join().unwrap() {
                let seen: Vec<String> = past.into_iter().chain(live.try_iter()).map(|e| e.actor.id).collect();
                assert_eq!(seen, all, "a subscriber must see the published sequence once, in order");
            }
        }
    }

    #[test]
    fn live_delivery_stops_at_until() {
        let bus = EventBus::new();
        let until = now_nanos() + 3_600_000_000_000;
        let filter = EventFilter { until: Some(until), ..Default::default() };
        let (_, rx) = bus.subscribe(&filter);
        let mut early = Event::new("container", "start", "a", BTreeMap::new());
        early.time_nano = until - 1;
        let mut late = Event::new("container", "die", "a", BTreeMap::new());
        late.time_nano = until + 1;
        bus.publish(early.clone());
        bus.publish(late);
        assert_eq!(next_live(&rx, &filter, Duration::from_secs(3600)), Live::Event(early));
        // the late event is not delivered and the subscription is over
        assert_eq!(next_live(&rx, &filter, Duration::from_secs(3600)), Live::End);
        assert_eq!(bus.subscriber_count(), 0);

        // with no event at all, the subscription ends once `until` passes
        let soon = EventFilter { until: Some(now_nanos() + 20_000_000), ..Default::default() };
        let (_, rx) = bus.subscribe(&soon);
        loop {
            match next_live(&rx, &soon, Duration::from_secs(3600)) {
                Live::End => break,
                Live::Idle => continue,
                Live::Event(e) => panic!("unexpected {e:?}"),
            }
        }
        // `until` already past: no live subscription at all
        let past = EventFilter { until: Some(1), ..Default::default() };
        let (_, rx) = bus.subscribe(&past);
        assert_eq!(next_live(&rx, &past, Duration::from_secs(3600)), Live::End);
    }
}
