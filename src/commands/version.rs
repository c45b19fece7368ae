//! `stackctl version [-json]`: the version, and the commit when the build was given one.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use crate::ui::Printer;

/// The commit a release build records (`STACKCTL_GIT_COMMIT=$(git rev-parse HEAD) cargo build`);
/// a plain `cargo build` has none, and needs no git.
const COMMIT: Option<&str> = option_env!("STACKCTL_GIT_COMMIT");

pub fn exec(ui: Printer) -> Result<ExitCode> {
    let version = env!("CARGO_PKG_VERSION");
    let platform = format!("{}_{}", std::env::consts::OS, std::env::consts::ARCH);
    if ui.json() {
        // Terraform's `version -json` has `terraform_version` and `platform`.
        ui.document(&json!({
            "stackctl_version": version,
            "platform": platform,
            "git_commit": COMMIT,
        }));
    } else {
        let commit = COMMIT.map(|c| format!(" ({c})")).unwrap_or_default();
        ui.value(&format!("stackctl v{version}{commit}\non {platform}"));
    }
    Ok(ExitCode::SUCCESS)
}
