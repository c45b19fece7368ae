//! `stackctl plan`: refresh, diff, print; `-detailed-exitcode` tells whether there are changes.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::PlanArgs;
use crate::engine::plan::Mode;
use crate::engine::render;
use crate::ops::Session;

pub async fn exec(args: PlanArgs) -> Result<ExitCode> {
    let session = Session::open(&super::options(&args.vars, &args.state, true), "plan").await?;
    session.print_notices();
    // A plan deploys nothing, so there is nothing to wait for.
    let config = session.config(Default::default()).await?;
    let plan = session.plan(&config, Mode::Apply).await?;
    render::show_plan(&plan);
    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
