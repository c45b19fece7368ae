//! stackctl: plan, apply and destroy the PrestaShop-on-Fargate AWS stack through the AWS SDK.

mod aws;
mod cli;
mod commands;
mod engine;
mod logging;
mod ops;
mod stack;
mod ui;
mod vars;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use cli::Cli;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(cli::normalize_args(args.iter().cloned())) {
        Ok(cli) => cli,
        Err(e) => return cli::usage::report(e, &args),
    };
    let ui = cli.printer();
    logging::init(ui);
    ops::set_input(cli.input);
    if let Some(dir) = &cli.chdir {
        // Before anything reads a path: var files, -state and .stackctl/ are all relative to it.
        if let Err(e) = std::env::set_current_dir(dir) {
            ui.error(
                &format!(
                    "cannot change to directory {} given by -chdir: {e}\n  hint: -chdir takes an existing directory, before the command: stackctl -chdir=DIR plan",
                    dir.display()
                ),
                None,
            );
            return ExitCode::FAILURE;
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            ui.error(&format!("cannot start the async runtime: {e}"), None);
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::exec(cli.command, ui, Cli::command)) {
        Ok(code) => code,
        Err(e) => {
            ui.error(&format!("{e:#}"), None);
            ExitCode::FAILURE
        }
    }
}
