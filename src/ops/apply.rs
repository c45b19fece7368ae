//! `apply`: plan, confirm, execute and report; `apply FILE` applies a saved plan exactly;
//! -target, -replace and -refresh-only as Terraform's. [`execute`] is destroy's too.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use super::locate::gather;
use super::plan::{warn_defaults, warn_targeting, Request};
use super::refresh::{record_drift, write_state};
use super::saved_plan::{SavedPlan, SavedPlanError};
use super::session::Session;
use super::{confirm, json_needs_auto_approve, Options};
use crate::engine::apply::{self, Outcome, Persist};
use crate::engine::json_plan;
use crate::engine::plan::{self, Mode, Plan};
use crate::engine::render::{self, Progress};
use crate::engine::Config;
use crate::stack;
use crate::ui::{Mode as UiMode, Printer};

/// `apply` with -target / -replace (the usual plan, confirm, execute) or -refresh-only.
pub async fn apply(
    ui: Printer,
    opts: &Options,
    request: &Request,
    auto_approve: bool,
    wait: stackctl_ecs::DeployWait,
) -> Result<ExitCode> {
    render::version(ui);
    json_needs_auto_approve(ui, "apply", auto_approve)?;
    let session = Session::open(opts, "apply", ui).await?;
    session.print_notices();
    warn_defaults(ui, opts, &gather(&opts.var_files, &opts.vars)?);
    if request.refresh_only {
        return record_drift(session, auto_approve).await;
    }
    warn_targeting(ui, &request.targeting, false);
    let config = session.config(wait).await?;
    let plan = session
        .plan_targeted(&config, Mode::Apply, &request.targeting)
        .await?;
    render::show_plan(&plan, &config.outputs, ui);
    if plan.has_changes() && !confirm(ui, "Do you want to perform these actions?", auto_approve)? {
        ui.result("\nApply cancelled.");
        return Ok(ExitCode::FAILURE);
    }
    ui.detail("");
    let code = execute(session, &plan, &config).await?;
    warn_targeting(ui, &request.targeting, true);
    Ok(code)
}

/// `apply FILE`: the saved plan, exactly, or a refusal that says why.
pub async fn apply_saved(
    ui: Printer,
    opts: &Options,
    file: &Path,
    wait: stackctl_ecs::DeployWait,
) -> Result<ExitCode> {
    render::version(ui);
    let saved = SavedPlan::read(file)?;
    // What this run was given must not contradict the plan; the plan's values then win.
    saved.check_given(file, &gather(&opts.var_files, &opts.vars)?)?;
    let mut opts = Options {
        vars: opts.vars.iter().cloned().chain(saved.var_args()).collect(),
        // The plan's var files lead to its `[backend]` state, as they did when it was made.
        var_files: if opts.var_files.is_empty() {
            saved.stack.var_files.clone()
        } else {
            opts.var_files.clone()
        },
        state: opts
            .state
            .clone()
            .or_else(|| saved.stack.state_path.clone()),
        endpoint_url: opts.endpoint_url.clone(),
        ..*opts
    };
    opts.needs_vars = true;
    let raw = gather(&opts.var_files, &opts.vars)?;
    saved.check_secrets(file, &raw)?;
    let mut session = Session::open(&opts, "apply", ui).await?;
    saved.check_state(file, &mut session)?;
    if saved.refresh_only {
        let registry = stack::registry(&session.sdk);
        let reads = session.parallelism.unwrap_or(usize::MAX);
        let (refreshed, drift) = plan::refresh_only(&session.state, &registry, reads).await?;
        let now: Vec<_> = drift.iter().flat_map(json_plan::drift_changes).collect();
        if now != saved.resource_drift {
            return Err(SavedPlanError::Drift {
                path: file.to_owned(),
                addresses: "the drift it recorded".into(),
                again: saved.plan_again(file),
            }
            .into());
        }
        write_state(&mut session, refreshed).await?;
        ui.result(&format!(
            "\nApply complete! Resources: 0 added, 0 changed, 0 destroyed; {} refreshed into the state.",
            drift.len()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let config = session.config(wait).await?;
    let plan = session
        .plan_targeted(&config, Mode::Apply, &saved.targeting)
        .await?;
    saved.check_same(file, &plan)?;
    // Terraform applies a saved plan without asking: it was reviewed when it was made.
    let code = execute(session, &plan, &config).await?;
    warn_targeting(ui, &saved.targeting, true);
    Ok(code)
}

/// Apply a plan and report: the state is saved after each change, the outputs at the end.
pub async fn execute(session: Session, plan: &Plan, config: &Config) -> Result<ExitCode> {
    let started = Instant::now();
    let persist = Persist::with_store(session.store.clone(), plan.prior.clone());
    let parallelism = session.parallelism.unwrap_or(apply::DEFAULT_PARALLELISM);
    let ui = session.ui;
    let outcome = apply::apply(plan, config, &persist, &Progress(ui), parallelism).await;
    if plan.mode == Mode::Apply {
        apply::compute_outputs(config, &persist)?;
    } else {
        persist.save_with(|s| {
            if s.resources.is_empty() {
                s.outputs.clear()
            }
        })?;
    }
    let state = persist.into_state();
    report(ui, &outcome, plan, started.elapsed());
    if !outcome.ok() {
        return Ok(ExitCode::FAILURE);
    }
    if plan.mode == Mode::Apply {
        // A change deferred to a maintenance window is accepted, not done: say so.
        let pending = render::pending_in_state(&state);
        if !pending.is_empty() {
            ui.detail(&pending);
        }
    }
    if plan.mode == Mode::Apply && !state.outputs.is_empty() {
        ui.detail(&format!(
            "\nOutputs:\n\n{}",
            render::outputs(&state.outputs)
        ));
        render::show_outputs_event(&state.outputs, ui);
    }
    Ok(ExitCode::SUCCESS)
}

fn report(ui: Printer, outcome: &Outcome, plan: &Plan, elapsed: Duration) {
    // What was done, not what was planned: a planned update that found nothing left to change
    // is not counted, and an adoption is named.
    let adopted = match outcome.adopted {
        0 => String::new(),
        n => format!("{n} adopted, "),
    };
    let operation = match plan.mode {
        Mode::Apply => "apply",
        Mode::Destroy => "destroy",
    };
    if outcome.ok() {
        let line = match plan.mode {
            Mode::Apply => format!(
                "Apply complete! Resources: {adopted}{} added, {} changed, {} destroyed.",
                outcome.added, outcome.changed, outcome.destroyed,
            ),
            Mode::Destroy => format!(
                "Destroy complete! Resources: {} destroyed.",
                outcome.destroyed
            ),
        };
        ui.result(&format!("\n{line} ({:.1}s)", elapsed.as_secs_f64()));
        ui.event(
            "change_summary",
            &line,
            render::fields([(
                "changes",
                json!({
                    "add": outcome.added,
                    "change": outcome.changed,
                    "import": outcome.adopted,
                    "remove": outcome.destroyed,
                    "operation": operation,
                    "elapsed_seconds": elapsed.as_secs_f64(),
                }),
            )]),
        );
        return;
    }
    let verb = if plan.mode == Mode::Apply {
        "Apply"
    } else {
        "Destroy"
    };
    let stopped = match outcome.stopped.len() {
        0 => String::new(),
        n => format!(", {n} still in progress in AWS"),
    };
    let line = format!(
        "{verb} incomplete: {} done, {} failed{stopped}, {} not started{}. The state records everything that exists; {}run the same command again to continue.",
        outcome.done,
        outcome.failed.len(),
        outcome.skipped.len(),
        if outcome.interrupted { " (interrupted)" } else { "" },
        if outcome.stopped.is_empty() { "" } else { "`stackctl status` shows how the stack is doing; " }
    );
    match ui.mode() {
        UiMode::Json => ui.event(
            "change_summary",
            &line,
            render::fields([(
                "changes",
                json!({
                    "done": outcome.done,
                    "failed": outcome.failed.len(),
                    "not_started": outcome.skipped.len(),
                    "interrupted": outcome.interrupted,
                    "in_progress": outcome.stopped,
                    "operation": operation,
                }),
            )]),
        ),
        _ => ui.notice(&format!("\n{line}")),
    }
    for (address, err) in &outcome.failed {
        ui.error(err, Some(address));
    }
}
