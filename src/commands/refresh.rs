//! `stackctl refresh`: record drift into the state without changing AWS; as Terraform's, the
//! same as `apply -refresh-only -auto-approve`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::cli::args::{StateArgs, VarArgs};
use crate::ops;
use crate::ui::Printer;

#[derive(Debug, Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub state: StateArgs,
}

pub async fn exec(args: RefreshArgs, ui: Printer) -> Result<ExitCode> {
    let opts = super::options(&args.vars, &args.state, true);
    ops::refresh::refresh(ui, &opts).await
}
