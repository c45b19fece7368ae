//! `stackctl output [NAME] [-json]`: read the outputs from the state; no AWS request.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value as J};

use crate::cli::OutputArgs;
use crate::engine::render;
use crate::engine::state::State;
use crate::ops;

pub fn exec(args: OutputArgs) -> Result<ExitCode> {
    let path = state_path(&args)?;
    let state = State::load(&path)?;
    if state.outputs.is_empty() {
        bail!(
            "no outputs in {}\n  hint: run `stackctl apply` first",
            path.display()
        );
    }
    match &args.name {
        Some(name) => {
            let Some(o) = state.outputs.get(name) else {
                let known: Vec<&str> = state.outputs.keys().map(String::as_str).collect();
                bail!(
                    "no output named {name:?} in {}\n  hint: outputs are {}",
                    path.display(),
                    known.join(", ")
                );
            };
            match (&o.value, args.json) {
                (v, true) => println!("{v}"),
                // A bare string, so `curl "$(stackctl output load_balancer_url)"` works.
                (J::String(s), false) => println!("{s}"),
                (v, false) => println!("{v}"),
            }
        }
        None if args.json => {
            let all: serde_json::Map<String, J> = state
                .outputs
                .iter()
                .map(|(k, o)| {
                    (
                        k.clone(),
                        json!({ "sensitive": o.sensitive, "value": o.value }),
                    )
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        None => print!("{}", render::outputs(&state.outputs)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `-state`, else the variables' project and environment, else the only state in .stackctl/.
fn state_path(args: &OutputArgs) -> Result<PathBuf> {
    if let Some(p) = &args.state {
        return Ok(p.clone());
    }
    let raw = ops::gather(&args.vars.var_files, &args.vars.vars)?;
    let (project, env) = raw.project_env();
    let from_vars = ops::default_state_path(&project, &env);
    if !args.vars.var_files.is_empty() || !args.vars.vars.is_empty() || from_vars.exists() {
        return Ok(from_vars);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(ops::STATE_DIR)
        .with_context(|| format!("no state found: {} does not exist\n  hint: run `stackctl apply` first, or pass -state PATH", ops::STATE_DIR))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    found.sort();
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
