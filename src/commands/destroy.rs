//! `stackctl destroy`: delete everything the state holds, dependents first.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ChangeArgs;
use crate::engine::plan::Mode;
use crate::engine::{render, Config};
use crate::ops::{self, Session};
use crate::ui;

pub async fn exec(args: ChangeArgs) -> Result<ExitCode> {
    ops::json_needs_auto_approve("destroy", args.auto_approve)?;
    // Destroy works from the state alone: no passwords needed, only where the state is.
    let session = Session::open(&super::options(&args.vars, &args.state, false), "destroy").await?;
    let config = Config {
        specs: Vec::new(),
        outputs: Vec::new(),
    };
    let plan = session.plan(&config, Mode::Destroy).await?;
    render::show_plan(&plan);
    if plan.has_changes()
        && !ops::confirm(
            "Do you really want to destroy all resources?",
            args.auto_approve,
        )?
    {
        ui::get().result("\nDestroy cancelled.");
        return Ok(ExitCode::FAILURE);
    }
    ui::get().detail("");
    ops::execute(session, &plan, &config).await
}
