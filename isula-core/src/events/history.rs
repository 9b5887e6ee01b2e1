//! The bus's bounded history of past events, kept encoded in one buffer reserved up front.
//!
//! Kept as `Event` values, a full history is some 8000 small heap blocks; made during a burst
//! of container operations, they end up scattered between the burst's freed buffers and pin
//! those pages, so the daemon could not give the burst's memory back (measured: 4 MiB of a
//! 17 MiB daemon after 100 parallel runs). Encoded into one block reserved when the bus is
//! made (large enough to be its own mapping), the history pins nothing else.

use std::collections::VecDeque;

use super::Event;

/// How many past events the history keeps at most.
pub(crate) const HISTORY_SIZE: usize = 1000;
/// How many bytes of encoded events the history keeps at most. A container event is 200-300
/// bytes, so 1000 of them fit. The buffer is a ring: after a burst every page of it is
/// resident, so this bound is memory the daemon keeps.
const HISTORY_BYTES: usize = 320 << 10;

/// Past events, oldest first, bounded by count and by encoded size.
#[derive(Debug)]
pub(super) struct History {
    /// The encoded events back to back.
    bytes: VecDeque<u8>,
    /// The encoded length of each event, oldest first.
    lens: VecDeque<u32>,
    /// Scratch space for encoding one event.
    scratch: Vec<u8>,
}

impl Default for History {
    fn default() -> Self {
        History {
            bytes: VecDeque::with_capacity(HISTORY_BYTES),
            lens: VecDeque::with_capacity(HISTORY_SIZE),
            scratch: Vec::with_capacity(1024),
        }
    }
}

impl History {
    /// Append `e`, dropping the oldest events to stay within the bounds. An event that
    /// cannot be encoded, or is larger than the whole buffer, is not kept.
    pub(super) fn push(&mut self, e: &Event) {
        self.scratch.clear();
        if serde_json::to_writer(&mut self.scratch, e).is_err() || self.scratch.len() > HISTORY_BYTES {
            return;
        }
        while self.lens.len() >= HISTORY_SIZE || self.bytes.len() + self.scratch.len() > HISTORY_BYTES {
            let Some(n) = self.lens.pop_front() else { break };
            self.bytes.drain(..n as usize);
        }
        self.bytes.extend(&self.scratch);
        self.lens.push_back(self.scratch.len() as u32);
        if self.scratch.capacity() > 4096 {
            self.scratch = Vec::with_capacity(1024);
        }
    }

    /// The kept events, oldest first, for which `keep` is true.
    pub(super) fn select(&self, mut keep: impl FnMut(&Event) -> bool) -> Vec<Event> {
        let (a, b) = self.bytes.as_slices();
        let mut out = Vec::new();
        let mut one = Vec::new();
        let mut at = 0usize;
        for &n in &self.lens {
            let (start, end) = (at, at + n as usize);
            at = end;
            let bytes: &[u8] = if end <= a.len() {
                &a[start..end]
            } else if start >= a.len() {
                &b[start - a.len()..end - a.len()]
            } else {
                one.clear();
                one.extend_from_slice(&a[start..]);
                one.extend_from_slice(&b[..end - a.len()]);
                &one
            };
            match serde_json::from_slice::<Event>(bytes) {
                Ok(e) if keep(&e) => out.push(e),
                Ok(_) => {}
                Err(err) => log::warn!("event history: an event does not decode: {err}"),
            }
        }
        out
    }

    /// How many events are kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lens.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn event(id: &str, attr_len: usize) -> Event {
        Event::new("container", "start", id, BTreeMap::from([("name".into(), "x".repeat(attr_len))]))
    }

    #[test]
    fn keeps_the_newest_within_count_and_bytes_and_decodes_across_the_wrap() {
        let mut h = History::default();
        for i in 0..HISTORY_SIZE + 5 {
            h.push(&event(&i.to_string(), 10));
        }
        let all = h.select(|_| true);
        assert_eq!(all.len(), HISTORY_SIZE);
        assert_eq!(all[0].actor.id, "5");
        assert_eq!(all[HISTORY_SIZE - 1].actor.id, (HISTORY_SIZE + 4).to_string());
        assert_eq!(all[0], {
            let mut e = event("5", 10);
            (e.time, e.time_nano) = (all[0].time, all[0].time_nano);
            e
        });
        // Big events: the byte bound holds, the newest are kept whole, in order.
        for i in 0..100 {
            h.push(&event(&format!("big{i}"), 20_000));
        }
        assert!(h.bytes.len() <= HISTORY_BYTES && h.bytes.capacity() <= 2 * HISTORY_BYTES);
        let all = h.select(|_| true);
        assert_eq!(all.len(), h.len());
        assert_eq!(all.last().unwrap().actor.id, "big99");
        let ids: Vec<_> = all.iter().map(|e| e.actor.id.trim_start_matches("big").parse::<usize>().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
        // One larger than the whole buffer is not kept; the rest stay.
        h.push(&event("huge", HISTORY_BYTES + 1));
        assert_eq!(h.select(|_| true).last().unwrap().actor.id, "big99");
        assert_eq!(h.select(|e| e.actor.id == "big98").len(), 1);
    }

    #[test]
    fn a_thousand_ordinary_container_events_fit_the_byte_bound() {
        let mut h = History::default();
        for i in 0..HISTORY_SIZE {
            let attrs = BTreeMap::from([
                ("image".into(), "registry.example.com/library/busybox:latest".into()),
                ("name".into(), format!("container-{i}")),
                ("exitCode".into(), "137".into()),
            ]);
            h.push(&Event::new("container", "die", &format!("{i:064x}"), attrs));
        }
        assert_eq!(h.len(), HISTORY_SIZE);
    }
}
