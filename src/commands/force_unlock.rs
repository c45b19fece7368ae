//! `stackctl force-unlock ID`: remove a lock file no running process holds, only if its id is
//! ID (Terraform's command). The id is the confirmation, so it asks nothing.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::cli::args::LocateArgs;
use crate::ui::Printer;

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The lock id, as the lock error printed it; the lock is removed only if it matches
    pub id: String,
    #[command(flatten)]
    pub locate: LocateArgs,
}

pub async fn exec(args: ForceUnlockArgs, ui: Printer) -> Result<ExitCode> {
    let store = super::store(&args.locate, None).await?;
    let path = store.message_path();
    let holder = store.force_unlock(&args.id).await?;
    ui.result(&format!(
        "State {} has been successfully unlocked (lock {} held by {}, pid {} on {}). Other stackctl runs can now lock it.",
        path.display(),
        holder.id,
        holder.command,
        holder.pid,
        holder.host
    ));
    Ok(ExitCode::SUCCESS)
}
