//! `stackctl show [FILE]`: a saved plan, or the state; `-json` in Terraform's JSON shape.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::cli::args::LocateArgs;
use crate::ops;
use crate::ui::Printer;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan file written by `plan -out`; without it, the state
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub locate: LocateArgs,
}

pub async fn exec(args: ShowArgs, ui: Printer) -> Result<ExitCode> {
    ops::show::show(ui, args.file.as_deref(), async || {
        super::store(&args.locate, None).await
    })
    .await
}
