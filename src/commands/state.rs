//! `stackctl state list|show|rm`: read or edit the state file, as Terraform's `state`
//! commands do; no AWS request.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde_json::Value as J;

use crate::cli::args::{LocateArgs, LockArgs, LockTimeout};
use crate::engine::interrupt::{finish_first, hold};
use crate::engine::state::{State, StateError};
use crate::ops::session::lock_state;
use crate::ops::show::{describe, describe_json};
use crate::ui::Printer;

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print the address of every resource in the state, one per line
    List(StateListArgs),
    /// Print one resource of the state: its type, id and attributes
    Show(StateShowArgs),
    /// Forget resources: remove them from the state only; they stay in AWS
    Rm(StateRmArgs),
    /// Print the whole state as JSON (from S3 with a [backend] table)
    Pull(LocateArgs),
    /// Replace the state with FILE: refused for another lineage or an older serial unless -force
    Push(StatePushArgs),
}

#[derive(Debug, Args)]
pub struct StatePushArgs {
    /// The state file to write, as `state pull` printed it
    pub file: PathBuf,
    /// Write it even if its lineage differs or its serial is older than the current state's
    #[arg(long = "force")]
    pub force: bool,
    #[command(flatten)]
    pub locate: LocateArgs,
    #[command(flatten)]
    pub timeout: LockTimeout,
}

#[derive(Debug, Args)]
pub struct StateListArgs {
    /// Only these addresses and what is inside them, such as module.rds
    pub addresses: Vec<String>,
    #[command(flatten)]
    pub locate: LocateArgs,
}

#[derive(Debug, Args)]
pub struct StateShowArgs {
    /// The resource's address, as `state list` prints it
    pub address: String,
    #[command(flatten)]
    pub locate: LocateArgs,
}

#[derive(Debug, Args)]
pub struct StateRmArgs {
    /// The addresses to forget; all must be in the state, or nothing is removed
    #[arg(required = true)]
    pub addresses: Vec<String>,
    #[command(flatten)]
    pub locate: LocateArgs,
    #[command(flatten)]
    pub lock: LockArgs,
}

pub async fn exec(command: StateCommand, ui: Printer) -> Result<ExitCode> {
    match command {
        StateCommand::List(a) => list(a, ui).await,
        StateCommand::Show(a) => show(a, ui).await,
        StateCommand::Rm(a) => rm(a, ui).await,
        StateCommand::Pull(a) => pull(a, ui).await,
        StateCommand::Push(a) => push(a, ui).await,
    }
}

async fn list(args: StateListArgs, ui: Printer) -> Result<ExitCode> {
    let store = super::store(&args.locate, None).await?;
    let path = store.message_path();
    let state = store.load_existing().await?;
    let mut listed: Vec<&String> = Vec::new();
    if args.addresses.is_empty() {
        listed.extend(state.resources.keys());
    }
    // Terraform's filter: an address that matches nothing is an error, not an empty list.
    for filter in &args.addresses {
        let found: Vec<&String> = state.addresses_under(filter).collect();
        if found.is_empty() {
            bail!(
                "no resource matches {filter} in state {}\n  hint: `stackctl state list` without an address prints them all",
                path.display()
            );
        }
        listed.extend(found);
    }
    if ui.json() {
        ui.document(&J::from(
            listed.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        ));
    } else {
        listed.iter().for_each(|a| ui.value(a));
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the interrupt path reports.
fn reporter(ui: Printer) -> crate::engine::Reporter {
    Arc::new(ui)
}

async fn show(args: StateShowArgs, ui: Printer) -> Result<ExitCode> {
    let store = super::store(&args.locate, None).await?;
    let path = store.message_path();
    let state = store.load_existing().await?;
    let rs = state.resource(&path, &args.address)?;
    if ui.json() {
        ui.document(&describe_json(&args.address, rs));
    } else {
        ui.value(describe(&args.address, rs).trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

async fn rm(args: StateRmArgs, ui: Printer) -> Result<ExitCode> {
    let store = super::store(&args.locate, None).await?;
    let path = store.message_path();
    let _lock = lock_state(
        ui,
        &store,
        "state rm",
        args.lock.timeout.lock_timeout,
        args.lock.lock,
    )
    .await?;
    // An address given twice is removed once.
    let mut addresses: Vec<String> = Vec::new();
    for a in args.addresses {
        if !addresses.contains(&a) {
            addresses.push(a);
        }
    }
    let mut state = store.load_existing().await?;
    state.remove(&path, &addresses)?;
    finish_first(store.save(&mut state), &reporter(ui)).await?;
    if ui.json() {
        ui.document(&serde_json::json!({ "removed": addresses }));
        return Ok(ExitCode::SUCCESS);
    }
    for a in &addresses {
        ui.detail(&format!("Removed {a}"));
    }
    ui.result(&format!(
        "Successfully removed {} resource instance(s). They still exist in AWS; this state no longer tracks them.",
        addresses.len()
    ));
    Ok(ExitCode::SUCCESS)
}

/// `state pull`: the whole state as JSON, as stored (fingerprints, never secrets).
async fn pull(args: LocateArgs, ui: Printer) -> Result<ExitCode> {
    let store = super::store(&args, None).await?;
    let state = store.load_existing().await?;
    if ui.json() {
        ui.document(&serde_json::to_value(&state)?);
    } else {
        ui.value(&serde_json::to_string_pretty(&state)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// `state push FILE`: replace the state with FILE, under the lock. Another lineage is another
/// stack, and an older serial would undo what was written since FILE was pulled: both refused
/// unless -force. The same serial is accepted: nothing was written since that pull.
async fn push(args: StatePushArgs, ui: Printer) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file).map_err(|error| StateError::Read {
        path: args.file.clone(),
        error,
    })?;
    let mut pushed = State::parse(&args.file, &text)?;
    let store = super::store(&args.locate, None).await?;
    let path = store.message_path();
    let _lock = hold(
        store
            .lock("state push", args.timeout.lock_timeout, Arc::new(ui))
            .await?,
    );
    // A state that was never written has serial 0; the load also fixes the version the write
    // is conditional on.
    let current = store.load().await?;
    let exists = current.serial > 0;
    if exists && !args.force {
        if current.lineage != pushed.lineage {
            bail!(
                "{} has lineage {}, but state {} has lineage {}: they are two different stacks; nothing was written\n  hint: push a file pulled from this state (`stackctl state pull`), or pass -force to replace this stack's state on purpose",
                args.file.display(),
                pushed.lineage,
                path.display(),
                current.lineage
            );
        }
        if pushed.serial < current.serial {
            bail!(
                "{} has serial {}, older than state {} (serial {}): pushing it would undo what was written since; nothing was written\n  hint: pull the state again (`stackctl state pull > FILE`), make the change there and push that, or pass -force",
                args.file.display(),
                pushed.serial,
                path.display(),
                current.serial
            );
        }
    }
    pushed.serial = pushed.serial.max(current.serial);
    // The write is one request: a Ctrl-C meanwhile lets it finish, then stops.
    finish_first(store.save(&mut pushed), &reporter(ui)).await?;
    if ui.json() {
        ui.document(&serde_json::json!({ "state": path.display().to_string(), "serial": pushed.serial, "lineage": pushed.lineage }));
    } else {
        ui.result(&format!(
            "Pushed {} to {} (serial {}, {} resources).",
            args.file.display(),
            path.display(),
            pushed.serial,
            pushed.resources.len()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
