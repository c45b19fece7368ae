//! `stackctl completions SHELL`: a completion script generated from the CLI's own definition,
//! so it never lags behind a new flag. Completions offer `--flag`; `-flag` works as well.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    pub shell: clap_complete::Shell,
}

/// `cli`: the whole command line's definition, which the script completes.
pub fn exec(args: CompletionsArgs, mut cli: clap::Command) -> Result<ExitCode> {
    clap_complete::generate(args.shell, &mut cli, "stackctl", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
