//! One file per command: each turns its arguments into options and calls an operation.

pub mod apply;
pub mod destroy;
pub mod output;
pub mod plan;
pub mod validate;

use crate::cli::{StateArgs, VarArgs};
use crate::ops::Options;

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
