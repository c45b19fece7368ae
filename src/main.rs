//! stackctl: plan, apply and destroy the PrestaShop-on-Fargate AWS stack through the AWS SDK.

mod aws;
mod cli;
mod commands;
mod engine;
mod ops;
mod stack;
mod vars;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};

fn main() -> ExitCode {
    init_logging();
    let cli = match Cli::try_parse_from(cli::normalize_args(std::env::args())) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are successes; a usage error is Terraform's exit 1.
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Plan(a) => commands::plan::exec(a).await,
            Command::Apply(a) => commands::apply::exec(a).await,
            Command::Destroy(a) => commands::destroy::exec(a).await,
            Command::Output(a) => commands::output::exec(a),
            Command::Validate(a) => commands::validate::exec(a),
            Command::State(c) => commands::state::exec(c),
            Command::ForceUnlock(a) => commands::force_unlock::exec(a),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
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
    let ours = |level: &str| {
        [
            "stackctl",
            "stackctl_contract",
            "stackctl_security",
            "stackctl_alb",
            "stackctl_efs",
            "stackctl_rds",
            "stackctl_secrets",
            "stackctl_ecs",
            "stackctl_networking",
        ]
        .iter()
        .map(|c| format!("{c}={level}"))
        .collect::<Vec<_>>()
        .join(",")
    };
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
