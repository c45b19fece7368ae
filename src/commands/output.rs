//! `stackctl output [NAME] [-json]`: read the outputs from the state; no AWS request.

use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::Value as J;

use crate::cli::OutputArgs;
use crate::engine::render;
use crate::ui;

pub async fn exec(args: OutputArgs) -> Result<ExitCode> {
    let ui = ui::get();
    let store = super::store(&args.locate, None).await?;
    let path = store.message_path();
    let state = store.load().await?;
    if state.outputs.is_empty() {
        bail!(
            "no outputs in {}\n  hint: run `stackctl apply` first",
            path.display()
        );
    }
    match &args.name {
        Some(name) => {
            let Some(o) = state.outputs.get(name) else {
                let known: Vec<&str> = state.outputs.keys().map(String::as_str).collect();
                bail!(
                    "no output named {name:?} in {}\n  hint: outputs are {}",
                    path.display(),
                    known.join(", ")
                );
            };
            // Asked for by name, a sensitive value is printed, as `terraform output NAME` does:
            // that is how a script reads it.
            match (&o.value, ui.json()) {
                (v, true) => ui.value(&v.to_string()),
                // A bare string, so `curl "$(stackctl output load_balancer_url)"` works.
                (J::String(s), false) => ui.value(s),
                (v, false) => ui.value(&v.to_string()),
            }
        }
        None if ui.json() => ui.document(&render::outputs_json(&state.outputs, true)),
        None => ui.value(render::outputs(&state.outputs).trim_end()),
    }
    Ok(ExitCode::SUCCESS)
}
