//! `stackctl import ADDRESS ID`: take an existing AWS resource into the state on purpose.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::cli::args::{StateArgs, VarArgs};
use crate::ops;
use crate::ui::Printer;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The resource's address in the configuration, such as module.ecs.aws_cloudwatch_log_group.main
    pub address: String,
    /// Its id in AWS, as `state show` prints ids (a log group's name, a cluster's ARN ...)
    pub id: String,
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub state: StateArgs,
}

pub async fn exec(args: ImportArgs, ui: Printer) -> Result<ExitCode> {
    let opts = super::options(&args.vars, &args.state, true);
    ops::import::import(ui, &opts, &args.address, &args.id).await
}
