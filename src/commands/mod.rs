//! One file per command, as cargo's `commands/`: each holds its flags (its `Args`, beside its
//! `exec`), turns them into options and calls an operation of `ops/`, printing through the
//! [`Printer`] it is handed. [`Command`] lists them and [`exec`] dispatches.
//!
//! A new command: a file here with its `#[derive(Args)]` struct (flatten the shared groups of
//! `cli::args`) and `pub async fn exec(args, ui: Printer) -> Result<ExitCode>`; its `pub mod`
//! line below; a variant of [`Command`] whose doc comment is its help; an arm in [`exec`].

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
use clap::Subcommand;

use crate::cli::args::{ChangeArgs, LocateArgs, StateArgs, TargetArgs, VarArgs};
use crate::ops::{self, Options};
use crate::ui::Printer;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the changes apply would make (exit 2 with -detailed-exitcode when there are some)
    Plan(plan::PlanArgs),
    /// Create or update the stack so it matches the variables
    Apply(apply::ApplyArgs),
    /// Delete every resource of the stack
    Destroy(ChangeArgs),
    /// Print the stack's outputs, or one output's bare value
    Output(output::OutputArgs),
    /// Check the variables without calling AWS
    Validate(VarArgs),
    /// Print the shop's container logs (CloudWatch Logs), or follow them with -f
    Logs(logs::LogsArgs),
    /// Show the live stack: URL, service, deployments, tasks, targets, database, EFS, events
    /// (exit 0 healthy, 3 degraded)
    Status(status::StatusArgs),
    /// Start a new deployment of the revision the service runs (new secrets, a new image
    /// behind the same tag) and wait for it to be healthy
    Redeploy(redeploy::RedeployArgs),
    /// Put the service back on the previous task definition revision (or -to REVISION) and
    /// wait for it to be healthy; the state then records what runs
    Rollback(rollback::RollbackArgs),
    /// Run a one-off command in a new task of the service (its image, network, secrets and
    /// volume), print its log as it runs, and exit with its exit code
    Run(run::RunArgs),
    /// Read or edit the state: list, show, rm, pull, push
    #[command(subcommand)]
    State(state::StateCommand),
    /// Remove the lock a dead run left on the state, given that lock's id
    ForceUnlock(force_unlock::ForceUnlockArgs),
    /// Print the dependency graph of the configuration in DOT (Graphviz)
    Graph(graph::GraphArgs),
    /// Show a saved plan (FILE), or the state without one; -json gives Terraform's JSON shape
    Show(show::ShowArgs),
    /// Take an existing AWS resource into the state at ADDRESS, by its ID; the next plan shows
    /// how it differs from the configuration
    Import(import::ImportArgs),
    /// Record drift into the state without changing AWS (apply -refresh-only -auto-approve)
    Refresh(refresh::RefreshArgs),
    /// Print stackctl's version
    Version,
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell
    Completions(completions::CompletionsArgs),
    /// Set up a remote state: the S3 bucket (and optionally the DynamoDB lock table)
    #[command(subcommand)]
    Backend(backend::BackendCommand),
    /// Check the state's backend; -migrate-state copies a local state into the [backend] bucket
    Init(init::InitArgs),
}

/// Run one command, printing through `ui`. `cli` builds the whole command line's definition,
/// which `completions` prints a script of: `main` hands it down, as the commands cannot name
/// `cli::Cli` (it names them).
pub async fn exec(command: Command, ui: Printer, cli: fn() -> clap::Command) -> Result<ExitCode> {
    // One path for Ctrl-C and SIGTERM in every command: the state's lock is released however
    // the run ends.
    crate::engine::interrupt::listen(std::sync::Arc::new(ui));
    match command {
        Command::Plan(a) => plan::exec(a, ui).await,
        Command::Apply(a) => apply::exec(a, ui).await,
        Command::Destroy(a) => destroy::exec(a, ui).await,
        Command::Output(a) => output::exec(a, ui).await,
        Command::Validate(a) => validate::exec(a, ui),
        Command::Logs(a) => logs::exec(a, ui).await,
        Command::Status(a) => status::exec(a, ui).await,
        Command::Redeploy(a) => redeploy::exec(a, ui).await,
        Command::Rollback(a) => rollback::exec(a, ui).await,
        Command::Run(a) => run::exec(a, ui).await,
        Command::State(c) => state::exec(c, ui).await,
        Command::ForceUnlock(a) => force_unlock::exec(a, ui).await,
        Command::Graph(a) => graph::exec(a, ui).await,
        Command::Show(a) => show::exec(a, ui).await,
        Command::Import(a) => import::exec(a, ui).await,
        Command::Refresh(a) => refresh::exec(a, ui).await,
        Command::Version => version::exec(ui),
        Command::Completions(a) => completions::exec(a, cli()),
        Command::Backend(c) => backend::exec(c, ui).await,
        Command::Init(a) => init::exec(a, ui).await,
    }
}

fn options(vars: &VarArgs, state: &StateArgs, needs_vars: bool) -> Options {
    Options {
        var_files: vars.var_files.clone(),
        vars: vars.vars.clone(),
        state: state.state.clone(),
        lock_timeout: state.timeout.lock_timeout,
        endpoint_url: state.endpoint.endpoint_url.clone(),
        needs_vars,
        lock: state.lock,
        parallelism: state.parallelism.map(usize::from),
    }
}

/// What -target, -replace and -refresh-only ask of plan and apply.
fn request(args: &TargetArgs) -> ops::plan::Request {
    ops::plan::Request {
        targeting: crate::engine::plan::Targeting {
            targets: args.target.clone(),
            replace: args.replace.clone(),
        },
        refresh_only: args.refresh_only,
    }
}

/// The store of that state: the `[backend]` bucket when the var files have one, else the file
/// [`ops::locate::locate_state`] finds.
async fn store(
    args: &LocateArgs,
    endpoint_url: Option<&str>,
) -> Result<crate::engine::backend::Store> {
    ops::locate::locate_store(
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

/// What redeploy and rollback hold while they change the running service: the state's store,
/// its lock (released when this is dropped: an apply changing the service meanwhile would race
/// the deployment and the state write), the state, and the service it names.
struct LockedService {
    store: crate::engine::backend::Store,
    _lock: Option<crate::engine::interrupt::Held>,
    state: crate::engine::state::State,
    applied: Applied,
}

/// Lock the state for `command`, load it, and find its service.
async fn lock_service(
    ui: Printer,
    command: &str,
    locate: &LocateArgs,
    lock: &crate::cli::args::LockArgs,
    endpoint: &crate::cli::args::EndpointArgs,
) -> Result<LockedService> {
    let endpoint_url = endpoint.endpoint_url.as_deref();
    let store = store(locate, endpoint_url).await?;
    let _lock =
        ops::session::lock_state(ui, &store, command, lock.timeout.lock_timeout, lock.lock).await?;
    let state = store.load_existing().await?;
    let applied = applied(&state, &store, endpoint_url).await?;
    Ok(LockedService {
        store,
        _lock,
        state,
        applied,
    })
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
