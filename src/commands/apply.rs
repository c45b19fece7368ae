//! `stackctl apply`: plan, confirm, then walk the graph.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ApplyArgs;
use crate::engine::plan::Mode;
use crate::engine::render;
use crate::ops::{self, Session};
use crate::ui;

pub async fn exec(args: ApplyArgs) -> Result<ExitCode> {
    let (args, wait) = (args.change, args.wait);
    ops::json_needs_auto_approve("apply", args.auto_approve)?;
    let session = Session::open(&super::options(&args.vars, &args.state, true), "apply").await?;
    session.print_notices();
    let config = session
        .config(stackctl_ecs::DeployWait {
            enabled: wait.wait,
            timeout: wait.wait_timeout,
        })
        .await?;
    let plan = session.plan(&config, Mode::Apply).await?;
    render::show_plan(&plan);
    if plan.has_changes()
        && !ops::confirm("Do you want to perform these actions?", args.auto_approve)?
    {
        ui::get().result("\nApply cancelled.");
        return Ok(ExitCode::FAILURE);
    }
    ui::get().detail("");
    ops::execute(session, &plan, &config).await
}
