//! `stackctl apply`: plan, confirm, then walk the graph; `apply FILE` applies a saved plan
//! exactly; `-target`, `-replace`, `-refresh-only` as Terraform's.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::cli::args::{ChangeArgs, TargetArgs, WaitArgs};
use crate::ops;
use crate::ui::Printer;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `plan -out`: apply exactly it, or refuse it if the stack moved since
    #[arg(value_name = "FILE", conflicts_with_all = ["target", "replace", "refresh_only"])]
    pub plan_file: Option<PathBuf>,
    #[command(flatten)]
    pub change: ChangeArgs,
    #[command(flatten)]
    pub targeting: TargetArgs,
    #[command(flatten)]
    pub wait: WaitArgs,
}

pub async fn exec(args: ApplyArgs, ui: Printer) -> Result<ExitCode> {
    let wait = args.wait.deploy_wait();
    let change = &args.change;
    let opts = super::options(&change.vars, &change.state, true);
    match &args.plan_file {
        Some(file) => ops::apply::apply_saved(ui, &opts, file, wait).await,
        None => {
            ops::apply::apply(
                ui,
                &opts,
                &super::request(&args.targeting),
                change.auto_approve,
                wait,
            )
            .await
        }
    }
}
