//! `stackctl validate`: check the variables; no AWS request, no state.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use crate::cli::args::VarArgs;
use crate::ops::locate::gather;
use crate::ui::Printer;

pub fn exec(args: VarArgs, ui: Printer) -> Result<ExitCode> {
    let checked = gather(&args.var_files, &args.vars).and_then(|raw| Ok(raw.check()?));
    if ui.json() {
        // Terraform's `validate -json`: one document, valid or not, with the counts.
        let (valid, warnings, error) = match &checked {
            Ok(vars) => (true, vars.warnings(), None),
            Err(e) => (false, Vec::new(), Some(format!("{e:#}"))),
        };
        ui.document(&json!({
            "valid": valid,
            "error_count": usize::from(error.is_some()),
            "warning_count": warnings.len(),
            "diagnostics": warnings
                .iter()
                .map(|w| json!({ "severity": "warning", "summary": w }))
                .chain(error.map(|e| json!({ "severity": "error", "summary": e })))
                .collect::<Vec<_>>(),
        }));
        return Ok(if valid {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let vars = checked?;
    // Valid values that cost money or support: said on stderr, before the verdict, so that
    // scripts reading stdout see the same success line as before.
    for warning in vars.warnings() {
        ui.warn(&warning);
    }
    ui.result("Success! The configuration is valid.");
    Ok(ExitCode::SUCCESS)
}
