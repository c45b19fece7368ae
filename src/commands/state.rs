//! `stackctl state list|show|rm`: read or edit the state file, as Terraform's `state`
//! commands do; no AWS request.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::Value as J;

use crate::cli::{
    LocateArgs, StateCommand, StateListArgs, StatePushArgs, StateRmArgs, StateShowArgs,
};
use crate::engine::render;
use crate::engine::state::{ResourceState, State, StateError};
use crate::ui;

pub async fn exec(command: StateCommand) -> Result<ExitCode> {
    match command {
        StateCommand::List(a) => list(a).await,
        StateCommand::Show(a) => show(a).await,
        StateCommand::Rm(a) => rm(a).await,
        StateCommand::Pull(a) => pull(a).await,
        StateCommand::Push(a) => push(a).await,
    }
}

async fn list(args: StateListArgs) -> Result<ExitCode> {
    let store = super::store(&args.locate, None).await?;
    let path = store.message_path();
    let state = store.load_existing().await?;
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

async fn show(args: StateShowArgs) -> Result<ExitCode> {
    let store = super::store(&args.locate, None).await?;
    let path = store.message_path();
    let state = store.load_existing().await?;
    let rs = state.resource(&path, &args.address)?;
    let ui = ui::get();
    if ui.json() {
        ui.document(&describe_json(&args.address, rs));
    } else {
        ui.value(describe(&args.address, rs).trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

async fn rm(args: StateRmArgs) -> Result<ExitCode> {
    let store = super::store(&args.locate, None).await?;
    let path = store.message_path();
    let _lock = crate::ops::lock_state(&store, "state rm", args.lock_timeout, args.lock).await?;
    // An address given twice is removed once.
    let mut addresses: Vec<String> = Vec::new();
    for a in args.addresses {
        if !addresses.contains(&a) {
            addresses.push(a);
        }
    }
    let mut state = store.load_existing().await?;
    state.remove(&path, &addresses)?;
    store.save(&mut state).await?;
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

/// `state pull`: the whole state as JSON, as stored (fingerprints, never secrets).
async fn pull(args: LocateArgs) -> Result<ExitCode> {
    let store = super::store(&args, None).await?;
    let state = store.load_existing().await?;
    let ui = ui::get();
    if ui.json() {
        ui.document(&serde_json::to_value(&state)?);
    } else {
        ui.value(&serde_json::to_string_pretty(&state)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// `state push FILE`: replace the state with FILE, under the lock. Another lineage is another
/// stack, and an older serial would undo what was written since FILE was pulled: both refused
/// unless -force. The same serial is accepted: nothing was written since that pull.
async fn push(args: StatePushArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file).map_err(|error| StateError::Read {
        path: args.file.clone(),
        error,
    })?;
    let mut pushed = State::parse(&args.file, &text)?;
    let store = super::store(&args.locate, None).await?;
    let path = store.message_path();
    let _lock = store.lock("state push", args.lock_timeout).await?;
    // A state that was never written has serial 0; the load also fixes the version the write
    // is conditional on.
    let current = store.load().await?;
    let exists = current.serial > 0;
    if exists && !args.force {
        if current.lineage != pushed.lineage {
            bail!(
                "{} has lineage {}, but state {} has lineage {}: they are two different stacks; nothing was written\n  hint: push a file pulled from this state (`stackctl state pull`), or pass -force to replace this stack's state on purpose",
                args.file.display(),
                pushed.lineage,
                path.display(),
                current.lineage
            );
        }
        if pushed.serial < current.serial {
            bail!(
                "{} has serial {}, older than state {} (serial {}): pushing it would undo what was written since; nothing was written\n  hint: pull the state again (`stackctl state pull > FILE`), make the change there and push that, or pass -force",
                args.file.display(),
                pushed.serial,
                path.display(),
                current.serial
            );
        }
    }
    pushed.serial = pushed.serial.max(current.serial);
    store.save(&mut pushed).await?;
    let ui = ui::get();
    if ui.json() {
        ui.document(&serde_json::json!({ "state": path.display().to_string(), "serial": pushed.serial, "lineage": pushed.lineage }));
    } else {
        ui.result(&format!(
            "Pushed {} to {} (serial {}, {} resources).",
            args.file.display(),
            path.display(),
            pushed.serial,
            pushed.resources.len()
        ));
    }
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
