//! `stackctl import ADDRESS ID`: take an existing AWS resource into the state on purpose.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ImportArgs;
use crate::plan_ops;

pub async fn exec(args: ImportArgs) -> Result<ExitCode> {
    let opts = super::options(&args.vars, &args.state, true);
    plan_ops::import(&opts, &args.address, &args.id).await
}
