//! Where a command's state is: the default path from the variables, the only state in
//! `.stackctl/`, `-state`, or the `[backend]` bucket the var files name.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::aws;
use crate::engine::backend::{s3::S3Store, BackendConfig, Store};
use crate::vars::Raw;

/// Where states live by default, relative to the working directory (like `.terraform/`).
pub const STATE_DIR: &str = ".stackctl";

/// Gather the raw variables from files, flags and the environment.
pub fn gather(var_files: &[PathBuf], vars: &[String]) -> Result<Raw> {
    Ok(Raw::gather(var_files, vars, std::env::vars())?)
}

pub fn default_state_path(project: &str, environment: &str) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{project}-{environment}.json"))
}

/// Whether the user named a stack: a var file, a `-var`, or the project or environment in the
/// environment (`STACKCTL_VAR_project_name`). Without one, the defaults name `prestashop-dev`,
/// which is a guess, never a reason to touch that stack.
pub fn names_a_stack(var_files: &[PathBuf], vars: &[String]) -> bool {
    !var_files.is_empty()
        || !vars.is_empty()
        || ["STACKCTL_VAR_project_name", "STACKCTL_VAR_environment"]
            .iter()
            .any(|k| std::env::var_os(k).is_some())
}

/// Every state in `.stackctl/` (a state that is only locked, from a first apply killed before
/// it wrote anything, counts), sorted.
pub fn states_in_dir() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(STATE_DIR) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let state = name.strip_suffix(".lock").unwrap_or(name);
            (state.ends_with(".json") && !state.starts_with('.')).then(|| p.with_file_name(state))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The state a command that works from a state alone means (destroy, output, state,
/// force-unlock): `-state`, else the stack the variables name, else the only state in
/// `.stackctl/`. Several states and no variables is refused: picking one would be a guess.
pub fn locate_state(
    explicit: Option<&Path>,
    var_files: &[PathBuf],
    vars: &[String],
) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    if names_a_stack(var_files, vars) {
        let (project, env) = gather(var_files, vars)?.project_env();
        return Ok(default_state_path(&project, &env));
    }
    let mut found = states_in_dir();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!(
            "no state found in {}\n  hint: run `stackctl apply -var-file FILE` first, or pass -state PATH",
            STATE_DIR
        ),
        _ => bail!(
            "several states in {}, and no variables say which stack is meant: {}\n  hint: name it with -var-file FILE (the one you applied with) or -state PATH",
            STATE_DIR,
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The S3 store a `[backend]` table names for the stack of `raw`.
pub async fn remote_store(config: &BackendConfig, raw: &Raw, endpoint_url: Option<&str>) -> Store {
    let (project, env) = raw.project_env();
    let region = config.region.clone().unwrap_or_else(|| raw.region());
    let sdk = aws::sdk_config(&region, endpoint_url).await;
    Store::S3(S3Store::new(
        config,
        config.key_for(&project, &env),
        &sdk,
        format!("-var-file {}", config.origin.display()),
    ))
}

/// The store of the state a command that works from a state alone means: `-state PATH` is a
/// local file; else the `[backend]` table of the var files; else the file [`locate_state`]
/// finds.
pub async fn locate_store(
    explicit: Option<&Path>,
    var_files: &[PathBuf],
    vars: &[String],
    endpoint_url: Option<&str>,
) -> Result<Store> {
    if explicit.is_none() && names_a_stack(var_files, vars) {
        let raw = gather(var_files, vars)?;
        if let Some(config) = &raw.backend {
            return Ok(remote_store(config, &raw, endpoint_url).await);
        }
    }
    Ok(Store::Local(locate_state(explicit, var_files, vars)?))
}

/// How a hint names the stack on the command line: its var files.
pub fn locate_args(var_files: &[PathBuf], vars: &[String]) -> String {
    let mut args: Vec<String> = var_files
        .iter()
        .map(|f| format!("-var-file {}", f.display()))
        .collect();
    if args.is_empty() && !vars.is_empty() {
        args.push("-var ...".to_owned());
    }
    args.join(" ")
}
