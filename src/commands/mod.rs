//! One file per command: each turns its arguments into options and calls an operation.
//! A new command is a variant in `cli.rs`, an arm in [`run`], and its file here.

pub mod apply;
pub mod backend;
pub mod destroy;
pub mod force_unlock;
pub mod init;
pub mod logs;
pub mod output;
pub mod plan;
pub mod redeploy;
pub mod state;
pub mod status;
pub mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Command, LocateArgs, StateArgs, VarArgs};
use crate::ops::{self, Options};

/// Run one command.
pub async fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Plan(a) => plan::exec(a).await,
        Command::Apply(a) => apply::exec(a).await,
        Command::Destroy(a) => destroy::exec(a).await,
        Command::Output(a) => output::exec(a).await,
        Command::Validate(a) => validate::exec(a),
        Command::Logs(a) => logs::exec(a).await,
        Command::Status(a) => status::exec(a).await,
        Command::Redeploy(a) => redeploy::exec(a).await,
        Command::State(c) => state::exec(c).await,
        Command::ForceUnlock(a) => force_unlock::exec(a).await,
        Command::Backend(c) => backend::exec(c).await,
        Command::Init(a) => init::exec(a).await,
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
    }
}

/// The state a command that plans nothing works on (output, state, force-unlock), found as
/// destroy finds it: see [`ops::locate_state`]. Commands that may use a `[backend]` call
/// [`store`] instead.
#[allow(dead_code)]
fn state_path(args: &LocateArgs) -> Result<PathBuf> {
    ops::locate_state(args.state.as_deref(), &args.vars.var_files, &args.vars.vars)
}

/// The store of that state: the `[backend]` bucket when the var files have one, else the file
/// [`state_path`] finds.
async fn store(
    args: &LocateArgs,
    endpoint_url: Option<&str>,
) -> Result<crate::engine::backend::Store> {
    ops::locate_store(
        args.state.as_deref(),
        &args.vars.var_files,
        &args.vars.vars,
        endpoint_url,
    )
    .await
}
