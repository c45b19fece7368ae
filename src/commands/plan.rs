//! `stackctl plan`: refresh, diff, print; `-detailed-exitcode` tells whether there are changes;
//! `-out FILE` saves it for `apply FILE`; `-target`, `-replace`, `-refresh-only` as Terraform's.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::cli::args::{StateArgs, TargetArgs, VarArgs};
use crate::ops;
use crate::ui::Printer;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub state: StateArgs,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error
    #[arg(long = "detailed-exitcode")]
    pub detailed_exitcode: bool,
    /// Save the plan to FILE (JSON, no secret value); `stackctl apply FILE` applies exactly it
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub targeting: TargetArgs,
}

pub async fn exec(args: PlanArgs, ui: Printer) -> Result<ExitCode> {
    ops::plan::plan(
        ui,
        &super::options(&args.vars, &args.state, true),
        &super::request(&args.targeting),
        args.out.as_deref(),
        args.detailed_exitcode,
    )
    .await
}
