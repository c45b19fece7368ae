//! One file per command: each turns its arguments into options and calls an operation.
//! A new command is a variant in `cli.rs`, an arm in [`run`], and its file here.

pub mod apply;
pub mod completions;
pub mod destroy;
pub mod force_unlock;
pub mod graph;
pub mod import;
pub mod logs;
pub mod output;
pub mod plan;
pub mod redeploy;
pub mod refresh;
pub mod rollback;
pub mod show;
pub mod state;
pub mod status;
pub mod validate;
pub mod version;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Command, LocateArgs, StateArgs, TargetArgs, VarArgs};
use crate::ops::{self, Options};

/// Run one command.
pub async fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Plan(a) => plan::exec(a).await,
        Command::Apply(a) => apply::exec(a).await,
        Command::Destroy(a) => destroy::exec(a).await,
        Command::Output(a) => output::exec(a),
        Command::Validate(a) => validate::exec(a),
        Command::Logs(a) => logs::exec(a).await,
        Command::Status(a) => status::exec(a).await,
        Command::Redeploy(a) => redeploy::exec(a).await,
        Command::Rollback(a) => rollback::exec(a).await,
        Command::State(c) => state::exec(c),
        Command::ForceUnlock(a) => force_unlock::exec(a),
        Command::Graph(a) => graph::exec(a).await,
        Command::Show(a) => show::exec(a),
        Command::Import(a) => import::exec(a).await,
        Command::Refresh(a) => refresh::exec(a).await,
        Command::Version => version::exec(),
        Command::Completions(a) => completions::exec(a),
    }
}

fn options(vars: &VarArgs, state: &StateArgs, needs_vars: bool) -> Options {
    Options {
        var_files: vars.var_files.clone(),
        vars: vars.vars.clone(),
        state: state.state.clone(),
        lock_timeout: state.lock_timeout,
        endpoint_url: state.endpoint_url.clone(),
        needs_vars,
        lock: state.lock,
        parallelism: state.parallelism.map(usize::from),
    }
}

/// What -target, -replace and -refresh-only ask of plan and apply.
fn request(args: &TargetArgs) -> crate::plan_ops::Request {
    crate::plan_ops::Request {
        targeting: crate::engine::plan::Targeting {
            targets: args.target.clone(),
            replace: args.replace.clone(),
        },
        refresh_only: args.refresh_only,
    }
}

/// The state a command that plans nothing works on (output, state, force-unlock), found as
/// destroy finds it: see [`ops::locate_state`].
fn state_path(args: &LocateArgs) -> Result<PathBuf> {
    ops::locate_state(args.state.as_deref(), &args.vars.var_files, &args.vars.vars)
}
