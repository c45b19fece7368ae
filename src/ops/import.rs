//! `import ADDRESS ID`: take an existing AWS resource into the state on purpose.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use stackctl_contract::{Instance, ResourceSpec, Values};

use super::session::Session;
use super::Options;
use crate::engine::interrupt::finish_first;
use crate::engine::render;
use crate::engine::state::{ResourceState, State};
use crate::engine::KnownResolver;
use crate::ui::Printer;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{address} is not a resource of this stack's configuration\n  hint: `stackctl graph` prints the configuration's addresses; quote one with brackets for the shell")]
    NotInConfig { address: String },
    #[error("{address} is already in the state (id {id}); nothing was imported\n  hint: `stackctl state rm {address}` first if it should be another resource")]
    AlreadyManaged { address: String, id: String },
    #[error("{id} is already in the state as {other}; nothing was imported\n  hint: one AWS resource may be managed at one address only")]
    Twice { id: String, other: String },
    #[error("no {type_name} with id {id:?} in AWS; nothing was imported\n  hint: check the id (a log group's name, an ARN, ...) and the region: `stackctl state show` prints ids of the same type")]
    NoSuchId { type_name: String, id: String },
}

/// `import ADDRESS ID`: read the resource by its id and record it in the state at ADDRESS.
/// AWS is not changed; the next plan shows how it differs from the configuration.
pub async fn import(ui: Printer, opts: &Options, address: &str, id: &str) -> Result<ExitCode> {
    let mut session = Session::open(opts, "import", ui).await?;
    let config = session.config(Default::default()).await?;
    let Some(spec) = config.specs.iter().find(|s| s.address == address) else {
        return Err(ImportError::NotInConfig {
            address: address.to_owned(),
        }
        .into());
    };
    if let Some(rs) = session.state.resources.get(address) {
        return Err(ImportError::AlreadyManaged {
            address: address.to_owned(),
            id: rs.id.clone(),
        }
        .into());
    }
    let kind = spec.kind.clone();
    if let Some((other, _)) = session
        .state
        .resources
        .iter()
        .find(|(_, rs)| rs.type_name == kind.type_name() && rs.id == id)
    {
        return Err(ImportError::Twice {
            id: id.to_owned(),
            other: other.clone(),
        }
        .into());
    }
    ui.detail(&format!("{address}: Importing from ID \"{id}\"..."));
    let found = kind
        .read(&stackctl_contract::Instance::new(
            id.to_owned(),
            Default::default(),
        ))
        .await
        .map_err(|e| {
            // The kind could not even use the id (a role policy's is `role:name`): the id is
            // the user's, not a bug of stackctl's.
            if e.operation == "stackctl" {
                anyhow::anyhow!(
                    "importing {address}: {}\n  hint: give the id in the form `stackctl state show {address}` prints it on a stack that has it",
                    e.message
                )
            } else {
                anyhow::anyhow!("importing {address}: {e}")
            }
        })?;
    let Some(found) = found else {
        return Err(ImportError::NoSuchId {
            type_name: kind.type_name().to_owned(),
            id: id.to_owned(),
        }
        .into());
    };
    let mut found =
        crate::engine::scrub_instance(found, &kind.sensitive(), &session.state.fingerprint_salt);
    take_config_only(&mut found, spec, &session.state);
    session.state.resources.insert(
        address.to_owned(),
        ResourceState {
            type_name: kind.type_name().to_owned(),
            id: found.id.clone(),
            attrs: found.attrs,
            depends_on: spec.dependencies().into_iter().collect(),
        },
    );
    // One request: a Ctrl-C meanwhile lets it finish, then stops (engine::interrupt).
    let report: crate::engine::Reporter = std::sync::Arc::new(ui);
    finish_first(session.store.save(&mut session.state), &report).await?;
    ui.result(&format!(
        "{address}: Import prepared!\n\nImport successful!\n\nThe resource is now in the state ({}) and is managed by stackctl; `stackctl plan` shows how it differs from the configuration.",
        session.store.describe()
    ));
    ui.event(
        "import_complete",
        &format!("{address}: Import complete"),
        render::fields([
            ("resource", render::resource_json(address)),
            ("id", json!(found.id)),
        ]),
    );
    Ok(ExitCode::SUCCESS)
}

/// What AWS never reports of the resource (a database's final-snapshot settings) is the
/// stack's own: taken from the configuration, as the next apply would set it, so that an
/// imported database is deleted as the one apply created would be (its final snapshot kept in
/// prod). What AWS does report stays as read: the next plan shows how it differs.
fn take_config_only(found: &mut Instance, spec: &ResourceSpec, state: &State) {
    let kind = &spec.kind;
    if kind.config_only().is_empty() {
        return;
    }
    let known: HashMap<String, Values> = state
        .resources
        .iter()
        .map(|(address, rs)| (address.clone(), rs.instance().attrs))
        .collect();
    let desired = spec.desired(&KnownResolver(&known));
    for attr in kind.config_only() {
        if let Some(v) = desired.get(*attr).and_then(|v| v.known()) {
            found.attrs.insert((*attr).to_owned(), v.clone());
        }
    }
}
