//! Remote commands (exec, attach) over SPDY: the client opens one stream per channel, named
//! by its `streamType` header (`error`, `stdin`, `stdout`, `stderr`, `resize`); once the
//! request's streams are all there they become [`remote::Streams`].

use std::time::Instant;

use isula_spdy::{Session, Stream, StreamWriter};

use crate::stream::cache::Command;
use crate::stream::remote::{self, Hangup, Protocol, Streams};
use crate::stream::{Ctx, STREAM_CREATION_TIMEOUT};

/// The client's streams, by type.
#[derive(Default)]
struct Received {
    error: Option<Stream>,
    stdin: Option<Stream>,
    stdout: Option<Stream>,
    stderr: Option<Stream>,
    resize: Option<Stream>,
}

impl Received {
    /// Whether every stream `cmd` needs in `protocol` is there (kubelet's expected streams).
    fn complete(&self, cmd: &Command, protocol: Protocol) -> bool {
        self.error.is_some()
            && (!cmd.stdin || self.stdin.is_some())
            && (!cmd.stdout || self.stdout.is_some())
            && (!cmd.stderr || cmd.tty || self.stderr.is_some())
            && (!(cmd.tty && protocol.has_resize()) || self.resize.is_some())
    }
}

/// Accept the client's streams until the request's are all there (at most
/// [`STREAM_CREATION_TIMEOUT`]). Streams of unknown types, or a type twice, are dropped.
fn receive(session: &Session, cmd: &Command, protocol: Protocol) -> Option<Received> {
    let deadline = Instant::now() + STREAM_CREATION_TIMEOUT;
    let mut got = Received::default();
    while !got.complete(cmd, protocol) {
        let left = deadline.saturating_duration_since(Instant::now());
        let s = match session.accept(Some(left)) {
            Ok(s) => s,
            Err(isula_spdy::Error::Timeout) => {
                log::info!("streaming server: timed out waiting for the client to create its streams");
                return None;
            }
            Err(e) => {
                log::debug!("streaming server: SPDY client went away before its streams were there: {e}");
                return None;
            }
        };
        let kind = s.headers().get("streamtype").unwrap_or_default().to_string();
        let slot = match kind.as_str() {
            "error" => &mut got.error,
            "stdin" => &mut got.stdin,
            "stdout" => &mut got.stdout,
            "stderr" => &mut got.stderr,
            "resize" if protocol.has_resize() => &mut got.resize,
            _ => {
                log::debug!("streaming server: unexpected SPDY stream type {kind:?}");
                continue;
            }
        };
        if slot.is_some() {
            log::debug!("streaming server: a second {kind} stream");
            continue;
        }
        *slot = Some(s);
    }
    Some(got)
}

/// Run `cmd` (exec, or attach when `exec` is false) on the client's streams. Returns once
/// the status is written, or when the client never created its streams.
pub(super) fn serve(session: &Session, protocol: Protocol, cmd: &Command, exec: bool, ctx: &Ctx) {
    let hangup = Hangup::new();
    {
        let h = hangup.clone();
        session.on_close(move || h.fire());
    }
    let Some(got) = receive(session, cmd, protocol) else { return };
    // Halves the client never reads are dropped (FIN); the input streams' own write halves
    // stay open until the end: client-go closes its stdin when the server closes it.
    let mut keep: Vec<StreamWriter> = Vec::new();
    let mut input = |s: Option<Stream>, wanted: bool| -> Option<Box<dyn std::io::Read + Send>> {
        let (r, w) = s.filter(|_| wanted)?.split();
        keep.push(w);
        Some(Box::new(r))
    };
    let stdin = input(got.stdin, cmd.stdin);
    let resize = input(got.resize, cmd.tty);
    let output = |s: Option<Stream>, wanted: bool| -> Option<Box<dyn std::io::Write + Send>> {
        let (_, w) = s.filter(|_| wanted)?.split();
        Some(Box::new(w))
    };
    let stdout = output(got.stdout, cmd.stdout);
    let stderr = output(got.stderr, cmd.stderr && !cmd.tty);
    let Some(error) = output(got.error, true) else { return };
    let streams = Streams { protocol, stdin, stdout, stderr, resize, error, hangup };
    if exec {
        remote::exec(&ctx.engine, cmd, streams);
    } else {
        remote::attach(&ctx.engine, cmd, streams);
    }
    drop(keep);
}
