//! `stackctl apply`: plan, confirm, then walk the graph; `apply FILE` applies a saved plan
//! exactly; `-target`, `-replace`, `-refresh-only` as Terraform's.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ApplyArgs;
use crate::plan_ops;

pub async fn exec(args: ApplyArgs) -> Result<ExitCode> {
    let wait = stackctl_ecs::DeployWait {
        enabled: args.wait.wait,
        timeout: args.wait.wait_timeout,
    };
    let change = &args.change;
    let opts = super::options(&change.vars, &change.state, true);
    match &args.plan_file {
        Some(file) => plan_ops::apply_saved(&opts, file, wait).await,
        None => {
            plan_ops::apply(
                &opts,
                &super::request(&args.targeting),
                change.auto_approve,
                wait,
            )
            .await
        }
    }
}
