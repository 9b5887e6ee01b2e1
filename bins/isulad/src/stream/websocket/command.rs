//! Exec and attach over WebSocket: kubelet's channels 0 stdin, 1 stdout, 2 stderr, 3 error,
//! 4 resize (always open, used with a tty), and in `v5` the close signal for stdin.

use crate::stream::cache::Command;
use crate::stream::conn::Conn;
use crate::stream::http::Head;
use crate::stream::remote::{self, Protocol, Streams};
use crate::stream::Ctx;

use super::channel::{Channels, Layout};
use super::codec::Codec;
use super::handshake::{self, Refusal};

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;

/// The subprotocols served, with their encoding and remote-command version. Kubelet's are
/// `v4.`, `v4.base64.`, `channel.k8s.io`, `base64.channel.k8s.io` and none (binary, v1);
/// `v5` (client-go's WebSocket executor), `v3.` and `v2.` are served as well.
const PROTOCOLS: [(&str, Codec, Protocol); 8] = [
    ("v5.channel.k8s.io", Codec::Binary, Protocol::V5),
    ("v4.channel.k8s.io", Codec::Binary, Protocol::V4),
    ("v4.base64.channel.k8s.io", Codec::Base64, Protocol::V4),
    ("v3.channel.k8s.io", Codec::Binary, Protocol::V3),
    ("v2.channel.k8s.io", Codec::Binary, Protocol::V2),
    ("channel.k8s.io", Codec::Binary, Protocol::V1),
    ("base64.channel.k8s.io", Codec::Base64, Protocol::V1),
    ("", Codec::Binary, Protocol::V1),
];

/// The encoding and version of the subprotocol the client gets.
fn negotiate(head: &Head) -> Result<(&'static str, Codec, Protocol), Refusal> {
    let names: Vec<&str> = PROTOCOLS.iter().map(|p| p.0).collect();
    let name = handshake::choose(&handshake::offered(head), &names)?;
    let (_, codec, protocol) = PROTOCOLS.iter().find(|p| p.0 == name).copied().unwrap_or(PROTOCOLS[7]);
    Ok((name, codec, protocol))
}

/// Serve an exec (`attach` false) or attach of `cmd` on an upgrade request with key `key`.
pub(super) fn serve(mut conn: Conn, head: &Head, key: &str, cmd: &Command, attach: bool, ctx: &Ctx) {
    let (name, codec, protocol) = match negotiate(head) {
        Ok(p) => p,
        Err(r) => return r.send(&mut conn.socket),
    };
    if let Err(e) = handshake::accept(&mut conn.socket, key, name) {
        return log::debug!("streaming server: WebSocket upgrade: {e}");
    }
    let mut readable = Vec::new();
    if cmd.stdin {
        readable.push(STDIN);
    }
    if cmd.tty {
        readable.push(RESIZE);
    }
    let layout = Layout { codec, close_signal: protocol == Protocol::V5, readable, count: 5 };
    let ch = match Channels::start(conn, layout) {
        Ok(c) => c,
        Err(e) => return log::warn!("streaming server: WebSocket channels: {e}"),
    };
    // Kubelet tells the client the streams are ready with an empty message on the first
    // channel it writes.
    ch.send_empty(if cmd.stdout {
        STDOUT
    } else if cmd.stderr {
        STDERR
    } else {
        ERROR
    });
    let boxed_reader = |c| ch.reader(c).map(|r| Box::new(r) as Box<dyn std::io::Read + Send>);
    let boxed_writer = |c| Box::new(ch.writer(c)) as Box<dyn std::io::Write + Send>;
    let streams = Streams {
        protocol,
        stdin: boxed_reader(STDIN),
        stdout: cmd.stdout.then(|| boxed_writer(STDOUT)),
        stderr: (cmd.stderr && !cmd.tty).then(|| boxed_writer(STDERR)),
        resize: boxed_reader(RESIZE),
        error: boxed_writer(ERROR),
        hangup: ch.hangup.clone(),
    };
    if attach {
        remote::attach(&ctx.engine, cmd, streams);
    } else {
        remote::exec(&ctx.engine, cmd, streams);
    }
    ch.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(protocols: &str) -> Head {
        let mut h = Head { method: "GET".into(), ..Default::default() };
        if !protocols.is_empty() {
            h.headers.push(("Sec-WebSocket-Protocol".into(), protocols.into()));
        }
        h
    }

    #[test]
    fn protocols_map_to_codec_and_version() {
        assert_eq!(negotiate(&head("v5.channel.k8s.io")).unwrap(), ("v5.channel.k8s.io", Codec::Binary, Protocol::V5));
        assert_eq!(
            negotiate(&head("v4.base64.channel.k8s.io, v4.channel.k8s.io")).unwrap(),
            ("v4.base64.channel.k8s.io", Codec::Base64, Protocol::V4)
        );
        assert_eq!(
            negotiate(&head("base64.channel.k8s.io")).unwrap(),
            ("base64.channel.k8s.io", Codec::Base64, Protocol::V1)
        );
        assert_eq!(negotiate(&head("")).unwrap(), ("", Codec::Binary, Protocol::V1));
        assert_eq!(negotiate(&head("portforward.k8s.io")).unwrap_err().code, 403);
    }
}
