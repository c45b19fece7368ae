//! stackctl: plan, apply and destroy the PrestaShop-on-Fargate AWS stack through the AWS SDK.

mod aws;
mod cli;
mod commands;
mod engine;
mod ops;
mod stack;
mod ui;
mod vars;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use cli::Cli;
use ui::Printer;

fn main() -> ExitCode {
    init_logging();
    let args: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(cli::normalize_args(args.iter().cloned())) {
        Ok(cli) => cli,
        Err(e) => {
            // A Terraform flag or command stackctl lacks is named as such, with what to use.
            let explained = e
                .use_stderr()
                .then(|| cli::unsupported_flags::explain(args.get(1..).unwrap_or_default()))
                .flatten();
            if let Some(message) = explained {
                let json = args.iter().any(|a| a == "-json" || a == "--json");
                let mode = if json {
                    ui::Mode::Json
                } else {
                    ui::Mode::Human
                };
                Printer::new(mode, true).error(&message, None);
                return ExitCode::FAILURE;
            }
            let usage_error = e.use_stderr();
            let _ = cli::terraform_spelling(e).print();
            // Help and version are successes; a usage error is Terraform's exit 1.
            return if usage_error {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let ui = cli.printer();
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

/// `STACKCTL_LOG=debug` turns on stackctl's own debug logs (to stderr); a full filter such as
/// `STACKCTL_LOG=aws_smithy_runtime=debug` is passed through as is.
fn init_logging() {
    let spec = std::env::var("STACKCTL_LOG").unwrap_or_default();
    // The AWS SDK's own warnings (a credential provider that failed before the next one
    // succeeded, a retried request) carry `Debug` dumps of raw responses: they stay off unless
    // asked for with a full filter. stackctl reports what matters in its own words.
    // `stackctl` as a target is a prefix: it covers the binary and every module crate
    // (`stackctl_alb`, ...), so a new module needs no line here.
    let ours = |level: &str| format!("stackctl={level}");
    let filter = if spec.is_empty() {
        format!("off,{}", ours("warn"))
    } else if spec.contains('=') || spec.contains(',') {
        spec
    } else {
        format!("off,{}", ours(&spec))
    };
    // Colour only for a person at a terminal, never in a CI log or a file, and never with
    // NO_COLOR set (no-color.org).
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .try_init();
}
