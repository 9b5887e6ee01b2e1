//! Per-layer progress display: redrawn lines with bars on a terminal, one plain line per
//! status change otherwise (as Docker's non-tty output).

use std::io::{IsTerminal, Write};

use serde::de::DeserializeOwned;

use crate::ctx::{parse_typed, Ctx};
use crate::error::CliError;
use crate::fmt::human_size;

/// Read a progress stream of the daemon (pull, push) to its end: each event (unless `quiet`)
/// is read into its type and passed to `on_event`; the result that ends the stream is
/// returned. `parts` splits a message into its `(event_json, result_json)`.
pub(crate) fn read_stream<M, E: DeserializeOwned, R: DeserializeOwned>(
    ctx: &Ctx,
    stream: &mut tonic::Streaming<M>,
    parts: fn(M) -> (String, String),
    quiet: bool,
    mut on_event: impl FnMut(E),
) -> Result<R, CliError> {
    let mut result = None;
    while let Some(m) = ctx.rt.block_on(stream.message())? {
        let (event, res) = parts(m);
        if !res.is_empty() {
            result = Some(parse_typed("result_json", &res)?);
        } else if !quiet && !event.is_empty() {
            on_event(parse_typed("event_json", &event)?);
        }
    }
    result.ok_or_else(|| CliError::engine("bad reply from isulad: the stream ended without a result"))
}

/// Progress lines keyed by a short id, in first-seen order.
pub(crate) struct Progress {
    tty: bool,
    items: Vec<(String, String)>,
    drawn: usize,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    /// Display on stdout; bars when stdout is a terminal.
    pub(crate) fn new() -> Self {
        Progress { tty: std::io::stdout().is_terminal(), items: Vec::new(), drawn: 0 }
    }

    /// Set the status of `id`. Plain mode prints it only when the text changed, and
    /// leaves byte counts out (they would print a line per chunk).
    pub(crate) fn set(&mut self, id: &str, status: String, bytes: Option<(u64, u64)>) {
        let shown = match (bytes, self.tty) {
            (Some((cur, total)), true) => {
                format!("{status} {} {}/{}", bar(cur, total), human_size(cur), human_size(total))
            }
            _ => status.clone(),
        };
        match self.items.iter_mut().find(|(i, _)| i == id) {
            Some((_, s)) if *s == shown => return,
            Some((_, s)) => {
                let plain_same = !self.tty && s.as_str() == status;
                *s = shown.clone();
                if plain_same {
                    return;
                }
            }
            None => self.items.push((id.to_string(), shown.clone())),
        }
        let mut out = std::io::stdout().lock();
        if self.tty {
            if self.drawn > 0 {
                let _ = write!(out, "\x1b[{}A", self.drawn);
            }
            for (i, s) in &self.items {
                let _ = writeln!(out, "\x1b[2K{i}: {s}");
            }
            self.drawn = self.items.len();
        } else {
            let _ = writeln!(out, "{id}: {shown}");
        }
        let _ = out.flush();
    }
}

/// `[=====>     ]` for `cur` of `total`, 50 wide.
pub(crate) fn bar(cur: u64, total: u64) -> String {
    let w = 50usize;
    let filled = if total == 0 { w } else { ((cur.min(total) as f64 / total as f64) * w as f64) as usize };
    let mut s = String::from("[");
    for i in 0..w {
        s.push(if i < filled {
            '='
        } else if i == filled {
            '>'
        } else {
            ' '
        });
    }
    s.push(']');
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn bars() {
        assert_eq!(super::bar(0, 10).matches('=').count(), 0);
        assert_eq!(super::bar(5, 10).matches('=').count(), 25);
        assert_eq!(super::bar(10, 10).matches('=').count(), 50);
        assert_eq!(super::bar(1, 0).len(), 52);
    }
}
