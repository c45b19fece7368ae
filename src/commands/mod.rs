//! One file per command: each turns its arguments into options and calls an operation.
//! A new command is a variant in `cli.rs`, an arm in [`run`], and its file here.

pub mod apply;
pub mod backend;
pub mod completions;
pub mod destroy;
pub mod force_unlock;
pub mod graph;
pub mod import;
pub mod init;
pub mod logs;
pub mod output;
pub mod plan;
pub mod redeploy;
pub mod refresh;
pub mod rollback;
pub mod run;
pub mod show;
pub mod state;
pub mod status;
pub mod validate;
pub mod version;

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
        Command::Output(a) => output::exec(a).await,
        Command::Validate(a) => validate::exec(a),
        Command::Logs(a) => logs::exec(a).await,
        Command::Status(a) => status::exec(a).await,
        Command::Redeploy(a) => redeploy::exec(a).await,
        Command::Rollback(a) => rollback::exec(a).await,
        Command::Run(a) => run::exec(a).await,
        Command::State(c) => state::exec(c).await,
        Command::ForceUnlock(a) => force_unlock::exec(a).await,
        Command::Graph(a) => graph::exec(a).await,
        Command::Show(a) => show::exec(a).await,
        Command::Import(a) => import::exec(a).await,
        Command::Refresh(a) => refresh::exec(a).await,
        Command::Version => version::exec(),
        Command::Completions(a) => completions::exec(a),
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

/// The store of that state: the `[backend]` bucket when the var files have one, else the file
/// [`ops::locate_state`] finds.
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

/// What the commands that operate a running stack (status, redeploy, rollback, run) need of
/// it: its cluster and service, and AWS configured for its region.
struct Applied {
    cluster: String,
    service: String,
    sdk: aws_types::SdkConfig,
}

/// The stack's ECS service from its state, or the error that says it is not applied yet.
async fn applied(
    state: &crate::engine::state::State,
    store: &crate::engine::backend::Store,
    endpoint_url: Option<&str>,
) -> Result<Applied> {
    let id = |address: &str| state.resources.get(address).map(|r| r.id.clone());
    let (Some(cluster), Some(service), Some(location)) = (
        id(stackctl_ecs::CLUSTER),
        id(stackctl_ecs::SERVICE),
        state.aws.as_ref(),
    ) else {
        anyhow::bail!(
            "{} holds no ECS service: the stack is not applied yet\n  hint: run `stackctl apply` first",
            store.describe()
        );
    };
    Ok(Applied {
        cluster,
        service,
        sdk: crate::aws::sdk_config(&location.region, endpoint_url).await,
    })
}
