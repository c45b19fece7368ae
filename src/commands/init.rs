//! `stackctl init [-migrate-state]`: say where the state of the stack lives and, with
//! -migrate-state, copy the local state into the `[backend]` bucket (Terraform's
//! `terraform init -migrate-state`), keeping the local file as it is.

use std::process::ExitCode;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::Args;

use crate::cli::args::{reword, EndpointArgs, LockTimeout, VarArgs};
use crate::engine::interrupt::{finish_first, hold};
use crate::engine::lock::Lock;
use crate::engine::state::State;
use crate::ops::locate::{default_state_path, gather, locate_args, remote_store};
use crate::ui::Printer;

#[derive(Debug, Args)]
// The lock init waits for is the remote state's; the flag is LockTimeout's own.
#[command(mut_args(reword(
    "lock_timeout",
    "How long to wait for another run's lock on the remote state, such as 30s or 5m"
)))]
pub struct InitArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Copy the local state (.stackctl/<project>-<environment>.json, or -state PATH) into the
    /// backend; the local file is kept
    #[arg(long = "migrate-state")]
    pub migrate_state: bool,
    /// The local state to migrate [default: .stackctl/<project_name>-<environment>.json]
    #[arg(long = "state", value_name = "PATH")]
    pub state: Option<PathBuf>,
    #[command(flatten)]
    pub timeout: LockTimeout,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

pub async fn exec(args: InitArgs, ui: Printer) -> Result<ExitCode> {
    let raw = gather(&args.vars.var_files, &args.vars.vars)?;
    let (project, env) = raw.project_env();
    let local = args
        .state
        .clone()
        .unwrap_or_else(|| default_state_path(&project, &env));
    let Some(config) = raw.backend.clone() else {
        bail!(
            "no [backend] table in the var files: the state of {project}-{env} stays in {}\n  hint: `stackctl backend bootstrap -var-file FILE` creates a bucket and prints the [backend] table to add to FILE",
            local.display()
        );
    };
    let store = remote_store(&config, &raw, args.endpoint.endpoint_url.as_deref()).await;
    let remote = store.describe();
    let locate = locate_args(&args.vars.var_files, &args.vars.vars);
    if !args.migrate_state {
        let exists = store.exists().await?;
        ui.result(&format!(
            "The state of {project}-{env} is {remote} ({}).",
            if exists {
                "it exists"
            } else {
                "no state there yet"
            }
        ));
        if !exists && local.exists() {
            ui.caution(&format!(
                "the local state {} is not in the backend yet: copy it there with `stackctl init -migrate-state {locate}` before any other command\n",
                local.display()
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !local.exists() {
        bail!(
            "no local state at {} to migrate to {remote}\n  hint: name the file with -state PATH; a stack never applied has nothing to migrate",
            local.display()
        );
    }
    // Both locks: no local run may write the file, nor any run the remote state, meanwhile.
    let timeout = args.timeout.lock_timeout;
    // Kept where Ctrl-C releases them too (engine::interrupt).
    let _local_lock = hold(Lock::acquire(&local, "init -migrate-state", timeout, &ui)?);
    let _remote_lock = hold(
        store
            .lock("init -migrate-state", timeout, Arc::new(ui))
            .await?,
    );
    let source = State::load_existing(&local)?;
    let current = store.load().await?;
    // The remote object may be an older copy of this very state (same lineage, lower serial:
    // migrated once, then applied further with the local file): the local file is newer and
    // replaces it. Another lineage is another stack's state and is never overwritten.
    let replaced = if current.serial == 0 {
        None
    } else if current.lineage != source.lineage {
        bail!(
            "{remote} already holds another state (lineage {}, serial {}) than {} (lineage {}, serial {}); nothing was written\n  hint: compare them with `stackctl state pull {locate}`; if the local one is right, `stackctl state push {} {locate} -force`",
            current.lineage,
            current.serial,
            local.display(),
            source.lineage,
            source.serial,
            local.display(),
        );
    } else if current.serial >= source.serial {
        ui.result(&format!(
            "Nothing to migrate: {remote} already holds this state (serial {}, local copy serial {}).",
            current.serial, source.serial
        ));
        return Ok(ExitCode::SUCCESS);
    } else {
        Some(current.serial)
    };
    let mut copy = source.clone();
    // One request: a Ctrl-C meanwhile lets it finish, then stops.
    finish_first(
        store.save(&mut copy),
        &(Arc::new(ui) as crate::engine::Reporter),
    )
    .await?;
    ui.result(&format!(
        "Migrated {} ({} resources, lineage {}) to {remote} (serial {}). The local file is kept as it was; with this [backend] table, stackctl reads and writes {remote} only.",
        local.display(),
        copy.resources.len(),
        copy.lineage,
        copy.serial
    ));
    if let Some(older) = replaced {
        ui.result(&format!(
            "It replaced an older copy of the same state there (serial {older}, lower than the local file's {}); with versioning on, as `backend bootstrap` sets it, the bucket keeps that copy as an earlier version.",
            source.serial
        ));
    }
    Ok(ExitCode::SUCCESS)
}
