//! `stackctl show [FILE]`: a saved plan, or the state; `-json` in Terraform's JSON shape.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ShowArgs;
use crate::plan_ops;

pub async fn exec(args: ShowArgs) -> Result<ExitCode> {
    plan_ops::show(args.file.as_deref(), async || {
        super::store(&args.locate, None).await
    })
    .await
}
