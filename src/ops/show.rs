//! `show [FILE]`: a saved plan, or the state, for people or (-json) in Terraform's JSON shape;
//! and one resource as `state show` prints it, which `show` prints for every resource.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::{json, Value as J};

use super::saved_plan::SavedPlan;
use crate::engine::backend::Store;
use crate::engine::json_plan;
use crate::engine::render;
use crate::engine::state::ResourceState;
use crate::ui::Printer;

/// `show [FILE]`: a saved plan, or the state, for people or (-json) in Terraform's JSON shape.
/// The state (from `store`) is read only when there is no `file`.
pub async fn show(
    ui: Printer,
    file: Option<&Path>,
    store: impl AsyncFnOnce() -> Result<Store>,
) -> Result<ExitCode> {
    if let Some(file) = file {
        let saved = SavedPlan::read(file)?;
        if ui.json() {
            let mut doc = serde_json::to_value(&saved)?;
            // The salt and the fingerprints bind the file to its state; they are no one's
            // business in a report (and a fingerprint is a secret's stand-in).
            if let Some(m) = doc.as_object_mut() {
                m.remove("fingerprint_salt");
                let names: serde_json::Map<_, _> = saved
                    .sensitive_variables
                    .keys()
                    .map(|k| (k.clone(), json!({ "sensitive": true })))
                    .collect();
                m.insert("sensitive_variables".into(), json!(names));
            }
            ui.document(&doc);
        } else {
            ui.detail(&render_saved(ui, &saved));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let state = store().await?.load_existing().await?;
    if ui.json() {
        ui.document(&json_plan::state_values(
            &state,
            &crate::stack::offline_registry(),
        ));
    } else if state.resources.is_empty() {
        ui.detail("The state is empty. No resources are represented.");
    } else {
        let mut out = String::new();
        for (address, rs) in &state.resources {
            out.push_str(&describe(address, rs));
            out.push('\n');
        }
        if !state.outputs.is_empty() {
            out.push_str(&format!(
                "\nOutputs:\n\n{}",
                render::outputs(&state.outputs)
            ));
        }
        ui.detail(out.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

/// A saved plan for people: one line per change, then Terraform's summary.
fn render_saved(ui: Printer, saved: &SavedPlan) -> String {
    let s = &saved.stack;
    let mut out = format!(
        "Saved plan for {}-{} (account {}, {}), state serial {}{}\n",
        s.project,
        s.environment,
        s.account_id,
        s.region,
        s.state_serial,
        if saved.targeting.targets.is_empty() {
            String::new()
        } else {
            format!("; -target {}", saved.targeting.targets.join(", "))
        }
    );
    if saved.refresh_only {
        out.push_str(&format!(
            "\nRefresh-only: {} resources changed outside stackctl are recorded by apply:\n",
            saved.resource_drift.len()
        ));
        for d in &saved.resource_drift {
            out.push_str(&format!(
                "  # {} {}\n",
                d["address"].as_str().unwrap_or_default(),
                if d["change"]["actions"] == json!(["delete"]) {
                    "has been deleted"
                } else {
                    "has changed"
                }
            ));
        }
        return out;
    }
    let (mut add, mut change, mut destroy) = (0, 0, 0);
    let mut lines = String::new();
    for c in &saved.resource_changes {
        let actions: Vec<&str> = c["change"]["actions"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        let (symbol, verb) = match actions.as_slice() {
            ["create"] => {
                add += 1;
                ("+", "will be created")
            }
            ["update"] => {
                change += 1;
                ("~", "will be updated in place")
            }
            ["delete"] => {
                destroy += 1;
                ("-", "will be destroyed")
            }
            ["create", "forget"] => {
                add += 1;
                (
                    "+/.",
                    "must be replaced, but the existing object will not be destroyed",
                )
            }
            ["create", "delete"] => {
                add += 1;
                destroy += 1;
                ("+/-", "must be replaced")
            }
            [_, _] => {
                add += 1;
                destroy += 1;
                ("-/+", "must be replaced")
            }
            _ if c["change"].get("importing").is_some() => (" ", "will be adopted into the state"),
            _ => continue,
        };
        lines.push_str(&format!(
            "{:>3} {} {verb}\n",
            ui.paint_symbol(symbol),
            c["address"].as_str().unwrap_or_default()
        ));
    }
    if lines.is_empty() {
        out.push_str("\nNo changes. Your infrastructure matches the configuration.\n");
    } else {
        out.push_str(&format!(
            "\nstackctl will perform the following actions:\n\n{lines}\nPlan: {add} to add, {change} to change, {destroy} to destroy.\n"
        ));
    }
    out
}

/// One resource as `terraform state show` prints it: its address, a `resource "type" "name"`
/// block, `id` first, then every attribute; a secret's fingerprint reads `(sensitive value)`.
pub fn describe(address: &str, rs: &ResourceState) -> String {
    let mut out = format!(
        "# {address}:\n{} {{\n",
        render::resource_header(address, &rs.type_name)
    );
    let attrs = rs.attrs.iter().filter(|(k, _)| k.as_str() != "id");
    let width = attrs
        .clone()
        .map(|(k, _)| k.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let _ = writeln!(out, "    {:<width$} = {}", "id", J::from(rs.id.as_str()));
    for (k, v) in attrs {
        let _ = writeln!(out, "    {k:<width$} = {}", shown(v));
    }
    out.push_str("}\n");
    out
}

/// `state show -json`: the resource as one object (`address`, `type`, `id`, `attributes`),
/// fingerprints masked as in the text form.
pub fn describe_json(address: &str, rs: &ResourceState) -> J {
    serde_json::json!({
        "address": address,
        "type": rs.type_name,
        "id": rs.id,
        "attributes": mask(&J::Object(rs.attrs.clone().into_iter().collect())),
        "depends_on": rs.depends_on,
    })
}

fn mask(v: &J) -> J {
    match v {
        J::String(_) if render::value(v) == SENSITIVE => J::String(SENSITIVE.into()),
        J::Array(items) => J::Array(items.iter().map(mask).collect()),
        J::Object(map) => J::Object(map.iter().map(|(k, v)| (k.clone(), mask(v))).collect()),
        other => other.clone(),
    }
}

/// A value with every fingerprint in it masked, however deep.
fn shown(v: &J) -> String {
    mask(v)
        .to_string()
        .replace(&format!("\"{SENSITIVE}\""), SENSITIVE)
}

const SENSITIVE: &str = "(sensitive value)";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn show_masks_fingerprints_at_any_depth() {
        let rs = ResourceState {
            type_name: "aws_db_instance".into(),
            id: "prestashop-db".into(),
            attrs: [
                ("password".to_owned(), json!("fingerprint:sha256:ab12")),
                (
                    "nested".to_owned(),
                    json!({"p": "fingerprint:sha256:cd34", "n": 3}),
                ),
                ("allocated_storage".to_owned(), json!(20)),
            ]
            .into_iter()
            .collect(),
            depends_on: Vec::new(),
        };
        let out = describe("module.rds.aws_db_instance.main", &rs);
        assert!(out.starts_with("# module.rds.aws_db_instance.main:\nresource \"aws_db_instance\" \"main\" {\n    id "), "{out}");
        assert!(
            out.contains("password          = (sensitive value)\n"),
            "{out}"
        );
        assert!(out.contains("allocated_storage = 20\n"), "{out}");
        assert!(!out.contains("fingerprint"), "{out}");
    }
}
