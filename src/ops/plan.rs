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
use crate::vars::{Raw, DEFS};

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

/// Without a var file, say which stack the run is for and that every other variable is
/// stackctl's built-in default: `plan` alone plans the very stack `examples/dev.toml` names.
pub fn warn_defaults(ui: Printer, opts: &Options, raw: &Raw) {
    if !opts.var_files.is_empty() {
        return;
    }
    let (project, environment) = raw.project_env();
    let defaults: Vec<&str> = DEFS
        .iter()
        .filter(|d| d.default.is_some() && raw.given(d.name).is_none())
        .map(|d| d.name)
        .collect();
    if defaults.is_empty() {
        return;
    }
    let named_by = match (raw.given("project_name"), raw.given("environment")) {
        (None, None) => "project_name and environment at their built-in defaults".to_owned(),
        (p, e) => format!(
            "project_name from {}, environment from {}",
            p.map_or("its default".to_owned(), |(_, o)| o),
            e.map_or("its default".to_owned(), |(_, o)| o)
        ),
    };
    let same = if named_by.ends_with("defaults") {
        "examples/dev.toml names this same stack; "
    } else {
        ""
    };
    ui.warn(&format!(
        "No -var-file given: this run is for the stack {project}-{environment} ({named_by}) in {}, and {} variables take stackctl's built-in defaults: {}\n  hint: {same}pass -var-file FILE to choose the stack and its settings",
        raw.region(),
        defaults.len(),
        defaults.join(", "),
    ));
}

/// The plan's own flags as given, for the hints that say to plan again: no password (a
/// sensitive -var is left to STACKCTL_VAR_), no -out.
fn plan_args(opts: &Options, request: &Request) -> Vec<String> {
    let mut args = Vec::new();
    for f in &opts.var_files {
        args.extend(["-var-file".to_owned(), f.display().to_string()]);
    }
    for v in &opts.vars {
        let key = v.split('=').next().unwrap_or_default();
        if !DEFS.iter().any(|d| d.name == key && d.sensitive) {
            args.extend(["-var".to_owned(), v.clone()]);
        }
    }
    if let Some(state) = &opts.state {
        args.extend(["-state".to_owned(), state.display().to_string()]);
    }
    for t in &request.targeting.targets {
        args.extend(["-target".to_owned(), t.clone()]);
    }
    for r in &request.targeting.replace {
        args.extend(["-replace".to_owned(), r.clone()]);
    }
    if request.refresh_only {
        args.push("-refresh-only".to_owned());
    }
    args
}

/// `plan`, with -target, -replace, -refresh-only and -out.
pub async fn plan(
    ui: Printer,
    opts: &Options,
    request: &Request,
    out: Option<&Path>,
    detailed_exitcode: bool,
) -> Result<ExitCode> {
    render::version(ui);
    let session = Session::open(opts, "plan", ui).await?;
    session.print_notices();
    let raw = gather(&opts.var_files, &opts.vars)?;
    warn_defaults(ui, opts, &raw);
    let plan_args = plan_args(opts, request);
    let changes = if request.refresh_only {
        let registry = stack::registry(&session.sdk);
        let reads = session.parallelism.unwrap_or(usize::MAX);
        let (_, drift) = plan::refresh_only(&session.state, &registry, reads).await?;
        render::show_drift(&drift, ui);
        if let Some(out) = out {
            let drift_json = drift.iter().flat_map(json_plan::drift_changes).collect();
            let empty = plan::Plan {
                mode: Mode::Apply,
                prior: session.state.clone(),
                changes: Vec::new(),
            };
            SavedPlan::new(
                &session,
                &raw,
                &empty,
                None,
                &registry,
                &request.targeting,
                true,
                drift_json,
            )
            .with_var_files(&opts.var_files)
            .with_plan_args(plan_args.clone())
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
        render::show_plan(&plan, &config.outputs, ui);
        if let Some(out) = out {
            SavedPlan::new(
                &session,
                &raw,
                &plan,
                Some(&config),
                &stack::registry(&session.sdk),
                &request.targeting,
                false,
                Vec::new(),
            )
            .with_var_files(&opts.var_files)
            .with_plan_args(plan_args.clone())
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
