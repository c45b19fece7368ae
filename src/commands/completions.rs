//! `stackctl completions SHELL`: a completion script generated from the CLI's own definition,
//! so it never lags behind a new flag. Completions offer `--flag`; `-flag` works as well.

use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn exec(args: CompletionsArgs) -> Result<ExitCode> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "stackctl", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
