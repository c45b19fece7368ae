//! `stackctl destroy`: delete everything the state holds, dependents first.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::ChangeArgs;
use crate::ops;
use crate::ui::Printer;

pub async fn exec(args: ChangeArgs, ui: Printer) -> Result<ExitCode> {
    // Destroy works from the state alone: no passwords needed, only where the state is.
    let opts = super::options(&args.vars, &args.state, false);
    ops::destroy::destroy(ui, &opts, args.auto_approve).await
}
