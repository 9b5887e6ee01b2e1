//! `isula login [-u USER] [-p PASS | --password-stdin] [SERVER]`.

use std::io::{BufRead, IsTerminal, Write};

use isula_api::v1::LoginRequest;

use crate::ctx::Ctx;
use crate::error::{CliError, CmdResult};

/// `isula login [OPTIONS] [SERVER]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Username.
    #[arg(short = 'u', long = "username")]
    pub username: Option<String>,
    /// Password.
    #[arg(short = 'p', long = "password")]
    pub password: Option<String>,
    /// Take the password from stdin.
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Registry (`host[:port]`); Docker Hub when absent.
    pub server: Option<String>,
}

fn prompt(text: &str, echo: bool) -> Result<String, CliError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::new(format!(
            "Error: cannot perform an interactive login from a non TTY device ({text})"
        )));
    }
    eprint!("{text}: ");
    let _ = std::io::stderr().flush();
    let saved = if echo {
        None
    } else {
        use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
        let t = tcgetattr(&stdin).ok();
        if let Some(t) = &t {
            let mut quiet = t.clone();
            quiet.local_flags.remove(LocalFlags::ECHO);
            let _ = tcsetattr(&stdin, SetArg::TCSANOW, &quiet);
        }
        t
    };
    let mut line = String::new();
    let r = stdin.lock().read_line(&mut line);
    if let Some(t) = saved {
        let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &t);
        eprintln!();
    }
    r.map_err(|e| CliError::new(format!("Error: reading {text}: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Run `isula login`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    if a.password.is_some() && a.password_stdin {
        return Err(CliError::engine("--password and --password-stdin are mutually exclusive"));
    }
    if a.password_stdin && a.username.is_none() {
        return Err(CliError::engine("Must provide --username with --password-stdin"));
    }
    if a.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let username = match a.username {
        Some(u) => u,
        None => prompt("Username", true)?,
    };
    let password = if a.password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut s)
            .map_err(|e| CliError::new(format!("Error: reading the password: {e}")))?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else {
        match a.password {
            Some(p) => p,
            None => prompt("Password", false)?,
        }
    };
    if username.is_empty() || password.is_empty() {
        return Err(CliError::new("Error: username and password are required"));
    }
    let server = a.server.unwrap_or_else(|| "docker.io".into());
    let mut c = ctx.images()?;
    let r = ctx.rt.block_on(c.login(LoginRequest { server, username, password }))?.into_inner();
    println!("{}", r.status);
    Ok(0)
}
