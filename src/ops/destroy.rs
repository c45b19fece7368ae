//! `destroy`: delete everything the state holds, dependents first.

use std::process::ExitCode;

use anyhow::Result;

use super::apply::execute;
use super::session::Session;
use super::{confirm, json_needs_auto_approve, Options};
use crate::engine::plan::Mode;
use crate::engine::{render, Config};
use crate::ui::Printer;

/// Plan the deletion of what the state holds, confirm it, execute it. `opts` need not carry the
/// variables: destroy works from the state alone, with no password.
pub async fn destroy(ui: Printer, opts: &Options, auto_approve: bool) -> Result<ExitCode> {
    render::version(ui);
    json_needs_auto_approve(ui, "destroy", auto_approve)?;
    let session = Session::open(opts, "destroy", ui).await?;
    let config = Config {
        specs: Vec::new(),
        outputs: Vec::new(),
    };
    let plan = session.plan(&config, Mode::Destroy).await?;
    render::show_plan(&plan, &config.outputs, ui);
    if plan.has_changes()
        && !confirm(
            ui,
            "Do you really want to destroy all resources?",
            auto_approve,
        )?
    {
        ui.result("\nDestroy cancelled.");
        return Ok(ExitCode::FAILURE);
    }
    ui.detail("");
    execute(session, &plan, &config).await
}
