//! `stackctl refresh`: record drift into the state without changing AWS; as Terraform's, the
//! same as `apply -refresh-only -auto-approve`.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::RefreshArgs;
use crate::engine::plan::Targeting;
use crate::plan_ops::{self, Request};

pub async fn exec(args: RefreshArgs) -> Result<ExitCode> {
    let request = Request {
        targeting: Targeting::default(),
        refresh_only: true,
    };
    let opts = super::options(&args.vars, &args.state, true);
    plan_ops::apply(&opts, &request, true, Default::default()).await
}
