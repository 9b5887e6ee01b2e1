//! `isula completion bash|zsh|fish`: the shell completion script on stdout.

use clap_complete::Shell;

use crate::error::CmdResult;

/// `isula completion SHELL`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Shell to generate the script for.
    #[arg(value_parser = ["bash", "zsh", "fish"])]
    pub shell: String,
}

/// Write the completion script of `cmd` for the chosen shell.
pub(crate) fn run(a: &Args, cmd: &mut clap::Command) -> CmdResult {
    let shell = match a.shell.as_str() {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        _ => Shell::Fish,
    };
    clap_complete::generate(shell, cmd, "isula", &mut std::io::stdout());
    Ok(0)
}
