//! `stackctl validate`: check the variables; no AWS request, no state.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::VarArgs;
use crate::ops;

pub fn exec(args: VarArgs) -> Result<ExitCode> {
    ops::gather(&args.var_files, &args.vars)?.check()?;
    println!("Success! The configuration is valid.");
    Ok(ExitCode::SUCCESS)
}
