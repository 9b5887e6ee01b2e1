//! `isula exec [-d -i -t -e -u -w] CONTAINER COMMAND [ARG...]`: the exit code is the
//! process's; 126/127 when it cannot be invoked or found, as Docker.

use isula_api::v1::ExecRequest;
use isula_types::container::types::ExecOptions;
use isula_types::reason::Reason;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::ctx::{to_json, Ctx};
use crate::error::{reason, start_error_code, CliError, CmdResult};
use crate::stdio::{self, Event, Input, RawTerminal};

/// `isula exec [OPTIONS] CONTAINER COMMAND [ARG...]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Detached mode: run command in the background.
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// The container.
    pub container: String,
    /// Command and arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

/// The refused exec as Docker reports it.
fn exec_error(s: &tonic::Status, name: &str) -> CliError {
    if reason(s) == Some(Reason::NoSuchContainer) {
        return CliError::new(format!("Error response from daemon: No such container: {name}"));
    }
    let mut e = CliError::daemon(s);
    if e.code == 1 && s.code() != tonic::Code::FailedPrecondition && s.code() != tonic::Code::InvalidArgument {
        e.code = start_error_code(s);
        if e.code == crate::error::ENGINE {
            e.code = 126;
        }
    }
    e
}

/// Run `isula exec`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let env: Vec<String> = a
        .env
        .iter()
        .filter_map(
            |e| if e.contains('=') { Some(e.clone()) } else { std::env::var(e).ok().map(|v| format!("{e}={v}")) },
        )
        .collect();
    let opts = ExecOptions {
        cmd: a.cmd.clone(),
        env,
        user: a.user.clone(),
        working_dir: a.workdir.clone(),
        tty: a.tty,
        detach: a.detach,
        attach_stdin: a.interactive && !a.detach,
        console_size: None,
    };
    let size = if a.tty { stdio::term_size() } else { None };
    let mut c = ctx.containers()?;
    let _raw = (a.tty && a.interactive && !a.detach).then(RawTerminal::enable);
    let name = a.container.clone();
    ctx.rt.block_on(async {
        let (tx, rx) = mpsc::channel::<ExecRequest>(16);
        let (h, w) = size.unwrap_or((0, 0));
        let first =
            ExecRequest { id: name.clone(), options_json: to_json(&opts), height: h, width: w, ..Default::default() };
        let _ = tx.send(first).await;
        let mut out = c.exec(ReceiverStream::new(rx)).await.map_err(|s| exec_error(&s, &name))?.into_inner();
        if a.detach {
            while out.message().await.map_err(|s| exec_error(&s, &name))?.is_some() {}
            return Ok(0);
        }
        let mut input = if a.interactive { Some(stdio::pump_stdin()) } else { None };
        let mut events = stdio::watch_signals(a.tty, false);
        loop {
            tokio::select! {
                m = out.message() => match m.map_err(|s| exec_error(&s, &name))? {
                    Some(m) if m.exited => return Ok(m.exit_code),
                    Some(m) => stdio::write_output(&m),
                    None => return Err(CliError::engine("exec stream ended without an exit code")),
                },
                i = async { input.as_mut().unwrap().recv().await }, if input.is_some() => match i {
                    Some(Input::Data(d)) => { let _ = tx.send(ExecRequest { stdin: d, ..Default::default() }).await; }
                    Some(Input::Eof) | None => {
                        if !a.tty {
                            let _ = tx.send(ExecRequest { close_stdin: true, ..Default::default() }).await;
                        }
                        input = None;
                    }
                },
                ev = events.recv() => if let Some(Event::Resize(h, w)) = ev {
                    let _ = tx.send(ExecRequest { height: h, width: w, ..Default::default() }).await;
                },
            }
        }
    })
}
