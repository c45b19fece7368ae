//! `stackctl validate`: check the variables; no AWS request, no state.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::VarArgs;
use crate::ops;

pub fn exec(args: VarArgs) -> Result<ExitCode> {
    let vars = ops::gather(&args.var_files, &args.vars)?.check()?;
    // Valid values that cost money or support: said on stderr, before the verdict, so that
    // scripts reading stdout see the same success line as before.
    for warning in vars.warnings() {
        eprintln!("Warning: {warning}");
    }
    println!("Success! The configuration is valid.");
    Ok(ExitCode::SUCCESS)
}
