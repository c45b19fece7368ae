//! The operations behind Terraform's plan habits: `plan -out`, `apply FILE`, `-target`,
//! `-replace`, `-refresh-only` / `refresh`, `import` and `show`. Commands fill the options and
//! call these; sessions, confirmation and execution are `ops`'.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use crate::engine::backend::Store;
use crate::engine::json_plan;
use crate::engine::plan::{self, Mode, Targeting};
use crate::engine::render;
use crate::engine::state::{ResourceState, State};
use crate::ops::{self, Options, Session};
use crate::saved_plan::SavedPlan;
use crate::{stack, ui};

/// What `plan` and `apply` are asked besides the configuration.
pub struct Request {
    pub targeting: Targeting,
    pub refresh_only: bool,
}

/// Terraform's warning, word for word where it fits: targeting is for exceptions.
fn warn_targeting(targeting: &Targeting, applied: bool) {
    if targeting.targets.is_empty() {
        return;
    }
    let ui = ui::get();
    if applied {
        ui.warn("Applied changes may be incomplete\n  The plan was created with the -target option in effect, so some changes requested in the configuration may have been ignored and the output values may not be fully updated. Run `stackctl plan` to verify that no other changes are pending.");
    } else {
        ui.warn("Resource targeting is in effect\n  You are creating a plan with the -target option, which means that the result of this plan may not represent all of the changes requested by the current configuration. The -target option is not for routine use, and is provided only for exceptional situations such as recovering from errors or mistakes.");
    }
}

/// `plan`, with -target, -replace, -refresh-only and -out.
pub async fn plan(
    opts: &Options,
    request: &Request,
    out: Option<&Path>,
    detailed_exitcode: bool,
) -> Result<ExitCode> {
    let session = Session::open(opts, "plan").await?;
    session.print_notices();
    let raw = ops::gather(&opts.var_files, &opts.vars)?;
    let changes = if request.refresh_only {
        let registry = stack::registry(&session.sdk);
        let reads = session.parallelism.unwrap_or(usize::MAX);
        let (_, drift) = plan::refresh_only(&session.state, &registry, reads).await?;
        render::show_drift(&drift);
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
            saved_note(out);
        }
        !drift.is_empty()
    } else {
        warn_targeting(&request.targeting, false);
        // A plan deploys nothing, so there is nothing to wait for.
        let config = session.config(Default::default()).await?;
        let plan = session
            .plan_targeted(&config, Mode::Apply, &request.targeting)
            .await?;
        render::show_plan(&plan);
        if let Some(out) = out {
            SavedPlan::new(&session, &raw, &plan, &request.targeting, false, Vec::new())
                .with_var_files(&opts.var_files)
                .write(out)?;
            saved_note(out);
        }
        plan.has_changes()
    };
    Ok(if detailed_exitcode && changes {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn saved_note(out: &Path) {
    ui::get().detail(&format!(
        "\nSaved the plan to: {0}\n\nTo perform exactly these actions, run the following command to apply:\n    stackctl apply \"{0}\"",
        out.display()
    ));
}

/// `apply` with -target / -replace (the usual plan, confirm, execute) or -refresh-only.
pub async fn apply(
    opts: &Options,
    request: &Request,
    auto_approve: bool,
    wait: stackctl_ecs::DeployWait,
) -> Result<ExitCode> {
    ops::json_needs_auto_approve("apply", auto_approve)?;
    let session = Session::open(opts, "apply").await?;
    session.print_notices();
    if request.refresh_only {
        return record_drift(session, auto_approve).await;
    }
    warn_targeting(&request.targeting, false);
    let config = session.config(wait).await?;
    let plan = session
        .plan_targeted(&config, Mode::Apply, &request.targeting)
        .await?;
    render::show_plan(&plan);
    if plan.has_changes() && !ops::confirm("Do you want to perform these actions?", auto_approve)? {
        ui::get().result("\nApply cancelled.");
        return Ok(ExitCode::FAILURE);
    }
    ui::get().detail("");
    let code = ops::execute(session, &plan, &config).await?;
    warn_targeting(&request.targeting, true);
    Ok(code)
}

/// `apply -refresh-only` and `refresh`: record what AWS has into the state, change nothing.
async fn record_drift(mut session: Session, auto_approve: bool) -> Result<ExitCode> {
    let registry = stack::registry(&session.sdk);
    let reads = session.parallelism.unwrap_or(usize::MAX);
    let (refreshed, drift) = plan::refresh_only(&session.state, &registry, reads).await?;
    render::show_drift(&drift);
    if drift.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if !ops::confirm(
        "Would you like to update the stackctl state to reflect these detected changes?\n  stackctl will write these changes to the state without modifying any real infrastructure.",
        auto_approve,
    )? {
        ui::get().result("\nApply cancelled.");
        return Ok(ExitCode::FAILURE);
    }
    write_state(&mut session, refreshed).await?;
    let line = format!(
        "Apply complete! Resources: 0 added, 0 changed, 0 destroyed; {} refreshed into the state.",
        drift.len()
    );
    ui::get().result(&format!("\n{line}"));
    ui::get().event(
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
async fn write_state(session: &mut Session, state: State) -> Result<()> {
    session.state.resources = state.resources;
    session.store.save(&mut session.state).await?;
    Ok(())
}

/// `apply FILE`: the saved plan, exactly, or a refusal that says why.
pub async fn apply_saved(
    opts: &Options,
    file: &Path,
    wait: stackctl_ecs::DeployWait,
) -> Result<ExitCode> {
    let saved = SavedPlan::read(file)?;
    // What this run was given must not contradict the plan; the plan's values then win.
    saved.check_given(file, &ops::gather(&opts.var_files, &opts.vars)?)?;
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
    let raw = ops::gather(&opts.var_files, &opts.vars)?;
    saved.check_secrets(file, &raw)?;
    let mut session = Session::open(&opts, "apply").await?;
    saved.check_state(file, &mut session)?;
    if saved.refresh_only {
        let registry = stack::registry(&session.sdk);
        let reads = session.parallelism.unwrap_or(usize::MAX);
        let (refreshed, drift) = plan::refresh_only(&session.state, &registry, reads).await?;
        let now: Vec<_> = drift.iter().map(json_plan::drift_change).collect();
        if now != saved.resource_drift {
            return Err(crate::saved_plan::SavedPlanError::Drift {
                path: file.to_owned(),
                addresses: "the drift it recorded".into(),
            }
            .into());
        }
        write_state(&mut session, refreshed).await?;
        ui::get().result(&format!(
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
    let code = ops::execute(session, &plan, &config).await?;
    warn_targeting(&saved.targeting, true);
    Ok(code)
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{address} is not a resource of this stack's configuration\n  hint: `stackctl graph` prints the configuration's addresses; quote one with brackets for the shell")]
    NotInConfig { address: String },
    #[error("{address} is already in the state (id {id}); nothing was imported\n  hint: `stackctl state rm {address}` first if it should be another resource")]
    AlreadyManaged { address: String, id: String },
    #[error("{id} is already in the state as {other}; nothing was imported\n  hint: one AWS resource may be managed at one address only")]
    Twice { id: String, other: String },
    #[error("no {type_name} with id {id:?} in AWS; nothing was imported\n  hint: check the id (a log group's name, an ARN, ...) and the region: `stackctl state show` prints ids of the same type")]
    NoSuchId { type_name: String, id: String },
}

/// `import ADDRESS ID`: read the resource by its id and record it in the state at ADDRESS.
/// AWS is not changed; the next plan shows how it differs from the configuration.
pub async fn import(opts: &Options, address: &str, id: &str) -> Result<ExitCode> {
    let mut session = Session::open(opts, "import").await?;
    let config = session.config(Default::default()).await?;
    let Some(spec) = config.specs.iter().find(|s| s.address == address) else {
        return Err(ImportError::NotInConfig {
            address: address.to_owned(),
        }
        .into());
    };
    if let Some(rs) = session.state.resources.get(address) {
        return Err(ImportError::AlreadyManaged {
            address: address.to_owned(),
            id: rs.id.clone(),
        }
        .into());
    }
    let kind = spec.kind.clone();
    if let Some((other, _)) = session
        .state
        .resources
        .iter()
        .find(|(_, rs)| rs.type_name == kind.type_name() && rs.id == id)
    {
        return Err(ImportError::Twice {
            id: id.to_owned(),
            other: other.clone(),
        }
        .into());
    }
    let ui = ui::get();
    ui.detail(&format!("{address}: Importing from ID \"{id}\"..."));
    let found = kind
        .read(&stackctl_contract::Instance::new(
            id.to_owned(),
            Default::default(),
        ))
        .await
        .map_err(|e| {
            // The kind could not even use the id (a role policy's is `role:name`): the id is
            // the user's, not a bug of stackctl's.
            if e.operation == "stackctl" {
                anyhow::anyhow!(
                    "importing {address}: {}\n  hint: give the id in the form `stackctl state show {address}` prints it on a stack that has it",
                    e.message
                )
            } else {
                anyhow::anyhow!("importing {address}: {e}")
            }
        })?;
    let Some(found) = found else {
        return Err(ImportError::NoSuchId {
            type_name: kind.type_name().to_owned(),
            id: id.to_owned(),
        }
        .into());
    };
    let found =
        crate::engine::scrub_instance(found, &kind.sensitive(), &session.state.fingerprint_salt);
    session.state.resources.insert(
        address.to_owned(),
        ResourceState {
            type_name: kind.type_name().to_owned(),
            id: found.id.clone(),
            attrs: found.attrs,
            depends_on: spec.dependencies().into_iter().collect(),
        },
    );
    session.store.save(&mut session.state).await?;
    ui.result(&format!(
        "{address}: Import prepared!\n\nImport successful!\n\nThe resource is now in the state ({}) and is managed by stackctl; `stackctl plan` shows how it differs from the configuration.",
        session.store.describe()
    ));
    ui.event(
        "import_complete",
        &format!("{address}: Import complete"),
        render::fields([
            ("resource", render::resource_json(address)),
            ("id", json!(found.id)),
        ]),
    );
    Ok(ExitCode::SUCCESS)
}

/// `show [FILE]`: a saved plan, or the state, for people or (-json) in Terraform's JSON shape.
/// The state (from `store`) is read only when there is no `file`.
pub async fn show(
    file: Option<&Path>,
    store: impl AsyncFnOnce() -> Result<Store>,
) -> Result<ExitCode> {
    let ui = ui::get();
    if let Some(file) = file {
        let saved = SavedPlan::read(file)?;
        if ui.json() {
            let mut doc = serde_json::to_value(&saved)?;
            // The salt and the fingerprints bind the file to its state; they are no one's
            // business in a report (and a fingerprint is a secret's stand-in).
            if let Some(m) = doc.as_object_mut() {
                m.remove("fingerprint_salt");
                let names: serde_json::Map<_, _> = saved
                    .sensitive_variables
                    .keys()
                    .map(|k| (k.clone(), json!({ "sensitive": true })))
                    .collect();
                m.insert("sensitive_variables".into(), json!(names));
            }
            ui.document(&doc);
        } else {
            ui.detail(&render_saved(&saved));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let state = store().await?.load_existing().await?;
    if ui.json() {
        ui.document(&json_plan::state_values(&state));
    } else if state.resources.is_empty() {
        ui.detail("The state is empty. No resources are represented.");
    } else {
        let mut out = String::new();
        for (address, rs) in &state.resources {
            out.push_str(&crate::commands::state::describe(address, rs));
            out.push('\n');
        }
        if !state.outputs.is_empty() {
            out.push_str(&format!(
                "\nOutputs:\n\n{}",
                render::outputs(&state.outputs)
            ));
        }
        ui.detail(out.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

/// A saved plan for people: one line per change, then Terraform's summary.
fn render_saved(saved: &SavedPlan) -> String {
    let s = &saved.stack;
    let mut out = format!(
        "Saved plan for {}-{} (account {}, {}), state serial {}{}\n",
        s.project,
        s.environment,
        s.account_id,
        s.region,
        s.state_serial,
        if saved.targeting.targets.is_empty() {
            String::new()
        } else {
            format!("; -target {}", saved.targeting.targets.join(", "))
        }
    );
    if saved.refresh_only {
        out.push_str(&format!(
            "\nRefresh-only: {} resources changed outside stackctl are recorded by apply:\n",
            saved.resource_drift.len()
        ));
        for d in &saved.resource_drift {
            out.push_str(&format!(
                "  # {} {}\n",
                d["address"].as_str().unwrap_or_default(),
                if d["change"]["actions"] == json!(["delete"]) {
                    "has been deleted"
                } else {
                    "has changed"
                }
            ));
        }
        return out;
    }
    let (mut add, mut change, mut destroy) = (0, 0, 0);
    let mut lines = String::new();
    for c in &saved.resource_changes {
        let actions: Vec<&str> = c["change"]["actions"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        let (symbol, verb) = match actions.as_slice() {
            ["create"] => {
                add += 1;
                ("+", "will be created")
            }
            ["update"] => {
                change += 1;
                ("~", "will be updated in place")
            }
            ["delete"] => {
                destroy += 1;
                ("-", "will be destroyed")
            }
            [_, _] => {
                add += 1;
                destroy += 1;
                ("-/+", "must be replaced")
            }
            _ if c["change"].get("importing").is_some() => (" ", "will be adopted into the state"),
            _ => continue,
        };
        lines.push_str(&format!(
            "{:>3} {} {verb}\n",
            ui::get().paint_symbol(symbol),
            c["address"].as_str().unwrap_or_default()
        ));
    }
    if lines.is_empty() {
        out.push_str("\nNo changes. Your infrastructure matches the configuration.\n");
    } else {
        out.push_str(&format!(
            "\nstackctl will perform the following actions:\n\n{lines}\nPlan: {add} to add, {change} to change, {destroy} to destroy.\n"
        ));
    }
    out
}
