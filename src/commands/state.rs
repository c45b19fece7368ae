//! `stackctl state list|show|rm`: read or edit the state file, as Terraform's `state`
//! commands do; no AWS request.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::Value as J;

use crate::cli::{StateCommand, StateListArgs, StateRmArgs, StateShowArgs};
use crate::engine::render;
use crate::engine::state::{ResourceState, State};
use crate::ui;

pub fn exec(command: StateCommand) -> Result<ExitCode> {
    match command {
        StateCommand::List(a) => list(a),
        StateCommand::Show(a) => show(a),
        StateCommand::Rm(a) => rm(a),
    }
}

fn list(args: StateListArgs) -> Result<ExitCode> {
    let path = super::state_path(&args.locate)?;
    let state = State::load_existing(&path)?;
    let mut listed: Vec<&String> = Vec::new();
    if args.addresses.is_empty() {
        listed.extend(state.resources.keys());
    }
    // Terraform's filter: an address that matches nothing is an error, not an empty list.
    for filter in &args.addresses {
        let found: Vec<&String> = state.addresses_under(filter).collect();
        if found.is_empty() {
            bail!(
                "no resource matches {filter} in state {}\n  hint: `stackctl state list` without an address prints them all",
                path.display()
            );
        }
        listed.extend(found);
    }
    let ui = ui::get();
    if ui.json() {
        ui.document(&J::from(
            listed.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        ));
    } else {
        listed.iter().for_each(|a| ui.value(a));
    }
    Ok(ExitCode::SUCCESS)
}

fn show(args: StateShowArgs) -> Result<ExitCode> {
    let path = super::state_path(&args.locate)?;
    let state = State::load_existing(&path)?;
    let rs = state.resource(&path, &args.address)?;
    let ui = ui::get();
    if ui.json() {
        ui.document(&describe_json(&args.address, rs));
    } else {
        ui.value(describe(&args.address, rs).trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

fn rm(args: StateRmArgs) -> Result<ExitCode> {
    let path = super::state_path(&args.locate)?;
    let _lock = crate::ops::lock_state(&path, "state rm", args.lock_timeout, args.lock)?;
    // An address given twice is removed once.
    let mut addresses: Vec<String> = Vec::new();
    for a in args.addresses {
        if !addresses.contains(&a) {
            addresses.push(a);
        }
    }
    let mut state = State::load_existing(&path)?;
    state.remove(&path, &addresses)?;
    state.save(&path)?;
    let ui = ui::get();
    if ui.json() {
        ui.document(&serde_json::json!({ "removed": addresses }));
        return Ok(ExitCode::SUCCESS);
    }
    for a in &addresses {
        ui.detail(&format!("Removed {a}"));
    }
    ui.result(&format!(
        "Successfully removed {} resource instance(s). They still exist in AWS; this state no longer tracks them.",
        addresses.len()
    ));
    Ok(ExitCode::SUCCESS)
}

/// One resource as `terraform state show` prints it: its address, a `resource "type" "name"`
/// block, `id` first, then every attribute; a secret's fingerprint reads `(sensitive value)`.
pub(crate) fn describe(address: &str, rs: &ResourceState) -> String {
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
fn describe_json(address: &str, rs: &ResourceState) -> J {
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
