//! `stackctl destroy`: delete everything the state holds, dependents first.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::DestroyArgs;
use crate::engine::plan::Mode;
use crate::engine::{render, Config};
use crate::ops::{self, Session};

pub async fn exec(args: DestroyArgs) -> Result<ExitCode> {
    // Destroy works from the state alone: no passwords needed, only where the state is.
    let session = Session::open(&super::options(&args.vars, &args.state, false), "destroy").await?;
    let config = Config {
        specs: Vec::new(),
        outputs: Vec::new(),
    };
    let plan = session.plan(&config, Mode::Destroy).await?;
    print!("{}", render::plan(&plan));
    if plan.has_changes()
        && !ops::confirm(
            "Do you really want to destroy all resources?",
            args.auto_approve,
        )?
    {
        println!("\nDestroy cancelled.");
        return Ok(ExitCode::FAILURE);
    }
    println!();
    ops::execute(session, &plan, &config).await
}
