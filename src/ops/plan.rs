//! `plan`: refresh, diff and print, with -target, -replace, -refresh-only and -out (a saved
//! plan for `apply FILE`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::locate::gather;
use super::saved_plan::SavedPlan;
use super::session::Session;
use super::Options;
use crate::engine::json_plan;
use crate::engine::plan::{self, Mode, Targeting};
use crate::engine::render;
use crate::stack;
use crate::ui::Printer;

/// What `plan` and `apply` are asked besides the configuration.
pub struct Request {
    pub targeting: Targeting,
    pub refresh_only: bool,
}

/// Terraform's warning, word for word where it fits: targeting is for exceptions.
pub fn warn_targeting(ui: Printer, targeting: &Targeting, applied: bool) {
    if targeting.targets.is_empty() {
        return;
    }
    if applied {
        ui.warn("Applied changes may be incomplete\n  The plan was created with the -target option in effect, so some changes requested in the configuration may have been ignored and the output values may not be fully updated. Run `stackctl plan` to verify that no other changes are pending.");
    } else {
        ui.warn("Resource targeting is in effect\n  You are creating a plan with the -target option, which means that the result of this plan may not represent all of the changes requested by the current configuration. The -target option is not for routine use, and is provided only for exceptional situations such as recovering from errors or mistakes.");
    }
}

/// `plan`, with -target, -replace, -refresh-only and -out.
pub async fn plan(
    ui: Printer,
    opts: &Options,
    request: &Request,
    out: Option<&Path>,
    detailed_exitcode: bool,
) -> Result<ExitCode> {
    let session = Session::open(opts, "plan", ui).await?;
    session.print_notices();
    let raw = gather(&opts.var_files, &opts.vars)?;
    let changes = if request.refresh_only {
        let registry = stack::registry(&session.sdk);
        let reads = session.parallelism.unwrap_or(usize::MAX);
        let (_, drift) = plan::refresh_only(&session.state, &registry, reads).await?;
        render::show_drift(&drift, ui);
        if let Some(out) = out {
            let drift_json = drift.iter().map(json_plan::drift_change).collect();
            let empty = plan::Plan {
                mode: Mode::Apply,
                prior: session.state.clone(),
                changes: Vec::new(),
            };
            SavedPlan::new(&session, &raw, &empty, &request.targeting, true, drift_json)
                .with_var_files(&opts.var_files)
                .write(out)?;
            saved_note(ui, out);
        }
        !drift.is_empty()
    } else {
        warn_targeting(ui, &request.targeting, false);
        // A plan deploys nothing, so there is nothing to wait for.
        let config = session.config(Default::default()).await?;
        let plan = session
            .plan_targeted(&config, Mode::Apply, &request.targeting)
            .await?;
        render::show_plan(&plan, ui);
        if let Some(out) = out {
            SavedPlan::new(&session, &raw, &plan, &request.targeting, false, Vec::new())
                .with_var_files(&opts.var_files)
                .write(out)?;
            saved_note(ui, out);
        }
        plan.has_changes()
    };
    Ok(if detailed_exitcode && changes {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn saved_note(ui: Printer, out: &Path) {
    ui.detail(&format!(
        "\nSaved the plan to: {0}\n\nTo perform exactly these actions, run the following command to apply:\n    stackctl apply \"{0}\"",
        out.display()
    ));
}
