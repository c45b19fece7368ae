//! The plan's vocabulary, shared by every step of planning and by what reads a plan (apply,
//! render, the JSON plan): the action per resource, the planned change, the plan, its errors.

use std::collections::BTreeMap;
use std::sync::Arc;

use stackctl_contract::{Attrs, Instance, Kind, ResourceError};

use crate::engine::state::State;

/// What to do with one resource (its provider resources' actions follow: [`TfAction`](super::TfAction)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Destroy,
}

/// The planned change of one resource.
#[derive(Clone)]
pub struct Change {
    pub address: String,
    pub kind: Arc<dyn Kind>,
    pub action: Action,
    /// The resource as AWS has it now (after refresh), if it exists.
    pub live: Option<Instance>,
    /// What it should be, secrets fingerprinted; empty for a delete.
    pub desired: Attrs,
    /// Desired attributes that differ from the live ones.
    pub changed: Vec<String>,
    /// Why, when it is not plain: drift, or the attributes that force a replacement.
    pub note: Option<String>,
    /// What the kind says of some changed attributes of an update (deferred to a maintenance
    /// window, an outage), shown next to them.
    pub notes: BTreeMap<String, String>,
    /// What it needs before it can be created or changed (config), or what needed it (state).
    pub depends_on: Vec<String>,
    /// It exists in AWS under its unique name but the state does not know it (a run was killed
    /// before it could write the id): apply records it instead of creating a duplicate.
    pub adopt: bool,
    /// The plan already looked for such a resource; when it could not (the name depends on
    /// something not yet created), apply looks just before creating.
    pub adopt_checked: bool,
    /// A resource with this one's unique name exists in AWS without this stack's tags (another
    /// project's, environment's or tool's): apply refuses to create over it, since a create
    /// can hand back the existing resource (ECS CreateCluster, an EFS creation token).
    pub foreign: Option<String>,
    /// `-replace` asked for it: apply replaces it even where nothing forces a replacement.
    pub forced: bool,
}

impl Change {
    /// Whether apply does something here: an action, or recording an adoption. The rest are
    /// resources already as they should be, which a plan does not show.
    pub fn does_something(&self) -> bool {
        self.action != Action::NoOp || self.adopt
    }
}

/// A plan: the refreshed prior state plus the changes that would make AWS match the
/// configuration, in dependency order.
pub struct Plan {
    pub mode: Mode,
    pub prior: State,
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn adopts(&self) -> usize {
        self.provider_changes()
            .iter()
            .filter(|pc| pc.change.adopt)
            .count()
    }

    /// (added, changed, destroyed) as Terraform's summary counts them, over the provider's
    /// resources: a secret's value counts on its own, a task definition's new revision (the old
    /// one kept) adds one and destroys none.
    pub fn counts(&self) -> (usize, usize, usize) {
        self.provider_changes()
            .iter()
            .map(|pc| pc.action.counts())
            .fold((0, 0, 0), |(a, c, d), (x, y, z)| (a + x, c + y, d + z))
    }

    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(Change::does_something)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("refreshing {address}: {source}")]
    Refresh {
        address: String,
        source: ResourceError,
    },
    #[error("the state holds {address} of type {type_name}, which this stackctl does not know\n  hint: use the stackctl version that wrote the state, or `stackctl state rm {address}`")]
    UnknownType { address: String, type_name: String },
    /// An update AWS would refuse midway through an apply, refused before any change.
    #[error("{address} cannot be updated as planned: {}{}", error.message, error.hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Refused {
        address: String,
        /// Not named `source`, which `{:#}` would print a second time.
        error: ResourceError,
    },
    /// A delete AWS would refuse (deletion protection), refused before any change.
    #[error("{address} cannot be deleted, so nothing was changed: {why}")]
    DeleteRefused { address: String, why: String },
    #[error("-{flag} {address}: no resource of this stack has that address\n  hint: `stackctl graph` prints the configuration's addresses, `stackctl state list` the state's; a module such as module.rds takes in all its resources{}", if *flag == "replace" { " (-replace takes one resource)" } else { "" })]
    NoSuchAddress { flag: &'static str, address: String },
    #[error("internal error: {0}")]
    Internal(String),
}
