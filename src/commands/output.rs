//! `stackctl output [NAME] [-json | -raw]`: read the outputs from the state; no AWS request.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::Value as J;

use crate::cli::args::LocateArgs;
use crate::engine::render;
use crate::ui::Printer;

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// One output's name: print its bare value alone (as JSON with -json)
    pub name: Option<String>,
    /// With NAME: the bare string, without a newline, as `terraform output -raw`
    #[arg(long = "raw", requires = "name", conflicts_with = "json")]
    pub raw: bool,
    #[command(flatten)]
    pub locate: LocateArgs,
}

pub async fn exec(args: OutputArgs, ui: Printer) -> Result<ExitCode> {
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
            if args.raw {
                // As `terraform output -raw`: strings, numbers and booleans as their bare text
                // with no newline (`-raw` is for `$(...)` and files); anything else is refused.
                let text = match &o.value {
                    J::String(s) => s.clone(),
                    v @ (J::Number(_) | J::Bool(_)) => v.to_string(),
                    other => bail!(
                        "output {name:?} is {}, which -raw cannot print: it prints strings, numbers and booleans only\n  hint: use `stackctl output -json {name}`",
                        kind_of(other)
                    ),
                };
                ui.raw(&text);
                return Ok(ExitCode::SUCCESS);
            }
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

/// A JSON value's kind, in Terraform's words, for the -raw refusal.
fn kind_of(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Array(_) => "a list",
        J::Object(_) => "a map",
        J::String(_) => "a string",
        J::Number(_) => "a number",
        J::Bool(_) => "a boolean",
    }
}
