//! `stackctl apply`: plan, confirm, then walk the graph.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ChangeArgs;
use crate::engine::plan::Mode;
use crate::engine::render;
use crate::ops::{self, Session};
use crate::ui;

pub async fn exec(args: ChangeArgs) -> Result<ExitCode> {
    ops::json_needs_auto_approve("apply", args.auto_approve)?;
    let session = Session::open(&super::options(&args.vars, &args.state, true), "apply").await?;
    session.print_notices();
    let config = session.config().await?;
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
