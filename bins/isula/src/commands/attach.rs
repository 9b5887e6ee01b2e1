//! `isula attach` and the attach session shared with `run` and `start -a`.

use isula_api::v1::{AttachRequest, ContainerRequest, KillContainerRequest, ResizeRequest, WaitContainerRequest};
use isula_types::container::inspect::ContainerInspect;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::ctx::Ctx;
use crate::error::{CliError, CmdResult};
use crate::stdio::{self, Event, Input, RawTerminal};

/// `isula attach [OPTIONS] CONTAINER`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Do not attach STDIN.
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process.
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// The container.
    pub container: String,
}

/// How to attach.
pub(crate) struct Session<'a> {
    /// Container name or id.
    pub id: &'a str,
    /// Forward our stdin.
    pub stdin: bool,
    /// The container has a terminal: raw mode and resizes.
    pub tty: bool,
    /// Forward SIGINT/SIGTERM/… to the container.
    pub proxy: bool,
    /// Start the container once attached (run, start -a).
    pub start: bool,
}

/// Failure of the start inside a session (run maps it to 125/126/127).
pub(crate) enum SessionError {
    /// The start was refused.
    Start(tonic::Status),
    /// Anything else.
    Other(CliError),
}

impl From<CliError> for SessionError {
    fn from(e: CliError) -> Self {
        SessionError::Other(e)
    }
}

/// Attach to the container's stdio (starting it when asked) and copy until it exits; its
/// exit code.
pub(crate) fn session(ctx: &mut Ctx, s: &Session<'_>) -> Result<i32, SessionError> {
    let mut c = ctx.containers()?;
    let size = if s.tty { stdio::term_size() } else { None };
    let _raw = (s.tty && s.stdin).then(RawTerminal::enable);
    ctx.rt.block_on(async {
        let (req_tx, req_rx) = mpsc::channel::<AttachRequest>(16);
        let (h, w) = size.unwrap_or((0, 0));
        let first = AttachRequest {
            id: s.id.to_string(),
            stdin: s.stdin,
            stdout: true,
            stderr: true,
            height: h,
            width: w,
            ..Default::default()
        };
        let _ = req_tx.send(first).await;
        let mut out = c.attach(ReceiverStream::new(req_rx)).await.map_err(|e| CliError::daemon(&e))?.into_inner();
        if s.start {
            c.start(ContainerRequest { id: s.id.to_string() }).await.map_err(SessionError::Start)?;
            if let Some((h, w)) = size {
                let _ = c.resize(ResizeRequest { id: s.id.to_string(), exec_id: String::new(), height: h, width: w }).await;
            }
        }
        let mut input = if s.stdin { Some(stdio::pump_stdin()) } else { None };
        let mut events = stdio::watch_signals(s.tty, s.proxy && !s.tty);
        loop {
            tokio::select! {
                m = stdio::next_output(&mut out) => match m? {
                    Some(m) if m.exited => return Ok(m.exit_code),
                    Some(m) => stdio::write_output(&m),
                    None => break,
                },
                i = async { input.as_mut().unwrap().recv().await }, if input.is_some() => match i {
                    Some(Input::Data(d)) => { let _ = req_tx.send(AttachRequest { data: d, ..Default::default() }).await; }
                    Some(Input::Eof) | None => {
                        if !s.tty {
                            let _ = req_tx.send(AttachRequest { close_stdin: true, ..Default::default() }).await;
                        }
                        input = None;
                    }
                },
                ev = events.recv() => match ev {
                    Some(Event::Resize(h, w)) => { let _ = req_tx.send(AttachRequest { height: h, width: w, ..Default::default() }).await; }
                    Some(Event::Signal(sig)) => {
                        let _ = c.kill(KillContainerRequest { id: s.id.to_string(), signal: sig.to_string() }).await;
                    }
                    None => {}
                },
            }
        }
        // The stream ended without an exit frame: ask for the exit code.
        let mut w = c
            .wait(WaitContainerRequest { id: s.id.to_string(), condition: String::new() })
            .await
            .map_err(|e| CliError::daemon(&e))?
            .into_inner();
        match w.message().await.map_err(|e| CliError::daemon(&e))? {
            Some(r) => Ok(r.exit_code),
            None => Ok(0),
        }
    })
}

/// Run `isula attach`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let mut c = ctx.containers()?;
    let info = ctx
        .rt
        .block_on(c.inspect(ContainerRequest { id: a.container.clone() }))
        .map_err(|s| super::no_such(&s, &a.container))?;
    let v: ContainerInspect = crate::ctx::parse_typed("inspect_json", &info.into_inner().inspect_json)?;
    let (tty, open_stdin) = (v.config.tty, v.config.open_stdin);
    let s = Session { id: &a.container, stdin: open_stdin && !a.no_stdin, tty, proxy: a.sig_proxy, start: false };
    match session(ctx, &s) {
        Ok(code) => Ok(code),
        Err(SessionError::Start(st)) => Err(CliError::daemon(&st)),
        Err(SessionError::Other(e)) => Err(e),
    }
}
