//! One file per command: each turns its arguments into options and calls an operation.

pub mod apply;
pub mod destroy;
pub mod force_unlock;
pub mod output;
pub mod plan;
pub mod state;
pub mod validate;

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::{LocateArgs, StateArgs, VarArgs};
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

/// The state a command that plans nothing works on (output, state, force-unlock), found as
/// destroy finds it: see [`ops::locate_state`].
fn state_path(args: &LocateArgs) -> Result<PathBuf> {
    ops::locate_state(args.state.as_deref(), &args.vars.var_files, &args.vars.vars)
}
