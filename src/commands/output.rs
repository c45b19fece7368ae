//! `stackctl output [NAME] [-json]`: read the outputs from the state; no AWS request.

use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::{json, Value as J};

use crate::cli::OutputArgs;
use crate::engine::render;
use crate::engine::state::State;

pub fn exec(args: OutputArgs) -> Result<ExitCode> {
    let path = super::state_path(&args.locate)?;
    let state = State::load(&path)?;
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
            match (&o.value, args.json) {
                (v, true) => println!("{v}"),
                // A bare string, so `curl "$(stackctl output load_balancer_url)"` works.
                (J::String(s), false) => println!("{s}"),
                (v, false) => println!("{v}"),
            }
        }
        None if args.json => {
            let all: serde_json::Map<String, J> = state
                .outputs
                .iter()
                .map(|(k, o)| {
                    (
                        k.clone(),
                        json!({ "sensitive": o.sensitive, "value": o.value }),
                    )
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        None => print!("{}", render::outputs(&state.outputs)),
    }
    Ok(ExitCode::SUCCESS)
}
