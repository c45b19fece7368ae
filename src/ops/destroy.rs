//! `destroy`: delete everything the state holds, dependents first.

use std::process::ExitCode;

use anyhow::Result;

use super::apply::execute;
use super::session::Session;
use super::{confirm, json_needs_auto_approve, Options};
use crate::engine::plan::{Action, Mode, Plan};
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
    refuse_protected(&plan)?;
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

/// RDS refuses to delete a database with deletion protection, which would stop destroy
/// halfway, after the service, the load balancer and the rest are gone: refuse the whole
/// destroy before anything is deleted, from the plan's refreshed read of AWS (protection
/// turned on outside stackctl counts too).
fn refuse_protected(plan: &Plan) -> Result<()> {
    let protected: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete && c.kind.type_name() == "aws_db_instance")
        .filter(|c| {
            c.live.as_ref().is_some_and(|l| {
                l.attrs.get("deletion_protection").and_then(|v| v.as_bool()) == Some(true)
            })
        })
        .map(|c| c.address.as_str())
        .collect();
    if protected.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "{} has deletion protection on, and RDS refuses to delete it: nothing was deleted. Set db_deletion_protection = false (in the var file or with -var db_deletion_protection=false), run apply to turn the protection off, then destroy again.",
        protected.join(", ")
    )
}
