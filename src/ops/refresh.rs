//! `refresh` and `apply -refresh-only`: record what AWS has into the state, change nothing.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use super::session::Session;
use super::{confirm, Options};
use crate::engine::plan;
use crate::engine::render;
use crate::engine::state::State;
use crate::stack;
use crate::ui::Printer;

/// `refresh`: as Terraform's, the same as `apply -refresh-only -auto-approve` (and locked as
/// an apply).
pub async fn refresh(ui: Printer, opts: &Options) -> Result<ExitCode> {
    render::version(ui);
    let session = Session::open(opts, "apply", ui).await?;
    session.print_notices();
    record_drift(session, true).await
}

/// `apply -refresh-only` and `refresh`: record what AWS has into the state, change nothing.
pub async fn record_drift(mut session: Session, auto_approve: bool) -> Result<ExitCode> {
    let ui = session.ui;
    let registry = stack::registry(&session.sdk);
    let reads = session.parallelism.unwrap_or(usize::MAX);
    let (refreshed, drift) = plan::refresh_only(&session.state, &registry, reads).await?;
    render::show_drift(&drift, ui);
    if drift.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if !confirm(
        ui,
        "Would you like to update the stackctl state to reflect these detected changes?\n  stackctl will write these changes to the state without modifying any real infrastructure.",
        auto_approve,
    )? {
        ui.result("\nApply cancelled.");
        return Ok(ExitCode::FAILURE);
    }
    write_state(&mut session, refreshed).await?;
    let line = format!(
        "Apply complete! Resources: 0 added, 0 changed, 0 destroyed; {} refreshed into the state.",
        drift.len()
    );
    ui.result(&format!("\n{line}"));
    ui.event(
        "change_summary",
        &line,
        render::fields([(
            "changes",
            json!({"add": 0, "change": 0, "remove": 0, "refreshed": drift.len(), "operation": "apply"}),
        )]),
    );
    Ok(ExitCode::SUCCESS)
}

/// Save `state` as the session's, keeping what identifies it (lineage, serial, salt).
pub async fn write_state(session: &mut Session, state: State) -> Result<()> {
    session.state.resources = state.resources;
    // One request: a Ctrl-C meanwhile lets it finish, then stops (engine::interrupt).
    let report: crate::engine::Reporter = std::sync::Arc::new(session.ui);
    crate::engine::interrupt::finish_first(session.store.save(&mut session.state), &report).await?;
    Ok(())
}
