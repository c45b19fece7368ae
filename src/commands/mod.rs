//! One file per command: each turns its arguments into options and calls an operation.

pub mod apply;
pub mod destroy;
pub mod force_unlock;
pub mod output;
pub mod plan;
pub mod state;
pub mod validate;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::cli::{LocateArgs, StateArgs, VarArgs};
use crate::engine::lock::lock_path;
use crate::ops::{self, Options};

fn options(vars: &VarArgs, state: &StateArgs, needs_vars: bool) -> Options {
    Options {
        var_files: vars.var_files.clone(),
        vars: vars.vars.clone(),
        state: state.state.clone(),
        lock_timeout: state.lock_timeout,
        endpoint_url: state.endpoint_url.clone(),
        needs_vars,
    }
}

/// The state a command that plans nothing works on (output, state, force-unlock): `-state`,
/// else the variables' project and environment, else the only state in .stackctl/. A state
/// that is only locked (a first apply killed before it wrote anything) counts as found, so
/// force-unlock can reach it.
fn state_path(args: &LocateArgs) -> Result<PathBuf> {
    if let Some(p) = &args.state {
        return Ok(p.clone());
    }
    let raw = ops::gather(&args.vars.var_files, &args.vars.vars)?;
    let (project, env) = raw.project_env();
    let from_vars = ops::default_state_path(&project, &env);
    if !args.vars.var_files.is_empty()
        || !args.vars.vars.is_empty()
        || from_vars.exists()
        || lock_path(&from_vars).exists()
    {
        return Ok(from_vars);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(ops::STATE_DIR)
        .with_context(|| format!("no state found: {} does not exist\n  hint: run `stackctl apply` first, or pass -state PATH", ops::STATE_DIR))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let state = name.strip_suffix(".lock").unwrap_or(name);
            state.ends_with(".json").then(|| p.with_file_name(state))
        })
        .collect();
    found.sort();
    found.dedup();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!(
            "no state found in {}\n  hint: run `stackctl apply` first, or pass -state PATH",
            ops::STATE_DIR
        ),
        _ => bail!(
            "several states in {}: {}\n  hint: pick one with -var-file FILE or -state PATH",
            ops::STATE_DIR,
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
