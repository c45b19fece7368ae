//! `stackctl force-unlock ID`: remove a lock file no running process holds, only if its id is
//! ID (Terraform's command). The id is the confirmation, so it asks nothing.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ForceUnlockArgs;
use crate::engine::lock;
use crate::ui;

pub fn exec(args: ForceUnlockArgs) -> Result<ExitCode> {
    let path = super::state_path(&args.locate)?;
    let holder = lock::force_unlock(&path, &args.id)?;
    ui::get().result(&format!(
        "State {} has been successfully unlocked (lock {} held by {}, pid {} on {}). Other stackctl runs can now lock it.",
        path.display(),
        holder.id,
        holder.command,
        holder.pid,
        holder.host
    ));
    Ok(ExitCode::SUCCESS)
}
