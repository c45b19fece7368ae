//! `stackctl apply`: plan, confirm, then walk the graph.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ApplyArgs;
use crate::engine::plan::Mode;
use crate::engine::render;
use crate::ops::{self, Session};

pub async fn exec(args: ApplyArgs) -> Result<ExitCode> {
    let session = Session::open(&super::options(&args.vars, &args.state, true), "apply").await?;
    session.print_notices();
    let config = session.config().await?;
    let plan = session.plan(&config, Mode::Apply).await?;
    print!("{}", render::plan(&plan));
    if plan.has_changes()
        && !ops::confirm("Do you want to perform these actions?", args.auto_approve)?
    {
        println!("\nApply cancelled.");
        return Ok(ExitCode::FAILURE);
    }
    println!();
    ops::execute(session, &plan, &config).await
}
