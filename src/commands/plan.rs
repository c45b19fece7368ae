//! `stackctl plan`: refresh, diff, print; `-detailed-exitcode` tells whether there are changes;
//! `-out FILE` saves it for `apply FILE`; `-target`, `-replace`, `-refresh-only` as Terraform's.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::PlanArgs;
use crate::plan_ops;

pub async fn exec(args: PlanArgs) -> Result<ExitCode> {
    plan_ops::plan(
        &super::options(&args.vars, &args.state, true),
        &super::request(&args.targeting),
        args.out.as_deref(),
        args.detailed_exitcode,
    )
    .await
}
